"""The SDK never follows a redirect, whatever its ``http_client`` says (issue 12.5).

httpx strips ``Authorization`` on a redirect to another origin, but not the proxy's
``apikey`` header: at 58c7303 a user's ``httpx.Client(follow_redirects=True)`` sent the key
to whatever origin a 301/302/303/307/308 named, and took that origin's body for the
completion. Now every send says ``follow_redirects=False``: the other origin (a second
loopback server on another port) sees no request, and the call raises ``APIStatusError``
for the 3xx itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from completions_sdk import APIStatusError
from tests._support import API_KEY
from tests.reliability._behaviours import event, json_reply, reply, sse_reply
from tests.reliability._drive import (
    KINDS,
    MODES,
    STREAMED,
    Mode,
    completion,
    over_users_http,
    receive,
)
from tests.reliability._server import FaultServer

REDIRECTS = [301, 302, 303, 307, 308]


@pytest.fixture
def other_origin() -> Iterator[FaultServer]:
    """A second loopback server: another port, so another origin."""
    server = FaultServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=KINDS)
def following_client(request: pytest.FixtureRequest, fault_server: FaultServer) -> Iterator[Any]:
    """A client whose own ``http_client`` follows redirects, as a user may make it."""
    follow = {"follow_redirects": True}
    with over_users_http(request.param, follow, base_url=fault_server.url, max_retries=0) as c:
        yield c


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", REDIRECTS)
def test_a_redirect_to_another_origin_is_not_followed(
    following_client: Any,
    fault_server: FaultServer,
    other_origin: FaultServer,
    status: int,
    mode: Mode,
) -> None:
    location = f"{other_origin.url}/ai-proxy/completions"
    fault_server.script(reply(status, b"", {"Location": location}))
    other_origin.script(
        json_reply(completion("from the other origin")),
        sse_reply([event(c) for c in STREAMED]),
    )
    received = receive(following_client, mode, prompt="p")
    error = expect_status(received.error)
    assert error.status_code == status
    assert received.final is None
    assert other_origin.count == 0, "the request (and its apikey header) went to another origin"
    assert fault_server.count == 1
    assert fault_server.requests[0].headers["apikey"] == API_KEY  # the key went only here


def expect_status(error: object) -> APIStatusError:
    assert isinstance(error, APIStatusError), f"expected an APIStatusError, got {error!r}"
    return error

"""Fixtures for the emulator's tests: plain httpx clients aimed at ``proxy_emulator``.

Behaviour both endpoints share (headers, faults, guardrails, streaming, the shared field
rules) is tested once, over the ``api`` fixture, which runs a test against each endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import httpx_sse
import pytest

from completions_sdk.emulator import EmulatorServer
from tests._support.emulator import CHAT, CHAT_PATH, COMPLETIONS, PATH, TLS, Api, Body

Post = Callable[..., Body]
Stream = Callable[..., list[str]]


@pytest.fixture(params=[COMPLETIONS, CHAT], ids=lambda api: api.name)
def api(request: pytest.FixtureRequest) -> Api:
    """Each endpoint in turn, for behaviour they share."""
    result: Api = request.param
    return result


@pytest.fixture
def auth(proxy_emulator: EmulatorServer) -> dict[str, str]:
    """The headers the emulator accepts."""
    return {"apikey": proxy_emulator.api_key, "X-Enkrypt-Deployment": proxy_emulator.deployment}


@pytest.fixture
def http(proxy_emulator: EmulatorServer, auth: dict[str, str]) -> Iterator[httpx.Client]:
    """A client sending the accepted headers to the emulator's base URL."""
    with httpx.Client(base_url=proxy_emulator.url, headers=auth, timeout=10, verify=TLS) as client:
        yield client


@dataclass(frozen=True)
class Caller:
    """Requests to one endpoint, each expected to succeed."""

    http: httpx.Client
    path: str

    def reply(self, body: Body, **headers: str) -> Body:
        """POST ``body``, expect 200, return the decoded reply."""
        response = self.http.post(self.path, json=body, headers=headers)
        assert response.status_code == 200, response.text
        result: Body = response.json()
        return result

    def events(self, body: Body, **headers: str) -> list[str]:
        """Stream ``body``: every event's data (``[DONE]`` included)."""
        body = {**body, "stream": True}
        with httpx_sse.connect_sse(self.http, "POST", self.path, json=body, headers=headers) as src:
            assert src.response.status_code == 200
            return [event.data for event in src.iter_sse()]


def _calling(name: str, path: str, method: str) -> Any:
    """A fixture ``name`` giving ``Caller(http, path).<method>``."""

    def fixture(http: httpx.Client) -> Post | Stream:
        bound: Post | Stream = getattr(Caller(http, path), method)
        return bound

    fixture.__doc__ = f"``Caller.{method}`` of ``{path}``."
    return pytest.fixture(name=name)(fixture)


complete = _calling("complete", PATH, "reply")
stream = _calling("stream", PATH, "events")
chat = _calling("chat", CHAT_PATH, "reply")
stream_chat = _calling("stream_chat", CHAT_PATH, "events")


@pytest.fixture
def reply(http: httpx.Client, api: Api) -> Post:
    """``Caller.reply`` of the endpoint under test."""
    return Caller(http, api.path).reply


@pytest.fixture
def events(http: httpx.Client, api: Api) -> Stream:
    """``Caller.events`` of the endpoint under test."""
    return Caller(http, api.path).events

"""Scripted faults: per request (``X-Emulator-Fault``) or per deployment (both endpoints)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import httpx_sse
import pytest

from completions_sdk.emulator import Deployment, EmulatorConfig, EmulatorServer, Faults
from tests._support.emulator import Api

Post = Callable[..., httpx.Response]
# Four content chunks from each endpoint: four tokens, or the role, two tokens and the end.
TOKENS = {"completions": 4, "chat": 2}


def body_of(api: Api) -> dict[str, Any]:
    return api.body(max_tokens=TOKENS[api.name])


def fault(spec: str) -> dict[str, str]:
    return {"X-Emulator-Fault": spec}


@pytest.fixture
def post(http: httpx.Client, api: Api) -> Post:
    """POST the endpoint's body, with these faults (none: no fault header) and headers."""

    def post(spec: str | None = None, **headers: str) -> httpx.Response:
        if spec is not None:
            headers.update(fault(spec))
        return http.post(api.path, json=body_of(api), headers=headers)

    return post


def read_events(http: httpx.Client, api: Api, spec: str) -> tuple[list[str], Exception | None]:
    """The events a client reads before the stream ends, and how it ended."""
    events: list[str] = []
    body = {**body_of(api), "stream": True}
    try:
        with httpx_sse.connect_sse(
            http, "POST", api.path, json=body, headers=fault(spec)
        ) as source:
            events.extend(event.data for event in source.iter_sse())
    except httpx.HTTPError as exc:
        return events, exc
    return events, None


def test_the_first_requests_get_429_with_retry_after_then_success(post: Post) -> None:
    statuses = [post("status=429; times=2; retry_after=0").status_code for _ in range(3)]
    assert statuses == [429, 429, 200]
    first = post("retry_after=1.5;status=429;times=1")
    assert first.headers["retry-after"] == "1.5"
    error = first.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")


def test_counts_are_kept_per_canonical_spec_and_deployment(
    proxy_emulator: EmulatorServer, post: Post
) -> None:
    proxy_emulator.add_deployment("other")
    assert post("status=503;times=1").status_code == 503
    # The same faults written in another order share the count...
    assert post("times=1 ;status=503").status_code == 200
    # ...while another deployment, or other faults, count on their own.
    other = {"X-Enkrypt-Deployment": "other"}
    assert post("status=503;times=1", **other).status_code == 503
    assert post("status=502;times=1").status_code == 502
    proxy_emulator.reset()
    assert post("status=503;times=1").status_code == 503


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_and_retry_headers(post: Post, status: int) -> None:
    response = post(f"status={status};retry_after_ms=250;x_should_retry=false")
    assert response.status_code == status
    assert response.headers["retry-after-ms"] == "250"
    assert response.headers["x-should-retry"] == "false"
    assert "retry-after" not in response.headers
    assert response.json()["error"]["type"] == "server_error"


def test_faults_without_times_hit_every_request(post: Post) -> None:
    assert {post("status=500").status_code for _ in range(3)} == {500}


def test_deployment_faults_apply_unless_a_request_brings_its_own(
    proxy_emulator: EmulatorServer, post: Post
) -> None:
    proxy_emulator.set_faults(Faults(status=429, times=1, retry_after=0))
    assert post("").status_code == 200
    assert post().status_code == 429
    assert post().status_code == 200
    proxy_emulator.set_faults("status=503;times=1")  # also restarts the deployment's counts
    assert post().status_code == 503
    proxy_emulator.set_faults(None)
    assert post().status_code == 200


def test_faults_come_before_body_validation(http: httpx.Client, api: Api) -> None:
    response = http.post(api.path, json={"max_tokens": 0}, headers=fault("status=429"))
    assert response.status_code == 429


@pytest.mark.parametrize(
    ("spec", "key"),
    [("status=200", "status"), ("stauts=500", "stauts"), ("times=0", "times"), ("boom", "boom")],
)
def test_a_bad_fault_header_is_400_naming_the_key(post: Post, spec: str, key: str) -> None:
    response = post(spec)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "X-Emulator-Fault"
    assert key in error["message"]


@pytest.mark.parametrize("drop_after", [0, 1, 3, 4])
def test_drop_after_cuts_the_connection_before_done(
    http: httpx.Client, api: Api, drop_after: int
) -> None:
    events, error = read_events(http, api, f"drop_after={drop_after}")
    assert len(events) == drop_after
    assert "[DONE]" not in events
    assert isinstance(error, httpx.RemoteProtocolError)


def test_drop_after_beyond_the_stream_changes_nothing(http: httpx.Client, api: Api) -> None:
    events, error = read_events(http, api, "drop_after=6")  # 4 chunks and [DONE]
    assert error is None
    assert len(events) == 5
    assert events[-1] == "[DONE]"


def test_end_after_ends_the_body_cleanly_without_done(http: httpx.Client, api: Api) -> None:
    events, error = read_events(http, api, "end_after=2")
    assert error is None
    assert len(events) == 2
    assert "[DONE]" not in events


def test_drop_after_cuts_an_unstreamed_reply_after_its_headers(post: Post) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        post("drop_after=0")
    # The emulator itself is fine afterwards.
    assert post().status_code == 200


def test_first_byte_delay_holds_the_status_line(
    proxy_emulator: EmulatorServer, auth: dict[str, str], api: Api
) -> None:
    headers = {**auth, **fault("first_byte_delay=0.5;times=1")}
    with httpx.Client(base_url=proxy_emulator.url, headers=headers) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post(api.path, json=body_of(api), timeout=httpx.Timeout(5, read=0.1))
        started = time.monotonic()
        assert client.post(api.path, json=body_of(api)).status_code == 200  # times=1: no delay
        assert time.monotonic() - started < 0.4


def test_first_byte_delay_on_a_stream(http: httpx.Client, api: Api) -> None:
    started = time.monotonic()
    events, error = read_events(http, api, "first_byte_delay=0.3")
    assert error is None
    assert events[-1] == "[DONE]"
    assert time.monotonic() - started >= 0.3


def test_deployment_faults_from_configuration(api: Api) -> None:
    faults = Deployment(faults="status=503;times=1;x_should_retry=true")
    config = EmulatorConfig(deployments={"d": faults})
    with EmulatorServer(config) as emulator:
        headers = {"apikey": emulator.api_key, "X-Enkrypt-Deployment": "d"}
        with httpx.Client(base_url=emulator.url, headers=headers) as client:
            first = client.post(api.path, json=body_of(api))
            assert (first.status_code, first.headers["x-should-retry"]) == (503, "true")
            assert client.post(api.path, json=body_of(api)).status_code == 200


@pytest.mark.parametrize(
    ("spec", "canonical"),
    [
        (" times = 2 ; status=429;retry_after=0 ;", "status=429;times=2;retry_after=0"),
        (
            "x_should_retry=FALSE;first_byte_delay=0.25",
            "x_should_retry=false;first_byte_delay=0.25",
        ),
        ("", ""),
    ],
)
def test_the_grammar_has_a_canonical_form(spec: str, canonical: str) -> None:
    faults = Faults.parse(spec)
    assert faults.spec() == str(faults) == canonical
    assert Faults.parse(canonical) == faults
    assert faults.is_empty is (canonical == "")

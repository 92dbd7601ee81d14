"""Scripted faults: per request (``X-Emulator-Fault``) or per deployment."""

from __future__ import annotations

import time

import httpx
import httpx_sse
import pytest

from completions_sdk.emulator import Deployment, EmulatorConfig, EmulatorServer, Faults

PATH = "/ai-proxy/completions"
BODY = {"model": "m", "prompt": "hi", "max_tokens": 4}


def fault(spec: str) -> dict[str, str]:
    return {"X-Emulator-Fault": spec}


def read_events(http: httpx.Client, spec: str) -> tuple[list[str], Exception | None]:
    """The events a client reads before the stream ends, and how it ended."""
    events: list[str] = []
    body = {**BODY, "stream": True}
    try:
        with httpx_sse.connect_sse(http, "POST", PATH, json=body, headers=fault(spec)) as source:
            events.extend(event.data for event in source.iter_sse())
    except httpx.HTTPError as exc:
        return events, exc
    return events, None


def test_the_first_requests_get_429_with_retry_after_then_success(http: httpx.Client) -> None:
    spec = "status=429; times=2; retry_after=0"
    statuses = []
    for _ in range(3):
        response = http.post(PATH, json=BODY, headers=fault(spec))
        statuses.append(response.status_code)
    assert statuses == [429, 429, 200]
    first = http.post(PATH, json=BODY, headers=fault("retry_after=1.5;status=429;times=1"))
    assert first.headers["retry-after"] == "1.5"
    error = first.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")


def test_counts_are_kept_per_canonical_spec_and_deployment(
    proxy_emulator: EmulatorServer, http: httpx.Client
) -> None:
    proxy_emulator.add_deployment("other")
    assert http.post(PATH, json=BODY, headers=fault("status=503;times=1")).status_code == 503
    # The same faults written in another order share the count...
    assert http.post(PATH, json=BODY, headers=fault("times=1 ;status=503")).status_code == 200
    # ...while another deployment, or other faults, count on their own.
    other = {**fault("status=503;times=1"), "X-Enkrypt-Deployment": "other"}
    assert http.post(PATH, json=BODY, headers=other).status_code == 503
    assert http.post(PATH, json=BODY, headers=fault("status=502;times=1")).status_code == 502
    proxy_emulator.reset()
    assert http.post(PATH, json=BODY, headers=fault("status=503;times=1")).status_code == 503


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_and_retry_headers(http: httpx.Client, status: int) -> None:
    spec = f"status={status};retry_after_ms=250;x_should_retry=false"
    response = http.post(PATH, json=BODY, headers=fault(spec))
    assert response.status_code == status
    assert response.headers["retry-after-ms"] == "250"
    assert response.headers["x-should-retry"] == "false"
    assert "retry-after" not in response.headers
    assert response.json()["error"]["type"] == "server_error"


def test_faults_without_times_hit_every_request(http: httpx.Client) -> None:
    assert {
        http.post(PATH, json=BODY, headers=fault("status=500")).status_code for _ in range(3)
    } == {500}


def test_deployment_faults_apply_unless_a_request_brings_its_own(
    proxy_emulator: EmulatorServer, http: httpx.Client
) -> None:
    proxy_emulator.set_faults(Faults(status=429, times=1, retry_after=0))
    assert http.post(PATH, json=BODY, headers=fault("")).status_code == 200
    assert http.post(PATH, json=BODY).status_code == 429
    assert http.post(PATH, json=BODY).status_code == 200
    proxy_emulator.set_faults("status=503;times=1")  # also restarts the deployment's counts
    assert http.post(PATH, json=BODY).status_code == 503
    proxy_emulator.set_faults(None)
    assert http.post(PATH, json=BODY).status_code == 200


def test_faults_come_before_body_validation(http: httpx.Client) -> None:
    response = http.post(PATH, json={"max_tokens": 0}, headers=fault("status=429"))
    assert response.status_code == 429


@pytest.mark.parametrize(
    ("spec", "key"),
    [("status=200", "status"), ("stauts=500", "stauts"), ("times=0", "times"), ("boom", "boom")],
)
def test_a_bad_fault_header_is_400_naming_the_key(http: httpx.Client, spec: str, key: str) -> None:
    response = http.post(PATH, json=BODY, headers=fault(spec))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "X-Emulator-Fault"
    assert key in error["message"]


@pytest.mark.parametrize("drop_after", [0, 1, 3, 4])
def test_drop_after_cuts_the_connection_before_done(http: httpx.Client, drop_after: int) -> None:
    events, error = read_events(http, f"drop_after={drop_after}")
    assert len(events) == drop_after
    assert "[DONE]" not in events
    assert isinstance(error, httpx.RemoteProtocolError)


def test_drop_after_beyond_the_stream_changes_nothing(http: httpx.Client) -> None:
    events, error = read_events(http, "drop_after=6")  # 4 chunks and [DONE]
    assert error is None
    assert events[-1] == "[DONE]"


def test_end_after_ends_the_body_cleanly_without_done(http: httpx.Client) -> None:
    events, error = read_events(http, "end_after=2")
    assert error is None
    assert len(events) == 2
    assert "[DONE]" not in events


def test_drop_after_cuts_an_unstreamed_reply_after_its_headers(http: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(PATH, json=BODY, headers=fault("drop_after=0"))
    # The emulator itself is fine afterwards.
    assert http.post(PATH, json=BODY).status_code == 200


def test_first_byte_delay_holds_the_status_line(
    proxy_emulator: EmulatorServer, auth: dict[str, str]
) -> None:
    headers = {**auth, **fault("first_byte_delay=0.5;times=1")}
    with httpx.Client(base_url=proxy_emulator.url, headers=headers) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post(PATH, json=BODY, timeout=httpx.Timeout(5, read=0.1))
        started = time.monotonic()
        assert client.post(PATH, json=BODY).status_code == 200  # times=1: no delay now
        assert time.monotonic() - started < 0.4


def test_first_byte_delay_on_a_stream(http: httpx.Client) -> None:
    started = time.monotonic()
    events, error = read_events(http, "first_byte_delay=0.3")
    assert error is None
    assert events[-1] == "[DONE]"
    assert time.monotonic() - started >= 0.3


def test_deployment_faults_from_configuration() -> None:
    faults = Deployment(faults="status=503;times=1;x_should_retry=true")
    config = EmulatorConfig(deployments={"d": faults})
    with EmulatorServer(config) as emulator:
        headers = {"apikey": emulator.api_key, "X-Enkrypt-Deployment": "d"}
        first = httpx.post(emulator.completions_url, json=BODY, headers=headers)
        assert (first.status_code, first.headers["x-should-retry"]) == (503, "true")
        assert httpx.post(emulator.completions_url, json=BODY, headers=headers).status_code == 200


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

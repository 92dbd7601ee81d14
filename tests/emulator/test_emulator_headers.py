"""Header checks, in the proxy's order, and what the emulator records."""

from __future__ import annotations

import httpx
import pytest

from completions_sdk.emulator import EmulatorServer

PATH = "/ai-proxy/completions"
BODY = {"model": "m", "prompt": "Say hi"}


def error_of(response: httpx.Response) -> dict[str, object]:
    error: dict[str, object] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


@pytest.mark.parametrize("key", [None, "", "wrong-key", "EMULATOR-KEY"])
def test_a_missing_or_wrong_key_is_401(proxy_emulator: EmulatorServer, key: str | None) -> None:
    headers = {"X-Enkrypt-Deployment": proxy_emulator.deployment}
    if key is not None:
        headers["apikey"] = key
    response = httpx.post(proxy_emulator.url + PATH, json=BODY, headers=headers)
    assert response.status_code == 401
    error = error_of(response)
    assert error["type"] == "authentication_error"
    assert "wrong-key" not in response.text


def test_the_key_is_checked_before_the_deployment(proxy_emulator: EmulatorServer) -> None:
    response = httpx.post(proxy_emulator.url + PATH, json=BODY, headers={"apikey": "nope"})
    assert response.status_code == 401


def test_a_missing_deployment_is_400(proxy_emulator: EmulatorServer) -> None:
    headers = {"apikey": proxy_emulator.api_key}
    response = httpx.post(proxy_emulator.url + PATH, json=BODY, headers=headers)
    assert response.status_code == 400
    assert error_of(response)["param"] == "X-Enkrypt-Deployment"


def test_an_unknown_deployment_is_404(http: httpx.Client) -> None:
    response = http.post(PATH, json=BODY, headers={"X-Enkrypt-Deployment": "nope"})
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "deployment_not_found"
    assert "'nope'" in str(error["message"])


def test_any_deployment_can_be_allowed(proxy_emulator: EmulatorServer, http: httpx.Client) -> None:
    proxy_emulator.add_deployment("other")
    assert http.post(PATH, json=BODY, headers={"X-Enkrypt-Deployment": "other"}).is_success


@pytest.mark.parametrize(
    ("name", "value"),
    [("X-Enkrypt-Tags", "a,,b"), ("X-Enkrypt-Tags", "a, ,b"), ("X-Enkrypt-Refresh-Cache", "yes")],
)
def test_malformed_optional_headers_are_400(http: httpx.Client, name: str, value: str) -> None:
    response = http.post(PATH, json=BODY, headers={name: value})
    assert response.status_code == 400
    assert error_of(response)["param"] == name


def test_requests_are_recorded_without_the_key(
    proxy_emulator: EmulatorServer, http: httpx.Client
) -> None:
    headers = {
        "X-Enkrypt-Tags": "openai-testing,unit-testing",
        "X-Enkrypt-Refresh-Cache": "true",
        "Authorization": "Bearer sk-other-secret",
    }
    assert http.post(PATH, json={**BODY, "extra": [1]}, headers=headers).is_success
    httpx.post(proxy_emulator.url + PATH, json=BODY, headers={"apikey": "sk-wrong-secret"})
    first, second = proxy_emulator.requests
    assert (first.method, first.path) == ("POST", PATH)
    assert first.body == {**BODY, "extra": [1]}
    assert first.deployment == proxy_emulator.deployment
    assert first.tags == ["openai-testing", "unit-testing"]
    assert first.refresh_cache is True
    assert first.headers["apikey"] == second.headers["apikey"] == "[redacted]"
    assert first.headers["authorization"] == "[redacted]"
    everything = repr(list(proxy_emulator.requests))
    for secret in (proxy_emulator.api_key, "sk-other-secret", "sk-wrong-secret"):
        assert secret not in everything


def test_a_body_that_is_not_json_is_recorded_as_none(
    proxy_emulator: EmulatorServer, http: httpx.Client
) -> None:
    response = http.post(PATH, content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_json"
    assert proxy_emulator.requests[-1].body is None


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/", 404), ("GET", PATH, 405)])
def test_other_routes_answer_json_errors(
    proxy_emulator: EmulatorServer, http: httpx.Client, method: str, path: str, status: int
) -> None:
    response = http.request(method, path)
    assert response.status_code == status
    error_of(response)
    assert proxy_emulator.requests[-1].path == path

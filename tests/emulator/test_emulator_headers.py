"""Header checks, in the proxy's order, and what the emulator records (both endpoints)."""

from __future__ import annotations

import httpx
import pytest

from completions_sdk.emulator import EmulatorServer
from tests._support.emulator import Api


def error_of(response: httpx.Response) -> dict[str, object]:
    error: dict[str, object] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


@pytest.mark.parametrize("key", [None, "", "wrong-key", "EMULATOR-KEY"])
def test_a_missing_or_wrong_key_is_401(
    proxy_emulator: EmulatorServer, api: Api, key: str | None
) -> None:
    headers = {"X-Enkrypt-Deployment": proxy_emulator.deployment}
    if key is not None:
        headers["apikey"] = key
    response = httpx.post(proxy_emulator.url + api.path, json=api.body(), headers=headers)
    assert response.status_code == 401
    error = error_of(response)
    assert error["type"] == "authentication_error"
    assert "wrong-key" not in response.text


def test_the_key_is_checked_before_the_deployment(proxy_emulator: EmulatorServer, api: Api) -> None:
    url = proxy_emulator.url + api.path
    assert httpx.post(url, json=api.body(), headers={"apikey": "nope"}).status_code == 401


def test_a_missing_deployment_is_400(proxy_emulator: EmulatorServer, api: Api) -> None:
    headers = {"apikey": proxy_emulator.api_key}
    response = httpx.post(proxy_emulator.url + api.path, json=api.body(), headers=headers)
    assert response.status_code == 400
    assert error_of(response)["param"] == "X-Enkrypt-Deployment"


def test_an_unknown_deployment_is_404(http: httpx.Client, api: Api) -> None:
    response = http.post(api.path, json=api.body(), headers={"X-Enkrypt-Deployment": "nope"})
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "deployment_not_found"
    assert "'nope'" in str(error["message"])


def test_an_added_deployment_is_served(
    proxy_emulator: EmulatorServer, http: httpx.Client, api: Api
) -> None:
    proxy_emulator.add_deployment("other")
    headers = {"X-Enkrypt-Deployment": "other"}
    assert http.post(api.path, json=api.body(), headers=headers).is_success


@pytest.mark.parametrize(
    ("name", "value"),
    [("X-Enkrypt-Tags", "a,,b"), ("X-Enkrypt-Tags", "a, ,b"), ("X-Enkrypt-Refresh-Cache", "yes")],
)
def test_malformed_optional_headers_are_400(
    http: httpx.Client, api: Api, name: str, value: str
) -> None:
    response = http.post(api.path, json=api.body(), headers={name: value})
    assert response.status_code == 400
    assert error_of(response)["param"] == name


def test_requests_are_recorded_without_the_key(
    proxy_emulator: EmulatorServer, http: httpx.Client, api: Api
) -> None:
    headers = {
        "X-Enkrypt-Tags": "openai-testing,unit-testing",
        "X-Enkrypt-Refresh-Cache": "true",
        "Authorization": "Bearer sk-other-secret",
    }
    body = api.body("Say hi")
    assert http.post(api.path, json={**body, "extra": [1]}, headers=headers).is_success
    httpx.post(proxy_emulator.url + api.path, json=body, headers={"apikey": "sk-wrong-secret"})
    first, second = proxy_emulator.requests
    assert (first.method, first.path) == ("POST", api.path)
    assert first.body == {**body, "extra": [1]}
    assert first.deployment == proxy_emulator.deployment
    assert first.tags == ["openai-testing", "unit-testing"]
    assert first.refresh_cache is True
    assert first.headers["apikey"] == second.headers["apikey"] == "[redacted]"
    assert first.headers["authorization"] == "[redacted]"
    everything = repr(list(proxy_emulator.requests))
    for secret in (proxy_emulator.api_key, "sk-other-secret", "sk-wrong-secret"):
        assert secret not in everything


def test_a_body_that_is_not_json_is_recorded_as_none(
    proxy_emulator: EmulatorServer, http: httpx.Client, api: Api
) -> None:
    headers = {"Content-Type": "application/json"}
    response = http.post(api.path, content=b"{not json", headers=headers)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_json"
    assert proxy_emulator.requests[-1].body is None


def test_other_routes_and_methods_answer_json_errors(
    proxy_emulator: EmulatorServer, http: httpx.Client, api: Api
) -> None:
    for method, path, status in [("GET", "/", 404), ("GET", api.path, 405)]:
        response = http.request(method, path)
        assert response.status_code == status
        error_of(response)
        assert proxy_emulator.requests[-1].path == path

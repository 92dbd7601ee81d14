"""``Client`` and ``AsyncClient`` against pytest-httpx: one body per test, both clients."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from pytest_httpx import HTTPXMock

from completions_sdk import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    Completion,
    CompletionRequest,
    ConfigurationError,
)
from tests._support import API_KEY, URL, fixture_bytes

SAMPLE = fixture_bytes("completion-as-served.json")


def test_complete_sends_the_body_and_returns_a_completion(
    client: Any, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=URL, method="POST", content=SAMPLE)
    completion = client.complete(model="gpt-3.5-turbo-instruct", prompt="Say hi", max_tokens=16)
    assert isinstance(completion, Completion)
    assert completion.text == " Because the bicycle was two-tired."
    sent = httpx_mock.get_request()
    assert sent is not None
    assert json.loads(sent.content) == {
        "model": "gpt-3.5-turbo-instruct",
        "prompt": "Say hi",
        "max_tokens": 16,
    }


def test_proxy_headers(make_client: Callable[..., Any], httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(content=SAMPLE)
    client = make_client(tags=["web", "prod"], refresh_cache=False)
    client.complete(model="m", prompt="hi")
    sent = httpx_mock.get_request()
    assert sent is not None
    assert sent.headers["apikey"] == API_KEY
    assert sent.headers["X-Enkrypt-Deployment"] == "test-deployment-1"
    assert sent.headers["X-Enkrypt-Tags"] == "web,prod"
    assert sent.headers["X-Enkrypt-Refresh-Cache"] == "false"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["User-Agent"].startswith("completions-sdk/")


def test_optional_headers_are_omitted_when_not_given(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(content=SAMPLE)
    client.complete(model="m")
    sent = httpx_mock.get_request()
    assert sent is not None
    assert "X-Enkrypt-Tags" not in sent.headers
    assert "X-Enkrypt-Refresh-Cache" not in sent.headers


def test_per_call_overrides(make_client: Callable[..., Any], httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(content=SAMPLE, is_reusable=True)
    client = make_client(tags="a,b", default_headers={"X-Team": "search"})
    request = CompletionRequest(model="m", prompt=["a", "b"], n=2, stop=["\n"])
    client.complete(
        request,
        refresh_cache=True,
        deployment="other",
        tags=["x"],
        extra_headers={"X-Trace": "t1"},
        extra_body={"new_field": 1},
    )
    client.complete(request, tags=None)
    first, second = httpx_mock.get_requests()
    assert first.headers["X-Enkrypt-Refresh-Cache"] == "true"
    assert first.headers["X-Enkrypt-Deployment"] == "other"
    assert first.headers["X-Enkrypt-Tags"] == "x"
    assert first.headers["X-Trace"] == "t1"
    assert first.headers["X-Team"] == "search"
    assert json.loads(first.content)["new_field"] == 1
    assert "X-Enkrypt-Tags" not in second.headers
    assert second.headers["X-Enkrypt-Deployment"] == "test-deployment-1"


def test_keyword_fields_override_the_request_and_are_validated(
    client: Any, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(content=SAMPLE)
    request = CompletionRequest(model="m", prompt="hi", temperature=0.5)
    client.complete(request, temperature=1.0)
    sent = httpx_mock.get_request()
    assert sent is not None
    assert json.loads(sent.content) == {"model": "m", "prompt": "hi", "temperature": 1.0}
    with pytest.raises(ValidationError, match="temperature"):
        client.complete(request, temperature=9)


def test_invalid_fields_raise_before_anything_is_sent(client: Any, httpx_mock: HTTPXMock) -> None:
    with pytest.raises(ValidationError, match="max_tokens"):
        client.complete(model="m", max_tokens=0)
    with pytest.raises(ValidationError, match="best_of must be greater than n"):
        client.complete(model="m", best_of=2, n=2)
    assert httpx_mock.get_requests() == []


def test_stream_true_points_to_stream(client: Any, httpx_mock: HTTPXMock) -> None:
    with pytest.raises(ConfigurationError, match=r"call stream\(\)"):
        client.complete(model="m", stream=True)
    with pytest.raises(ConfigurationError, match=r"call stream\(\)"):
        client.complete(CompletionRequest(model="m", stream=True))


@pytest.mark.parametrize(
    ("header", "value"),
    [("deployment", "a\r\nX-Evil: 1"), ("extra_headers", {"X-A": "b\nc"})],
)
def test_header_injection_is_rejected(
    client: Any, httpx_mock: HTTPXMock, header: str, value: Any
) -> None:
    with pytest.raises(ConfigurationError, match="must not contain CR, LF or NUL"):
        client.complete(model="m", **{header: value})
    assert httpx_mock.get_requests() == []


def test_a_non_json_success_body_is_a_clear_error(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(content=b"<html>hello</html>", headers={"content-type": "text/html"})
    with pytest.raises(APIResponseValidationError, match="not a Completion"):
        client.complete(model="m")


def test_connection_errors_are_mapped(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ConnectError("Connection refused"), is_reusable=True)
    with pytest.raises(APIConnectionError, match="Connection refused") as info:
        client.complete(model="m")
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert len(httpx_mock.get_requests()) == 3  # first attempt + max_retries=2


def test_timeouts_are_mapped(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"), is_reusable=True)
    with pytest.raises(APITimeoutError, match="read timeout"):
        client.complete(model="m", max_retries=0)
    assert len(httpx_mock.get_requests()) == 1


def test_per_call_timeout_reaches_httpx(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(content=SAMPLE)
    client.complete(model="m", timeout=3.5)
    sent = httpx_mock.get_request()
    assert sent is not None
    assert sent.extensions["timeout"] == {"connect": 3.5, "read": 3.5, "write": 3.5, "pool": 3.5}


def test_deadline_shortens_each_attempts_timeout(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(content=SAMPLE)
    client.complete(model="m", deadline=2.0)
    sent = httpx_mock.get_request()
    assert sent is not None
    assert all(0 < value <= 2.0 for value in sent.extensions["timeout"].values())


def test_own_http_client_is_used_and_left_open(httpx_mock: HTTPXMock) -> None:
    from completions_sdk import Client

    httpx_mock.add_response(content=SAMPLE)
    http = httpx.Client(headers={"X-Own": "1"})
    with Client(api_key="k", deployment="d", base_url="http://127.0.0.1:1", http_client=http) as c:
        c.complete(model="m")
    sent = httpx_mock.get_request()
    assert sent is not None and sent.headers["X-Own"] == "1"
    assert not http.is_closed
    http.close()


def test_context_manager_closes_the_client() -> None:
    from completions_sdk import Client

    with Client(api_key="k", deployment="d") as client:
        assert not client.is_closed
    assert client.is_closed


async def test_async_context_manager_closes_the_client() -> None:
    from completions_sdk import AsyncClient

    async with AsyncClient(api_key="k", deployment="d") as client:
        assert not client.is_closed
    assert client.is_closed


def test_clients_survive_pickling(make_client: Callable[..., Any], httpx_mock: HTTPXMock) -> None:
    import pickle

    httpx_mock.add_response(content=SAMPLE)
    client = make_client(retry_policy=None)  # the test's recording sleep is a local function
    inner = client.client if hasattr(client, "client") else client
    copy = pickle.loads(pickle.dumps(inner))
    assert copy._http is not inner._http
    assert repr(copy) == repr(inner)
    if hasattr(client, "client"):
        client.run(copy.complete(model="m"))
        client.run(copy.close())
    else:
        copy.complete(model="m")
        copy.close()


def test_a_client_with_its_own_http_client_refuses_pickling() -> None:
    import pickle

    from completions_sdk import Client

    with httpx.Client() as http:
        client = Client(api_key="k", deployment="d", http_client=http)
        with pytest.raises(TypeError, match="http_client"):
            pickle.dumps(client)

"""The API key appears in no repr, str, exception or log record."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from completions_sdk import APIStatusError, CompletionRequest
from tests._support import API_KEY, fixture_bytes


def test_no_key_in_the_clients_repr_or_str(client: Any) -> None:
    for text in (
        repr(client),
        str(client),
        repr(client.client if hasattr(client, "client") else client),
    ):
        assert API_KEY not in text
    assert API_KEY not in repr(client.__dict__.get("_config", ""))


def test_no_key_in_a_requests_repr() -> None:
    request = CompletionRequest(model="m", prompt="hi", user="u")
    assert API_KEY not in repr(request)


def test_no_key_in_exceptions_or_tracebacks(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=401, json={"error": {"message": "nope"}})
    with pytest.raises(APIStatusError) as info:
        client.complete(model="m")
    assert API_KEY not in str(info.value)
    assert API_KEY not in repr(info.value)
    assert API_KEY not in str(info.getrepr(showlocals=False))


def test_no_key_in_any_log_record_at_debug(
    client: Any, httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    httpx_mock.add_response(status_code=503, json={"error": "down"})
    httpx_mock.add_response(content=fixture_bytes("completion-as-served.json"))
    loggers = [logging.getLogger(name) for name in ("httpx", "httpcore", "completions_sdk")]
    levels = [logger.level for logger in loggers]
    try:
        with caplog.at_level(logging.DEBUG):
            for logger in loggers:
                logger.setLevel(logging.DEBUG)
            client.complete(model="m", prompt="hi")
    finally:  # left at DEBUG, every later test of the process would keep httpcore's records
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    assert caplog.records, "expected some log records at DEBUG"
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
        assert API_KEY not in repr(record.args)


def test_no_key_in_debug_logs_over_a_real_socket(caplog: pytest.LogCaptureFixture) -> None:
    # httpcore only logs when it really connects: refuse a real loopback connection.
    from completions_sdk import APIConnectionError, Client

    with (
        caplog.at_level(logging.DEBUG),
        Client(
            api_key=API_KEY, deployment="d", base_url="http://127.0.0.1:9", max_retries=0
        ) as client,
        pytest.raises(APIConnectionError),
    ):
        client.complete(model="m")
    assert any(record.name.startswith("httpcore") for record in caplog.records)
    for record in caplog.records:
        assert API_KEY not in record.getMessage()


def test_the_key_is_a_secret_str_in_the_config() -> None:
    from completions_sdk import Client

    client = Client(api_key=API_KEY, deployment="d", http_client=httpx.Client())
    assert API_KEY not in repr(client._config.api_key)
    assert API_KEY not in str(client._config.api_key)

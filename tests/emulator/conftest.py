"""Fixtures for the emulator's tests: plain httpx clients aimed at ``proxy_emulator``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import httpx_sse
import pytest

from completions_sdk.emulator import EmulatorServer

PATH = "/ai-proxy/completions"


@pytest.fixture
def auth(proxy_emulator: EmulatorServer) -> dict[str, str]:
    """The headers the emulator accepts."""
    return {"apikey": proxy_emulator.api_key, "X-Enkrypt-Deployment": proxy_emulator.deployment}


@pytest.fixture
def http(proxy_emulator: EmulatorServer, auth: dict[str, str]) -> Iterator[httpx.Client]:
    """A client sending the accepted headers to the emulator's base URL."""
    with httpx.Client(base_url=proxy_emulator.url, headers=auth, timeout=10) as client:
        yield client


@pytest.fixture
def complete(http: httpx.Client) -> Callable[..., dict[str, Any]]:
    """POST a body, expect 200, return the decoded completion."""

    def complete(body: dict[str, Any], **headers: str) -> dict[str, Any]:
        response = http.post(PATH, json=body, headers=headers)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    return complete


@pytest.fixture
def stream(http: httpx.Client) -> Callable[..., list[str]]:
    """POST a streamed body, return every event's data (``[DONE]`` included)."""

    def stream(body: dict[str, Any], **headers: str) -> list[str]:
        body = {**body, "stream": True}
        with httpx_sse.connect_sse(http, "POST", PATH, json=body, headers=headers) as source:
            assert source.response.status_code == 200
            return [event.data for event in source.iter_sse()]

    return stream

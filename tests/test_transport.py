"""What the SDK adds under httpx (``_transport.py``), and the httpcore internals it needs.

If a new httpcore moves ``_network_backend``, ``_connections`` or ``_requests``, these tests
fail loudly instead of deadlines and cancellations silently losing their bounds.
"""

from __future__ import annotations

import time
from typing import Any

import httpcore
import httpx
import pytest

from completions_sdk import AsyncClient, Client
from completions_sdk._transport import (
    bind_expiry,
    bind_expiry_within,
    bound_reads,
    reset_expiry,
)
from tests._support import API_KEY


def _pools(http: httpx.Client | httpx.AsyncClient) -> list[Any]:
    return [t._pool for t in [http._transport, *http._mounts.values()] if hasattr(t, "_pool")]  # type: ignore[attr-defined]


@pytest.mark.parametrize("client_class", [Client, AsyncClient])
def test_the_sdks_own_pools_read_through_bounded_streams(
    client_class: type[Client] | type[AsyncClient],
) -> None:
    client = client_class(api_key=API_KEY, deployment="d", base_url="http://127.0.0.1:9")
    assert client._bounded_reads
    for pool in _pools(client._http):
        assert type(pool._network_backend).__name__.endswith("BoundedBackend")
        assert isinstance(pool._connections, list)
        assert isinstance(pool._requests, list)


def test_a_users_own_transport_is_left_alone() -> None:
    http = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200)))
    client = Client(api_key=API_KEY, deployment="d", http_client=http)
    assert not client._bounded_reads
    assert not bound_reads(http)


class _Stream(httpcore.NetworkStream):
    def __init__(self) -> None:
        self.timeouts: list[float | None] = []

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.timeouts.append(timeout)
        return b""


class _Backend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self.stream = _Stream()

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return self.stream


def _bounded_stream() -> tuple[httpcore.NetworkStream, _Stream]:
    http = httpx.Client()
    bound_reads(http)
    backend = _Backend()
    pool = _pools(http)[0]
    pool._network_backend = type(pool._network_backend)(backend)
    return pool._network_backend.connect_tcp("127.0.0.1", 9, timeout=5), backend.stream


def test_a_read_is_shortened_to_the_time_left_and_fails_once_it_is_gone() -> None:
    stream, inner = _bounded_stream()
    stream.read(10, timeout=30)
    assert inner.timeouts == [30]  # no expiry bound: the read timeout as given
    token = bind_expiry(time.monotonic() + 2)
    try:
        stream.read(10, timeout=30)
        assert 1 < inner.timeouts[-1] <= 2  # type: ignore[operator]
        stream.read(10, timeout=None)
        assert inner.timeouts[-1] is not None
    finally:
        reset_expiry(token)
    token = bind_expiry(time.monotonic() - 1)
    try:
        with pytest.raises(httpcore.ReadTimeout, match="deadline"):
            stream.read(10, timeout=30)
    finally:
        reset_expiry(token)


def test_a_grace_period_never_extends_a_sooner_expiry() -> None:
    # A sooner expiry (20 s) than the grace (60 s) and the read's own timeout (30 s); the
    # margins keep a slow, loaded machine from reaching the expiry before the read.
    token = bind_expiry(time.monotonic() + 20)
    inner = bind_expiry_within(60)
    try:
        stream, recorded = _bounded_stream()
        stream.read(1, timeout=30)
        assert recorded.timeouts[-1] is not None
        assert recorded.timeouts[-1] <= 20
    finally:
        reset_expiry(inner)
        reset_expiry(token)


def test_a_deadline_that_passes_before_tls_closes_the_plain_socket() -> None:
    closed: list[bool] = []

    class _Plain(_Stream):
        def close(self) -> None:
            closed.append(True)

    http = httpx.Client()
    bound_reads(http)
    pool = _pools(http)[0]
    backend = _Backend()
    backend.stream = _Plain()
    pool._network_backend = type(pool._network_backend)(backend)
    stream = pool._network_backend.connect_tcp("127.0.0.1", 9, timeout=5)
    token = bind_expiry(time.monotonic() - 1)
    try:
        with pytest.raises(httpcore.ConnectTimeout):
            stream.start_tls(None, "example.invalid", timeout=5)
    finally:
        reset_expiry(token)
    assert closed == [True]  # httpcore leaves closing to start_tls when it fails

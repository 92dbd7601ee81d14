"""httpcore network streams whose every read, write and connect ends by the call's expiry.

A pool's network backend is wrapped (``bounded_backend``) so that each connection it opens
shortens the timeout of every I/O step to the time left before the expiry the shells bind
(``_transport.bind_expiry``), and tells a sync call's watcher (``_cancel.py``) which stream
it is about to block on. Only ``_transport.bound_reads`` imports this module, with the
first client: httpcore is not loaded by ``import completions_sdk``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import httpcore
from httpcore._backends.base import SOCKET_OPTION

from ._transport import current_expiry, current_stream_watcher

__all__ = ["bounded_backend"]


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    expires = current_expiry()
    if expires is None:
        return timeout
    left = expires - time.monotonic()
    if left <= 0:
        raise error("the call's deadline has passed")
    return left if timeout is None or timeout > left else timeout


class _BoundedStream(httpcore.NetworkStream):
    __slots__ = ("_stream",)

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        bounded = _bounded(timeout, httpcore.ReadTimeout)
        watcher = current_stream_watcher()
        if watcher is None:
            return self._stream.read(max_bytes, bounded)
        watcher(self._stream)
        try:
            return self._stream.read(max_bytes, bounded)
        finally:
            watcher(None)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        bounded = _bounded(timeout, httpcore.WriteTimeout)
        watcher = current_stream_watcher()
        if watcher is None:
            self._stream.write(buffer, bounded)
            return
        watcher(self._stream)
        try:
            self._stream.write(buffer, bounded)
        finally:
            watcher(None)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        try:
            bounded = _bounded(timeout, httpcore.ConnectTimeout)
        except httpcore.ConnectTimeout:
            self._stream.close()  # as the inner start_tls would on failure: no socket kept
            raise
        return _BoundedStream(self._stream.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _AsyncBoundedStream(httpcore.AsyncNetworkStream):
    __slots__ = ("_stream",)

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        try:
            bounded = _bounded(timeout, httpcore.ConnectTimeout)
        except httpcore.ConnectTimeout:
            await self._stream.aclose()  # as the inner start_tls would on failure
            raise
        stream = await self._stream.start_tls(ssl_context, server_hostname, bounded)
        return _AsyncBoundedStream(stream)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _BoundedBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, bounded, local_address, socket_options)
        return _BoundedStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(self._backend.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _AsyncBoundedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        stream = await self._backend.connect_tcp(host, port, bounded, local_address, socket_options)
        return _AsyncBoundedStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        stream = await self._backend.connect_unix_socket(path, bounded, socket_options)
        return _AsyncBoundedStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def bounded_backend(
    backend: httpcore.NetworkBackend | httpcore.AsyncNetworkBackend,
) -> httpcore.NetworkBackend | httpcore.AsyncNetworkBackend:
    """``backend`` with its I/O bounded by the expiry (as it is, if it is already)."""
    if isinstance(backend, (_BoundedBackend, _AsyncBoundedBackend)):
        return backend
    if isinstance(backend, httpcore.AsyncNetworkBackend):
        return _AsyncBoundedBackend(backend)
    return _BoundedBackend(backend)

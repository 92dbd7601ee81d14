"""Ending sync calls in flight from another thread: ``Abandon``.

A thread blocked in a socket read cannot be interrupted, but the read ends at once when
its socket is shut down (``close()`` from another thread does not wake it on Linux). So
abandoning calls (a batch that failed, or was interrupted) takes two steps: each call's
requests carry an httpcore ``trace`` hook that stops the call at its next step (no new
connection, attempt or retry), and the socket of a call blocked in the network is shut
down, so that the server sees the connection closed and the thread ends.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpcore
import httpx

__all__ = ["Abandon", "CallAbandoned", "watch"]

T = TypeVar("T")
_current: contextvars.ContextVar[Abandon | None] = contextvars.ContextVar(
    "completions_sdk_abandon", default=None
)
_RESCANS = 20
"""Looks for blocked calls, 10 ms apart: a call between two steps blocks a moment later."""


class CallAbandoned(Exception):
    """Ends a call whose caller has gone (never seen by users: nobody awaits the call)."""


class Abandon:
    """Runs calls on worker threads so that they can all be abandoned at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = False
        self._threads: set[int] = set()

    def run(self, call: Callable[[T], Any], argument: T) -> Any:
        """Run ``call(argument)`` on this thread, unless the calls were abandoned."""
        with self._lock:
            if self._abandoned:
                raise CallAbandoned
            self._threads.add(threading.get_ident())
        token = _current.set(self)
        try:
            return call(argument)
        finally:
            _current.reset(token)
            with self._lock:
                self._threads.discard(threading.get_ident())

    def abandon(self) -> None:
        """Stop every call: none takes another step; those blocked in a read or write end."""
        with self._lock:
            self._abandoned = True
        shut: set[int] = set()
        for _ in range(_RESCANS):
            with self._lock:
                threads = set(self._threads)
            if not threads:
                return
            for thread in threads:
                stream = _stream_in_use(thread)
                if stream is not None and id(stream) not in shut:
                    shut.add(id(stream))
                    _shut_down(stream)
            time.sleep(0.01)

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: once abandoned, stop where stopping leaves nothing open."""
        if self._abandoned and _may_stop(event):
            raise CallAbandoned


def watch(request: httpx.Request) -> None:
    """Let the calls being run by an ``Abandon`` on this thread be stopped at each step."""
    scope = _current.get()
    if scope is not None:
        request.extensions["trace"] = scope.trace


def _may_stop(event: str) -> bool:
    # Before connecting or sending nothing is open yet, and after a failure httpcore
    # closes the connection anyway; elsewhere (a connection just opened, a response
    # being released) raising would skip httpcore's own clean-up.
    if "response_closed" in event:
        return False
    return event.endswith(".failed") or event in (
        "connection.connect_tcp.started",
        "http11.send_request_headers.started",
        "http2.send_request_headers.started",
    )


def _stream_in_use(thread: int) -> httpcore.NetworkStream | None:
    # httpcore hands out no connection for a request before its headers arrive, but a
    # thread blocked in the network has the stream's read or write on its stack.
    frame = sys._current_frames().get(thread)
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, httpcore.NetworkStream):
            return owner
        frame = frame.f_back
    return None


def _shut_down(stream: httpcore.NetworkStream) -> None:
    sock = stream.get_extra_info("socket")
    if isinstance(sock, socket.socket):
        # The plain socket's shutdown, also for TLS: the reading thread owns the TLS
        # state. OSError: the thread closed it meanwhile.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

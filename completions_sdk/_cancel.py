"""Ending sync calls in flight from another thread: ``Abandon``.

A thread blocked in a socket read cannot be interrupted, but the read ends at once when
its socket is shut down (``close()`` from another thread does not wake it on Linux). So
abandoning calls (a batch that failed, or was interrupted) takes two steps: each call's
requests carry an httpcore ``trace`` hook that stops the call at its next step (no new
connection, attempt or retry), and the SDK's bounded streams (``_bounded_io.py``) tell the
``Abandon`` which socket each of its calls is reading or writing, so that it can shut them
down: the server sees the connection closed and the thread ends.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from ._transport import bind_stream_watcher, reset_stream_watcher

if TYPE_CHECKING:  # httpcore is loaded with the first client, not with the package
    import httpcore

__all__ = ["Abandon", "CallAbandoned", "abandoned", "watch"]

T = TypeVar("T")
_current: contextvars.ContextVar[Abandon | None] = contextvars.ContextVar(
    "completions_sdk_abandon", default=None
)


class CallAbandoned(Exception):
    """Ends a call whose caller has gone (never seen by users: nobody awaits the call)."""


class Abandon:
    """Runs calls on worker threads so that they can all be abandoned at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = False
        self._in_use: dict[int, httpcore.NetworkStream] = {}
        """The stream each thread is blocked on, by thread id."""

    def run(self, call: Callable[[T], Any], argument: T) -> Any:
        """Run ``call(argument)`` on this thread, unless the calls were abandoned."""
        if self._abandoned:
            raise CallAbandoned
        token = _current.set(self)
        watching = bind_stream_watcher(self._using)
        try:
            return call(argument)
        finally:
            reset_stream_watcher(watching)
            _current.reset(token)

    def _using(self, stream: httpcore.NetworkStream | None) -> None:
        # Called by the worker thread before (with the stream) and after (None) each read
        # or write; a stream used after the abandon is shut down at once.
        thread = threading.get_ident()
        with self._lock:
            if stream is None:
                self._in_use.pop(thread, None)
                return
            self._in_use[thread] = stream
            abandoned = self._abandoned
        if abandoned:
            _shut_down(stream)

    def abandon(self) -> None:
        """Stop every call: none takes another step; those blocked in a read or write end."""
        with self._lock:
            # Under the lock: a stream is shut down only while its abandoned call still
            # holds it, never after it went back to the pool for another call to use.
            self._abandoned = True
            for stream in self._in_use.values():
                _shut_down(stream)

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: once abandoned, stop where stopping leaves nothing open."""
        if self._abandoned and _may_stop(event):
            raise CallAbandoned


def abandoned() -> bool:
    """Whether the calls being run on this thread were abandoned (stop waiting, then)."""
    scope = _current.get()
    return scope is not None and scope._abandoned


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


def _shut_down(stream: httpcore.NetworkStream) -> None:
    sock = stream.get_extra_info("socket")
    if isinstance(sock, socket.socket):
        # The plain socket's shutdown, also for TLS: the reading thread owns the TLS
        # state. OSError: the thread closed it meanwhile.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

"""A loopback HTTP/1.1 server of the tests' own, scripted one behaviour per request.

It runs an asyncio loop in a background thread and speaks just enough HTTP/1.1 to take a
request and then do whatever the script says (the behaviours are in ``_behaviours.py``): a
proper reply, a stream of events, a reply cut short by a FIN or a TCP reset, garbage, or
silence. Request ``n`` gets behaviour ``n`` of the script (the last one repeats), so "two
failures, then success" is ``server.script(reset(), reset(), json_reply(...))``. It listens
on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import socket
import struct
import termios
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Behaviour", "End", "Exchange", "FaultServer", "Seen"]

End = Literal["keep", "close", "reset", "hang"]
"""How a reply ends: keep the connection alive, close it (FIN), reset it (RST), or go
silent until the client hangs up."""


@dataclass(frozen=True)
class Seen:
    """A request as the server received it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Exchange:
    """One request on one connection, and the ways a behaviour can answer it."""

    def __init__(
        self,
        server: FaultServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: Seen,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.request = request

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def end(self, how: End) -> bool:
        """Finish the exchange; ``True`` when the connection may serve another request."""
        if how == "reset":
            await self.reset()
        elif how == "close":
            self.writer.close()
        elif how == "hang":
            await self.wait_for_hangup()
        return how == "keep"

    async def reset(self) -> None:
        """Abort the connection with a TCP RST once everything written has left."""
        sock = self.writer.get_extra_info("socket")
        while self.writer.transport.get_write_buffer_size() or _unacknowledged(sock):
            await asyncio.sleep(0.001)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def wait_for_hangup(self) -> None:
        """Read and ignore everything until the client closes the connection."""
        with contextlib.suppress(ConnectionError):
            while await self.reader.read(65536):
                pass


def _unacknowledged(sock: Any) -> int:
    """Bytes the peer's kernel has not acknowledged yet (Linux ``SIOCOUTQ``)."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]  # type: ignore[no-any-return]


Behaviour = Callable[[Exchange], Awaitable[bool]]
"""Answers one request; returns whether the connection stays open for the next one."""


async def _unscripted(exchange: Exchange) -> bool:
    # A test that forgot to script the server sees a reset, not a made-up success.
    await exchange.reset()
    return False


class FaultServer:
    """The scripted server; use it through the ``fault_server`` fixture."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        """The requests received (only counted, in ``count``, while ``record`` is off)."""
        self.record = True
        self.count = 0
        self.connections = 0
        self.peak_open_requests = 0
        self._open_requests = 0
        self._script: list[Behaviour] = [_unscripted]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def open_connections(self) -> int:
        """Connections open now (the server's side of them)."""
        return len(self._writers)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *behaviours: Behaviour) -> None:
        """Answer the next requests with these behaviours (the last one repeats)."""
        assert behaviours
        self._script = list(behaviours)
        self.requests.clear()
        self.count = 0
        self.connections = 0
        self.peak_open_requests = 0

    def start(self) -> None:
        self._thread.start()
        self.call(self._listen())

    def stop(self) -> None:
        self.call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def call(self, coroutine: Awaitable[Any], timeout: float = 10) -> Any:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)  # type: ignore[arg-type]

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connection, "127.0.0.1", 0, backlog=2048, limit=1 << 20
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        # Hang up on every client still connected: each handler then ends on its own.
        for writer in list(self._writers):
            writer.transport.abort()
        for _ in range(1000):
            if not self._writers:
                break
            await asyncio.sleep(0.001)
        await self._server.wait_closed()

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._writers.add(writer)
        self.connections += 1
        try:
            while (request := await _read_request(reader)) is not None:
                behaviour = self._script[min(self.count, len(self._script) - 1)]
                self.count += 1
                if self.record:
                    self.requests.append(request)
                self._open_requests += 1
                self.peak_open_requests = max(self.peak_open_requests, self._open_requests)
                try:
                    keep = await behaviour(Exchange(self, reader, writer, request))
                finally:
                    self._open_requests -= 1
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> Seen | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # the client closed an idle keep-alive connection
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, path, _ = request_line.split(" ", 2)
    headers = {}
    for line in filter(None, lines):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Seen(method, path, headers, body)

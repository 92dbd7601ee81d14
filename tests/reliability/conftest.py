"""Fixtures of the reliability suite: the fault server and sockets that misbehave."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.reliability._server import FaultServer


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    """A scripted loopback server (see ``_server.py``), stopped after the test."""
    server = FaultServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def unaccepting_port() -> Iterator[int]:
    """A loopback port whose accept queue is full: a connect hangs until it times out.

    A listener with a backlog of 0 that never accepts takes one connection into its queue;
    Linux then drops further SYNs, so the next connect neither succeeds nor fails.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port: int = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for sock in [*fillers, listener]:
        sock.close()

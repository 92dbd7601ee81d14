"""A client used before ``os.fork()`` gives each process its own replies (issue 12.1).

Before the fix, the child kept the parent's keep-alive socket: parent and child calling at
once read each other's replies (5-10 of 20 trials) or sent interleaved requests (400s).
Here the server holds every reply until both requests are open at once (``barrier``), so
the two calls really overlap; a shared socket cannot reach the barrier and is caught too.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from completions_sdk import AsyncClient, Client
from tests._support import API_KEY
from tests.reliability._behaviours import echo
from tests.reliability._server import FaultServer

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the platform cannot fork")

TRIALS = 20
BARRIER_WAIT = 3.0
"""Seconds the server waits for both requests before answering anyway (a shared socket
never gets there: only one request reaches the server)."""

_CLIENT: Client | None = None
"""The module-level client of the ``multiprocessing`` test, inherited by its workers."""


@contextmanager
def _forking() -> Iterator[None]:
    # Python 3.12+ warns that forking a process with threads (the fault server's) may
    # deadlock the child; the child here only makes one call and leaves with os._exit.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _in_child(work: Callable[[], str]) -> tuple[int, int]:
    """Fork; the child runs ``work`` and sends its outcome back. Returns (pid, read end)."""
    read_end, write_end = os.pipe()
    with _forking():
        pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 1
        try:
            os.close(read_end)
            try:
                outcome = {"text": work()}
            except BaseException as exc:  # everything reaches the parent as a string
                outcome = {"error": f"{type(exc).__name__}: {exc}"}
            os.write(write_end, json.dumps(outcome).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, read_end


def _outcome(pid: int, read_end: int) -> dict[str, str]:
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0, f"the child failed (status {status})"
    return json.loads(data)  # type: ignore[no-any-return]


def _client(server: FaultServer) -> Client:
    return Client(api_key=API_KEY, deployment="d", base_url=server.url, max_retries=0)


def test_parent_and_child_calling_at_once_each_get_their_own_reply(
    fault_server: FaultServer,
) -> None:
    fault_server.script(echo())
    with _client(fault_server) as client:
        assert client.complete(model="m", prompt="warm-up").text == "echo:warm-up"
        for trial in range(TRIALS):
            fault_server.script(echo(barrier=2, wait=BARRIER_WAIT))
            pid, pipe = _in_child(
                lambda trial=trial: client.complete(model="m", prompt=f"child-{trial}").text
            )
            mine = client.complete(model="m", prompt=f"parent-{trial}").text
            theirs = _outcome(pid, pipe)
            assert (mine, theirs) == (f"echo:parent-{trial}", {"text": f"echo:child-{trial}"})
            assert fault_server.peak_open_requests == 2, "the two calls did not overlap"
            # Only the child connected: the parent's keep-alive connection served it again.
            assert fault_server.connections == 1


def _complete_with_module_client(prompt: str) -> str:
    assert _CLIENT is not None
    return _CLIENT.complete(model="m", prompt=prompt).text


def test_a_fork_pool_with_a_module_level_client(fault_server: FaultServer) -> None:
    global _CLIENT
    fault_server.script(echo())
    _CLIENT = _client(fault_server)
    try:
        assert _CLIENT.complete(model="m", prompt="before").text == "echo:before"
        fault_server.script(echo(barrier=4, wait=BARRIER_WAIT))
        prompts = [f"job-{i}" for i in range(16)]
        with _forking(), multiprocessing.get_context("fork").Pool(4) as pool:
            texts = pool.map(_complete_with_module_client, prompts, chunksize=1)
        assert texts == [f"echo:{prompt}" for prompt in prompts]
        assert fault_server.peak_open_requests >= 2, "the workers never overlapped"
        opened = fault_server.connections
        assert _CLIENT.complete(model="m", prompt="after").text == "echo:after"
        assert fault_server.connections == opened, "the parent's connection was not reused"
    finally:
        _CLIENT.close()
        _CLIENT = None


async def _acomplete(client: AsyncClient, prompt: str) -> str:
    return (await client.complete(model="m", prompt=prompt)).text


def test_an_async_client_used_before_fork(fault_server: FaultServer) -> None:
    fault_server.script(echo())
    client = AsyncClient(api_key=API_KEY, deployment="d", base_url=fault_server.url, max_retries=0)
    loop = asyncio.new_event_loop()  # stays open: its pool keeps the connection alive
    try:
        assert loop.run_until_complete(_acomplete(client, "warm-up")) == "echo:warm-up"
        for trial in range(3):
            fault_server.script(echo(barrier=2, wait=BARRIER_WAIT))
            pid, pipe = _in_child(
                lambda trial=trial: asyncio.run(_acomplete(client, f"child-{trial}"))
            )
            mine = loop.run_until_complete(_acomplete(client, f"parent-{trial}"))
            assert (mine, _outcome(pid, pipe)) == (
                f"echo:parent-{trial}",
                {"text": f"echo:child-{trial}"},
            )
            assert fault_server.peak_open_requests == 2
            assert fault_server.connections == 1
    finally:
        loop.run_until_complete(client.close())
        loop.close()

"""An async stream left early closes what it opened; the test loop leaves no task pending.

An ``async for`` that stops early does not close the async generator it iterates: the event
loop's finalizer hook closes it later, in a task. httpx nests such generators (``aiter_text``
over ``aiter_bytes`` over ``aiter_raw`` ...), so an early exit always leaves some to the loop;
``AsyncStream`` must not add its own to them, and a loop must run those tasks before it
closes (``asyncio.run`` does; ``AsyncAdapter.close`` must too). Python 3.13 turns a task
destroyed pending into an error-level warning ("coroutine method 'aclose' ... was never
awaited"); every version logs "Task was destroyed but it is pending!".
"""

from __future__ import annotations

import gc
import logging
import sys
import warnings
from collections.abc import AsyncGenerator
from typing import Any, Literal

import pytest

from completions_sdk import AsyncClient, CompletionsError
from tests._support import API_KEY, AsyncAdapter
from tests.reliability._behaviours import event, sse_reply
from tests.reliability._server import FaultServer

Exit = Literal["break", "raise", "garbage"]
EXITS: tuple[Exit, ...] = ("break", "raise", "garbage")
OURS = ("completions_sdk",)
"""Generators our stream creates: its own (its events, and the raw bytes it reads)."""


def _script(server: FaultServer, how: Exit) -> None:
    chunks = [event({"id": "c1", "choices": [{"text": t, "index": 0}]}) for t in "abc"]
    if how == "garbage":
        chunks.insert(1, b"data: {not json\n\n")
    server.script(sse_reply(chunks))


async def _leave_early(client: AsyncClient, how: Exit) -> None:
    """Read a stream and leave it after its first chunk, the way ``how`` says."""
    try:
        async with client.stream(model="m") as stream:
            async for _ in stream:
                if how == "break":
                    break
                if how == "raise":
                    raise KeyError("a bug in the loop body")
    except (KeyError, CompletionsError):
        pass


def _record_finalized(left: list[str]) -> Any:
    """Wrap the running loop's finalizer hook to note each generator left to it."""
    hooks = sys.get_asyncgen_hooks()

    def finalizer(agen: AsyncGenerator[Any, None]) -> None:
        left.append(f"{agen.ag_code.co_filename}:{agen.__qualname__}")
        assert hooks.finalizer is not None
        hooks.finalizer(agen)

    sys.set_asyncgen_hooks(firstiter=hooks.firstiter, finalizer=finalizer)
    return hooks


@pytest.mark.parametrize("how", EXITS)
async def test_a_stream_left_early_closes_its_own_generators(
    fault_server: FaultServer, how: Exit
) -> None:
    _script(fault_server, how)
    left: list[str] = []
    async with AsyncClient(api_key=API_KEY, deployment="d", base_url=fault_server.url) as client:
        hooks = _record_finalized(left)
        try:
            await _leave_early(client, how)
            gc.collect()
        finally:
            sys.set_asyncgen_hooks(*hooks)
    assert left, "httpx leaves its inner generators to the loop: the probe must see them"
    assert [name for name in left if any(mark in name for mark in OURS)] == []


@pytest.mark.parametrize("how", EXITS)
def test_the_async_adapter_closes_its_loop_with_no_task_pending(
    fault_server: FaultServer, how: Exit, caplog: pytest.LogCaptureFixture
) -> None:
    _script(fault_server, how)
    adapter = AsyncAdapter(AsyncClient(api_key=API_KEY, deployment="d", base_url=fault_server.url))
    adapter.run(_leave_early(adapter.client, how))
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.ERROR):
        warnings.simplefilter("always")
        adapter.close()
        gc.collect()
    assert [str(w.message) for w in caught] == []
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []

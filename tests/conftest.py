"""Shared fixtures: one test body drives both ``Client`` and ``AsyncClient``."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from completions_sdk import AsyncClient, Client, RetryPolicy

FIXTURES = Path(__file__).parent / "fixtures"
BASE_URL = "http://127.0.0.1:8999"
URL = f"{BASE_URL}/ai-proxy/completions"
CHAT_URL = f"{BASE_URL}/ai-proxy/chat/completions"
API_KEY = "sk-test-0123456789-SECRET"

# The suite draws the same examples on every run, so a red run reproduces and main stays
# green by what it contains, not by luck; HYPOTHESIS_PROFILE=explore draws new ones.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def fixture_bytes(name: str) -> bytes:
    """A recorded body from ``tests/fixtures``."""
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    """A recorded JSON body from ``tests/fixtures``, decoded."""
    return json.loads(fixture_bytes(name))


async def _settle() -> None:
    """Let the tasks the loop's async generator finalizer started finish, as asyncio.run does.

    A stream left early leaves httpx's inner async generators suspended (each ``async for``
    in httpx drops its inner one unclosed); the loop closes each in a task, and closing one
    drops the next. Closing the loop under them destroys those tasks pending: logged on every
    Python, a RuntimeWarning ("aclose ... was never awaited") from 3.13.
    """
    this = asyncio.current_task()
    while True:
        await asyncio.sleep(0)  # runs the finalizer's pending ``create_task`` callbacks
        pending = asyncio.all_tasks() - {this}
        if not pending:
            return
        if (await asyncio.wait(pending, timeout=10))[1]:
            return  # something else still runs: let loop.close() report it


class AsyncAdapter:
    """Drives an ``AsyncClient`` through the sync client's interface, on its own loop."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.loop = asyncio.new_event_loop()

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def complete(self, *args: Any, **kwargs: Any) -> Any:
        return self.run(self.client.complete(*args, **kwargs))

    def chat(self, *args: Any, **kwargs: Any) -> Any:
        return self.run(self.client.chat(*args, **kwargs))

    def close(self) -> None:
        self.run(self.client.close())
        self.run(_settle())
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def __repr__(self) -> str:
        return repr(self.client)


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the retry policy asked for (nothing really sleeps)."""
    return []


@pytest.fixture
def retry_policy(sleeps: list[float]) -> RetryPolicy:
    async def async_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return RetryPolicy(sleep=sleeps.append, async_sleep=async_sleep)


@pytest.fixture(params=["sync", "async"])
def make_client(
    request: pytest.FixtureRequest, retry_policy: RetryPolicy
) -> Iterator[Callable[..., Any]]:
    """A factory of clients, sync then async; each test body runs against both."""
    made: list[Any] = []

    def factory(**kwargs: Any) -> Any:
        options: dict[str, Any] = {
            "api_key": API_KEY,
            "deployment": "test-deployment-1",
            "base_url": BASE_URL,
            "retry_policy": retry_policy,
            **kwargs,
        }
        client = (
            Client(**options) if request.param == "sync" else AsyncAdapter(AsyncClient(**options))
        )
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., Any]) -> Any:
    """A client with the test defaults, sync then async."""
    return make_client()

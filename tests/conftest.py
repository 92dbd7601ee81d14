"""Shared fixtures: one test body drives both ``Client`` and ``AsyncClient``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import settings

from completions_sdk import AsyncClient, Client, RetryPolicy
from tests._support import API_KEY, BASE_URL, AsyncAdapter

# The suite draws the same examples on every run, so a red run reproduces and main stays
# green by what it contains, not by luck; HYPOTHESIS_PROFILE=explore draws new ones.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

# The files that take minutes on two shared cores (Ray's jobs, mostly waiting on Ray's
# processes). Collected first, they start at once on a pytest-xdist worker of their own
# (scripts/test: --dist loadfile --no-loadscope-reorder) while the short files fill the
# other workers, instead of starting last and running on alone. The CPU-heavy files (the
# benchmark smoke run, the load tests) are left to start later, not all at once.
LONG_FILES = ("test_ray.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long files first, in ``LONG_FILES`` order; the rest keep their order."""
    rank = {name: index for index, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


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

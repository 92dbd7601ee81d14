"""``complete_many``: input order, the concurrency bound, captured failures, validation."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from pytest_httpx import HTTPXMock

from completions_sdk import Completion, CompletionRequest, InternalServerError
from tests._support import AsyncAdapter


class InFlight:
    """Counts requests in flight at the server side, remembering the peak."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.lock = threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


def reply(request: httpx.Request) -> httpx.Response:
    prompt = json.loads(request.content)["prompt"]
    if prompt.startswith("fail"):
        return httpx.Response(500, json={"error": f"failed {prompt}"})
    return httpx.Response(200, json={"choices": [{"text": f"echo {prompt}", "index": 0}]})


@pytest.fixture
def server(client: Any, httpx_mock: HTTPXMock) -> InFlight:
    """A mock proxy that answers ``echo <prompt>`` after a short, varying delay."""
    flight = InFlight()
    delays = [0.03, 0.001, 0.02, 0.005]

    def delay(request: httpx.Request) -> float:
        return delays[len(json.loads(request.content)["prompt"]) % len(delays)]

    if isinstance(client, AsyncAdapter):

        async def answer_async(request: httpx.Request) -> httpx.Response:
            flight.enter()
            await asyncio.sleep(delay(request))
            flight.leave()
            return reply(request)

        httpx_mock.add_callback(answer_async, is_reusable=True)
    else:

        def answer(request: httpx.Request) -> httpx.Response:
            flight.enter()
            time.sleep(delay(request))
            flight.leave()
            return reply(request)

        httpx_mock.add_callback(answer, is_reusable=True)
    return flight


def many(client: Any, requests: Any, *, settled: bool = False, **kwargs: Any) -> list[Any]:
    method = "complete_many_settled" if settled else "complete_many"
    if isinstance(client, AsyncAdapter):
        return client.run(getattr(client.client, method)(requests, **kwargs))  # type: ignore[no-any-return]
    return getattr(client, method)(requests, **kwargs)  # type: ignore[no-any-return]


def test_results_come_back_in_input_order(client: Any, server: InFlight) -> None:
    prompts = [f"p{'x' * i}" for i in range(20)]
    results = many(client, [{"model": "m", "prompt": p} for p in prompts], concurrency=4)
    assert [r.text for r in results] == [f"echo {p}" for p in prompts]
    assert all(isinstance(r, Completion) for r in results)


@pytest.mark.parametrize("concurrency", [1, 3, 8])
def test_the_concurrency_bound_is_respected(
    client: Any, server: InFlight, concurrency: int
) -> None:
    requests = [CompletionRequest(model="m", prompt=f"p{i}") for i in range(16)]
    many(client, requests, concurrency=concurrency)
    assert server.peak == concurrency  # reached, never passed


def test_failures_are_captured_without_losing_the_others(client: Any, server: InFlight) -> None:
    prompts = ["a", "fail-1", "b", "fail-2", "c"]
    results = many(
        client,
        [{"model": "m", "prompt": p} for p in prompts],
        settled=True,
        max_retries=0,
    )
    assert [r.text if isinstance(r, Completion) else type(r) for r in results] == [
        "echo a",
        InternalServerError,
        "echo b",
        InternalServerError,
        "echo c",
    ]
    assert "failed fail-1" in str(results[1])


def test_the_first_failure_is_raised_without_capturing(client: Any, server: InFlight) -> None:
    with pytest.raises(InternalServerError, match="failed fail"):
        many(client, [{"model": "m", "prompt": "fail"}], max_retries=0)


def test_every_request_is_validated_before_any_is_sent(client: Any, httpx_mock: HTTPXMock) -> None:
    requests = [{"model": "m", "prompt": "ok"}, {"model": "m", "temperature": 9}]
    with pytest.raises(ValidationError, match="temperature"):
        many(client, requests)
    assert httpx_mock.get_requests() == []


def test_bad_arguments(client: Any, httpx_mock: HTTPXMock) -> None:
    with pytest.raises(TypeError, match="CompletionRequest or dict"):
        many(client, ["just a string"])
    with pytest.raises(ValueError, match="concurrency"):
        many(client, [{"model": "m"}], concurrency=0)


def test_an_empty_batch(client: Any) -> None:
    assert many(client, []) == []


def test_progress_bar(client: Any, server: InFlight, capsys: pytest.CaptureFixture[str]) -> None:
    many(client, [{"model": "m", "prompt": "a"}] * 3, progress=True)
    assert "3/3" in capsys.readouterr().err


def test_an_invalid_entry_is_named_by_its_index(client: Any, httpx_mock: HTTPXMock) -> None:
    requests = [{"model": "m", "prompt": "ok"}] * 3 + [{"model": "m", "max_tokens": -1}]
    with pytest.raises(ValidationError, match="max_tokens") as caught:
        many(client, requests)
    assert getattr(caught.value, "__notes__", None) == ["in entry 3 of the batch (counting from 0)"]
    assert httpx_mock.get_requests() == []

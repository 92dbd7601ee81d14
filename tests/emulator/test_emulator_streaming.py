"""Streamed replies: data-only events, usage, ``[DONE]``; completion chunks in detail.

What both endpoints share runs over ``api``; the chat deltas are in ``test_emulator_chat``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests._support.emulator import COMPLETIONS, Api, decode

Complete = Callable[..., dict[str, Any]]
Stream = Callable[..., list[str]]
joined = COMPLETIONS.joined


def test_the_stream_is_data_only_sse(http: httpx.Client, api: Api) -> None:
    with http.stream("POST", api.path, json=api.body(max_tokens=2, stream=True)) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    events = raw.split("\n\n")
    assert events[-1] == ""
    assert all(event.startswith("data: ") and "\n" not in event for event in events[:-1])
    assert events[-2] == "data: [DONE]"


def test_streamed_text_is_the_unstreamed_text(events: Stream, reply: Complete, api: Api) -> None:
    body = api.body("Tell me", max_tokens=5, seed=3, n=2)
    chunks = decode(events(body))
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert len({chunk["created"] for chunk in chunks}) == 1
    assert all(len(chunk["choices"]) == 1 for chunk in chunks)
    assert api.joined(chunks) == dict(enumerate(api.texts(reply(body))))


def test_detections_ride_on_the_last_chunk(events: Stream, api: Api) -> None:
    chunks = decode(events(api.body(max_tokens=3)))
    carriers = [
        number for number, chunk in enumerate(chunks) if "enkrypt_policy_detections" in chunk
    ]
    assert carriers == [len(chunks) - 1]
    report = chunks[-1]["enkrypt_policy_detections"]["output_guardrails"]
    assert report["details"]["keyword_detector"]["redacted_text"] == api.joined(chunks)[0]


def test_include_usage_adds_a_last_chunk_without_choices(events: Stream, api: Api) -> None:
    body = api.body("one two", max_tokens=3, n=2)
    chunks = decode(events({**body, "stream_options": {"include_usage": True}}))
    *content, last = chunks
    assert last["choices"] == []
    assert last["usage"] == {"prompt_tokens": 2, "completion_tokens": 6, "total_tokens": 8}
    assert all("usage" not in chunk for chunk in content)
    assert all("usage" not in chunk for chunk in decode(events(body)))


def test_token_delay_paces_the_events(events: Stream, api: Api) -> None:
    started = time.monotonic()
    received = events(api.body(max_tokens=2), **{"X-Emulator-Fault": "token_delay=0.05"})
    assert time.monotonic() - started >= 0.05 * (len(received) - 1)  # a gap between two events


def test_one_completion_token_per_chunk(stream: Stream) -> None:
    chunks = decode(stream({"model": "m", "prompt": "Tell me", "max_tokens": 5, "seed": 3}))
    assert len(chunks) == 5
    for chunk in chunks:
        assert chunk["object"] == "text_completion"
        assert chunk["model"] == "m"
        assert len(chunk["choices"][0]["text"].split()) == 1
    assert [chunk["choices"][0]["finish_reason"] for chunk in chunks] == [None] * 4 + ["length"]


def test_choices_take_turns_and_finish_separately(stream: Stream, complete: Complete) -> None:
    body = {"model": "m", "prompt": ["a", "b"], "n": 2, "max_tokens": 3, "seed": 1}
    chunks = decode(stream(body))
    assert [chunk["choices"][0]["index"] for chunk in chunks] == [0, 1, 2, 3] * 3
    finished = [c["choices"][0]["index"] for c in chunks if c["choices"][0]["finish_reason"]]
    assert finished == [0, 1, 2, 3]
    expected = {choice["index"]: choice["text"] for choice in complete(body)["choices"]}
    assert joined(chunks) == expected


def test_stop_echo_and_logprobs_stream_like_the_unstreamed_reply(
    stream: Stream, complete: Complete
) -> None:
    body = {"model": "m", "prompt": "Say hi", "max_tokens": 6, "echo": True, "logprobs": 2}
    (full,) = [choice["text"] for choice in complete(body)["choices"]]
    body["stop"] = full.split()[4]
    reply = complete(body)["choices"][0]
    chunks = decode(stream(body))
    assert joined(chunks) == {0: reply["text"]}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    streamed = [chunk["choices"][0]["logprobs"] for chunk in chunks]
    assert [lp["tokens"][0] for lp in streamed] == reply["logprobs"]["tokens"]
    assert [lp["text_offset"][0] for lp in streamed] == reply["logprobs"]["text_offset"]
    assert [lp["top_logprobs"][0] for lp in streamed] == reply["logprobs"]["top_logprobs"]


def test_a_choice_emptied_by_stop_still_sends_its_finish_reason(
    stream: Stream, complete: Complete
) -> None:
    body = {"model": "m", "prompt": "x", "max_tokens": 2, "seed": 5}
    first_token = complete(body)["choices"][0]["text"].split()[0]
    chunks = decode(stream({**body, "stop": " " + first_token}))
    assert [chunk["choices"][0] for chunk in chunks] == [
        {"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}
    ]

"""The chat endpoint's own behaviour: the reply to a conversation, tool calls, chat deltas.

Headers, faults, guardrails, streaming framing and the shared field rules are tested for
both endpoints in the other files, over the ``api`` fixture.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from completions_sdk.emulator import Deployment, EmulatorServer
from tests._support.emulator import CHAT, decode

Post = Callable[..., dict[str, Any]]
Stream = Callable[..., list[str]]
SEARCH = {"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}
WEATHER = {"type": "function", "function": {"name": "get_weather"}}
# A named tool_choice has the shape of a tool without parameters.
CALL_WEATHER = {"type": "function", "function": {"name": "get_weather"}}


def conversation(*texts: str, system: str = "Be brief.") -> list[dict[str, Any]]:
    """A system message, then user and assistant turns in alternation, the user's first."""
    roles = ["user", "assistant"]
    turns = [{"role": roles[n % 2], "content": text} for n, text in enumerate(texts)]
    return [{"role": "system", "content": system}, *turns]


def deltas(chunks: list[dict[str, Any]], index: int = 0) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks if c["choices"][0]["index"] == index]


def test_the_reply_has_the_chat_shape(chat: Post) -> None:
    reply = chat({"model": "m", "messages": conversation("Tell me a joke"), "max_tokens": 4})
    assert reply["object"] == "chat.completion"
    assert reply["id"].startswith("chatcmpl-")
    assert isinstance(reply["created"], int)
    assert reply["model"] == "m"
    (choice,) = reply["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "length"
    assert choice["logprobs"] is None
    message = choice["message"]
    assert message == {"role": "assistant", "content": message["content"]}
    assert len(message["content"].split()) == 4
    report = reply["enkrypt_policy_detections"]["output_guardrails"]
    assert report["details"]["keyword_detector"]["redacted_text"] == message["content"]
    # Every message's tokens count as the prompt: "Be brief." and "Tell me a joke".
    assert reply["usage"] == {"prompt_tokens": 6, "completion_tokens": 4, "total_tokens": 10}


def test_the_text_follows_the_last_user_message_and_the_seed(chat: Post, complete: Post) -> None:
    body = {"model": "m", "messages": conversation("Once upon", "a time", "there was"), "seed": 7}
    text = chat(body)["choices"][0]["message"]["content"]
    assert chat(body)["choices"][0]["message"]["content"] == text
    # The same words as a completion of the last user message, whatever came before it.
    assert complete({"model": "m", "prompt": "there was", "seed": 7})["choices"][0]["text"] == text
    other = {**body, "messages": conversation("Hi", "Hello", "there was", system="Other")}
    assert chat(other)["choices"][0]["message"]["content"] == text
    assert chat({**body, "seed": 8})["choices"][0]["message"]["content"] != text


def test_n_max_tokens_and_stop_are_honoured(chat: Post) -> None:
    body = {"model": "m", "messages": conversation("Count"), "n": 3, "max_tokens": 6, "seed": 2}
    reply = chat(body)
    texts = CHAT.texts(reply)
    assert [choice["index"] for choice in reply["choices"]] == [0, 1, 2]
    assert len(set(texts)) == 3
    assert all(len(text.split()) == 6 for text in texts)
    assert reply["usage"]["completion_tokens"] == 18
    # max_completion_tokens, the newer name, wins over max_tokens.
    shorter = chat({**body, "n": 1, "max_completion_tokens": 2})
    assert CHAT.texts(shorter) == ["".join(" " + word for word in texts[0].split()[:2])]
    stop = texts[0].split()[3]
    stopped = chat({**body, "n": 1, "stop": [stop]})["choices"][0]
    assert stopped["message"]["content"] == texts[0][: texts[0].index(stop)]
    assert stopped["finish_reason"] == "stop"


def test_logprobs_in_the_chat_shape(chat: Post) -> None:
    body = {"model": "m", "messages": conversation("Say hi"), "max_tokens": 3}
    choice = chat({**body, "logprobs": True, "top_logprobs": 2})["choices"][0]
    content = choice["logprobs"]["content"]
    assert "".join(entry["token"] for entry in content) == choice["message"]["content"]
    for entry in content:
        assert entry["bytes"] == list(entry["token"].encode())
        assert len(entry["top_logprobs"]) == 2
        assert entry["top_logprobs"][0] == {k: entry[k] for k in ("token", "logprob", "bytes")}
        assert max(top["logprob"] for top in entry["top_logprobs"]) == entry["logprob"]
    bare = chat({**body, "logprobs": True})["choices"][0]["logprobs"]["content"]
    assert all(entry["top_logprobs"] == [] for entry in bare)


@pytest.mark.parametrize(
    ("tools", "tool_choice", "text", "called"),
    [
        ([SEARCH, WEATHER], "required", "hello", "search"),
        ([SEARCH, WEATHER], "required", "use get_weather", "get_weather"),
        ([SEARCH, WEATHER], CALL_WEATHER, "hi", "get_weather"),
        ([SEARCH, WEATHER], "auto", "please SEARCH the web", "search"),
        ([SEARCH, WEATHER], None, "search the web", "search"),  # auto is the default
        ([SEARCH, WEATHER], "auto", "hello", None),
        ([SEARCH], "none", "search the web", None),
        (None, None, "search the web", None),
    ],
)
def test_which_tool_is_called(
    chat: Post, tools: Any, tool_choice: Any, text: str, called: str | None
) -> None:
    body = {"model": "m", "messages": conversation(text), "tools": tools}
    choice = chat({**body, "tool_choice": tool_choice})["choices"][0]
    calls = choice["message"].get("tool_calls")
    if called is None:
        assert calls is None
        assert choice["message"]["content"]
        assert choice["finish_reason"] == "length"
    else:
        (call,) = calls
        assert choice["message"]["content"] is None
        assert choice["finish_reason"] == "tool_calls"
        assert call["type"] == "function"
        assert call["function"]["name"] == called
        assert json.loads(call["function"]["arguments"]) == {"query": text}


def test_tool_calls_are_deterministic_per_choice(chat: Post) -> None:
    body = {"model": "m", "messages": conversation("hi"), "tools": [SEARCH], "n": 2, "seed": 4}
    body["tool_choice"] = "required"
    first, second = chat(body), chat(body)
    ids = [choice["message"]["tool_calls"][0]["id"] for choice in first["choices"]]
    assert ids == [choice["message"]["tool_calls"][0]["id"] for choice in second["choices"]]
    assert len(set(ids)) == 2
    assert all(call_id.startswith("call_") for call_id in ids)
    arguments = first["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    assert first["usage"]["completion_tokens"] == 2 * len(arguments.split())


def test_a_stream_sends_the_role_then_one_token_per_chunk(stream_chat: Stream, chat: Post) -> None:
    body = {"model": "m", "messages": conversation("Tell me"), "max_tokens": 3, "n": 2}
    chunks = decode(stream_chat(body))
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert [chunk["choices"][0]["index"] for chunk in chunks] == [0, 1] * 5  # turns
    for index in (0, 1):
        role, *tokens, end = deltas(chunks, index)
        assert role == {"role": "assistant", "content": ""}
        assert [len(delta["content"].split()) for delta in tokens] == [1, 1, 1]
        assert end == {}
    reasons = [chunk["choices"][0]["finish_reason"] for chunk in chunks]
    assert reasons == [None] * 8 + ["length", "length"]
    assert CHAT.joined(chunks) == dict(enumerate(CHAT.texts(chat(body))))


def test_streamed_logprobs_are_the_unstreamed_ones(stream_chat: Stream, chat: Post) -> None:
    body = {"model": "m", "messages": conversation("Say hi"), "max_tokens": 3, "logprobs": True}
    body["top_logprobs"] = 1
    whole = chat(body)["choices"][0]["logprobs"]["content"]
    pieces = [chunk["choices"][0]["logprobs"] for chunk in decode(stream_chat(body))]
    assert pieces[0] is None and pieces[-1] is None  # the role and the end carry none
    assert [entry for piece in pieces[1:-1] for entry in piece["content"]] == whole


def test_a_streamed_tool_call_is_split_across_chunks(stream_chat: Stream, chat: Post) -> None:
    body = {"model": "m", "messages": conversation("find cheap flights"), "tools": [SEARCH]}
    body["tool_choice"] = "required"
    (call,) = chat(body)["choices"][0]["message"]["tool_calls"]
    chunks = decode(stream_chat({**body, "stream_options": {"include_usage": True}}))
    role, first, *pieces, end = deltas(chunks[:-1])
    assert role == {"role": "assistant", "content": None}
    opening = {"index": 0, **call, "function": {"name": "search", "arguments": ""}}
    assert first == {"tool_calls": [opening]}
    assert len(pieces) > 3
    fragments = []
    for delta in pieces:
        (part,) = delta["tool_calls"]
        assert part.keys() == {"index", "function"} and part["function"].keys() == {"arguments"}
        assert 0 < len(part["function"]["arguments"]) <= 5
        fragments.append(part["function"]["arguments"])
    assert "".join(fragments) == call["function"]["arguments"]
    assert end == {}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 4
    # The output guardrails judge the arguments, as there is no text.
    report = chunks[-2]["enkrypt_policy_detections"]["output_guardrails"]
    assert report["details"]["keyword_detector"]["redacted_text"] == call["function"]["arguments"]


def test_the_deployment_can_override_the_model_and_serve_quirks(
    proxy_emulator: EmulatorServer, chat: Post, stream_chat: Stream
) -> None:
    proxy_emulator.add_deployment("quirky", Deployment(model="served-model", quirks=True))
    quirky = {"X-Enkrypt-Deployment": "quirky"}
    body = {"model": "m", "messages": conversation("p"), "max_tokens": 3, "seed": 1}
    text = chat(body, **quirky)["choices"][0]["message"]["content"]
    reply = chat({**body, "stop": text.split()[1]}, **quirky)
    assert reply["model"] == "served-model"
    assert reply["object"] == "chat.completion"
    assert reply["choices"][0]["finish_reason"] == "eos"
    assert reply["choices"][0]["seed"] > 2**53
    chunks = decode(stream_chat({**body, "stop": text.split()[1]}, **quirky))
    assert chunks[-1]["choices"][0]["finish_reason"] == "eos"

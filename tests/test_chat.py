"""Chat completions: the same machinery as completions, on the sibling endpoint."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError
from pytest_httpx import HTTPXMock

from completions_sdk import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ConfigurationError,
    GuardrailViolation,
    IncompleteStreamError,
    RateLimitError,
)
from completions_sdk._lenient import lenient_validate
from tests import test_streaming as streaming
from tests._support import API_KEY, CHAT_URL, SSE, fixture_bytes, sse

HI = [{"role": "user", "content": "hi"}]
REPLY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1736924194,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello!", "new_field": 1},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    "enkrypt_policy_detections": {"output_guardrails": {"summary": {"pii": 0}}},
}
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object"}},
}


def read_all(client: Any, **arguments: Any) -> tuple[list[ChatCompletionChunk], ChatCompletion]:
    arguments.setdefault("messages", HI)
    return streaming.read_all(client, "stream_chat", **arguments)


def test_chat_sends_messages_to_the_chat_endpoint(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=CHAT_URL, method="POST", json=REPLY)
    reply = client.chat(model="m", messages=HI, temperature=0.2, enkrypt_context="policy")
    assert isinstance(reply, ChatCompletion)
    assert reply.text == "Hello!"
    assert reply.choices[0].message is not None
    assert reply.choices[0].message.model_extra == {"new_field": 1}
    assert reply.usage is not None and reply.usage.total_tokens == 5
    assert reply.policy_detections is not None
    sent = httpx_mock.get_request()
    assert sent is not None
    assert json.loads(sent.content) == {
        "model": "m",
        "messages": HI,
        "temperature": 0.2,
        "enkrypt_context": "policy",
    }
    assert sent.headers["apikey"] == API_KEY
    assert sent.headers["X-Enkrypt-Deployment"] == "test-deployment-1"


def test_chat_takes_a_request_object_and_per_call_headers(
    client: Any, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=CHAT_URL, json=REPLY)
    request = ChatCompletionRequest(model="m", messages=HI, tools=[WEATHER_TOOL])
    client.chat(request, tags="a,b", refresh_cache=True, tool_choice="auto")
    sent = httpx_mock.get_request()
    assert sent is not None
    assert sent.headers["X-Enkrypt-Tags"] == "a,b"
    assert sent.headers["X-Enkrypt-Refresh-Cache"] == "true"
    assert json.loads(sent.content)["tool_choice"] == "auto"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"messages": []}, "at least 1 item"),
        (
            {"messages": [{"role": "bot", "content": "x"}]},
            "does not match any of the expected tags",
        ),
        ({"messages": [{"role": "user"}]}, "Field required"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "tool_call_id"),
        ({"messages": HI, "temperature": 2.5}, "less than or equal to 2"),
        ({"messages": HI, "n": 0}, "greater than or equal to 1"),
        ({"messages": HI, "top_logprobs": 3}, "top_logprobs needs logprobs=True"),
        ({"messages": HI, "top_logprobs": 21, "logprobs": True}, "less than or equal to 20"),
        ({"messages": HI, "tool_choice": "required"}, "tool_choice=required needs tools"),
        ({"messages": HI, "stream_options": {"include_usage": True}}, "only allowed when stream"),
        (
            {"messages": HI, "tools": [{"type": "function", "function": {"name": "a b"}}]},
            "should match pattern",
        ),
        ({"messages": HI, "response_format": {"type": "yaml"}}, "response_format.type"),
    ],
)
def test_invalid_chat_fields_raise_before_sending(
    client: Any, httpx_mock: HTTPXMock, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        client.chat(model="m", **fields)
    assert httpx_mock.get_requests() == []


def test_chat_refuses_stream_true(client: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"chat\(\) does not stream: call stream_chat\(\)"):
        client.chat(model="m", messages=HI, stream=True)


def test_unknown_message_keys_are_sent(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=REPLY)
    message = {"role": "user", "content": "hi", "future_key": [1]}
    client.chat(model="m", messages=[message])
    sent = httpx_mock.get_request()
    assert sent is not None
    assert json.loads(sent.content)["messages"] == [message]


def test_chat_errors_and_retries(client: Any, httpx_mock: HTTPXMock, sleeps: list[float]) -> None:
    httpx_mock.add_response(status_code=429, json={"error": "slow"}, headers={"retry-after": "1"})
    httpx_mock.add_response(json=REPLY)
    assert client.chat(model="m", messages=HI).text == "Hello!"
    assert sleeps == [1.0]
    httpx_mock.add_response(status_code=429, json={"error": "slow"}, is_reusable=True)
    with pytest.raises(RateLimitError):
        client.chat(model="m", messages=HI, max_retries=0)


def test_chat_guardrail_block(client: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        status_code=400, content=fixture_bytes("blocked-by-input-guardrails.json")
    )
    with pytest.raises(GuardrailViolation) as info:
        client.chat(model="m", messages=HI)
    assert "input:injection_attack" in info.value.detections.flagged


def test_a_tool_call_reply(client: Any, httpx_mock: HTTPXMock) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "tool_calls": [call]}}]}
    httpx_mock.add_response(json=body)
    reply = client.chat(model="m", messages=HI, tools=[WEATHER_TOOL])
    assert reply.text == ""
    assert reply.tool_calls[0].parsed_arguments() == {"x": 1}


def test_stream_chat_assembles_content(client: Any, httpx_mock: HTTPXMock) -> None:
    def delta(index: int, **fields: Any) -> dict[str, Any]:
        return {"choices": [{"index": index, "delta": fields, "finish_reason": None}]}

    body = sse(
        delta(0, role="assistant", content=""),
        delta(1, role="assistant", content="B"),
        delta(0, content="Hel"),
        delta(0, content="lo"),
        delta(1, content="ye"),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    )
    httpx_mock.add_response(url=CHAT_URL, content=body, headers=SSE)
    chunks, final = read_all(client, n=2)
    assert [c.text for c in chunks] == ["", "", "Hel", "lo", "", ""]
    assert final.text == "Hello"
    assert final.choices[1].message is not None
    assert final.choices[1].message.content == "Bye"
    assert final.choices[0].finish_reason == "stop"
    sent = httpx_mock.get_request()
    assert sent is not None and json.loads(sent.content)["stream"] is True


def test_stream_chat_joins_tool_call_deltas_split_across_chunks(
    client: Any, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=CHAT_URL, content=fixture_bytes("chat-tool-calls.sse"), headers=SSE)
    _, final = read_all(client, tools=[WEATHER_TOOL], stream_options={"include_usage": True})
    assert final.choices[0].finish_reason == "tool_calls"
    calls = final.tool_calls
    assert [(c.id, c.function.name if c.function else None) for c in calls] == [
        ("call_a", "get_weather"),
        ("call_b", "get_time"),
    ]
    assert calls[0].parsed_arguments() == {"city": "Paris"}
    assert calls[1].parsed_arguments() == {"tz": "CET"}
    assert final.usage is not None and final.usage.total_tokens == 32
    assert final.policy_detections is not None
    assert final.id == "chatcmpl-1"


def test_stream_chat_cut_before_done(client: Any, httpx_mock: HTTPXMock) -> None:
    body = sse({"choices": [{"index": 0, "delta": {"content": "Hal"}}]}, done=False)
    httpx_mock.add_response(url=CHAT_URL, content=body, headers=SSE)
    with pytest.raises(IncompleteStreamError) as info:
        read_all(client)
    assert info.value.partial_text == "Hal"


def test_an_odd_neighbour_never_costs_a_messages_text_or_tool_calls() -> None:
    reply = lenient_validate(
        ChatCompletion,
        {
            "choices": [
                {
                    "index": None,
                    "message": {
                        "role": ["assistant"],
                        "content": [
                            {"type": "text", "text": "Hel"},
                            {"type": "text", "text": "lo"},
                        ],
                        "refusal": {"reason": "?"},
                        "tool_calls": [
                            "not a call",
                            {"id": "c1", "function": {"name": "f", "arguments": "{}"}},
                        ],
                    },
                }
            ]
        },
    )
    assert reply.text == "Hello"
    assert [call.id for call in reply.tool_calls] == ["c1"]
    message = reply.choices[0].message
    assert message is not None and message.role is None and message.refusal is None


def test_an_odd_field_in_a_delta_keeps_its_text(client: Any, httpx_mock: HTTPXMock) -> None:
    body = sse(
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]},
        {"choices": [{"index": 0, "delta": {"content": "lo", "refusal": {"odd": True}}}]},
        {"choices": [{"index": 0, "delta": {"content": " world"}, "finish_reason": "stop"}]},
    )
    httpx_mock.add_response(url=CHAT_URL, content=body, headers=SSE)
    chunks, final = read_all(client)
    assert "".join(chunk.text for chunk in chunks) == final.text == "Hello world"


def test_messages_and_tools_may_be_tuples() -> None:
    request = ChatCompletionRequest(model="m", messages=tuple(HI), tools=(WEATHER_TOOL,))  # type: ignore[arg-type]
    assert json.loads(request.to_json())["messages"] == HI


def test_a_reply_goes_back_into_the_conversation_as_a_typed_message() -> None:
    reply = ChatCompletion.model_validate(
        {
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "f", "arguments": '{"a": 1}'},
                            }
                        ],
                    }
                }
            ]
        }
    )
    message = reply.choices[0].message
    assert message is not None
    param = message.to_param()
    assert param == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
        ],
    }
    request = ChatCompletionRequest(model="m", messages=[*HI, param])  # type: ignore[list-item]
    assert json.loads(request.to_json())["messages"][1] == param

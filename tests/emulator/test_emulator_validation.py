"""The emulator's own body validation: 422 naming the field and the rule.

The shared field rules run against both endpoints; then each endpoint's own fields.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests._support.emulator import CHAT_PATH, PATH, Api

# Overrides of a valid body of either endpoint (``None`` removes a field: null is "not given").
SHARED_INVALID = [
    ({"model": None}, "model", "required"),
    ({"model": ""}, "model", "non-empty string"),
    ({"model": 3}, "model", "non-empty string"),
    ({"frequency_penalty": 2.5}, "frequency_penalty", "-2.0 to 2.0"),
    ({"presence_penalty": -2.01}, "presence_penalty", "-2.0 to 2.0"),
    ({"presence_penalty": True}, "presence_penalty", "-2.0 to 2.0"),
    ({"logit_bias": {"50256": -101}}, "logit_bias", "-100 to 100"),
    ({"logit_bias": {"token": 1}}, "logit_bias", "token ids"),
    ({"max_tokens": 0}, "max_tokens", "greater than 0"),
    ({"max_tokens": "16"}, "max_tokens", "integer"),
    ({"n": 0}, "n", "from 1 to 128"),
    ({"n": 129}, "n", "from 1 to 128"),
    ({"seed": 2**63}, "seed", "64-bit"),
    ({"seed": -(2**63) - 1}, "seed", "64-bit"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4"),
    ({"stop": ""}, "stop", "non-empty"),
    ({"stream": "yes"}, "stream", "boolean"),
    ({"stream_options": {"include_usage": True}}, "stream_options", "stream"),
    ({"stream": True, "stream_options": {"include_usage": 1}}, "stream_options", "boolean"),
    ({"temperature": 2.1}, "temperature", "from 0 to 2"),
    ({"top_p": -0.1}, "top_p", "from 0 to 1"),
    ({"user": 1}, "user", "string"),
    ({"enkrypt_context": ["a"]}, "enkrypt_context", "string"),
]
COMPLETION_INVALID = [
    ({"prompt": []}, "prompt", "token-id lists"),
    ({"prompt": [1, "a"]}, "prompt", "token-id lists"),
    ({"prompt": [[1], []]}, "prompt", "token-id lists"),
    ({"prompt": [-1]}, "prompt", "token-id lists"),
    ({"best_of": 0}, "best_of", "from 1 to 20"),
    ({"best_of": 21}, "best_of", "from 1 to 20"),
    ({"best_of": 2, "n": 2}, "best_of", "greater than n"),
    ({"best_of": 3, "stream": True}, "best_of", "stream"),
    ({"echo": "yes"}, "echo", "boolean"),
    ({"logprobs": 6}, "logprobs", "from 0 to 5"),
    ({"logprobs": 1.0}, "logprobs", "integer"),
    ({"suffix": 1}, "suffix", "string"),
]
TOOL = {"type": "function", "function": {"name": "search"}}
CALL = {"id": "c1", "type": "function", "function": {"name": "search", "arguments": "{}"}}
CHAT_INVALID = [
    ({"messages": None}, "messages", "required"),
    ({"messages": []}, "messages", "non-empty list"),
    ({"messages": {"role": "user"}}, "messages", "non-empty list"),
    ({"messages": ["hi"]}, "messages[0]", "object with a role"),
    ({"messages": [{"content": "hi"}]}, "messages[0].role", "one of system, user"),
    ({"messages": [{"role": "bot", "content": "hi"}]}, "messages[0].role", "one of"),
    ({"messages": [{"role": "user"}]}, "messages[0].content", "required in a user message"),
    ({"messages": [{"role": "system", "content": None}]}, "messages[0].content", "required"),
    ({"messages": [{"role": "assistant"}]}, "messages[0].content", "required"),
    ({"messages": [{"role": "tool", "content": "r"}]}, "messages[0].tool_call_id", "required"),
    ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content", "string or"),
    ({"messages": [{"role": "user", "content": []}]}, "messages[0].content", "non-empty list"),
    ({"messages": [{"role": "user", "content": [{"type": "text"}]}]},
     "messages[0].content", "text or image_url parts"),
    ({"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {}}]}]},
     "messages[0].content", "list of text parts"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b", "name": 1}]},
     "messages[1].name", "string"),
    ({"messages": [{"role": "assistant", "tool_calls": [{"id": "c1"}]}]},
     "messages[0].tool_calls", "list of"),
    ({"logprobs": 1}, "logprobs", "boolean"),
    ({"top_logprobs": 21, "logprobs": True}, "top_logprobs", "from 0 to 20"),
    ({"top_logprobs": 2}, "top_logprobs", "needs logprobs"),
    ({"top_logprobs": 2, "logprobs": False}, "top_logprobs", "needs logprobs"),
    ({"max_completion_tokens": 0}, "max_completion_tokens", "greater than 0"),
    ({"tools": TOOL}, "tools", "list of tools"),
    ({"tools": [{"type": "retrieval"}]}, "tools[0]", '"type": "function"'),
    ({"tools": [TOOL, {"type": "function", "function": {"name": "has space"}}]},
     "tools[1].function.name", "1 to 64 letters"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]},
     "tools[0].function.parameters", "JSON Schema"),
    ({"tool_choice": "any", "tools": [TOOL]}, "tool_choice", '"required"'),
    ({"tool_choice": {"type": "function"}, "tools": [TOOL]}, "tool_choice", '"required"'),
    ({"tool_choice": "required"}, "tool_choice", "needs tools"),
    ({"tool_choice": {"type": "function", "function": {"name": "other"}}, "tools": [TOOL]},
     "tool_choice", "not in tools"),
    ({"response_format": {"type": "xml"}}, "response_format", "json_object"),
    ({"response_format": {"type": "json_schema"}}, "response_format", "json_schema"),
    ({"parallel_tool_calls": "no"}, "parallel_tool_calls", "boolean"),
    ({"messages": [{"role": "user", "content": "a " * 4000}], "max_completion_tokens": 100},
     "max_completion_tokens", "context length"),
]  # fmt: skip


def assert_invalid(response: httpx.Response, param: str, rule: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert rule in error["message"]
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(("fields", "param", "rule"), SHARED_INVALID)
def test_a_shared_rule_is_422_naming_field_and_rule(
    http: httpx.Client, api: Api, fields: dict[str, Any], param: str, rule: str
) -> None:
    body = {key: value for key, value in {**api.body(), **fields}.items() if value is not None}
    assert_invalid(http.post(api.path, json=body), param, rule)


def test_the_context_length_counts_the_prompt(http: httpx.Client, api: Api) -> None:
    body = api.body("a " * 4000, max_tokens=100)
    assert_invalid(http.post(api.path, json=body), "max_tokens", "context length")


@pytest.mark.parametrize(("fields", "param", "rule"), COMPLETION_INVALID)
def test_an_invalid_completion_field_is_422(
    http: httpx.Client, fields: dict[str, Any], param: str, rule: str
) -> None:
    assert_invalid(http.post(PATH, json={"model": "m", **fields}), param, rule)


@pytest.mark.parametrize(("fields", "param", "rule"), CHAT_INVALID)
def test_an_invalid_chat_field_is_422(
    http: httpx.Client, fields: dict[str, Any], param: str, rule: str
) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    body = {key: value for key, value in body.items() if value is not None}
    assert_invalid(http.post(CHAT_PATH, json=body), param, rule)


def test_a_body_that_is_not_an_object_is_422(http: httpx.Client, api: Api) -> None:
    response = http.post(api.path, json=["model"])
    assert response.status_code == 422
    assert response.json()["error"]["param"] is None


def test_malformed_json_is_400(http: httpx.Client, api: Api) -> None:
    headers = {"Content-Type": "application/json"}
    response = http.post(api.path, content=b'{"model": ', headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


SHARED_VALID = [
    {"n": None, "stop": None, "seed": None},
    {"frequency_penalty": -2, "presence_penalty": 2.0, "temperature": 0, "top_p": 1},
    {"logit_bias": {"50256": -100, "1": 100.0}, "n": 128, "max_tokens": 1},
    {"seed": 2**63 - 1, "stop": ["a", "b", "c", "d"], "user": "u"},
    {"enkrypt_context": "ctx", "brand_new_field": {"nested": [1]}},
]
COMPLETION_VALID = [
    {"prompt": None},
    {"prompt": ["a", "b"]},
    {"prompt": [1, 2, 3]},
    {"prompt": [[1, 2], [3]]},
    {"best_of": 20, "n": 19, "max_tokens": 1},
    {"logprobs": 0, "echo": True, "suffix": "!"},
]
CHAT_VALID = [
    {"messages": [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]}]},
    {"messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
        ], "name": "ann"},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "content": "{}", "tool_call_id": "c1"},
        {"role": "assistant", "content": "Done.", "refusal": None},
    ]},
    {"logprobs": True, "top_logprobs": 20, "max_completion_tokens": 1},
    {"logprobs": False, "top_logprobs": None},
    {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "search"}}},
    {"tools": [], "tool_choice": "none", "parallel_tool_calls": False},
    {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}},
    {"prompt": 3, "best_of": "ignored: not a chat field"},
]  # fmt: skip


@pytest.mark.parametrize("fields", SHARED_VALID)
def test_valid_bodies_and_unknown_fields_are_accepted(
    http: httpx.Client, api: Api, fields: dict[str, Any]
) -> None:
    response = http.post(api.path, json={**api.body(), **fields})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("path", "fields"),
    [(PATH, fields) for fields in COMPLETION_VALID] + [(CHAT_PATH, f) for f in CHAT_VALID],
)
def test_valid_endpoint_fields_are_accepted(
    http: httpx.Client, path: str, fields: dict[str, Any]
) -> None:
    base = {"messages": [{"role": "user", "content": "hi"}]} if path == CHAT_PATH else {}
    response = http.post(path, json={"model": "m", **base, **fields})
    assert response.status_code == 200, response.text

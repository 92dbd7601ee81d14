"""What a wrong request says, before anything is sent: one clear error per mistake.

A field of the other endpoint names the method that takes it; a union field (``prompt``,
``stop``, ``tool_choice``, message ``content``) gives one error that names the field, the
rule and the value, not one per member of the union.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from completions_sdk import AsyncClient, ChatCompletionRequest, Client, CompletionRequest
from tests._support import API_KEY, BASE_URL

HI = [{"role": "user", "content": "hi"}]
TOOLS = [{"type": "function", "function": {"name": "f"}}]
CHAT_ONLY = {
    "messages": HI,
    "tools": TOOLS,
    "tool_choice": "auto",
    "response_format": {"type": "json_object"},
    "parallel_tool_calls": True,
    "max_completion_tokens": 5,
    "top_logprobs": 2,
}
COMPLETIONS_ONLY = {"prompt": "hi", "suffix": "end", "echo": True, "best_of": 2}


def only_error(info: pytest.ExceptionInfo[ValidationError]) -> Any:
    errors = info.value.errors(include_url=False)
    assert len(errors) == 1, errors
    return errors[0]


@pytest.mark.parametrize("name", CHAT_ONLY)
def test_a_chat_field_on_a_completion_names_client_chat(name: str) -> None:
    with pytest.raises(ValidationError) as info:
        CompletionRequest(model="m", prompt="hi", **{name: CHAT_ONLY[name]})
    error = only_error(info)
    assert error["loc"] == (name,)
    assert error["msg"] == f"{name} is a chat field: use client.chat(...)"


@pytest.mark.parametrize("name", COMPLETIONS_ONLY)
def test_a_completions_field_on_a_chat_names_client_complete(name: str) -> None:
    with pytest.raises(ValidationError) as info:
        ChatCompletionRequest(model="m", messages=HI, **{name: COMPLETIONS_ONLY[name]})  # type: ignore[arg-type]
    error = only_error(info)
    assert error["loc"] == (name,)
    assert error["msg"] == f"{name} is a completions field: use client.complete(...)"


def test_a_streamed_request_names_the_streaming_method() -> None:
    with pytest.raises(ValidationError, match=r"use client\.stream_chat\(\.\.\.\)"):
        CompletionRequest(model="m", stream=True, messages=HI)
    with pytest.raises(ValidationError, match=r"use client\.stream\(\.\.\.\)"):
        ChatCompletionRequest(model="m", messages=HI, stream=True, prompt="hi")  # type: ignore[call-arg]


def test_every_field_of_the_other_endpoint_is_named() -> None:
    with pytest.raises(ValidationError) as info:
        CompletionRequest(model="m", messages=HI, tools=TOOLS)
    assert [error["loc"] for error in info.value.errors()] == [("messages",), ("tools",)]


def test_shared_and_unknown_fields_are_still_accepted() -> None:
    assert CompletionRequest(model="m", logprobs=2, max_tokens=3, brand_new=1).model_extra
    assert ChatCompletionRequest(model="m", messages=HI, logprobs=True, brand_new=1).model_extra


UNIONS: list[tuple[type[Any], dict[str, Any], tuple[Any, ...], str]] = [
    # (model, fields, where the one error is, what it says)
    (CompletionRequest, {"stop": list("abcde")}, ("stop",), "at most 4 stop sequences, got 5"),
    (CompletionRequest, {"stop": ["a", ""]}, ("stop", 1), "at least 1 character"),
    (CompletionRequest, {"stop": ""}, ("stop",), "at least 1 character"),
    (
        CompletionRequest,
        {"stop": 5},
        ("stop",),
        "stop must be a string or a list of up to 4 strings, got int",
    ),
    (CompletionRequest, {"prompt": 5}, ("prompt",), "prompt must be a string, a list of"),
    (CompletionRequest, {"prompt": ["a", 1]}, ("prompt", 1), "valid string (a prompt list"),
    (CompletionRequest, {"prompt": [1, "a"]}, ("prompt", 1), "valid integer (a prompt list"),
    (CompletionRequest, {"prompt": [1, 2, "a"]}, ("prompt", 2), "valid integer (a prompt list"),
    (CompletionRequest, {"prompt": [[1], "a"]}, ("prompt", 1), "valid list (a prompt list"),
    (CompletionRequest, {"prompt": [[1, "x"]]}, ("prompt", 0, 1), "valid integer"),
    (ChatCompletionRequest, {"stop": list("abcde")}, ("stop",), "at most 4 stop sequences"),
    (
        ChatCompletionRequest,
        {"tools": TOOLS, "tool_choice": "sometimes"},
        ("tool_choice",),
        "tool_choice must be 'none', 'auto', 'required' or {'type': 'function'",
    ),
    (
        ChatCompletionRequest,
        {"tools": TOOLS, "tool_choice": {"type": "function"}},
        ("tool_choice", "function"),
        "Field required",
    ),
    (
        ChatCompletionRequest,
        {"messages": [{"role": "user", "content": 5}]},
        ("messages", 0, "user", "content"),
        "content must be a string or a list of content parts, got int",
    ),
    (
        ChatCompletionRequest,
        {"messages": [{"role": "user", "content": None}]},
        ("messages", 0, "user", "content"),
        "got None",
    ),
    (
        ChatCompletionRequest,
        {"messages": [{"role": "user", "content": [{"type": "text"}]}]},
        ("messages", 0, "user", "content", 0, "text", "text"),
        "Field required",
    ),
    (
        ChatCompletionRequest,
        {"messages": [{"role": "system", "content": 1.5}]},
        ("messages", 0, "system", "content"),
        "content must be a string or a list of text parts, got float",
    ),
    (
        ChatCompletionRequest,
        {"messages": [{"role": "assistant", "content": {"text": "x"}}]},
        ("messages", 0, "assistant", "content"),
        "got dict",
    ),
    (
        ChatCompletionRequest,
        {"messages": [{"role": "tool", "content": 5, "tool_call_id": "c1"}]},
        ("messages", 0, "tool", "content"),
        "got int",
    ),
]


@pytest.mark.parametrize(("model", "fields", "loc", "says"), UNIONS, ids=lambda v: str(v)[:40])
def test_a_union_field_gives_one_error_naming_field_rule_and_value(
    model: type[Any], fields: dict[str, Any], loc: tuple[Any, ...], says: str
) -> None:
    if model is ChatCompletionRequest:
        fields = {"messages": HI, **fields}
    with pytest.raises(ValidationError) as info:
        model(model="m", **fields)
    error = only_error(info)
    assert error["loc"] == loc
    assert says in error["msg"]
    assert error["input"] == given_at(fields, loc)


def given_at(fields: dict[str, Any], loc: tuple[Any, ...]) -> Any:
    """The value an error's location points at (tags like a message's role are skipped)."""
    value: Any = fields
    for step in loc:
        if (isinstance(value, dict) and step in value) or isinstance(value, list):
            value = value[step]
    return value


def test_a_prompt_or_stop_of_the_right_kind_is_sent_as_given() -> None:
    for prompt in ("hi", ["a", "b"], [1, 2], [[1, 2], [3]], []):
        assert CompletionRequest(model="m", prompt=prompt, stop=["a", "b"]).prompt == prompt


# Through the clients: the error comes before anything is sent.


def refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"nothing should have been sent, but {request.url} was")


@pytest.fixture(params=["sync", "async"])
def unsent_call(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Calls a client method by name, on a client whose transport fails if it is used."""
    transport = httpx.MockTransport(refuse)
    options: dict[str, Any] = {"api_key": API_KEY, "deployment": "d", "base_url": BASE_URL}
    if request.param == "sync":
        http = httpx.Client(transport=transport)
        client = Client(http_client=http, **options)
        yield lambda method, **kw: getattr(client, method)(**kw)
        http.close()
        return
    loop = asyncio.new_event_loop()
    async_http = httpx.AsyncClient(transport=transport)
    async_client = AsyncClient(http_client=async_http, **options)

    def call(method: str, **kw: Any) -> Any:
        result = getattr(async_client, method)(**kw)
        return loop.run_until_complete(result) if asyncio.iscoroutine(result) else result

    yield call
    loop.run_until_complete(async_http.aclose())
    loop.close()


@pytest.mark.parametrize(
    ("method", "fields", "says"),
    [
        ("complete", {"prompt": "hi", "messages": HI}, "use client.chat(...)"),
        ("stream", {"prompt": "hi", "tools": TOOLS}, "use client.stream_chat(...)"),
        ("complete", {"extra_body": {"messages": HI}}, "use client.chat(...)"),
        ("chat", {"messages": HI, "prompt": "hi"}, "use client.complete(...)"),
        ("stream_chat", {"messages": HI, "suffix": "x"}, "use client.stream(...)"),
        ("complete", {"prompt": "hi", "stop": list("abcde")}, "at most 4 stop sequences, got 5"),
        ("chat", {"messages": [{"role": "user", "content": 5}]}, "content must be a string"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_the_error_comes_before_anything_is_sent(
    unsent_call: Callable[..., Any], method: str, fields: dict[str, Any], says: str
) -> None:
    with pytest.raises(ValidationError) as info:
        unsent_call(method, model="m", **fields)
    assert says in only_error(info)["msg"]

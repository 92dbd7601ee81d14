"""Properties of requests (hypothesis): valid ones round-trip and are sent as serialized;
invalid values and options never leave the process.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from typing import Any

import httpx
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from completions_sdk import (
    ChatCompletionRequest,
    CompletionRequest,
    ConfigurationError,
    RequestOptions,
)
from completions_sdk._request_base import INT64_MAX, INT64_MIN
from tests.reliability._drive import KINDS, MODES, Kind, Mode, receive, receive_from
from tests.reliability._server import FaultServer
from tests.reliability._strategies import JSON_VALUES, TOKEN_IDS, floats

# Arbitrary unknown field names are generated; one close to a known name ('sre_otions')
# rightly warns as a likely typo, which is not what these tests are about.
pytestmark = pytest.mark.filterwarnings("ignore::completions_sdk.UnknownFieldWarning")

# A chat field on a completion is an error naming client.chat(): not an unknown field.
FIELDS = frozenset(CompletionRequest.model_fields) | frozenset(ChatCompletionRequest.model_fields)
PROMPTS = (
    st.none()
    | st.text()
    | st.lists(st.text(), max_size=4)
    | st.lists(TOKEN_IDS, max_size=8)
    | st.lists(st.lists(TOKEN_IDS, max_size=8), max_size=3)
)
OPTIONAL_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "prompt": PROMPTS,
    "echo": st.booleans(),
    "enkrypt_context": st.text(),
    "frequency_penalty": floats(-2, 2),
    "presence_penalty": floats(-2, 2),
    "logit_bias": st.dictionaries(TOKEN_IDS | TOKEN_IDS.map(str), floats(-100, 100), max_size=4),
    "logprobs": st.integers(0, 5),
    "max_tokens": st.integers(min_value=1),
    "seed": st.integers(INT64_MIN, INT64_MAX),
    "stop": st.text(min_size=1) | st.lists(st.text(min_size=1), max_size=4),
    "suffix": st.text(),
    "temperature": floats(0, 2),
    "top_p": floats(0, 1),
    "user": st.text(),
}


@st.composite
def valid_requests(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments of a valid ``CompletionRequest``, unknown extra fields included."""
    fields: dict[str, Any] = {"model": draw(st.text(min_size=1))}
    for name in draw(st.sets(st.sampled_from(sorted(OPTIONAL_FIELDS)))):
        fields[name] = draw(OPTIONAL_FIELDS[name])
    if draw(st.booleans()):
        fields["stream"] = stream = draw(st.booleans())
        if stream and draw(st.booleans()):
            fields["stream_options"] = draw(
                st.fixed_dictionaries({}, optional={"include_usage": st.booleans()})
            )
    if draw(st.booleans()):
        fields["n"] = n = draw(st.integers(1, 128))
        if n < 20 and not fields.get("stream") and draw(st.booleans()):
            fields["best_of"] = draw(st.integers(n + 1, 20))
    elif not fields.get("stream") and draw(st.booleans()):
        fields["best_of"] = draw(st.integers(1, 20))
    # Per-call option names (max_retries, tags...) are the client's, never body fields.
    extra_names = st.text(min_size=1).filter(
        lambda name: name not in FIELDS and name not in RequestOptions.__annotations__
    )
    fields.update(draw(st.dictionaries(extra_names, JSON_VALUES, max_size=3)))
    return fields


@settings(max_examples=300, deadline=None)
@given(fields=valid_requests())
def test_valid_requests_serialize_and_round_trip(fields: dict[str, Any]) -> None:
    request = CompletionRequest(**fields)
    body = request.to_json()
    decoded = json.loads(body)
    assert set(decoded) == set(fields)  # exactly the fields that were set, extras included
    again = CompletionRequest(**decoded)
    assert again == request
    assert again.to_json() == body
    assert CompletionRequest.model_validate_json(body) == request


@settings(max_examples=100, deadline=None)
@given(fields=valid_requests(), kind=st.sampled_from(KINDS))
def test_a_valid_request_is_sent_as_serialized(fields: dict[str, Any], kind: Kind) -> None:
    fields.pop("stream", None)
    fields.pop("stream_options", None)
    sent: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return httpx.Response(200, json={"choices": [{"text": "ok"}]})

    received = receive_from(handler, kind, "complete", **fields)
    assert received.error is None
    assert sent == [CompletionRequest(**fields).to_json()]


# ---------------------------------------------------------------- invalid values

NOT_TEXT = (
    st.integers() | st.booleans() | st.binary() | st.lists(st.text(), min_size=1) | floats(-9, 9)
)
NOT_INT = st.booleans() | st.text() | st.floats() | st.lists(st.integers(), min_size=1, max_size=2)
NOT_NUMBER = (
    st.booleans() | st.text() | st.just(float("nan")) | st.just(float("inf")) | st.just([1.0])
)
NOT_BOOL = st.integers() | st.text() | st.floats() | st.just([True])


def ints_outside(low: int | None, high: int | None) -> st.SearchStrategy[Any]:
    below = st.integers(max_value=low - 1) if low is not None else st.nothing()
    above = st.integers(min_value=high + 1) if high is not None else st.nothing()
    return below | above | NOT_INT


def floats_outside(low: float, high: float) -> st.SearchStrategy[Any]:
    return (
        st.floats(max_value=low, exclude_max=True)
        | st.floats(min_value=high, exclude_min=True)
        | NOT_NUMBER
    )


INVALID: dict[str, st.SearchStrategy[Any]] = {
    "model": st.just("") | st.none() | NOT_TEXT,
    "prompt": (
        st.integers()
        | st.booleans()
        | floats(-9, 9)
        | st.dictionaries(st.text(), st.text(), min_size=1)
        | st.lists(st.booleans() | floats(-9, 9) | st.none() | st.binary(), min_size=1)
        | st.tuples(st.text(), st.integers()).map(list)
        | st.lists(st.lists(st.text(), min_size=1), min_size=1)
    ),
    "best_of": ints_outside(1, 20),
    "echo": NOT_BOOL,
    "enkrypt_context": NOT_TEXT,
    "frequency_penalty": floats_outside(-2, 2),
    "presence_penalty": floats_outside(-2, 2),
    "logit_bias": (
        st.integers()
        | st.text()
        | st.lists(TOKEN_IDS, min_size=1)
        | st.dictionaries(st.text(string.ascii_letters), floats(-1, 1), min_size=1)
        | st.dictionaries(TOKEN_IDS, floats_outside(-100, 100), min_size=1)
    ),
    "logprobs": ints_outside(0, 5),
    "max_tokens": ints_outside(1, None),
    "n": ints_outside(1, 128),
    "seed": ints_outside(INT64_MIN, INT64_MAX),
    "stop": (
        st.just("")
        | st.lists(st.text(min_size=1), min_size=5, max_size=8)
        | st.lists(st.just(""), min_size=1, max_size=4)
        | st.integers()
        | st.lists(st.integers(), min_size=1, max_size=4)
    ),
    "stream_options": st.just({"include_usage": True}),  # without stream
    "suffix": NOT_TEXT,
    "temperature": floats_outside(0, 2),
    "top_p": floats_outside(0, 1),
    "user": NOT_TEXT,
}


@st.composite
def invalid_requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A field and keyword arguments that break exactly that field's rule."""
    name = draw(st.sampled_from([*sorted(INVALID), "best_of > n", "best_of with stream"]))
    if name == "best_of > n":
        n = draw(st.integers(1, 20))
        return name, {"model": "m", "n": n, "best_of": draw(st.integers(1, n))}
    if name == "best_of with stream":
        return name, {"model": "m", "stream": True, "best_of": draw(st.integers(2, 20))}
    return name, {"model": "m", name: draw(INVALID[name])}


def _never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"an invalid request was sent: {request.content!r}")


@settings(max_examples=400, deadline=None)
@given(case=invalid_requests(), kind=st.sampled_from(KINDS))
def test_invalid_values_raise_validation_error_and_are_never_sent(
    case: tuple[str, dict[str, Any]], kind: Kind
) -> None:
    name, fields = case
    with pytest.raises(pydantic.ValidationError):
        CompletionRequest(**fields)
    # Through the clients: ``stream`` is not an argument of theirs, and ``stream()`` sets it
    # (which makes ``stream_options`` valid), so those two cases stop at the model.
    streamed = fields.pop("stream", False)
    modes: tuple[Mode, ...] = ("stream",) if streamed else MODES
    if name == "stream_options":
        modes = ("complete",)
    for mode in modes:
        with pytest.raises(pydantic.ValidationError):
            receive_from(_never_called, kind, mode, **fields)


# ---------------------------------------------------------------- invalid call options


@pytest.mark.parametrize(
    ("client_options", "call_options"),
    [
        pytest.param({"deadline": 0}, {}, id="client-deadline-0"),
        pytest.param({"deadline": -1.5}, {}, id="client-deadline-negative"),
        pytest.param({"timeout": -1}, {}, id="client-timeout-negative"),
        pytest.param({"timeout": 0}, {}, id="client-timeout-0"),
        pytest.param({"max_retries": -1}, {}, id="client-max_retries-negative"),
        pytest.param({}, {"deadline": 0}, id="call-deadline-0"),
        pytest.param({}, {"deadline": -1.5}, id="call-deadline-negative"),
        pytest.param({}, {"timeout": -1}, id="call-timeout-negative"),
        pytest.param({}, {"timeout": 0}, id="call-timeout-0"),
        pytest.param({}, {"max_retries": -1}, id="call-max_retries-negative"),
    ],
)
@pytest.mark.parametrize("mode", MODES)
def test_invalid_call_options_are_refused_before_sending(
    make_client: Callable[..., Any],
    fault_server: FaultServer,
    client_options: dict[str, Any],
    call_options: dict[str, Any],
    mode: Mode,
) -> None:
    error: BaseException | None
    try:
        client = make_client(base_url=fault_server.url, **client_options)
        error = receive(client, mode, **call_options).error
    except Exception as exc:
        error = exc
    assert type(error) is ConfigurationError, repr(error)
    assert fault_server.connections == 0

"""Hypothesis strategies shared by the property tests: JSON values, and garbage replies
(nearly valid completions, odd event streams, lying headers, broken HTTP) from a server.
"""

from __future__ import annotations

import copy
import gzip
import itertools
import json
from dataclasses import dataclass
from typing import Any

import httpx
from hypothesis import strategies as st


def floats(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


JSON_SCALARS = st.none() | st.booleans() | st.integers() | floats(-1e300, 1e300) | st.text()
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
TOKEN_IDS = st.integers(0, 200_000)

CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=latin-1",
        "text/event-stream",
        "text/event-stream; charset=bogus",
        "text/html",
        "text/plain",
        "",
        "application/json; x=text/event-stream",
    ]
) | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
ENCODINGS = st.sampled_from([None, "gzip", "deflate", "br", "identity", "x-garbage", "gzip, gzip"])
ODD_HEADERS = st.dictionaries(
    st.sampled_from(["retry-after", "retry-after-ms", "x-should-retry", "x-request-id"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
)


def either(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Half the time a value of the right shape, half the time any JSON at all."""
    return st.one_of(valid, JSON_VALUES)


def some_of(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts holding any subset of ``fields``, each value right-shaped or not."""
    return st.fixed_dictionaries({}, optional={k: either(v) for k, v in fields.items()})


NUMBERS = st.integers(-3, 3) | floats(-9, 9)
LOGPROBS = some_of(
    {
        "tokens": st.lists(st.text(max_size=3), max_size=3),
        "token_logprobs": st.lists(NUMBERS | st.none(), max_size=3),
        "top_logprobs": st.lists(st.dictionaries(st.text(max_size=3), NUMBERS) | st.none()),
        "text_offset": st.lists(st.integers(0, 9), max_size=3),
        "x": JSON_VALUES,
    }
)
CHOICE = some_of(
    {
        "text": st.text(max_size=5),
        "index": st.integers(-2, 3),
        "logprobs": LOGPROBS,
        "finish_reason": st.none() | st.text(max_size=5),
    }
)
DETECTIONS = some_of(
    {
        "input_guardrails": some_of(
            {
                "summary": some_of({"toxicity": NUMBERS, "pii": st.lists(st.text(max_size=3))}),
                "details": some_of({"toxicity": JSON_VALUES, "nsfw": some_of({"sfw": NUMBERS})}),
            }
        ),
        "output_guardrails": JSON_VALUES,
    }
)
VALID_CHOICE = st.fixed_dictionaries(
    {
        "text": st.text(max_size=5),
        "index": st.integers(0, 3),
        "finish_reason": st.none() | st.sampled_from(["stop", "length", "eos"]),
        "logprobs": st.none()
        | st.fixed_dictionaries(
            {
                "tokens": st.lists(st.text(max_size=3), min_size=1, max_size=2),
                "token_logprobs": st.lists(floats(-9, 0), min_size=1, max_size=2),
                "top_logprobs": st.lists(st.dictionaries(st.text(max_size=3), floats(-9, 0))),
                "text_offset": st.lists(st.integers(0, 9), min_size=1, max_size=2),
            }
        ),
    }
)
VALID_REPLY = st.fixed_dictionaries(
    {
        "id": st.text(max_size=5),
        "object": st.sampled_from(["text_completion", "text.completion"]),
        "created": st.integers(0, 2**40),
        "model": st.text(max_size=5),
        "choices": st.lists(VALID_CHOICE, max_size=3),
        "usage": st.fixed_dictionaries(
            {"prompt_tokens": st.integers(0, 99), "total_tokens": st.integers(0, 99)}
        ),
        "enkrypt_policy_detections": st.fixed_dictionaries(
            {
                "input_guardrails": st.fixed_dictionaries(
                    {"summary": st.fixed_dictionaries({"toxicity": st.lists(st.text(max_size=3))})}
                )
            }
        ),
    }
)


def _containers(value: Any) -> list[Any]:
    """Every dict and list inside ``value``, ``value`` included."""
    if not isinstance(value, dict | list):
        return []
    inner = value.values() if isinstance(value, dict) else value
    return [value, *itertools.chain.from_iterable(map(_containers, inner))]


@st.composite
def nearly_valid_replies(draw: st.DrawFn) -> dict[str, Any]:
    """A valid reply with one or two things wrong in it: a value replaced by any JSON
    value, or an unknown key added, anywhere in the tree. What a buggy proxy sends."""
    reply = copy.deepcopy(draw(VALID_REPLY))  # mutated below: never a value hypothesis holds
    for _ in range(draw(st.integers(1, 2))):
        target = draw(st.sampled_from(_containers(reply)))
        if isinstance(target, dict):
            key = draw(st.sampled_from(sorted(target)) | st.text(max_size=6)) if target else "x"
            target[key] = draw(JSON_VALUES)
        elif target:
            target[draw(st.integers(0, len(target) - 1))] = draw(JSON_VALUES)
    return reply


REPLY_SHAPED = nearly_valid_replies() | some_of(
    {
        "choices": st.lists(CHOICE, max_size=3),
        "usage": some_of({"prompt_tokens": st.integers(), "total_tokens": st.integers()}),
        "enkrypt_policy_detections": DETECTIONS,
        "error": st.text(max_size=9).map(lambda t: repr({"message": t, "code": 1})),
        "message": st.text(max_size=9),
    }
)
BODIES = (
    st.binary(max_size=300)
    | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    | REPLY_SHAPED.map(lambda v: json.dumps(v).encode())
    | REPLY_SHAPED.map(lambda v: repr(v).encode())
)
SSE_FIELDS = st.one_of(
    REPLY_SHAPED.map(lambda v: "data: " + json.dumps(v)),
    REPLY_SHAPED.map(lambda v: "data:" + json.dumps(v, ensure_ascii=False)),
    JSON_VALUES.map(lambda v: "data: " + json.dumps(v)),
    st.just("data: [DONE]"),
    st.sampled_from(["event: ", "id: ", "retry: ", ": ", "data:", "data: [DONE]"]).flatmap(
        lambda field: st.text(max_size=20).map(lambda t: field + t)
    ),
    st.text(max_size=30),
)
SSE_EVENTS = st.lists(st.lists(SSE_FIELDS, min_size=1, max_size=2), max_size=8)
"""Events of one or two field lines each (several data lines join with a newline)."""


@st.composite
def sse_bodies(draw: st.DrawFn) -> bytes:
    """An event stream of odd events, each ended by a blank line (maybe not the last)."""
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = "".join(end.join(fields) + end * 2 for fields in draw(SSE_EVENTS))
    return text[: len(text) - draw(st.sampled_from([0, 0, 1, 2]))].encode()


@dataclass(frozen=True)
class Garbage:
    """A reply to make up, anew for each attempt (a response is read only once)."""

    status: int
    headers: dict[str, str]
    body: bytes

    def __call__(self, request: httpx.Request) -> httpx.Response:
        # A raw stream: httpx must not decode ``content=`` before the client reads it.
        return httpx.Response(self.status, headers=self.headers, stream=httpx.ByteStream(self.body))


@st.composite
def garbage_replies(draw: st.DrawFn) -> Garbage:
    """Any status, content type, encoding and body (maybe an event stream of odd lines).

    Weighted towards replies that get past the transport (status 200, the content type
    that fits the body, no encoding), where the parsing code is reached.
    """
    headers = draw(ODD_HEADERS)
    if draw(st.booleans()):
        body = draw(sse_bodies())
        content_type = draw(st.just("text/event-stream") | CONTENT_TYPES)
    else:
        body = draw(BODIES)
        content_type = draw(st.just("application/json") | CONTENT_TYPES)
    if content_type:
        headers["content-type"] = content_type
    encoding = draw(st.none() | ENCODINGS)
    if encoding is not None:
        headers["content-encoding"] = encoding
        if encoding == "gzip" and draw(st.booleans()):
            body = gzip.compress(body)
    status = draw(st.just(200) | st.sampled_from([400, 401, 404, 429, 503]) | st.integers(100, 599))
    return Garbage(status, headers, body)


RAW_REPLIES = st.one_of(
    st.binary(max_size=200),
    st.tuples(
        st.sampled_from(
            [
                b"HTTP/1.1 200 OK",
                b"HTTP/1.1 503 Oops",
                b"HTTP/1.0 200 OK",
                b"HTTP/1.1 99 X",
                b"HTTP/2 200",
                b"ICY 200 OK",
            ]
        ),
        st.lists(
            st.sampled_from(
                [
                    b"Content-Length: 5",
                    b"Content-Length: -1",
                    b"Content-Length: 99999",
                    b"Transfer-Encoding: chunked",
                    b"Content-Type: text/event-stream",
                    b"Content-Encoding: gzip",
                    b"X: \xff\xfe",
                ]
            )
            | st.binary(max_size=20),
            max_size=4,
        ),
        st.binary(max_size=100)
        | st.just(b'{"choices": [{"text": "x"}]}')
        | st.just(b"5\r\ndata:\r\n0\r\n\r\n"),
    ).map(lambda parts: b"\r\n".join([parts[0], *parts[1]]) + b"\r\n\r\n" + parts[2]),
)

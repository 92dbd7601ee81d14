"""Property: however the bytes of a valid event stream are split, the chunks are the same."""

from __future__ import annotations

import itertools
import json

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from completions_sdk import Client
from completions_sdk._assembly import TextPieces
from tests.test_streaming import Pieces

TEXTS = st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=6)


def _body(texts: list[str], line_end: str) -> bytes:
    events = [
        f"data: {json.dumps({'choices': [{'text': t, 'index': 0}]}, ensure_ascii=False)}"
        for t in texts
    ]
    blocks = [": comment", "id: 7", *events, "retry: 10", "data: [DONE]"]
    # Every event (or comment) ends with a blank line, as the SSE format requires.
    return "".join(f"{block}{line_end}{line_end}" for block in blocks).encode()


def _read(body: bytes, cuts: list[int]) -> list[str]:
    bounds = [0, *sorted(set(cuts)), len(body)]
    pieces = [body[a:b] for a, b in itertools.pairwise(bounds)]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=Pieces(pieces)
        )

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with Client(
        api_key="k", deployment="d", base_url="http://127.0.0.1:1", http_client=http
    ) as client:
        return [chunk.text for chunk in client.stream(model="m")]


@settings(max_examples=150, deadline=None)
@given(texts=TEXTS, line_end=st.sampled_from(["\n", "\r\n"]), data=st.data())
def test_any_byte_split_yields_the_same_chunks(
    texts: list[str], line_end: str, data: st.DataObject
) -> None:
    body = _body(texts, line_end)
    cuts = data.draw(st.lists(st.integers(min_value=1, max_value=len(body) - 1), max_size=30))
    assert _read(body, cuts) == texts


@given(st.lists(st.text(max_size=3), max_size=2000))
@settings(max_examples=50, deadline=None)
def test_text_pieces_join_to_the_text_across_blocks(pieces: list[str]) -> None:
    buffer = TextPieces()
    for piece in pieces:
        buffer.append(piece)
    assert str(buffer) == "".join(pieces)
    assert bool(buffer) == bool(pieces)

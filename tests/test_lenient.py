"""``lenient_validate``: the one step that repairs what the proxy sent; pydantic's stay strict."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from completions_sdk import ChatCompletion, Completion, CompletionChunk, PolicyDetections
from completions_sdk import _lenient as lenient
from completions_sdk._assembly import CompletionAssembler
from completions_sdk._chat_assembly import ChatAssembler
from completions_sdk._lenient import lenient_validate
from tests._support import fixture_bytes, fixture_json

ODD = {"choices": [{"text": "x", "logprobs": "not an object"}], "usage": 5}


def test_pydantics_own_methods_repair_nothing() -> None:
    with pytest.raises(ValidationError, match="usage"):
        Completion.model_validate(ODD)
    with pytest.raises(ValidationError, match="usage"):
        Completion.model_validate_json(json.dumps(ODD))
    with pytest.raises(ValidationError, match="input_guardrails"):
        PolicyDetections.model_validate({"input_guardrails": "garbage"})


@pytest.mark.parametrize("as_json", [True, False], ids=["bytes", "dict"])
def test_the_lenient_step_repairs_json_text_and_decoded_json_alike(as_json: bool) -> None:
    completion = lenient_validate(Completion, json.dumps(ODD).encode() if as_json else ODD)
    assert completion.text == "x"
    assert completion.usage is None and completion.choices[0].logprobs is None


def test_well_formed_input_reads_as_pydantic_reads_it() -> None:
    body = fixture_bytes("completion-as-served.json")
    assert lenient_validate(Completion, body) == Completion.model_validate_json(body)


def test_the_callers_data_is_not_changed() -> None:
    data = {"id": "a", "choices": [{"text": "x", "index": None}], "usage": {"total_tokens": "x"}}
    before = copy.deepcopy(data)
    lenient_validate(Completion, data)
    assert data == before


def test_raw_detections_are_what_was_sent_even_when_repaired() -> None:
    body = fixture_json("completion-as-served.json")
    sent = body["enkrypt_policy_detections"]
    sent["output_guardrails"]["details"]["nsfw"]["sfw"] = "not a number"
    sent["output_guardrails"]["summary"]["pii"] = "three"
    completion = lenient_validate(Completion, json.dumps(body).encode())
    detections = completion.policy_detections
    assert detections is not None and detections.output_guardrails is not None
    assert detections.output_guardrails.details is not None
    nsfw = detections.output_guardrails.details.nsfw
    assert nsfw is not None and nsfw.sfw is None and nsfw.nsfw == 0.11
    assert detections.raw == sent


def test_an_odd_member_of_a_union_field_becomes_none() -> None:
    detections = lenient_validate(
        PolicyDetections,
        {"output_guardrails": {"details": {"toxicity": {"threat": "high"}, "nsfw": {"sfw": 1}}}},
    )
    report = detections.output_guardrails
    assert report is not None and report.details is not None
    assert report.details.toxicity is None
    assert report.details.nsfw is not None and report.details.nsfw.sfw == 1.0


def test_an_odd_entry_of_a_map_is_dropped_not_the_reply() -> None:
    completion = lenient_validate(
        Completion,
        {"choices": [{"text": "a", "logprobs": {"top_logprobs": [{"a": -0.1, "b": "low"}]}}]},
    )
    logprobs = completion.choices[0].logprobs
    assert completion.text == "a"
    assert logprobs is not None and logprobs.top_logprobs == [{"a": -0.1}]


def test_a_list_field_that_shares_a_text_fields_name_is_left_out() -> None:
    # ChatLogprobs.content is a list: keeping "content" as text does not fit it either.
    reply = lenient_validate(
        ChatCompletion,
        {"choices": [{"message": {"content": "hi"}, "logprobs": {"content": "odd"}}]},
    )
    assert reply.text == "hi"
    assert reply.choices[0].logprobs is not None
    assert reply.choices[0].logprobs.content is None


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"choices": "none"}', b'{"choices": [5]}'],
    ids=["not-json", "not-an-object", "choices-not-a-list", "a-choice-not-an-object"],
)
def test_what_no_repair_fixes_stays_an_error(body: bytes) -> None:
    with pytest.raises(ValidationError):
        lenient_validate(CompletionChunk, body)


def test_a_well_formed_stream_never_enters_the_repair(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> None:
        raise AssertionError("a well-formed chunk was repaired")

    monkeypatch.setattr(lenient.Repair, "__init__", refuse)
    response = httpx.Response(200, request=httpx.Request("POST", "http://127.0.0.1"))
    texts = CompletionAssembler(response), ChatAssembler(response)
    events = (
        {"id": "1", "choices": [{"text": "hi", "index": 0}]},
        {"id": "1", "choices": [{"index": 0, "delta": {"content": "hi"}}]},
    )
    for assembler, event in zip(texts, events, strict=True):
        chunk = assembler.decode((b"", json.dumps(event).encode()))
        assert chunk is not None and chunk.text == "hi"
        assert assembler.final_reply().text == "hi"


def test_an_odd_chunk_goes_through_the_lenient_step(monkeypatch: pytest.MonkeyPatch) -> None:
    repairs: list[Any] = []
    original_init = lenient.Repair.__init__

    def counting(self: lenient.Repair, data: Any) -> None:
        repairs.append(data)
        original_init(self, data)

    monkeypatch.setattr(lenient.Repair, "__init__", counting)
    response = httpx.Response(200, request=httpx.Request("POST", "http://127.0.0.1"))
    event = {"choices": [{"text": "hi", "index": 0, "finish_reason": ["odd"]}]}
    chunk = CompletionAssembler(response).decode((b"", json.dumps(event).encode()))
    assert chunk is not None and chunk.text == "hi" and chunk.choices[0].finish_reason is None
    assert repairs == [event]


def test_the_final_reply_of_a_stream_keeps_the_detections_as_sent() -> None:
    sent = {"output_guardrails": {"details": {"nsfw": {"sfw": "odd", "nsfw": 0.1}}}}
    event = {"choices": [{"text": "hi", "index": 0}], "enkrypt_policy_detections": sent}
    response = httpx.Response(200, request=httpx.Request("POST", "http://127.0.0.1"))
    assembler = CompletionAssembler(response)
    assembler.decode((b"", json.dumps(event).encode()))
    detections = assembler.final_reply().policy_detections
    assert detections is not None and detections.raw == sent
    report = detections.output_guardrails
    assert report is not None and report.details is not None and report.details.nsfw is not None
    assert (report.details.nsfw.sfw, report.details.nsfw.nsfw) == (None, 0.1)

"""Reply models: lenient parsing of what the proxy was seen to send."""

from __future__ import annotations

from completions_sdk import Completion, CompletionChunk
from completions_sdk._lenient import lenient_validate
from tests._support import fixture_bytes


def test_the_live_services_sample_reply_parses() -> None:
    completion = Completion.model_validate_json(fixture_bytes("completion-as-served.json"))
    assert completion.text == " Because the bicycle was two-tired."
    assert completion.object == "text.completion"
    assert completion.choices[0].finish_reason == "eos"
    assert completion.usage is not None
    assert completion.usage.total_tokens == 16
    assert completion.model_extra == {"prompt": []}


def test_integers_above_2_53_stay_exact() -> None:
    completion = Completion.model_validate_json(fixture_bytes("completion-as-served.json"))
    assert completion.choices[0].model_extra == {"seed": 9320035192991048000}


def test_unknown_fields_and_values_are_kept() -> None:
    completion = Completion.model_validate(
        {
            "object": "something.new",
            "choices": [{"text": "x", "finish_reason": "brand_new_reason", "new": 1}],
            "new_top_level": {"a": 1},
        }
    )
    assert completion.choices[0].finish_reason == "brand_new_reason"
    assert completion.choices[0].model_extra == {"new": 1}
    assert completion.model_extra == {"new_top_level": {"a": 1}}


def test_missing_parts_are_none() -> None:
    completion = Completion.model_validate({})
    assert completion.id is None
    assert completion.usage is None
    assert completion.policy_detections is None
    assert completion.choices == []
    assert completion.text == ""


def test_parts_of_an_unexpected_shape_become_none() -> None:
    completion = lenient_validate(
        Completion,
        {
            "choices": [{"text": "x", "logprobs": "not an object"}],
            "usage": 5,
            "enkrypt_policy_detections": [1, 2],
        },
    )
    assert completion.text == "x"
    assert completion.choices[0].logprobs is None
    assert completion.usage is None
    assert completion.policy_detections is None


def test_text_is_that_of_choice_zero_whatever_the_order() -> None:
    completion = Completion.model_validate(
        {"choices": [{"text": "second", "index": 1}, {"text": "first", "index": 0}]}
    )
    assert completion.text == "first"


def test_logprobs_parse() -> None:
    completion = Completion.model_validate(
        {
            "choices": [
                {
                    "text": " a b",
                    "logprobs": {
                        "tokens": [" a", " b"],
                        "token_logprobs": [-0.1, None],
                        "top_logprobs": [{" a": -0.1}, None],
                        "text_offset": [0, 2],
                    },
                }
            ]
        }
    )
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None
    assert logprobs.tokens == [" a", " b"]
    assert logprobs.token_logprobs == [-0.1, None]


def test_a_chunk_has_the_same_shape() -> None:
    chunk = CompletionChunk.model_validate({"id": "c", "choices": [{"text": " hi", "index": 0}]})
    assert chunk.text == " hi"


def test_detections_are_reachable_by_their_wire_name_too() -> None:
    completion = Completion.model_validate_json(fixture_bytes("completion-as-served.json"))
    dumped = completion.model_dump(by_alias=True)
    assert "enkrypt_policy_detections" in dumped


def test_a_replys_repr_is_short_and_says_what_matters() -> None:
    completion = Completion.model_validate_json(fixture_bytes("completion-as-served.json"))
    assert repr(completion) == (
        "Completion(id='90a1c0ffee5d3a11', model='mistralai/Mixtral-8x7B-Instruct-v0.1', "
        "text=' Because the bicycle was two-tired.', finish_reason='eos', "
        "usage=Usage(prompt_tokens=7, completion_tokens=9, total_tokens=16), flagged=[])"
    )
    long = Completion.model_validate({"choices": [{"text": "x" * 500}, {"index": 1}]})
    assert "x" * 77 + "..." in repr(long)
    assert "choices=2" in repr(long)


def test_notebooks_get_an_html_view() -> None:
    completion = Completion.model_validate_json(fixture_bytes("completion-as-served.json"))
    page = completion._repr_html_()
    assert "two-tired" in page and "<table>" in page and "injection_attack" in page
    hostile = Completion.model_validate({"choices": [{"text": "<script>alert(1)</script>"}]})
    assert "<script>" not in hostile._repr_html_()
    assert completion.policy_detections is not None
    assert "<td>output</td>" in completion.policy_detections._repr_html_()


def test_odd_metadata_never_costs_the_text() -> None:
    completion = lenient_validate(
        Completion,
        {
            "id": 123,
            "object": ["text_completion"],
            "created": 1712345678.5,
            "model": None,
            "choices": [{"text": None, "index": None, "finish_reason": {"why": "?"}}],
            "usage": {"prompt_tokens": "3", "completion_tokens": "many", "total_tokens": 1.5},
        },
    )
    assert completion.id == "123"
    assert completion.object is None
    assert completion.created == 1712345678
    choice = completion.choices[0]
    assert (choice.text, choice.index, choice.finish_reason) == ("", 0, None)
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (3, None)

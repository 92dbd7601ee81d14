"""``CompletionRequest``: every field rule, valid and invalid, and what is sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from completions_sdk import CompletionRequest, UnknownFieldWarning

VALID: list[dict[str, Any]] = [
    {"prompt": "hi"},
    {"prompt": ["a", "b"]},
    {"prompt": [1, 2, 3]},
    {"prompt": [[1, 2], [3]]},
    {"best_of": 1},
    {"best_of": 20},
    {"best_of": 3, "n": 2},
    {"echo": True},
    {"enkrypt_context": "the policy says..."},
    {"frequency_penalty": -2.0},
    {"frequency_penalty": 2},
    {"logit_bias": {"50256": -100}},
    {"logit_bias": {50256: 100, 1: 0.5}},
    {"logprobs": 0},
    {"logprobs": 5},
    {"max_tokens": 1},
    {"n": 1},
    {"n": 128},
    {"presence_penalty": 1.5},
    {"seed": -(2**63)},
    {"seed": 2**63 - 1},
    {"stop": "\n"},
    {"stop": ["a", "b", "c", "d"]},
    {"stream": True, "stream_options": {"include_usage": True}},
    {"suffix": "end"},
    {"temperature": 0},
    {"temperature": 2.0},
    {"top_p": 0},
    {"top_p": 1},
    {"user": "user-42"},
]

INVALID: list[tuple[dict[str, Any], str, str]] = [
    # (fields, field named in the error, rule named in the error)
    ({"model": ""}, "model", "at least 1 character"),
    ({"prompt": 5}, "prompt", "prompt must be a string"),
    ({"best_of": 0}, "best_of", "greater than or equal to 1"),
    ({"best_of": 21}, "best_of", "less than or equal to 20"),
    ({"echo": "yes"}, "echo", "valid boolean"),
    ({"frequency_penalty": -2.5}, "frequency_penalty", "greater than or equal to -2"),
    ({"frequency_penalty": 2.01}, "frequency_penalty", "less than or equal to 2"),
    ({"logit_bias": {"50256": -101}}, "logit_bias", "greater than or equal to -100"),
    ({"logit_bias": {"x": 1}}, "logit_bias", "valid integer"),
    ({"logprobs": 6}, "logprobs", "less than or equal to 5"),
    ({"logprobs": -1}, "logprobs", "greater than or equal to 0"),
    ({"max_tokens": 0}, "max_tokens", "greater than 0"),
    ({"max_tokens": "16"}, "max_tokens", "valid integer"),
    ({"n": 0}, "n", "greater than or equal to 1"),
    ({"n": 129}, "n", "less than or equal to 128"),
    ({"n": True}, "n", "valid integer"),
    ({"presence_penalty": 3}, "presence_penalty", "less than or equal to 2"),
    ({"seed": 2**63}, "seed", "less than or equal to"),
    ({"seed": -(2**63) - 1}, "seed", "greater than or equal to"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4 stop sequences, got 5"),
    ({"stop": ""}, "stop", "at least 1 character"),
    ({"temperature": -0.1}, "temperature", "greater than or equal to 0"),
    ({"temperature": 2.5}, "temperature", "less than or equal to 2"),
    ({"temperature": float("nan")}, "temperature", "finite number"),
    ({"top_p": 1.1}, "top_p", "less than or equal to 1"),
    ({"user": 42}, "user", "valid string"),
]


@pytest.mark.parametrize("fields", VALID, ids=lambda f: ",".join(f))
def test_valid_fields_are_accepted_and_sent_as_given(fields: dict[str, Any]) -> None:
    request = CompletionRequest(model="m", **fields)
    sent = json.loads(request.to_json())
    assert sent.pop("model") == "m"
    assert set(sent) == set(fields)


@pytest.mark.parametrize(("fields", "field", "rule"), INVALID, ids=lambda v: str(v)[:40])
def test_invalid_fields_name_the_field_the_rule_and_the_value(
    fields: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(ValidationError) as info:
        CompletionRequest(**{"model": "m", **fields})
    errors = info.value.errors()
    assert all(error["loc"][0] == field for error in errors)
    assert rule in str(info.value)
    given = fields[field]
    shown = given if not isinstance(given, dict) else next(iter(given.items()))[key_or_value(rule)]
    assert f"input_value={shown!r}"[:30] in str(info.value)


def key_or_value(rule: str) -> int:
    """Which part of a mapping item the rule is about: the key (0) or the value (1)."""
    return 0 if rule == "valid integer" else 1


def test_model_is_required() -> None:
    with pytest.raises(ValidationError, match="model\n  Field required"):
        CompletionRequest(prompt="hi")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"best_of": 2, "n": 2}, "best_of must be greater than n (got best_of=2, n=2)"),
        ({"best_of": 2, "n": 3}, "best_of must be greater than n"),
        ({"best_of": 3, "stream": True}, "best_of cannot be combined with stream"),
        ({"stream_options": {"include_usage": True}}, "stream_options is only allowed when stream"),
        (
            {"stream": False, "stream_options": {"include_usage": True}},
            "stream_options is only allowed when stream",
        ),
    ],
)
def test_cross_field_rules(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        CompletionRequest(model="m", **fields)
    assert message in str(info.value)


def test_only_fields_the_user_set_are_sent() -> None:
    request = CompletionRequest(model="m", prompt="hi", suffix=None)
    assert json.loads(request.to_json()) == {"model": "m", "prompt": "hi", "suffix": None}


def test_unknown_fields_are_sent_as_given() -> None:
    request = CompletionRequest(model="m", new_server_feature={"x": [1, 2]})
    assert json.loads(request.to_json()) == {"model": "m", "new_server_feature": {"x": [1, 2]}}


@pytest.mark.parametrize(("typo", "meant"), [("promt", "prompt"), ("max_token", "max_tokens")])
def test_an_unknown_field_like_a_known_one_warns_at_the_callers_line(typo: str, meant: str) -> None:
    with pytest.warns(
        UnknownFieldWarning, match=f"'{typo}' is sent as given; did you mean '{meant}'"
    ) as caught:
        request = CompletionRequest(model="m", **{typo: 1})
    assert caught[0].filename == __file__
    assert json.loads(request.to_json()) == {"model": "m", typo: 1}


def test_logit_bias_keys_are_sent_as_json_object_keys() -> None:
    request = CompletionRequest(model="m", logit_bias={50256: -100})
    assert json.loads(request.to_json())["logit_bias"] == {"50256": -100.0}


def test_assignment_is_validated_too() -> None:
    request = CompletionRequest(model="m")
    with pytest.raises(ValidationError, match="temperature"):
        request.temperature = 3.0


def test_repr_shows_what_was_set() -> None:
    request = CompletionRequest(model="m", prompt="hi", max_tokens=16)
    assert repr(request) == "CompletionRequest(model='m', max_tokens=16, prompt='hi')"


def test_big_seed_is_exact_on_the_wire() -> None:
    request = CompletionRequest(model="m", seed=2**63 - 1)
    assert b'"seed":9223372036854775807' in request.to_json()

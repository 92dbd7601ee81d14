"""The emulator's own body validation: 422 naming the field and the rule."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

PATH = "/ai-proxy/completions"

INVALID = [
    ({"prompt": "hi"}, "model", "required"),
    ({"model": ""}, "model", "non-empty string"),
    ({"model": 3}, "model", "non-empty string"),
    ({"model": "m", "prompt": []}, "prompt", "token-id lists"),
    ({"model": "m", "prompt": [1, "a"]}, "prompt", "token-id lists"),
    ({"model": "m", "prompt": [[1], []]}, "prompt", "token-id lists"),
    ({"model": "m", "prompt": [-1]}, "prompt", "token-id lists"),
    ({"model": "m", "best_of": 0}, "best_of", "from 1 to 20"),
    ({"model": "m", "best_of": 21}, "best_of", "from 1 to 20"),
    ({"model": "m", "best_of": 2, "n": 2}, "best_of", "greater than n"),
    ({"model": "m", "best_of": 3, "stream": True}, "best_of", "stream"),
    ({"model": "m", "echo": "yes"}, "echo", "boolean"),
    ({"model": "m", "frequency_penalty": 2.5}, "frequency_penalty", "-2.0 to 2.0"),
    ({"model": "m", "presence_penalty": -2.01}, "presence_penalty", "-2.0 to 2.0"),
    ({"model": "m", "presence_penalty": True}, "presence_penalty", "-2.0 to 2.0"),
    ({"model": "m", "logit_bias": {"50256": -101}}, "logit_bias", "-100 to 100"),
    ({"model": "m", "logit_bias": {"token": 1}}, "logit_bias", "token ids"),
    ({"model": "m", "logprobs": 6}, "logprobs", "from 0 to 5"),
    ({"model": "m", "logprobs": 1.0}, "logprobs", "integer"),
    ({"model": "m", "max_tokens": 0}, "max_tokens", "greater than 0"),
    ({"model": "m", "max_tokens": "16"}, "max_tokens", "integer"),
    ({"model": "m", "n": 0}, "n", "from 1 to 128"),
    ({"model": "m", "n": 129}, "n", "from 1 to 128"),
    ({"model": "m", "seed": 2**63}, "seed", "64-bit"),
    ({"model": "m", "seed": -(2**63) - 1}, "seed", "64-bit"),
    ({"model": "m", "stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4"),
    ({"model": "m", "stop": ""}, "stop", "non-empty"),
    ({"model": "m", "stream_options": {"include_usage": True}}, "stream_options", "stream"),
    ({"model": "m", "stream": True, "stream_options": {"include_usage": 1}},
     "stream_options", "boolean"),
    ({"model": "m", "temperature": 2.1}, "temperature", "from 0 to 2"),
    ({"model": "m", "top_p": -0.1}, "top_p", "from 0 to 1"),
    ({"model": "m", "user": 1}, "user", "string"),
    ({"model": "m", "suffix": 1}, "suffix", "string"),
    ({"model": "m", "prompt": "a " * 4000, "max_tokens": 100}, "max_tokens", "context length"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "param", "rule"), INVALID)
def test_an_invalid_body_is_422_naming_field_and_rule(
    http: httpx.Client, body: dict[str, Any], param: str, rule: str
) -> None:
    response = http.post(PATH, json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert rule in error["message"]
    assert error["type"] == "invalid_request_error"


def test_a_body_that_is_not_an_object_is_422(http: httpx.Client) -> None:
    response = http.post(PATH, json=["model"])
    assert response.status_code == 422
    assert response.json()["error"]["param"] is None


def test_malformed_json_is_400(http: httpx.Client) -> None:
    response = http.post(PATH, content=b'{"model": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


VALID = [
    {"model": "m"},
    {"model": "m", "prompt": None, "n": None, "stop": None},
    {"model": "m", "prompt": ["a", "b"]},
    {"model": "m", "prompt": [1, 2, 3]},
    {"model": "m", "prompt": [[1, 2], [3]]},
    {"model": "m", "best_of": 20, "n": 19, "max_tokens": 1},
    {"model": "m", "frequency_penalty": -2, "presence_penalty": 2.0, "temperature": 0, "top_p": 1},
    {"model": "m", "logit_bias": {"50256": -100, "1": 100.0}, "logprobs": 0},
    {"model": "m", "seed": 2**63 - 1, "stop": ["a", "b", "c", "d"], "user": "u", "suffix": "!"},
    {"model": "m", "enkrypt_context": "ctx", "brand_new_field": {"nested": [1]}},
]


@pytest.mark.parametrize("body", VALID)
def test_valid_bodies_and_unknown_fields_are_accepted(
    http: httpx.Client, body: dict[str, Any]
) -> None:
    response = http.post(PATH, json=body)
    assert response.status_code == 200, response.text

"""The deterministic "model": text, choices, stop, echo, logprobs and usage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from completions_sdk.emulator import Deployment, EmulatorServer

Complete = Callable[..., dict[str, Any]]


def texts(reply: dict[str, Any]) -> list[str]:
    return [choice["text"] for choice in reply["choices"]]


def test_the_reply_has_the_served_shape(complete: Complete) -> None:
    reply = complete({"model": "m", "prompt": "Tell me a joke"})
    assert reply["object"] == "text_completion"
    assert reply["id"].startswith("cmpl-")
    assert isinstance(reply["created"], int)
    assert reply["model"] == "m"
    assert reply["system_fingerprint"]
    (choice,) = reply["choices"]
    assert choice["index"] == 0
    assert choice["logprobs"] is None
    assert choice["finish_reason"] == "length"
    output = reply["enkrypt_policy_detections"]["output_guardrails"]
    assert set(output) == {"details", "summary"}
    assert output["details"]["keyword_detector"]["redacted_text"] == choice["text"]
    assert output["details"]["injection_attack"]["safe"] == "0.998101"  # a string, as served
    assert output["summary"]["injection_attack"] == 0


def test_same_prompt_and_seed_give_the_same_text(complete: Complete) -> None:
    body = {"model": "m", "prompt": "Once upon a time", "seed": 42}
    first, second = complete(body), complete(body)
    assert texts(first) == texts(second)
    assert first["id"] != second["id"]


def test_another_seed_or_prompt_gives_another_text(complete: Complete) -> None:
    base = texts(complete({"model": "m", "prompt": "Once upon a time", "seed": 42}))
    assert texts(complete({"model": "m", "prompt": "Once upon a time", "seed": 43})) != base
    assert texts(complete({"model": "m", "prompt": "Once upon a times", "seed": 42})) != base
    assert texts(complete({"model": "m", "prompt": "Once upon a time"})) != base


def test_max_tokens_is_the_number_of_words_and_defaults_to_16(complete: Complete) -> None:
    assert len(texts(complete({"model": "m", "prompt": "p", "max_tokens": 5}))[0].split()) == 5
    reply = complete({"model": "m", "prompt": "p"})
    assert len(texts(reply)[0].split()) == 16
    assert reply["usage"] == {"prompt_tokens": 1, "completion_tokens": 16, "total_tokens": 17}
    assert texts(reply)[0].startswith(" ")


def test_n_choices_differ_by_index(complete: Complete) -> None:
    reply = complete({"model": "m", "prompt": "Say hi now", "n": 3, "max_tokens": 4})
    assert [choice["index"] for choice in reply["choices"]] == [0, 1, 2]
    assert len(set(texts(reply))) == 3
    assert reply["usage"] == {"prompt_tokens": 3, "completion_tokens": 12, "total_tokens": 15}
    # Choice 0 is the text a request with n=1 gets.
    single = complete({"model": "m", "prompt": "Say hi now", "max_tokens": 4})
    assert texts(single) == texts(reply)[:1]


def test_a_batch_of_prompts_gives_n_consecutive_choices_each(complete: Complete) -> None:
    reply = complete({"model": "m", "prompt": ["one two", "three"], "n": 2, "max_tokens": 3})
    assert [choice["index"] for choice in reply["choices"]] == [0, 1, 2, 3]
    alone = complete({"model": "m", "prompt": "three", "n": 2, "max_tokens": 3})
    assert texts(reply)[2:] == texts(alone)
    assert reply["usage"]["prompt_tokens"] == 3
    assert reply["usage"]["completion_tokens"] == 12


@pytest.mark.parametrize(("prompt", "count"), [([5, 6, 7], 1), ([[5, 6], [7]], 2), (None, 1)])
def test_token_id_prompts_and_no_prompt(complete: Complete, prompt: Any, count: int) -> None:
    reply = complete({"model": "m", "prompt": prompt, "max_tokens": 2})
    assert len(reply["choices"]) == count
    expected_prompt_tokens = {1: 3, 2: 3}[count] if prompt is not None else 1
    assert reply["usage"]["prompt_tokens"] == expected_prompt_tokens


def test_stop_cuts_before_the_first_stop_sequence(complete: Complete) -> None:
    body = {"model": "m", "prompt": "Count", "max_tokens": 8, "seed": 7}
    (full,) = texts(complete(body))
    words = full.split()
    stop_word = words[3]
    cut = full.index(stop_word)
    reply = complete({**body, "stop": ["never-there", stop_word]})
    assert reply["choices"][0]["text"] == full[:cut]
    assert reply["choices"][0]["finish_reason"] == "stop"
    # Three whole tokens, then the space that began the stop word's token.
    assert reply["usage"]["completion_tokens"] == 4
    # A stop sequence starting inside a token keeps that token's beginning.
    reply = complete({**body, "stop": stop_word[2:]})
    assert reply["choices"][0]["text"] == full[: full.index(stop_word[2:])]


def test_echo_prepends_the_prompt_and_suffix_is_accepted(complete: Complete) -> None:
    body = {"model": "m", "prompt": "Say hi", "max_tokens": 3}
    (plain,) = texts(complete(body))
    (echoed,) = texts(complete({**body, "echo": True, "suffix": " -- the end"}))
    assert echoed == "Say hi" + plain


@pytest.mark.parametrize("echo", [False, True])
@pytest.mark.parametrize("top", [0, 1, 5])
def test_logprobs_are_well_formed(complete: Complete, echo: bool, top: int) -> None:
    body = {"model": "m", "prompt": "Say hi", "max_tokens": 6, "logprobs": top, "echo": echo}
    choice = complete(body)["choices"][0]
    logprobs = choice["logprobs"]
    tokens = logprobs["tokens"]
    assert "".join(tokens) == choice["text"]
    assert len(tokens) == 6 + (2 if echo else 0)
    assert len(logprobs["token_logprobs"]) == len(logprobs["top_logprobs"]) == len(tokens)
    offsets = [sum(map(len, tokens[:i])) for i in range(len(tokens))]
    assert logprobs["text_offset"] == offsets
    scored = list(zip(tokens, logprobs["token_logprobs"], logprobs["top_logprobs"], strict=True))
    if echo:
        assert scored[0][1:] == (None, None)
        scored = scored[1:]
    for token, logprob, top_logprobs in scored:
        assert logprob <= 0
        assert len(top_logprobs) == top
        if top:
            assert top_logprobs[token] == logprob
            assert max(top_logprobs.values()) == logprob


def test_the_deployment_can_override_the_model_and_serve_quirks(
    proxy_emulator: EmulatorServer, complete: Complete
) -> None:
    proxy_emulator.add_deployment("quirky", Deployment(model="served-model", quirks=True))
    body = {"model": "m", "prompt": "p", "max_tokens": 3, "stop": "zzz"}
    reply = complete(body, **{"X-Enkrypt-Deployment": "quirky"})
    assert reply["model"] == "served-model"
    assert reply["object"] == "text.completion"
    assert reply["prompt"] == []
    assert reply["choices"][0]["seed"] > 2**53  # like the served 9320035192991048000
    reply = complete({**body, "stop": reply["choices"][0]["text"].split()[1]},
                     **{"X-Enkrypt-Deployment": "quirky"})  # fmt: skip
    assert reply["choices"][0]["finish_reason"] == "eos"

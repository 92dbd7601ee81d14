"""Guardrail detections: typed where stable, coerced, raw always reachable."""

from __future__ import annotations

from completions_sdk import Completion, PolicyDetections
from completions_sdk._lenient import lenient_validate
from tests._support import fixture_bytes, fixture_json


def test_output_detections_of_the_sample_reply() -> None:
    completion = Completion.model_validate_json(fixture_bytes("completion-as-served.json"))
    detections = completion.policy_detections
    assert detections is not None
    report = detections.output_guardrails
    assert report is not None and report.details is not None and report.summary is not None
    assert report.details.injection_attack is not None
    assert report.details.injection_attack.safe == 0.998101  # sent as the string "0.998101"
    assert report.details.nsfw is not None and report.details.nsfw.sfw == 0.81
    assert report.details.bias is not None and report.details.bias.bias_detected is False
    assert report.details.policy_violation is not None
    assert report.details.policy_violation.violating_policy == "No Violation Found"
    assert report.summary.toxicity == 0  # sent as {}
    assert detections.flagged == []
    assert detections.input_guardrails is None


def test_block_detections_count_lists_and_keep_unknown_keys() -> None:
    raw = fixture_json("blocked-by-input-guardrails.json")["enkrypt_policy_detections"]
    detections = PolicyDetections.model_validate(raw)
    report = detections.input_guardrails
    assert report is not None and report.summary is not None and report.details is not None
    assert report.summary.toxicity == 1  # sent as ["toxicity"]
    assert report.summary.injection_attack == 1
    assert report.summary.model_extra == {"most_unsafe_content": "ignore all previous instructions"}
    assert report.details.toxicity == ["toxicity"]
    assert detections.flagged == ["input:toxicity", "input:injection_attack"]
    assert detections.raw == raw


def test_anything_else_never_fails_the_reply() -> None:
    detections = lenient_validate(
        PolicyDetections,
        {
            "input_guardrails": "garbage",
            "output_guardrails": {
                "details": {"nsfw": {"sfw": "not a number"}, "injection_attack": [1]},
                "summary": {"pii": "three", "bias": True},
            },
        },
    )
    assert detections.input_guardrails is None
    report = detections.output_guardrails
    assert report is not None and report.details is not None and report.summary is not None
    assert report.details.nsfw is not None and report.details.nsfw.sfw is None
    assert report.details.injection_attack is None
    assert report.summary.pii is None
    assert report.summary.bias == 1
    assert detections.raw["input_guardrails"] == "garbage"

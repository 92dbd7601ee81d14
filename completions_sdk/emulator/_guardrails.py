"""Emulated guardrails and the ``enkrypt_policy_detections`` they report.

Shapes follow ``docs/proxy-api.md`` ("Sample replies"): a clean reply carries
``output_guardrails`` as in ``completion-as-served.json`` (string scores included); a block
is an error body with top-level detections, as in ``blocked-by-input-guardrails.json``. The
real status of a block is undocumented; the emulator answers 400 (``BLOCK_STATUS``), and
the SDK must not depend on it, only on the detections being there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ._config import Deployment
from ._errors import ErrorReply, error_body

__all__ = ["BLOCK_STATUS", "check_input", "output_block", "output_detections"]

BLOCK_STATUS = 400
_SAFE = {"safe": "0.998101", "attack": "0.001899"}
_ATTACK = {"safe": "0.012000", "attack": "0.988000"}


def check_input(prompts: Sequence[str], deployment: Deployment) -> ErrorReply | None:
    """The block reply when a prompt has a blocked keyword or an injection; else ``None``."""
    text = "\n".join(prompts)
    counts = {
        keyword: len(re.findall(re.escape(keyword), text, re.IGNORECASE))
        for keyword in deployment.blocked_keywords
    }
    counts = {keyword: count for keyword, count in counts.items() if count}
    attack = _find_injection(text, deployment.injection_patterns)
    if not counts and attack is None:
        return None
    found = {"keyword_detector": bool(counts), "injection_attack": attack is not None}
    flagged = [name for name, hit in found.items() if hit]
    details = {
        "keyword_detector": {
            "detected_counts": counts,
            "detected_keywords": list(counts),
            "redacted_text": _redact(text, counts),
        },
        "injection_attack": _ATTACK if attack is not None else _SAFE,
    }
    summary = {
        "keyword_detected": sum(counts.values()),
        "injection_attack": int(attack is not None),
        "most_unsafe_content": attack if attack is not None else next(iter(counts)),
    }
    message = f"Request blocked by input guardrails: {', '.join(flagged)}"
    report = {"input_guardrails": {"details": details, "summary": summary}}
    return _block(message, report)


def output_detections(text: str) -> dict[str, Any]:
    """What the output guardrails report about a clean reply whose first choice is ``text``."""
    details = {
        "keyword_detector": {"detected_counts": {}, "redacted_text": text, "detected_keywords": {}},
        "policy_violation": {
            "violating_policy": "No Violation Found",
            "explanation": "No Violation Found.",
        },
        "bias": {"bias_detected": False, "debiased_text": text},
        "pii": {"ip_address": {}, "url": {}, "pii": {}, "secrets": {}},
        "nsfw": {"sfw": 0.81, "nsfw": 0.11},
        "toxicity": {"threat": 0.00012, "toxicity": 0.00061, "insult": 0.00017},
        "injection_attack": _SAFE,
    }
    summary = {
        "keyword_detected": 0,
        "policy_violation": 0,
        "bias": 0,
        "pii": 0,
        "nsfw": 0,
        "toxicity": {},
        "injection_attack": 0,
    }
    return {"output_guardrails": {"details": details, "summary": summary}}


def output_block(text: str) -> ErrorReply:
    """The block of a reply by the output guardrails (``Deployment.block_output``)."""
    details = {
        "policy_violation": {
            "violating_policy": "Emulated output policy",
            "explanation": "The deployment blocks every output (block_output is set).",
        },
        "keyword_detector": {"detected_counts": {}, "redacted_text": text, "detected_keywords": {}},
    }
    summary = {"policy_violation": 1, "keyword_detected": 0, "most_unsafe_content": text}
    report = {"output_guardrails": {"details": details, "summary": summary}}
    return _block("Response blocked by output guardrails: policy_violation", report)


def _block(message: str, detections: dict[str, Any]) -> ErrorReply:
    body = error_body(message, type="guardrails_violation", code="policy_violation")
    body["enkrypt_policy_detections"] = detections
    return ErrorReply(BLOCK_STATUS, body)


def _find_injection(text: str, patterns: Sequence[str]) -> str | None:
    for pattern in patterns:
        match = re.search(pattern, text, re.IGNORECASE)
        if match:
            return match.group(0)
    return None


def _redact(text: str, counts: dict[str, int]) -> str:
    for keyword in counts:
        text = re.sub(re.escape(keyword), "*" * len(keyword), text, flags=re.IGNORECASE)
    return text

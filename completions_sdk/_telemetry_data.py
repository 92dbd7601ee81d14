"""What a call's telemetry says, as plain data: names and attribute values, no OpenTelemetry.

The names follow the OpenTelemetry GenAI semantic conventions (status Development: the
client span, ``gen_ai.client.*`` metrics, the draft guardrail conventions); what they have
no name for lives under ``enkrypt_ai.*``, the namespace that ``gen_ai.provider.name`` =
``enkrypt_ai`` announces (docs/observability.md lists every name). Nothing here reads the
API key: only the request body's model and parameters, the deployment and tags headers,
the URL's host and port, and what the proxy sent back. Prompt and completion text are
built only when content capture is on (``content_attributes``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from ._detections import GuardrailReport, PolicyDetections
from ._exceptions import APIStatusError, GuardrailViolation
from ._reply_base import ProxyBody
from ._request_base import RequestBase

__all__ = [
    "CAPTURE_CONTENT_ENV",
    "DURATION_BUCKETS",
    "PROVIDER",
    "TOKEN_BUCKETS",
    "AttributeValue",
    "base_attributes",
    "content_attributes",
    "error_type",
    "guardrail_events",
    "output_messages",
    "request_attributes",
]

AttributeValue = str | bool | int | float | tuple[str, ...]
Attributes = dict[str, AttributeValue]

PROVIDER = "enkrypt_ai"
"""``gen_ai.provider.name``: the SDK talks to Enkrypt AI's proxy, which relays a deployment
to an upstream model the client cannot see (the conventions: "the instrumentation's best
knowledge"); it also tells a backend that ``enkrypt_ai.*`` attributes come with it."""
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
DURATION_BUCKETS: tuple[float, ...] = tuple(0.01 * 2**power for power in range(14))
"""``gen_ai.client.operation.duration`` (and time to first chunk): the conventions' bounds,
0.01, 0.02, 0.04, ... 81.92 s."""
TOKEN_BUCKETS = tuple(4**power for power in range(14))
"""``gen_ai.client.token.usage``: 1, 4, 16, ... 67108864, the conventions' bounds."""

# Request body fields and their conventional names (recorded only when set).
_REQUEST_FIELDS = (
    ("max_tokens", "gen_ai.request.max_tokens"),
    ("max_completion_tokens", "gen_ai.request.max_tokens"),
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("seed", "gen_ai.request.seed"),
    ("n", "gen_ai.request.choice.count"),
    ("frequency_penalty", "gen_ai.request.frequency_penalty"),
    ("presence_penalty", "gen_ai.request.presence_penalty"),
)
# The draft guardrail conventions' one score per detector, where the proxy reports one.
_RISK_SCORES = {"injection_attack": "attack", "nsfw": "nsfw"}


def base_attributes(operation: str, request: RequestBase, url: httpx.URL) -> Attributes:
    """The attributes known before sending, that samplers and metrics see."""
    port = url.port or (443 if url.scheme == "https" else 80)
    return {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": PROVIDER,
        "gen_ai.request.model": request.model,
        "server.address": url.host,
        "server.port": port,
    }


def request_attributes(request: RequestBase, headers: Mapping[str, str]) -> Attributes:
    """The parameters that were set, the deployment and the tags (never a credential)."""
    found: Attributes = {}
    for field, name in _REQUEST_FIELDS:
        value = getattr(request, field, None)
        if value is not None:
            found[name] = value
    stop = request.stop
    if stop is not None:
        found["gen_ai.request.stop_sequences"] = (stop,) if isinstance(stop, str) else tuple(stop)
    for header, value in headers.items():
        lowered = header.lower()
        if lowered == "x-enkrypt-deployment":
            found["enkrypt_ai.deployment"] = value
        elif lowered == "x-enkrypt-tags":
            found["enkrypt_ai.tags"] = tuple(value.split(","))
    return found


def error_type(error: BaseException) -> str:
    """A low-cardinality ``error.type``: the status code of an error reply, else the class.

    A guardrail block keeps its class (``GuardrailViolation``): its status is undocumented
    and says less than the class does. Never a message.
    """
    if isinstance(error, APIStatusError) and not isinstance(error, GuardrailViolation):
        return str(error.status_code)
    return type(error).__qualname__


def guardrail_events(
    detections: PolicyDetections, *, blocked: bool
) -> list[tuple[str, Attributes]]:
    """Span events for what each guardrail pass found, with the proxy's own values.

    A detector the proxy's summary counts as having found something is a
    ``gen_ai.guardrail.security.finding`` of its own (the draft conventions); the
    detectors of a pass that found nothing share one ``enkrypt_ai.guardrail.check``, their
    values keyed ``enkrypt_ai.guardrail.<detector>.<name>`` (a clean reply costs one
    event, not one per detector). No verdict is made up: ``gen_ai.guardrail.action.type``
    is ``block`` only on the findings of a reply the proxy blocked. Texts the detectors
    return (redactions, explanations, keywords, the PII found) are user content and never
    recorded; numbers and flags are.
    """
    events: list[tuple[str, Attributes]] = []
    for stage, report in (
        ("input", detections.input_guardrails),
        ("output", detections.output_guardrails),
    ):
        if report is not None:
            events.extend(_report_events(stage, report, blocked=blocked))
    return events


def _report_events(
    stage: str, report: GuardrailReport, *, blocked: bool
) -> list[tuple[str, Attributes]]:
    details, summary = report.details, report.summary
    parts = {
        name: getattr(details, name)
        for name in (details.model_fields_set if details is not None else ())
        if getattr(details, name) is not None
    }
    counts: dict[str, int] = {}
    for key in summary.model_fields_set if summary is not None else ():
        count = _count(summary, key)
        if count is not None:
            counts[_detector_of(key)] = count
    target: Attributes = {
        "gen_ai.guardrail.target.type": stage,
        "gen_ai.guardrail.target.subtype": "llm",
    }
    events: list[tuple[str, Attributes]] = []
    checked: Attributes = {}
    for name in sorted({*parts, *counts}):
        count, values = counts.get(name), _values(parts.get(name))
        if count:
            events.append(
                (
                    "gen_ai.guardrail.security.finding",
                    _finding(name, count, values, parts.get(name), blocked=blocked) | target,
                )
            )
            continue
        if count is not None:
            checked[f"enkrypt_ai.guardrail.{name}.count"] = count
        checked.update(
            {f"enkrypt_ai.guardrail.{name}.{key}": value for key, value in values.items()}
        )
    if checked or not events:
        detectors = tuple(sorted({*parts, *counts} - {n for n in counts if counts[n]}))
        events.insert(
            0,
            (
                "enkrypt_ai.guardrail.check",
                target | {"enkrypt_ai.guardrail.detectors": detectors} | checked,
            ),
        )
    return events


def _finding(name: str, count: int, values: Attributes, part: Any, *, blocked: bool) -> Attributes:
    attributes: Attributes = {
        "gen_ai.guardrail.security.policy.rule.id": name,
        "gen_ai.guardrail.security.risk.category": name,
        "enkrypt_ai.guardrail.count": count,
    }
    attributes.update({f"enkrypt_ai.guardrail.{key}": value for key, value in values.items()})
    score = values.get(_RISK_SCORES.get(name, ""))
    if isinstance(score, float):
        attributes["gen_ai.guardrail.security.risk.score"] = score
    policy = getattr(part, "violating_policy", None)
    if isinstance(policy, str):
        attributes["gen_ai.guardrail.security.policy.id"] = policy
    if blocked:
        attributes["gen_ai.guardrail.action.type"] = "block"
    return attributes


def _count(summary: Any, name: str) -> int | None:
    value = getattr(summary, name, None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# The summary says ``keyword_detected`` where the details say ``keyword_detector``.
def _detector_of(summary_key: str) -> str:
    return "keyword_detector" if summary_key == "keyword_detected" else summary_key


def _values(part: Any) -> Attributes:
    """A detector's numbers and flags, as its typed model read them (scores sent as
    strings are floats by then); strings, lists and maps are left out: redactions,
    explanations, keywords and the PII found are the user's content."""
    items = part.model_dump() if hasattr(part, "model_dump") else part
    if not isinstance(items, dict):
        return {}
    return {key: value for key, value in items.items() if isinstance(value, bool | int | float)}


def content_attributes(request: RequestBase) -> Attributes:
    """``gen_ai.input.messages`` (JSON, the conventions' message parts), capture on only."""
    messages = getattr(request, "messages", None)
    if messages is not None:
        return {"gen_ai.input.messages": json.dumps([_message(m) for m in messages])}
    prompt = getattr(request, "prompt", None)
    prompts = (
        prompt if isinstance(prompt, list) and all(isinstance(p, str) for p in prompt) else [prompt]
    )
    parts = [{"role": "user", "parts": [{"type": "text", "content": p}]} for p in prompts]
    return {"gen_ai.input.messages": json.dumps(parts, default=str)}


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    parts: list[dict[str, Any]] = []
    if isinstance(content, str):
        parts.append({"type": "text", "content": content})
    elif isinstance(content, list):
        parts.extend(
            {"type": "text", "content": part.get("text")}
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        )
    for call in message.get("tool_calls") or ():
        function = call.get("function", {})
        parts.append(
            {
                "type": "tool_call",
                "id": call.get("id"),
                "name": function.get("name"),
                "arguments": function.get("arguments"),
            }
        )
    if message.get("role") == "tool":
        parts = [
            {"type": "tool_call_response", "id": message.get("tool_call_id"), "response": content}
        ]
    return {"role": message.get("role"), "parts": parts}


def output_messages(texts: Mapping[int, str], reasons: Mapping[int, str]) -> Attributes:
    """``gen_ai.output.messages`` from each choice's text (capture on only)."""
    messages = [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": text}],
            "finish_reason": reasons.get(index, ""),
        }
        for index, text in sorted(texts.items())
    ]
    return {"gen_ai.output.messages": json.dumps(messages)}


def reply_texts(reply: ProxyBody) -> dict[int, str]:
    """Each choice's text, by index (a chat choice's message content)."""
    texts: dict[int, str] = {}
    for choice in getattr(reply, "choices", ()):
        message = getattr(choice, "message", None)
        text = getattr(choice, "text", None) if message is None else message.content
        texts[choice.index] = text or ""
    return texts

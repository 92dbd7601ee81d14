"""How replies show themselves: a short ``repr`` and an HTML view for notebooks."""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._detections import PolicyDetections
    from ._reply_base import ProxyBody

__all__ = ["detections_html", "reply_html", "reply_repr_args"]

TEXT_PREVIEW = 80


def _preview(text: str) -> str:
    return text if len(text) <= TEXT_PREVIEW else text[: TEXT_PREVIEW - 3] + "..."


def reply_repr_args(reply: ProxyBody) -> Iterator[tuple[str, Any]]:
    """The few fields a reply's ``repr`` shows: ids, text preview, finish, usage, findings."""
    for name in ("id", "model"):
        value = getattr(reply, name)
        if value is not None:
            yield name, value
    yield "text", _preview(reply.text)
    choices = getattr(reply, "choices", [])
    if len(choices) > 1:
        yield "choices", len(choices)
    finish = next((c.finish_reason for c in choices if c.index == 0), None)
    if finish is not None:
        yield "finish_reason", finish
    if reply.usage is not None:
        yield "usage", reply.usage
    if reply.policy_detections is not None:
        yield "flagged", reply.policy_detections.flagged


def detections_html(detections: PolicyDetections) -> str:
    """A table of every detector's summary count, by guardrail stage."""
    rows = []
    for stage, report in (
        ("input", detections.input_guardrails),
        ("output", detections.output_guardrails),
    ):
        if report is None or report.summary is None:
            continue
        counts = report.summary.model_dump(exclude_none=True)
        for detector, count in counts.items():
            flag = "&#9888;" if isinstance(count, int) and count else ""
            rows.append(
                f"<tr><td>{stage}</td><td>{html.escape(detector)}</td>"
                f"<td>{html.escape(str(count))}</td><td>{flag}</td></tr>"
            )
    if not rows:
        return "<p><em>No guardrail findings reported.</em></p>"
    head = "<tr><th>stage</th><th>detector</th><th>count</th><th></th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def reply_html(reply: ProxyBody) -> str:
    """The reply's text, usage and guardrail findings as HTML."""
    parts = [
        f"<p><strong>{html.escape(type(reply).__name__)}</strong> "
        f"<code>{html.escape(reply.model or '')}</code></p>",
        f"<pre style='white-space: pre-wrap'>{html.escape(reply.text)}</pre>",
    ]
    if reply.usage is not None:
        parts.append(
            f"<p>tokens: {reply.usage.prompt_tokens} prompt + "
            f"{reply.usage.completion_tokens} completion = {reply.usage.total_tokens}</p>"
        )
    if reply.policy_detections is not None:
        parts.append(detections_html(reply.policy_detections))
    return "".join(parts)

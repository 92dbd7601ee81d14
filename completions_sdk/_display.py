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
    """A table of every detector's summary count, by guardrail stage.

    What else a summary carries (``most_unsafe_content``, a text, and the like) is not a
    count: it goes in a second table, so the count column holds counts only.
    """
    counts, others = [], []
    for stage, report in (
        ("input", detections.input_guardrails),
        ("output", detections.output_guardrails),
    ):
        if report is None or report.summary is None:
            continue
        for name, value in report.summary.model_dump(exclude_none=True).items():
            cells = f"<td>{stage}</td><td>{html.escape(name)}</td>"
            if isinstance(value, int) and not isinstance(value, bool):
                flag = "&#9888;" if value else ""
                counts.append(f"<tr>{cells}<td>{value}</td><td>{flag}</td></tr>")
            else:
                others.append(f"<tr>{cells}<td>{html.escape(str(value))}</td></tr>")
    if not counts and not others:
        return "<p><em>No guardrail findings reported.</em></p>"
    page = ""
    if counts:
        head = "<tr><th>stage</th><th>detector</th><th>count</th><th></th></tr>"
        page += f"<table>{head}{''.join(counts)}</table>"
    if others:
        head = "<tr><th>stage</th><th>also reported</th><th>value</th></tr>"
        page += f"<table>{head}{''.join(others)}</table>"
    return page


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

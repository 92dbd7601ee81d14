"""A call's record: the no-op ``OFF`` one, and the live one behind a span and instruments.

A live record is a context manager around a call's attempts (its span is current there,
and the retry layer reports each retry to it through ``note_retry``); a whole reply ends
it on the way out, a stream's chunks end it from ``watch`` when the stream ends, breaks
or is closed. Nothing here imports OpenTelemetry: the signals it is given carry the API.
"""

from __future__ import annotations

import contextvars
import os
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ._exceptions import GuardrailViolation
from ._telemetry_data import (
    CAPTURE_CONTENT_ENV,
    Attributes,
    content_attributes,
    error_type,
    guardrail_events,
    output_messages,
    reply_texts,
    request_attributes,
)

if TYPE_CHECKING:
    from ._assembly import StreamAssembler
    from ._core import PreparedCall
    from ._reply_base import ProxyBody

__all__ = ["OFF", "CallRecord", "LiveRecord", "note_retry"]

BodyT = TypeVar("BodyT", bound="ProxyBody")

_ACTIVE: contextvars.ContextVar[LiveRecord | None] = contextvars.ContextVar(
    "completions_sdk_telemetry", default=None
)
"""The live record of the call whose attempts run now (for ``note_retry``)."""


def note_retry(attempt: int, error: BaseException | None, wait: float) -> None:
    """Tell the running call's span about a retry (the retry layer calls this)."""
    record = _ACTIVE.get()
    if record is not None:
        record.retry(attempt, error, wait)


class CallRecord:
    """What a call tells its telemetry; this base (``OFF``) records nothing."""

    __slots__ = ()

    def __enter__(self) -> CallRecord:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    def reply(self, reply: BodyT) -> BodyT:
        """Note a whole reply; returns it."""
        return reply

    def chunk(self, chunk: ProxyBody) -> None:
        """Note a stream's chunk as it passes."""

    def stream_ended(
        self, assembler: StreamAssembler[Any, Any], error: BaseException | None
    ) -> None:
        """The stream ended (read to its end, closed, or broken by ``error``): end the span."""


OFF = CallRecord()


class LiveRecord(CallRecord):
    """One call's span (``None`` when only metrics record) and measurements."""

    __slots__ = (
        "_active",
        "_base",
        "_body",
        "_capture",
        "_context",
        "_detections",
        "_ended",
        "_first_chunk",
        "_metering",
        "_reasons",
        "_signals",
        "_span",
        "_start",
        "_stream",
        "_texts",
        "_usage",
    )

    def __init__(
        self,
        signals: Any,
        span: Any,
        base: Attributes,
        call: PreparedCall[Any, Any],
        *,
        metering: bool,
    ) -> None:
        self._signals, self._span, self._base, self._metering = signals, span, base, metering
        self._start = time.perf_counter()
        self._stream = call.headers.stream
        self._ended = False
        self._active: contextvars.Token[LiveRecord | None] | None = None
        self._context: object = None
        self._body: Any = None  # the first reply or chunk: the response id and model
        self._usage: Any = None
        self._detections: Any = None
        self._reasons: dict[int, str] = {}
        self._first_chunk: float | None = None
        self._texts: dict[int, str] | None = None
        self._capture = span is not None and (
            os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() == "true"
        )
        if span is not None:
            span.set_attributes(request_attributes(call.request, call.headers.values))
            if self._capture:
                span.set_attributes(content_attributes(call.request))

    def __enter__(self) -> LiveRecord:
        if self._span is not None:  # current while the attempts run: their spans nest in it
            context = self._signals.trace.set_span_in_context(self._span)
            self._context = self._signals.context.attach(context)
        self._active = _ACTIVE.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._active is not None:
            _ACTIVE.reset(self._active)
            self._active = None
        if self._context is not None:
            self._signals.context.detach(self._context)
            self._context = None
        if exc is not None:
            self.end(exc)
        elif not self._stream:  # a stream's span goes on until its chunks end
            self.end(None)

    def reply(self, reply: BodyT) -> BodyT:
        self._see(reply)
        if self._capture:
            self._texts = reply_texts(reply)
        return reply

    def _see(self, body: ProxyBody) -> None:
        if self._body is None:
            self._body = body
        for choice in getattr(body, "choices", ()):
            if choice.finish_reason is not None:
                self._reasons[choice.index] = choice.finish_reason
        if body.usage is not None:
            self._usage = body.usage
        if body.policy_detections is not None:
            self._detections = body.policy_detections

    def chunk(self, chunk: ProxyBody) -> None:
        if self._first_chunk is None:
            self._first_chunk = time.perf_counter() - self._start
        self._see(chunk)

    def stream_ended(
        self, assembler: StreamAssembler[Any, Any], error: BaseException | None
    ) -> None:
        if self._capture:
            self._texts = assembler.partial_texts
        self.end(error)

    def retry(self, attempt: int, error: BaseException | None, wait: float) -> None:
        """A retry as a span event: the attempt that failed, why, and the wait before the next."""
        if self._span is not None:
            attributes: Attributes = {
                "enkrypt_ai.retry.attempt": attempt,
                "enkrypt_ai.retry.wait": float(wait),
            }
            if error is not None:
                attributes["error.type"] = error_type(error)
            self._span.add_event("enkrypt_ai.retry", attributes)

    def end(self, error: BaseException | None) -> None:
        """End the span and record the metrics, once."""
        if self._ended:
            return
        self._ended = True
        elapsed = time.perf_counter() - self._start
        failure = None if error is None else error_type(error)
        if self._span is not None:
            self._end_span(error, failure)
        if self._metering:
            self._measure(elapsed, failure)

    def _end_span(self, error: BaseException | None, failure: str | None) -> None:
        span, body, usage = self._span, self._body, self._usage
        found: Attributes = {}
        if body is not None and body.id is not None:
            found["gen_ai.response.id"] = body.id
        if body is not None and body.model is not None:
            found["gen_ai.response.model"] = body.model
        if self._reasons:
            found["gen_ai.response.finish_reasons"] = tuple(
                self._reasons[index] for index in sorted(self._reasons)
            )
        if usage is not None and usage.prompt_tokens is not None:
            found["gen_ai.usage.input_tokens"] = usage.prompt_tokens
        if usage is not None and usage.completion_tokens is not None:
            found["gen_ai.usage.output_tokens"] = usage.completion_tokens
        if self._first_chunk is not None:
            found["gen_ai.response.time_to_first_chunk"] = self._first_chunk
        if self._texts is not None:
            found.update(output_messages(self._texts, self._reasons))
        if self._detections is not None:
            for name, attributes in guardrail_events(self._detections, blocked=False):
                span.add_event(name, attributes)
        if isinstance(error, GuardrailViolation):
            for name, attributes in guardrail_events(error.detections, blocked=True):
                span.add_event(name, attributes)
        if failure is not None:
            found["error.type"] = failure
            # No description: an error's message may quote the request.
            span.set_status(self._signals.trace.Status(self._signals.trace.StatusCode.ERROR))
        span.set_attributes(found)
        span.end()

    def _measure(self, elapsed: float, failure: str | None) -> None:
        signals, attributes = self._signals, dict(self._base)
        model = getattr(self._body, "model", None)
        if model is not None:
            attributes["gen_ai.response.model"] = model
        if self._first_chunk is not None:
            signals.first_chunk.record(self._first_chunk, attributes)
        usage = self._usage
        if usage is not None:
            for kind, count in (
                ("input", usage.prompt_tokens),
                ("output", usage.completion_tokens),
            ):
                if count is not None:
                    signals.tokens.record(count, {**attributes, "gen_ai.token.type": kind})
        if failure is not None:
            attributes["error.type"] = failure
        signals.duration.record(elapsed, attributes)

"""OpenTelemetry for each logical call, when ``opentelemetry-api`` can be imported.

``import completions_sdk`` never imports OpenTelemetry: a client's first call tries, once
per process, and looks up its tracer and meter (the providers given to the client, else
the global ones). Each call then asks ``Telemetry.call`` for a record: the shared ``OFF``
one, which does nothing, unless a span would record or a meter provider is set. With the
API's default providers a call costs a clock read and builds nothing
(docs/observability.md has the measured cost); ``_telemetry_record`` does the recording.
"""

from __future__ import annotations

import math
import time
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ._telemetry_data import DURATION_BUCKETS, TOKEN_BUCKETS, base_attributes
from ._telemetry_record import OFF, CallRecord, LiveRecord
from ._version import __version__

if TYPE_CHECKING:
    from ._core import PreparedCall

__all__ = ["Telemetry"]

_OPERATIONS = {"/ai-proxy/completions": "text_completion", "/ai-proxy/chat/completions": "chat"}
_Api = tuple[ModuleType, ModuleType, ModuleType]
_api: list[_Api | None] = []  # empty: not tried yet
RECHECK_SECONDS = 1.0
"""How soon a global provider set after a client's first call is seen."""


def _import_api() -> _Api | None:
    if not _api:  # one import attempt per process
        try:
            from opentelemetry import context, metrics, trace
        except ImportError:
            _api.append(None)
        else:
            _api.append((trace, metrics, context))
    return _api[0]


class Telemetry:
    """A client's tracer and meter, looked up on its first call.

    The providers are not pickled with the client: an unpickled client (in a worker
    process) records through the global providers of the process it is in.
    """

    __slots__ = ("_meter_provider", "_signals", "_tracer_provider")

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._signals: _Signals | None = None

    def call(self, call: PreparedCall[Any, Any]) -> CallRecord:
        """The record of one logical call (``OFF`` when nothing would be recorded)."""
        signals = self._signals
        if signals is None:
            api = _import_api()
            if api is None:
                return OFF
            signals = self._signals = _Signals(api, self._tracer_provider, self._meter_provider)
        return signals.record(call)


class _Signals:
    """One client's tracer and instruments, and whether each one is live now."""

    def __init__(
        self,
        api: tuple[ModuleType, ModuleType, ModuleType],
        tracer_provider: Any,
        meter_provider: Any,
    ) -> None:
        self.trace, self._metrics, self.context = api
        self._own_tracing = tracer_provider is not None
        self._own_metering = meter_provider is not None
        # The global providers are the API's proxies until one is set, and then delegate
        # to it: looked up now, they still record through a provider set later.
        tracer_provider = tracer_provider or self.trace.get_tracer_provider()
        meter_provider = meter_provider or self._metrics.get_meter_provider()
        self._tracing = not isinstance(tracer_provider, self.trace.NoOpTracerProvider)
        self._metering = not isinstance(meter_provider, self._metrics.NoOpMeterProvider)
        self._next_check = 0.0
        self._now = (False, False)
        self.tracer = tracer_provider.get_tracer("completions_sdk", __version__)
        meter = meter_provider.get_meter("completions_sdk", __version__)
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self.first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk of a streamed reply.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )

    def _live(self) -> tuple[bool, bool]:
        """Whether spans and metrics record now: the global providers are looked at once
        a second at most until both are set (the API's lookup reads ``os.environ``, which
        costs microseconds), and never again after."""
        now = time.monotonic()
        if now >= self._next_check:
            self._now = (self._live_tracing(), self._live_metering())
            settled = all(self._now) or not (self._tracing or self._metering)
            self._next_check = math.inf if settled else now + RECHECK_SECONDS
        return self._now

    def _live_tracing(self) -> bool:
        if not self._tracing or self._own_tracing:
            return self._tracing
        provider = self.trace.get_tracer_provider()
        unset = self.trace.ProxyTracerProvider | self.trace.NoOpTracerProvider
        return not isinstance(provider, unset)

    def _live_metering(self) -> bool:
        if not self._metering or self._own_metering:
            return self._metering
        provider = self._metrics.get_meter_provider()
        # The API has no public name for its proxy ("no global provider yet").
        return not isinstance(provider, self._metrics.NoOpMeterProvider) and (
            type(provider).__name__ != "_ProxyMeterProvider"
        )

    def record(self, call: PreparedCall[Any, Any]) -> CallRecord:
        """A live record for ``call``, or ``OFF``."""
        tracing, metering = self._live()
        if not (tracing or metering):
            return OFF
        operation = _OPERATIONS.get(call.endpoint.path, call.endpoint.method)
        base = base_attributes(operation, call.request, call.url)
        span = None
        if tracing:
            span = self.tracer.start_span(
                f"{operation} {call.request.model}",
                kind=self.trace.SpanKind.CLIENT,
                attributes=base,
            )
            if not span.is_recording():  # sampled out: nothing more is built for it
                span = None
        if span is None and not metering:
            return OFF
        return LiveRecord(self, span, base, call, metering=metering)

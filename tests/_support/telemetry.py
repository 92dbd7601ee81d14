"""In-memory OpenTelemetry providers for the telemetry tests, and what a run recorded.

Each ``Recorded`` has its own ``TracerProvider`` and ``MeterProvider`` (given to a client,
never set globally, so tests stay independent); ``strings()`` flattens every span name,
attribute, event and metric attribute of a run, for the "no key, no content" scans.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

__all__ = ["Recorded"]


@dataclass
class Recorded:
    """Providers that keep every span and metric point in memory."""

    exporter: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    reader: InMemoryMetricReader = field(default_factory=InMemoryMetricReader)

    def __post_init__(self) -> None:
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def providers(self) -> dict[str, Any]:
        """Client arguments that record here."""
        return {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider}

    @property
    def spans(self) -> list[ReadableSpan]:
        """The finished spans, oldest first."""
        return list(self.exporter.get_finished_spans())

    def span(self) -> ReadableSpan:
        """The one finished span."""
        spans = self.spans
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def points(self, name: str) -> list[Any]:
        """The data points of metric ``name``."""
        data = self.reader.get_metrics_data()
        return [
            point
            for resource in (data.resource_metrics if data else [])
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]

    def metric_attributes(self) -> list[dict[str, Any]]:
        """The attributes of every metric point."""
        data = self.reader.get_metrics_data()
        return [
            dict(point.attributes or {})
            for resource in (data.resource_metrics if data else [])
            for scope in resource.scope_metrics
            for metric in scope.metrics
            for point in metric.data.data_points
        ]

    def strings(self) -> str:
        """Everything recorded, as one string: names, keys and values of spans, events, metrics."""
        parts: list[str] = []
        for span in self.spans:
            parts += [span.name, repr(dict(span.attributes or {})), repr(span.status.description)]
            for event in span.events:
                parts += [event.name, repr(dict(event.attributes or {}))]
        parts += [repr(attributes) for attributes in self.metric_attributes()]
        return "\n".join(parts)

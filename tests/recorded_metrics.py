"""The app's metrics as the tests read them: the process's meter provider with an in-memory reader (set
once per process, as the app sets its own at start-up), and the points recorded since a test began."""

from __future__ import annotations

from collections import Counter
from functools import cache

from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint

Attributes = frozenset[tuple[str, object]]


@cache
def reader() -> InMemoryMetricReader:
    """The in-memory reader behind the process's meter provider (cumulative: each read is a total)."""
    memory = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[memory]))
    assert metrics.get_meter_provider().__class__ is MeterProvider, "another meter provider was set first"
    return memory


def totals() -> dict[str, Counter[Attributes]]:
    """Every metric's running total per attribute set: a counter's sum, a histogram's count."""
    found: dict[str, Counter[Attributes]] = {}
    data = reader().get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                into = found.setdefault(metric.name, Counter())
                for point in metric.data.data_points:
                    key = frozenset((point.attributes or {}).items())
                    if isinstance(point, NumberDataPoint):
                        into[key] += point.value
                    elif isinstance(point, HistogramDataPoint):
                        into[key] += point.count
    return found


class Recorded:
    """What was recorded since this object was made (the provider is shared by every test)."""

    def __init__(self) -> None:
        self._before = totals()

    def __call__(self, name: str) -> dict[Attributes, float]:
        """The metric's new points: {frozenset of attributes: how many}, only those that moved."""
        now = totals().get(name, Counter())
        before = self._before.get(name, Counter())
        return {key: now[key] - before[key] for key in now if now[key] != before[key]}

    def attribute_values(self) -> set[str]:
        """Every attribute value recorded since the start, of any metric (none may name a user)."""
        names = set(totals()) | set(self._before)
        return {str(value) for name in names for key in self(name) for _, value in key}

    def total(self, name: str, **attributes: object) -> float:
        """How many since the start among the points that have at least these attributes."""
        wanted = set(attributes.items())
        return sum(value for key, value in self(name).items() if wanted <= set(key))

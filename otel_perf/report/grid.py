"""The collection pass's shared state: the range's grid of instants, its look-backs, the
scrape interval found so far, and selectors scoped to ``--project`` and ``--selector``; with
the small helpers every step of the pass uses."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

from otel_perf import metrics as M
from otel_perf.redact import scrub
from otel_perf.report import promql
from otel_perf.report.prometheus import PrometheusClient, Sample, Series
from otel_perf.report.rawdata import TERM, TargetInfo
from otel_perf.report.timerange import TimeRange

GRID_BINS: Final = 60
#: Look-back at the range end for a target scraped until then (10 scrape intervals if
#: longer), and of the counter grids' reads at each instant.
SHORT_LOOK: Final = 900.0
_OTEL_PERF_LABELS: Final = frozenset(label for spec in M.SPECS for label in spec.labels) | {"le"}


class Grid:
    """One collection pass over one range and scope: ``GRID_BINS + 1`` instants from the
    range start (``zoom`` may move them onto the active period)."""

    def __init__(
        self,
        client: PrometheusClient,
        window: TimeRange,
        *,
        project: str | None,
        scope: Sequence[str],
        records: bool = True,
    ) -> None:
        self.client = client
        self.records = records  # the report's records may be read (counters.records_apply)
        self.window = window
        self.project = project
        self.scope = tuple(scope)
        bins = GRID_BINS
        self.step = max(round(window.seconds / bins, 3), 0.001)
        origin = round(window.start, 3)
        # Grid instants as Prometheus computes them (start + k * step, to the millisecond);
        # the last is the range end to within a millisecond.
        self.times = [round(origin + i * self.step, 3) for i in range(bins + 1)]
        self.interval = 0.0  # the scrape interval, estimated from `up`
        self.look = float(max(math.ceil(self.step), 1))  # one bin: process and `up` grids
        self.grid_look = min(self.look, SHORT_LOOK)  # the counter grids' look-back
        # The counter grid's bin edges: ``times``, with inner instants moved back onto the
        # record evaluations they were read from (``counters.counter_grid``).
        self.cuts = list(self.times)
        self.recorded_instants = 0  # inner instants read from the report's records

    def sel(
        self, metric: str, matchers: dict[str, str] | None = None, extra: Sequence[str] = ()
    ) -> str:
        """A selector of ``metric`` in the report's scope, plus ``extra`` matchers."""
        return promql.selector(metric, matchers, project=self.project, scope=(*self.scope, *extra))

    def range_query(self, expr: str, start: float | None = None, end: float | None = None,
                    step: float | None = None) -> list[Series]:  # fmt: skip
        """``expr`` at the grid's instants (or ``start``, ``start + step``, ... ``end``)."""
        step = self.step if step is None else step
        return self.client.query_range(
            expr,
            self.times[0] if start is None else start,
            (self.times[-1] if end is None else end) + step / 2,  # the last instant included
            step,
        )

    def target_scope(self) -> tuple[str, ...]:
        """The ``--selector`` matchers on target labels (process metrics and ``up`` carry
        no otel-perf labels)."""
        return tuple(m for m in self.scope if promql.matcher_label(m) not in _OTEL_PERF_LABELS)

    def describe_scope(self) -> str:
        """`` for project 'x' and selector {...}`` (empty without a scope), for messages."""
        parts = []
        if self.project is not None:
            parts.append(f"project {self.project!r}")
        if self.scope:
            parts.append("selector {" + ",".join(self.scope) + "}")
        return (" for " + " and ".join(parts)) if parts else ""

    def up_at_end(self, t: TargetInfo) -> bool:
        """The target was scraped until the range end (its last sample is recent)."""
        last = self.times[-1]
        return (
            t.scraped_at_end
            and abs(t.last_seen - last) < 1e-3
            and not (t.down_bins and t.down_bins[-1] >= last - 1e-3)
        )


def tagged(*parts: tuple[str, str]) -> str:
    """Several expressions in one query, each result tagged with its name (label ``TERM``)."""
    return " or ".join(f'label_replace({e}, "{TERM}", "{tag}", "", "")' for tag, e in parts)


def ms(lookback: float) -> int:
    """A look-back in milliseconds, rounded down, so a window capped at a restart never
    reaches the process before it."""
    return max(int(lookback * 1000), 1)


def dur(seconds: float) -> str:
    """A PromQL duration of whole seconds, at least one."""
    return f"{max(math.ceil(seconds), 1)}s"


def near(points: dict[float, float], at: float) -> bool:
    return any(abs(t - at) < 1e-3 for t in points)


#: ``scrub`` of label values, remembered: a pass reads the same few hundred values in
#: tens of thousands of rows (5 us each scrubbed afresh, a second per large report).
scrub_value: Final = lru_cache(maxsize=65536)(scrub)


def scrubbed(s: Sample) -> Sample:
    """The sample with its label values scrubbed of secrets."""
    return Sample({k: scrub_value(v) for k, v in s.labels.items()}, s.value)


def scrubbed_series(s: Series) -> Series:
    """The series with its label values scrubbed of secrets."""
    return Series({k: scrub_value(v) for k, v in s.labels.items()}, s.points)

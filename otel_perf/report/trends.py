"""Step 4 of the pass: the activity edges (first and last new generation, to a second)
and the trends (errors and operations per bin, export history) from the counter grid."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from typing import Final

from otel_perf.monitoring.promql import alternatives
from otel_perf.monitoring.records import REPORT_EVALUATED
from otel_perf.report import promql
from otel_perf.report.counters import GRID_BY, counter_sums, grid_key, record_selector
from otel_perf.report.facts import kind_of
from otel_perf.report.grid import GRID_BINS, SHORT_LOOK, Grid, dur, ms, scrub_value, scrubbed_series
from otel_perf.report.prometheus import Series
from otel_perf.report.rawdata import (
    DUR_COUNT,
    EXPORT_OPERATION,
    TERM,
    Extent,
    RawData,
    Row,
    TargetInfo,
)
from otel_perf.report.targets import REFINE_POINTS

ZOOM: Final = 4  # trends use their own grid when activity spans under a quarter of the range


def activity_extent(
    g: Grid, grid: list[Series], targets: list[TargetInfo], generations: bool
) -> Extent | None:
    """First and last new generation (``generations``) or operation of any kind in the
    range, to a second; ``None`` when nothing happened."""
    # Both searches (generations, any operation) send the same queries over all series
    # and keep their own here, so they share the steps they have in common (the client
    # sends a repeated range query once).
    keep = _is_generation if generations else _any
    series = [s for s in grid if keep(s)]
    bins = active_bins(series, g.cuts)
    if not bins:
        return None

    def raw(extra: tuple[str, ...] = ()) -> str:
        # {w}: each refinement step puts its own bin width here
        return counter_sums(g.sel(DUR_COUNT, extra=extra), "{w}")

    recorded = None
    if g.recorded_instants:
        recorded = (
            f"{counter_sums(record_selector(g), '{w}')}"
            f" or last_over_time({REPORT_EVALUATED}[{{w}}])"
        )
    # the two edges are independent chains of short queries: side by side
    edges = g.client.run_all(
        [partial(_refine_edge, g, raw, recorded, keep, series, g.cuts[i - 1], g.cuts[i],
                 first=first)
         for i, first in ((bins[0], True), (bins[-1], False))]
    )  # fmt: skip
    return Extent(edges[0], max(edges))


def _is_generation(s: Series) -> bool:
    return kind_of(s.labels.get("operation", "")) == "generation"


def _any(s: Series) -> bool:
    return True


#: One per-target sum's labels (``GRID_BY``, scrubbed) -> its value at some instant.
Values = dict[tuple[str, ...], float]


def _refine_edge(
    g: Grid,
    raw: Callable[[tuple[str, ...]], str],
    recorded: str | None,
    keep: Callable[[Series], bool],
    grid: list[Series],
    lo: float,
    hi: float,
    *,
    first: bool,
) -> float:
    """The scrape time, to a second, of the first (last) increase in ``(lo, hi]``, a bin
    of the counter ``grid``.

    With the report's records (``recorded``) the first steps read them instead of the
    raw series: the evaluation timestamps at each sub-instant bound the raw increase to
    one evaluation interval, and the record series that grew in it name the few raw
    series to search. Whatever the records cannot show (growth after the last
    evaluation) is looked for in all raw series, and a search that finds nothing where
    the records pointed starts again from all raw series over the whole bin."""
    at_lo = _values_at(grid, lo)
    if recorded is not None:
        spans = _recorded_spans(g, recorded, keep, at_lo, lo, hi, first=first)
        for a, b, extra, base in spans:
            edge = _refine_raw(g, raw(extra), keep, a, b, base, first=first)
            if edge is not None:
                return edge
    edge = _refine_raw(g, raw(()), keep, lo, hi, at_lo, first=first)
    return hi if edge is None else edge


def _refine_raw(
    g: Grid,
    expr: str,
    keep: Callable[[Series], bool],
    lo: float,
    hi: float,
    base: Values,
    *,
    first: bool,
) -> float | None:
    """``_refine_edge`` over the raw series, whose values at ``lo`` are ``base`` (a
    short look-back at ``lo`` may miss them); ``None`` when nothing grew in ``(lo, hi]``."""
    found = None
    while hi - lo > 1.0 or found is None:
        step = max(math.ceil((hi - lo) / REFINE_POINTS), 1)
        times = [lo + i * step for i in range(math.ceil((hi - lo) / step) + 1)]
        windowed = expr.replace("[{w}]", f"[{min(step, int(SHORT_LOOK))}s]")
        result = g.client.query_range(windowed, lo, times[-1] + step / 2, step)
        series = [_with_base(s, [times[0]], base) for s in result if keep(s)]
        bins = active_bins(series, times)
        if not bins:
            return found
        i = bins[0] if first else bins[-1]
        base = _values_at(series, times[i - 1])
        lo, hi = times[i - 1], times[i]
        found = hi
        if step <= 1:
            break
    return found


def _recorded_spans(
    g: Grid,
    recorded: str,
    keep: Callable[[Series], bool],
    at_lo: Values,
    lo: float,
    hi: float,
    *,
    first: bool,
) -> list[tuple[float, float, tuple[str, ...], Values]]:
    """Where the raw first (last) increase in ``(lo, hi]`` lies, from reads of the
    records at ``REFINE_POINTS`` sub-instants (narrowed until a span is one evaluation
    interval), most likely span first, each with the matchers of the raw series to
    search and their values at its start; empty when the records do not cover every
    sub-instant.

    ``at_lo`` are the grid's values at ``lo``: the raw counters' there. They stand in
    for the records at sub-instants whose evaluation lies before ``lo`` (an increase
    between the two belongs to the bin before)."""
    spans: list[tuple[float, float, tuple[str, ...], Values]] = []
    a, b = lo, hi
    extra: tuple[str, ...] = ()
    base = at_lo
    while True:
        step = max(math.ceil((b - a) / REFINE_POINTS), 1)
        times = [a + i * step for i in range(math.ceil((b - a) / step) + 1)]
        windowed = recorded.replace("[{w}]", f"[{ms(g.grid_look)}ms]")
        result = g.client.query_range(windowed, a, times[-1] + step / 2, step)
        stamps = [s for s in result if s.labels.get("__name__") == REPORT_EVALUATED]
        if len(stamps) != 1:  # not recorded here, or by more than one rule group
            break
        marks = {round(t, 3): v for t, v in stamps[0].points}
        evals = [marks.get(round(t, 3)) for t in times]
        if any(e is None for e in evals):
            break
        at = [float(e) for e in evals if e is not None]
        series = [s for s in result if "__name__" not in s.labels and keep(s)]
        if abs(a - lo) < 1e-3:  # sub-instants whose evaluation is not after lo
            before = [t for t, e in zip(times, at, strict=True) if e <= lo + 1e-3]
            at = [max(e, lo) for e in at]
            series = [_with_base(s, before, at_lo, replace=True) for s in series]
        if not spans and at[-1] < b - 1e-3:
            # raw growth after the last evaluation (before hi) is in no record
            spans.append((at[-1], b, (), _values_at(series, times[-1])))
        bins = active_bins(series, times)
        if not bins:
            break
        i = bins[0] if first else bins[-1]
        grew = [s for s in series if i in active_bins([s], times)]
        na, nb = max(at[i - 1], a), min(at[i], b)
        narrowed = (na, nb) != (a, b)
        a, b, extra, base = na, nb, _matching(grew), _values_at(series, times[i - 1])
        # sub-instants sharing an evaluation: the span lies between two consecutive
        # evaluations, as narrow as the records go
        if not narrowed or len(set(at)) < len(at):
            break
    if (a, b) != (lo, hi):
        spans.insert(0 if first else len(spans), (a, b, extra, base))
    # On whole seconds, as the raw search over a grid bin is: evaluations are not. The
    # second before a span holds no increase a search could take for the edge (its
    # sub-bin was quiet, or the edge sought is the last one and lies later).
    whole = [(max(math.floor(x), lo), min(math.ceil(y), hi), m, v) for x, y, m, v in spans]
    return [span for span in whole if span[1] > span[0] + 1e-3]


def _key(s: Series) -> tuple[str, ...]:
    return tuple(map(scrub_value, grid_key(s.labels)))


def _values_at(series: list[Series], at: float) -> Values:
    """Each series' last value at or before ``at``."""
    out: Values = {}
    for s in series:
        last = None
        for t, v in s.points:
            if t > at + 1e-3:
                break
            if v == v:
                last = v
        if last is not None:
            out[_key(s)] = last
    return out


def _with_base(s: Series, instants: list[float], base: Values, *, replace: bool = False) -> Series:
    """``s`` with its value from ``base`` at ``instants`` (where it has none there, or
    everywhere with ``replace``); unchanged when ``base`` does not hold it."""
    value = base.get(_key(s))
    if value is None and not replace:
        return s
    marks = {round(t, 3) for t in instants}
    have = {round(t, 3) for t, _ in s.points}
    keep = [(t, v) for t, v in s.points if not (replace and round(t, 3) in marks)]
    if value is not None:
        keep += [(t, value) for t in instants if replace or round(t, 3) not in have]
    return Series(s.labels, sorted(keep))


def _matching(series: list[Series]) -> tuple[str, ...]:
    """Matchers selecting (at least) the raw series summed into ``series``."""
    out = []
    for label in GRID_BY:
        values = sorted({s.labels.get(label, "") for s in series})
        out.append(f"{label}=~{promql.quote(alternatives([re.escape(v) for v in values]))}")
    return tuple(out)


def zoom(g: Grid, extent: Extent, grid_q: str, export_q: str) -> tuple[list[Series], list[Series]]:
    """Activity fills a small part of the range: the trends use a grid over the
    activity instead (one bin before it, so its first increase has a baseline)."""
    span = max(extent.seconds, g.interval, 1.0)
    rough = span / (GRID_BINS - 1)
    # the baseline instant's look-back window (one bin, at least a second) must end
    # before the first changed scrape, which lies within a second of extent.start
    pad = max(rough, 1.0) + 1.0
    origin = round(max(extent.start - pad, g.window.start), 3)
    step = max(round((extent.end - origin) / GRID_BINS, 3), 0.001)
    g.step = step
    g.times = [round(origin + i * step, 3) for i in range(GRID_BINS + 1)]
    g.cuts = list(g.times)  # the zoomed grid reads raw series at its own instants
    w_old, w_new = f"[{dur(g.grid_look)}]", f"[{dur(min(max(step, 1.0), SHORT_LOOK))}]"
    # the windows only need to cover one bin; at least a second (Prometheus's resolution)
    grid_z, export_z = grid_q.replace(w_old, w_new), export_q.replace(w_old, w_new)
    grid, exports = g.client.run_all(
        [lambda: g.range_query(grid_z), lambda: g.range_query(export_z)]
    )
    return [scrubbed_series(s) for s in grid], exports


def fill_trends(
    g: Grid,
    data: RawData,
    grid: list[Series],
    exports: list[Series],
    term_rows: dict[str, list[Row]],
    targets: list[TargetInfo],
) -> None:
    """Errors, operations and timeline exports per bin into ``data``, across restarts."""
    data.trend_step = g.step
    data.trend_times = g.times[1:]
    by = ("operation", "status")
    restarts = _restart_values(term_rows["duration_count"], targets, by)
    sums = _restart_values(term_rows["duration_sum"], targets, by)
    # the grid starts at the range start unless zoomed: the start reads are its baseline
    unzoomed = abs(g.times[0] - round(g.window.start, 3)) < 1e-3
    first_n = _read_values(term_rows["duration_count"], targets, by, "start")
    first_s = _read_values(term_rows["duration_sum"], targets, by, "start")
    last_n = _read_values(term_rows["duration_count"], targets, by, "end")
    last_s = _read_values(term_rows["duration_sum"], targets, by, "end")
    index = {t.key: t for t in targets}
    errors = [0.0] * GRID_BINS
    ops = [0.0] * GRID_BINS
    export_n = [0.0] * GRID_BINS
    export_s = [0.0] * GRID_BINS
    # every (target, group) the grid or the reads saw: a worker that lived between two
    # instants is only in the reads
    counts: dict[tuple[tuple[str, str], tuple[str, ...]], list[tuple[float, float]]] = {
        k: [] for k in (*restarts, *last_n)
    }
    for s in grid:
        key = (s.labels.get("job", ""), s.labels.get("instance", ""))
        counts[(key, (s.labels.get("operation", ""), s.labels.get("status", "")))] = s.points
    export: tuple[str, ...] = (EXPORT_OPERATION, "success")
    for (key, group), points in counts.items():
        inc = bin_increases(
            points, g.cuts, index.get(key), restarts.get((key, group), {}),
            first_n.get((key, group)) if unzoomed else None, last_n.get((key, group)),
        )  # fmt: skip
        for i, v in enumerate(inc):
            ops[i] += v
            if group[1] == "error":
                errors[i] += v
    # the export grid: count and seconds at the nominal instants
    for term, trend, ends, starts, before in (
        ("count", export_n, last_n, first_n, restarts),
        ("sum", export_s, last_s, first_s, sums),
    ):
        series: dict[tuple[str, str], list[tuple[float, float]]] = {
            k: [] for k, group in (*before, *ends) if group == export
        }
        for s in exports:
            if s.labels.get(TERM) == term:
                series[(s.labels.get("job", ""), s.labels.get("instance", ""))] = s.points
        for key, points in series.items():
            inc = bin_increases(
                points, g.times, index.get(key), before.get((key, export), {}),
                starts.get((key, export)) if unzoomed else None, ends.get((key, export)),
            )  # fmt: skip
            for i, v in enumerate(inc):
                trend[i] += v
    data.error_trend, data.operation_trend = errors, ops
    data.export_count_trend, data.export_sum_trend = export_n, export_s


def active_bins(series: list[Series], times: list[float]) -> list[int]:
    """Indexes ``i`` (1..n) of bins ``(times[i-1], times[i]]`` in which a counter grew."""
    active: set[int] = set()
    for s in series:
        points = dict((round(t, 3), v) for t, v in s.points)
        prev: float | None = None
        for i, at in enumerate(times):
            v = points.get(round(at, 3))
            if v is None or v != v:
                continue
            if i > 0 and ((prev is None and v > 0) or (prev is not None and v != prev)):
                active.add(i)
            prev = v
    return sorted(active)


def bin_increases(
    points: list[tuple[float, float]],
    times: list[float],
    target: TargetInfo | None,
    restart_values: dict[float, float],
    baseline: float | None = None,
    final: float | None = None,
) -> list[float]:
    """Per bin, how much a per-target sum grew, across the restarts of its target.

    ``baseline`` is its value at ``times[0]`` and ``final`` its last value in the range
    (the totals' start and end reads): a grid instant without a recent scrape has no
    value, so growth before a target stopped would otherwise be missed (it is put in the
    bin of the target's last scrape)."""
    values = {round(t, 3): v for t, v in points}
    out = [0.0] * (len(times) - 1)
    restarts = sorted(target.restarts) if target is not None and target.exact else []
    prev = values.get(round(times[0], 3))
    prev = None if prev is None or prev != prev else prev
    if prev is None:
        prev = baseline
    for i in range(1, len(times)):
        v = values.get(round(times[i], 3))
        inside = [r for r in restarts if times[i - 1] < r <= times[i]]
        if v is None or v != v:
            if inside:  # restarted, not yet scraped at the bin end
                out[i - 1] += sum(restart_values.get(r, 0.0) for r in inside) - (prev or 0.0)
                prev = 0.0
            continue
        if inside:
            grown = sum(restart_values.get(r, 0.0) for r in inside) - (prev or 0.0) + v
        elif prev is None:
            grown = v  # born inside the bin
        elif v >= prev:
            grown = v - prev
        else:  # dropped without a known restart: count from zero (an estimate)
            grown = v
        out[i - 1] += max(grown, 0.0)
        prev = v
    missed = 0.0 if final is None else final - (prev or 0.0)
    if target is not None and out and missed > 1e-9 * max(1.0, abs(final or 0.0)):
        seen = min(max(target.last_seen, times[1]), times[-1])
        out[next(i for i in range(1, len(times)) if times[i] >= seen - 1e-3) - 1] += missed
    return out


def _read_values(
    rows: list[Row], targets: list[TargetInfo], labels: tuple[str, ...], term: str
) -> dict[tuple[tuple[str, str], tuple[str, ...]], float]:
    """Per target and label group, the sum of its ``term`` reads (``start``, ``end``)."""
    tags = {f"{term}{i}": t.key for i, t in enumerate(targets)}
    out: dict[tuple[tuple[str, str], tuple[str, ...]], float] = defaultdict(float)
    for row in rows:
        key = tags.get(row.tag)
        if key is not None:
            out[(key, tuple(row.labels.get(k, "") for k in labels))] += row.value
    return out


def _restart_values(
    rows: list[Row], targets: list[TargetInfo], labels: tuple[str, ...]
) -> dict[tuple[tuple[str, str], tuple[str, ...]], dict[float, float]]:
    """Per target and label group, the last value before each restart."""
    out: dict[tuple[tuple[str, str], tuple[str, ...]], dict[float, float]] = defaultdict(
        lambda: defaultdict(float)
    )
    tags = {
        f"r{i}_{j}": (t.key, r) for i, t in enumerate(targets) for j, r in enumerate(t.restarts)
    }
    for row in rows:
        found = tags.get(row.tag)
        if found is not None:
            key, r = found
            out[(key, tuple(row.labels.get(k, "") for k in labels))][r] += row.value
    return out

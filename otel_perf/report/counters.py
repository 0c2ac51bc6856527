"""Step 1's counter grid: per target, the duration counter summed by ``operation`` and
``status`` at each of the grid's instants, read with instant queries (raw series: one
instant per query; the records: ``RECORD_INSTANTS`` per query).

Instant queries, not one range query: Prometheus 2.x decodes every stored sample between
a range query's start and end, whatever its step, so a grid over 90 days costs the whole
90 days of samples; an instant query decodes only the chunks around its instant. The cost
is series x instants, whatever the scrape interval or the range.

Where Prometheus has the report's records (``otel-perf-report.rules`` in the generated
recording rules) the inner instants read them: about a hundred series instead of every
(model, provider, project) of the counter. An evaluation writes the record and its own
timestamp together, so the grid knows the instant ``T`` its values are from (the last
evaluation before the nominal instant) and cuts its bin there: the values are the raw
counters' at ``T``, exact, with the bin edge moved back by at most one evaluation
interval. An instant without a recent evaluation, or whose evaluation is not after the
previous cut, reads the raw counters instead; so do the range's first and last instants
(the totals' start and end reads tie to them) and every report for one project or with a
``--selector`` on a label the record sums away.

A read less than one look-back after a target's restart is read again for that target
(``after_restarts``), looking back only to the restart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import partial
from typing import Final

from otel_perf.monitoring.records import REPORT_DROPS, REPORT_EVALUATED, REPORT_OPERATIONS
from otel_perf.report import promql
from otel_perf.report.grid import Grid, ms, scrubbed, scrubbed_series, tagged
from otel_perf.report.prometheus import Sample, Series
from otel_perf.report.rawdata import DUR_COUNT, TERM, TargetInfo

GRID_BY: Final = ("job", "instance", "operation", "status")
#: Inner instants read from the records per query.
RECORD_INSTANTS: Final = 8


def counter_sums(sel: str, window: str, at: float | None = None) -> str:
    """The per-target sums (``GRID_BY``) of the last values of ``sel`` in ``window`` (a
    PromQL duration, or a ``{w}`` placeholder) before ``at`` (the query's time: None)."""
    when = "" if at is None else f" @ {at:.3f}"
    return f"sum by ({', '.join(GRID_BY)}) (last_over_time({sel}[{window}]{when}))"


def grid_key(labels: dict[str, str]) -> tuple[str, ...]:
    """A grid series' identity: its ``GRID_BY`` label values."""
    return tuple(labels.get(k, "") for k in GRID_BY)


def records_apply(g: Grid) -> bool:
    """The report's records hold this report's scope: no project, no matcher on a label
    the record sums away (and ``--no-records`` was not given)."""
    if not g.records or g.project is not None:
        return False
    return not any(promql.matcher_label(m) in REPORT_DROPS for m in g.scope)


def record_selector(g: Grid, extra: Sequence[str] = ()) -> str:
    """The report's record in the report's scope, plus ``extra`` matchers."""
    matchers = (*g.scope, *extra)
    return REPORT_OPERATIONS + ("{" + ", ".join(matchers) + "}" if matchers else "")


def counter_grid(g: Grid) -> list[Series]:
    """The grid's series, one per (target, operation, status), with a point at each cut
    (``g.cuts``: ``g.times`` with the inner instants moved onto record evaluations)."""
    look = f"{ms(g.grid_look)}ms"
    times = g.times

    def raw(at: float) -> tuple[float, list[Sample]]:
        return at, g.client.query(counter_sums(g.sel(DUR_COUNT), look, at), at=at)

    def recorded(ats: list[float]) -> list[tuple[float | None, list[Sample]]]:
        # a few instants per query: each reads about a hundred record series, so the
        # blocks between them cost little, and the requests are fewer
        sel = record_selector(g)
        parts = []
        for k, at in enumerate(ats):
            parts.append((f"i{k}", counter_sums(sel, look, at)))
            parts.append((f"i{k}", f"last_over_time({REPORT_EVALUATED}[{look}] @ {at:.3f})"))
        rows = g.client.query(tagged(*parts), at=ats[-1])
        out = []
        for k, at in enumerate(ats):
            mine = [r for r in rows if r.labels.get(TERM) == f"i{k}"]
            stamps = {r.value for r in mine if r.labels.get("__name__") == REPORT_EVALUATED}
            grid_rows = [
                Sample({n: v for n, v in r.labels.items() if n != TERM}, r.value)
                for r in mine
                if "__name__" not in r.labels
            ]
            # one evaluation, at or before the instant, to the millisecond Prometheus keeps
            when = round(stamps.pop(), 3) if len(stamps) == 1 else None
            out.append(((when if when is not None and when <= at + 1e-3 else None), grid_rows))
        return out

    inner = times[1:-1]
    calls = [partial(raw, times[0]), partial(raw, times[-1])]
    use = bool(inner) and records_apply(g) and _records_in_range(g)
    if use:
        chunks = [inner[k : k + RECORD_INSTANTS] for k in range(0, len(inner), RECORD_INSTANTS)]
        first, last, *answers = g.client.run_all([*calls, *(partial(recorded, c) for c in chunks)])
        middle = [one for answer in answers for one in answer]
    else:
        first, last, *middle = g.client.run_all([*calls, *(partial(raw, at) for at in inner)])
    cuts: list[float] = [times[0]]
    reads: list[tuple[float, list[Sample]]] = [first]
    fallback: list[int] = []
    for i, (when, rows) in enumerate(middle, start=1):
        if when is None or when <= cuts[-1] + 1e-3:
            fallback.append(i)
            cuts.append(times[i])
            reads.append((times[i], []))
        else:
            cuts.append(when)
            reads.append((when, rows))
    again = g.client.run_all([partial(raw, times[i]) for i in fallback])
    for i, answer in zip(fallback, again, strict=True):
        reads[i] = answer
    cuts.append(times[-1])
    reads.append(last)
    g.cuts = cuts
    g.recorded_instants = len(inner) - len(fallback) if use else 0
    points: dict[tuple[str, ...], list[tuple[float, float]]] = defaultdict(list)
    for at, rows in reads:
        for row in rows:
            points[grid_key(row.labels)].append((at, row.value))
    return [
        scrubbed_series(Series(dict(zip(GRID_BY, key, strict=True)), p))
        for key, p in points.items()
    ]


def _records_in_range(g: Grid) -> bool:
    """The report's rules were evaluated at some time in the range (one cheap read of
    the evaluation timestamps; without them every instant reads raw series at once)."""
    span = ms(g.times[-1] - g.times[0] + g.grid_look)
    expr = f"max_over_time({REPORT_EVALUATED}[{span}ms] @ {g.times[-1]:.3f})"
    return bool(g.client.query(expr, at=g.times[-1]))


def after_restarts(g: Grid, grid: list[Series], targets: list[TargetInfo]) -> list[Series]:
    """``grid`` with each target's values re-read, from its new process alone, at every
    cut less than one look-back after one of its restarts.

    A read there with the whole look-back would also see the old process's last values
    (its series stop, and a stopped series stays visible for the look-back; a record
    keeps its labels across the restart), and the bin would count the old process's
    total twice: once from the read just before the restart, once from this one."""
    wanted: list[tuple[TargetInfo, float, float]] = []
    for t in targets:
        for cut in g.cuts:
            since = [cut - r for r in t.restarts if 0 <= cut - r < g.grid_look]
            if since:
                wanted.append((t, cut, min(since)))
    if not wanted:
        return grid

    def read(t: TargetInfo, cut: float, since: float) -> list[Sample]:
        sel = g.sel(DUR_COUNT, extra=t.matchers())
        return g.client.query(counter_sums(sel, f"{ms(since)}ms", cut), at=cut)

    answers = g.client.run_all([partial(read, *w) for w in wanted])
    points: dict[tuple[str, ...], list[tuple[float, float]]] = {
        grid_key(s.labels): list(s.points) for s in grid
    }
    for (t, cut, _), rows in zip(wanted, answers, strict=True):
        for key, series_points in points.items():
            if key[:2] == t.key:
                series_points[:] = [(at, v) for at, v in series_points if abs(at - cut) >= 1e-3]
        for row in map(scrubbed, rows):
            points.setdefault(grid_key(row.labels), []).append((cut, row.value))
    return [
        Series(dict(zip(GRID_BY, key, strict=True)), sorted(p)) for key, p in points.items() if p
    ]

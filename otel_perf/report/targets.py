"""Step 1 of the pass: the scrape targets, their restarts (process lifetimes) and health
(down, scrape gaps), from the one-bin grids of ``process_start_time_seconds`` and ``up``."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from functools import partial
from typing import Final

from otel_perf.monitoring.promql import alternatives
from otel_perf.report import promql
from otel_perf.report.grid import SHORT_LOOK, Grid, dur, ms, near, scrub_value, tagged
from otel_perf.report.prometheus import PrometheusError, Series
from otel_perf.report.rawdata import DUR_COUNT, PROCESS_START, TERM, TargetInfo
from otel_perf.report.timerange import duration_seconds

REFINE_POINTS: Final = 60


def find_targets(
    g: Grid,
    grid: list[Series],
    process: list[Series],
    ups: list[Series],
) -> list[TargetInfo]:
    """The targets with duration series in the range, their restarts, health and scrape
    interval (``g.interval``), from the counter grid and the one-bin process and up grids."""
    found: dict[tuple[str, str], TargetInfo] = {}
    for s in grid:
        key = (s.labels.get("job", ""), s.labels.get("instance", ""))
        if any(v == v for _, v in s.points):
            t = found.setdefault(key, TargetInfo(*key, exact=False))
            t.last_seen = max(t.last_seen, max(p for p, v in s.points if v == v))
            if s.points and abs(s.points[0][0] - g.window.start) < 1e-3:
                t.alive_at_start = True
    for key, at in _missed_targets(g, found, process, ups).items():
        t = found.setdefault(key, TargetInfo(*key, exact=False, last_seen=at[-1]))
        t.alive_at_start = abs(at[0] - g.window.start) < 1e-3
    by_fn: dict[tuple[str, str], dict[str, dict[float, float]]] = defaultdict(dict)
    for s in process:
        key = (s.labels.get("job", ""), s.labels.get("instance", ""))
        by_fn[key][s.labels.get(TERM, "")] = {round(a, 3): v for a, v in s.points}
    for key, t in found.items():
        fns = by_fn.get(key)
        if not fns or "last" not in fns:
            continue
        last = fns["last"]
        t.went_back = int(sum(fns.get("resets", {}).values()))
        t.exact = t.went_back == 0
        t.alive_at_start = near(last, g.window.start)
        t.start_time_at_start = last.get(round(g.times[0], 3))
        if last:
            t.last_seen = max(t.last_seen, max(last))
        if t.exact:
            t.restarts = _restarts(g, t, fns)
    for s in ups:
        key = (s.labels.get("job", ""), s.labels.get("instance", ""))
        seen = found.get(key)
        if seen is None:
            continue
        t = seen
        points = {round(a, 3): v for a, v in s.points}
        if s.labels.get(TERM) == "recent":
            t.scraped_at_end = round(g.times[-1], 3) in points
            t.scraped_at_start = round(g.times[0], 3) in points
        elif s.labels.get(TERM) == "min":
            t.down_bins = sorted(at for at, v in points.items() if v < 1)
        elif s.labels.get(TERM) == "count" and len(points) > 3:
            inner = [v for at, v in points.items() if g.times[1] < at < g.times[-1]]
            typical = sorted(inner)[len(inner) // 2] if inner else 0
            most = max(points.values(), default=0)
            if most:  # a full bin holds step / interval scrapes
                g.interval = max(g.interval, g.step / most)
            t.gap_bins = sorted(
                at for at, v in points.items()
                if g.times[1] < at < g.times[-1] and v < 0.9 * typical
            )  # fmt: skip
    return sorted(found.values(), key=lambda t: t.key)


def _missed_targets(
    g: Grid, found: dict[tuple[str, str], TargetInfo], process: list[Series], ups: list[Series]
) -> dict[tuple[str, str], list[float]]:
    """Targets the counter grid's short reads missed (a worker that lived a few hours
    inside one bin) but the one-bin process and ``up`` grids saw, that have duration
    series: target -> grid instants it was seen at. One query per last-seen instant, for
    just those targets (usually only targets of other exporters, which have none)."""
    seen: dict[tuple[str, str], set[float]] = defaultdict(set)
    for s in (*process, *ups):
        key = (scrub_value(s.labels.get("job", "")), scrub_value(s.labels.get("instance", "")))
        if key not in found and s.labels.get(TERM) != "recent":
            seen[key].update(a for a, v in s.points if v == v)
    by_instant: dict[float, set[tuple[str, str]]] = defaultdict(set)
    for key, at in seen.items():
        if at:
            by_instant[max(at)].add(key)

    def with_counters(at: float, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
        jobs = alternatives(sorted({re.escape(j) for j, _ in keys}))
        instances = alternatives(sorted({re.escape(i) for _, i in keys}))
        extra = (f"job=~{promql.quote(jobs)}", f"instance=~{promql.quote(instances)}")
        sel = g.sel(DUR_COUNT, extra=extra)
        expr = f"count by (job, instance) (last_over_time({sel}[{ms(g.look)}ms] @ {at:.3f}))"
        rows = g.client.query(expr, at=g.window.end)
        return keys & {(scrub_value(r.labels.get("job", "")),
                        scrub_value(r.labels.get("instance", ""))) for r in rows}  # fmt: skip

    answers = g.client.run_all([partial(with_counters, a, k) for a, k in by_instant.items()])
    return {key: sorted(seen[key]) for keys in answers for key in keys}


def _restarts(g: Grid, t: TargetInfo, fns: dict[str, dict[float, float]]) -> list[float]:
    """Times between the last sample of one process and the first of the next, for
    each process that began inside the range (to a second, or the new start time)."""
    return sorted(set(_changes_in(g, t, g.times, fns, refine=True)))


def _changes_in(
    g: Grid,
    t: TargetInfo,
    times: list[float],
    fns: dict[str, dict[float, float]],
    *,
    refine: bool,
    before: float | None = None,
) -> list[float]:
    """Restart boundaries in the bins ``(times[i-1], times[i]]``. A bin's count is
    ``changes`` inside it plus one when its first value (its minimum: start times only
    grow) differs from the previous bin's last; ``before`` is the value before ``times[0]``."""
    last, low, changes = fns.get("last", {}), fns.get("min", {}), fns.get("changes", {})
    out: list[float] = []
    prev = before if before is not None else last.get(round(times[0], 3))
    for i in range(1, len(times)):
        at = round(times[i], 3)
        if at not in last:
            continue
        count = int(changes.get(at, 0)) + (1 if prev is not None and low.get(at) != prev else 0)
        if count == 1 and times[i - 1] < last[at] <= times[i]:
            out.append(last[at])  # the new process's own start time: exact
        elif count >= 1:
            step = (times[i] - times[i - 1]) / REFINE_POINTS
            if times[i] - times[i - 1] <= 1.0 or not refine:
                out.append(times[i - 1])
            else:
                out += _refine_restarts(g, t, times[i - 1], times[i], prev, max(step, 1.0))
        prev = last[at]
    return out


def _refine_restarts(
    g: Grid, t: TargetInfo, lo: float, hi: float, before: float | None, step: float
) -> list[float]:
    sel = f"{PROCESS_START}{{{','.join(t.matchers())}}}"
    w = dur(step)
    expr = tagged(
        ("changes", f"changes({sel}[{w}])"),
        ("min", f"min_over_time({sel}[{w}])"),
        ("last", f"last_over_time({sel}[{w}])"),
    )
    times = [round(lo + i * step, 3) for i in range(math.ceil((hi - lo) / step) + 1)]
    fns = {
        s.labels.get(TERM, ""): {round(a, 3): v for a, v in s.points}
        for s in g.client.query_range(expr, times[1], times[-1] + step / 2, step)
    }
    return _changes_in(g, t, times, fns, refine=step > 1.0, before=before)


def read_last_scrapes(g: Grid, t: TargetInfo) -> None:
    """For each restart, when the old process was last scraped: the timestamp of its
    start-time gauge (one series per target, so the subquery is cheap). Lets the
    restart reads look back only that far instead of two bins."""
    if g.interval <= 0:
        return
    sel = f"{PROCESS_START}{{{','.join(t.matchers())}}}"
    # the old process was last scraped shortly before the new one started, unless the
    # target was down for long: then the restart read looks back two bins instead
    window = int(min(g.look * 2, max(SHORT_LOOK, 10 * g.interval)) * 1000)
    step = max(int(g.interval), 1)
    expr = tagged(*(
        (f"r{j}", f"max_over_time(timestamp({sel})[{window}ms:{step}s] @ {r - 0.001:.3f})")
        for j, r in enumerate(t.restarts)
    ))  # fmt: skip
    for row in g.client.query(expr, at=g.window.end):
        tag = row.labels.get(TERM, "")
        j = int(tag[1:]) if tag[1:].isdigit() else -1
        if 0 <= j < len(t.restarts) and row.value == row.value and row.value < t.restarts[j]:
            t.last_scrape_before[t.restarts[j]] = row.value


def configured_intervals(g: Grid) -> dict[tuple[str, str], float]:
    """Configured scrape intervals of the targets Prometheus scrapes now (none for
    targets that are gone: then the interval is estimated from ``up``)."""
    try:
        found = g.client.scrape_intervals()
    except PrometheusError:
        return {}
    out = {}
    for key, text in found.items():
        try:
            out[key] = duration_seconds(text)
        except ValueError:
            continue
    return out

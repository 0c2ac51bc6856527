"""Step 3 of the pass: window totals from reads at a few instants. Per target, each
series' last value at the range end, at the range start and just before each restart
(one process lifetime each); the window total is the sum of (last - first) over lifetimes,
exact. A target without known lifetimes is scanned instead (``increase_exact``)."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from otel_perf.monitoring.promql import alternatives, increase_exact
from otel_perf.report import promql
from otel_perf.report.grid import SHORT_LOOK, Grid, dur, ms, scrub_value, scrubbed
from otel_perf.report.prometheus import Sample
from otel_perf.report.rawdata import FIELD, TARGET, TERM, WINDOW_QUERIES, Read, Row, TargetInfo

#: How far before the range a scanned series' baseline value is looked for.
SCAN_BASELINE: Final = "1d"


def _reads(g: Grid, targets: list[TargetInfo]) -> list[Read]:
    """Every read the totals need: ``end``/``start`` reads, ``rN`` restart reads and
    ``scan`` (fallback) totals, per target."""
    reads: list[Read] = []
    for i, t in enumerate(targets):
        if not t.exact:  # a scan of the whole range, evaluated at its end
            reads.append(Read(f"scan{i}", t, g.window.end, 0))
            continue
        # A grid point "saw" a series within one look-back window before it. Every
        # read stays inside one process lifetime: never back past the restart before
        # it, so a series the next process never re-created is not read twice.
        bounds = [g.window.start, *t.restarts]
        look = g.window.end - min(t.last_seen, g.window.end) + g.look
        if g.up_at_end(t):  # scraped until the end: its last sample is recent
            look = min(look, max(SHORT_LOOK, 10 * g.interval))
        if t.restarts:
            look = min(look, g.window.end - t.restarts[-1])
        reads.append(Read(f"end{i}", t, g.window.end, ms(look)))
        if t.alive_at_start:
            base = g.look
            if t.scraped_at_start:  # scraped just before the start: a short read
                base = min(base, max(SHORT_LOOK, 10 * g.interval))
            if t.start_time_at_start is not None and t.start_time_at_start < g.window.start:
                base = min(base, g.window.start - t.start_time_at_start)
            reads.append(Read(f"start{i}", t, g.window.start, ms(base)))
        for j, r in enumerate(t.restarts):
            before = g.look * 2
            if r in t.last_scrape_before:  # read back just to the old process's last scrape
                before = r - 0.001 - t.last_scrape_before[r] + 0.002
            if j > 0:
                before = min(before, r - bounds[j])
            # just before the new process: a scrape at its very start time is its own
            reads.append(Read(f"r{i}_{j}", t, r - 0.001, ms(before)))
    return reads


def read_groups(g: Grid, targets: list[TargetInfo]) -> list[list[Read]]:
    """The reads, one group per instant and look-back (a scan alone): each group is
    one query holding every metric. Prometheus looks a query's series up in every
    block its whole time span touches, so reads at different instants in one query
    would each pay for all the blocks between them."""
    groups: dict[tuple[float, int], list[Read]] = defaultdict(list)
    for n, read in enumerate(_reads(g, targets)):
        groups[(read.at, read.ms) if read.ms else (read.at, -n)].append(read)
    return list(groups.values())


#: Per window field: (target, labels, labels as a key, value) of one read.
Collapsed = dict[
    str, list[tuple[tuple[str, str], dict[str, str], tuple[tuple[str, str], ...], float]]
]


@dataclass(frozen=True)
class Early:
    """A read of every target at once, sent before the targets are known: a target
    whose read has the same instant and look-back takes its rows from here."""

    at: float
    ms: int
    sums: Collapsed


def early_read(g: Grid, at: float) -> Early:
    """Every window metric of every target at ``at`` with the look-back most reads use
    (``SHORT_LOOK``: scraped until then, no restart just before). The range end and
    start reads are the largest of a report; sent with the grid, they overlap it."""
    look = ms(SHORT_LOOK)
    parts = [f"last_over_time({sel}[{look}ms] @ {at:.3f})" for sel in _name_selectors(g)]
    return Early(at, look, _collapse(g.client.query(" or ".join(parts), at=at)))


def covered(reads: list[Read], early: Sequence[Early]) -> Early | None:
    """The ``early`` read that holds these reads' rows (same instant and look-back)."""
    for e in early:
        if all(r.ms and abs(r.at - e.at) < 1e-6 and r.ms == e.ms for r in reads):
            return e
    return None


def read_all(g: Grid, reads: list[Read], early: Sequence[Early] = ()) -> dict[str, list[Row]]:
    """Every window query's ``reads`` (all at one instant, or one scan) in one query
    (or from an ``early`` read of the same instant and look-back): per window field,
    one row per label set and read (its tag in ``TERM``)."""
    if not all(r.ms for r in reads):
        return _scan_all(g, reads)
    tags = {read.target.key: read.tag for read in reads}
    done = covered(reads, early)
    if done is not None:
        return _tagged(done.sums, tags)
    # One selector per target (and per project split) matching every window metric by
    # name: Prometheus looks each series up once. last_over_time keeps ``__name__``;
    # the sums by each metric's labels are taken here (a chain of 28 summed and
    # relabelled terms cost Prometheus 7 times as much CPU for the same series).
    parts = [
        f"last_over_time({sel}[{read.ms}ms] @ {read.at:.3f})"
        for read in reads
        for sel in _name_selectors(g, read.target)
    ]
    return _tagged(_collapse(g.client.query(" or ".join(parts), at=reads[0].at)), tags)


def _collapse(rows: list[Sample]) -> Collapsed:
    """Raw rows summed by each window field's labels (target labels included), with
    their label values scrubbed."""
    # (field, each kept label's value or None): the row's sum
    sums: dict[tuple[Any, ...], float] = defaultdict(float)
    for row in rows:
        labels = row.labels
        known = _BY_METRIC.get(labels.get("__name__", ""))
        if known is not None:
            key = (known[0], *map(labels.get, known[1]))
            sums[key] += row.value
    out: Collapsed = {name: [] for name, _, _ in WINDOW_QUERIES}
    for (name, *values), value in sums.items():
        keep = _BY_METRIC_KEEP[name]
        labels = {k: scrub_value(v) for k, v in zip(keep, values, strict=True) if v}
        # the target as the grid named it (scrubbed), which the reads' tags are keyed by
        target = (labels.get("job", ""), labels.get("instance", ""))
        out[name].append((target, labels, tuple(labels.items()), value))
    return out


def _tagged(sums: Collapsed, tags: dict[tuple[str, str], str]) -> dict[str, list[Row]]:
    """The collapsed rows of the targets in ``tags``, each tagged with its read."""
    return {
        name: [Row(tags[t], labels, key, value) for t, labels, key, value in rows if t in tags]
        for name, rows in sums.items()
    }


#: metric -> (field, labels kept): the sums ``read_all`` takes of the raw series.
_BY_METRIC: Final = {metric: (name, (*labels, *TARGET)) for name, metric, labels in WINDOW_QUERIES}
_BY_METRIC_KEEP: Final = {name: keep for name, keep in _BY_METRIC.values()}


def _name_selectors(g: Grid, target: TargetInfo | None = None) -> list[str]:
    """Selectors of every window metric of ``target`` (every target: ``None``) in the
    report's scope: one, or two when ``--project`` applies to the metrics that carry a
    project label."""
    scope = (*g.scope, *(target.matchers() if target is not None else ()))
    groups: dict[bool, list[str]] = defaultdict(list)
    for metric in _BY_METRIC:
        groups[g.project is not None and promql.has_project_label(metric)].append(metric)
    out = []
    for per_project, metrics in sorted(groups.items()):
        names = alternatives([re.escape(m) for m in metrics])
        matchers = [f"__name__=~{promql.quote(names)}", *scope]
        if per_project and g.project is not None:
            matchers.insert(1, f"project={promql.quote(g.project)}")
        out.append("{" + ", ".join(matchers) + "}")
    return out


def _scan_all(g: Grid, reads: list[Read]) -> dict[str, list[Row]]:
    """A target without known lifetimes: reset-aware scans of the whole range."""
    parts = []
    for name, metric, labels in WINDOW_QUERIES:
        by = ", ".join((*labels, *TARGET))
        for read in reads:
            sel = g.sel(metric, extra=read.target.matchers())
            e = increase_exact(sel, dur(g.window.seconds), lookback=SCAN_BASELINE)
            parts.append(
                f'label_replace(label_replace(sum by ({by}) ({e}), "{TERM}", "{read.tag}", '
                f'"", ""), "{FIELD}", "{name}", "", "")'
            )
    out: dict[str, list[Row]] = {name: [] for name, _, _ in WINDOW_QUERIES}
    for row in g.client.query(" or ".join(parts), at=g.window.end):
        found = scrubbed(row).labels
        field, tag = found.pop(FIELD, ""), found.pop(TERM, "")
        if field in out:
            out[field].append(Row(tag, found, tuple(found.items()), row.value))
    return out


def by_field(answers: list[dict[str, list[Row]]]) -> dict[str, list[Row]]:
    """The read rows of every group, by window query (``WINDOW_QUERIES`` field)."""
    out: dict[str, list[Row]] = {f: [] for f, _, _ in WINDOW_QUERIES}
    for rows in answers:
        for name, samples in rows.items():
            out[name].extend(samples)
    return out


def window_totals(rows: list[Row], targets: list[TargetInfo]) -> list[Sample]:
    """Sum the tagged reads into window totals: end - start + restart reads + scans."""
    totals: dict[tuple[tuple[str, str], ...], float] = defaultdict(float)
    labels: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    for row in rows:
        totals[row.key] += -row.value if row.tag.startswith("start") else row.value
        labels.setdefault(row.key, row.labels)
    return [
        Sample(labels[key], value)
        for key, value in totals.items()
        if math.isfinite(value) and abs(value) > 1e-12
    ]

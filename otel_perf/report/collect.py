"""Everything the report needs, fetched from Prometheus with boundary queries.

Cost model: a query that scans a range (``resets(x[90d])``, ``increase(x[90d])``) touches
every stored sample, so its cost grows with the sample count: scrape interval x days x
series. The report instead reads counters at a few instants with the ``@`` modifier and a
short look-back, so its cost grows with series x instants read, whatever the scrape
interval:

1. **A grid.** The per-target sums of the duration counter by ``operation`` and
   ``status`` at ``GRID_BINS + 1`` instants (``counters``: instant queries, from the
   report's records where Prometheus has them), one range query of ``up`` (scrape gaps,
   targets down) and one of ``process_start_time_seconds`` (restarts: the start time
   changes; several processes behind one target: it goes back). The range end and start
   reads of step 3 go out with it.
2. **Process lifetimes.** A counter only resets when its process restarts, so each target's
   range splits into process lifetimes at the restarts found in step 1 (bins holding more
   than one restart are refined). Within a lifetime a series only grows.
3. **Totals.** One instant query per instant reads every series' last value in each
   lifetime (``last_over_time(x[short] @ restart)``), at the range end and start; the
   window total is the sum of (last - first) over lifetimes, exact. A target without
   ``process_start_time_seconds``, or with several processes behind it, falls back to a
   scan (``resets``, ``increase``) and the report says so.
4. **Activity edges.** The first and last bins of the grid with new generations are refined
   to a second: generations per hour use that active period, not idle scrapes.

One module per step: ``grid`` (the instants and scoped selectors), ``counters`` (the
counter grid), ``targets`` (1, 2), ``totals`` (3), ``trends`` (4 and the trends),
``recent`` (recent errors); this module runs
them in order. Queries run on a small pool (``PrometheusClient.run_all``). ``project`` is matched only on
metrics that carry it; ``scope`` (``--selector``) on every query. Label values are scrubbed
as they arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from otel_perf.report.counters import after_restarts, counter_grid, counter_sums
from otel_perf.report.grid import SHORT_LOOK, Grid, dur, tagged
from otel_perf.report.prometheus import PrometheusClient, Series
from otel_perf.report.rawdata import (
    DUR_COUNT,
    DUR_SUM,
    EXPORT_OPERATION,
    PROCESS_START,
    Extent,
    NoDataError,
    RawData,
)
from otel_perf.report.recent import fetch_exemplars, recent_errors
from otel_perf.report.targets import configured_intervals, find_targets, read_last_scrapes
from otel_perf.report.timerange import TimeRange, iso
from otel_perf.report.totals import (
    Early,
    by_field,
    covered,
    early_read,
    read_all,
    read_groups,
    window_totals,
)
from otel_perf.report.trends import ZOOM, activity_extent, fill_trends, zoom

__all__ = ["NoDataError", "RawData", "collect"]


def collect(
    client: PrometheusClient,
    window: TimeRange,
    *,
    project: str | None = None,
    scope: Sequence[str] = (),
    retention_seconds: float,
    exemplars: bool = True,
    records: bool = True,
) -> RawData:
    """Query Prometheus for everything the report shows; ``NoDataError`` when empty.
    ``exemplars``: the server stores them (``--enable-feature=exemplar-storage``);
    ``records``: read the trend grid from the report's records where Prometheus has them."""
    g = Grid(client, window, project=project, scope=scope, records=records)
    w = dur(g.step)
    # The counter grids read a short look-back at each instant, not the whole bin: their
    # cost is series x instants x (SHORT_LOOK / scrape interval), whatever the range.
    # last_over_time, not the bare selector: a target that stopped leaves staleness
    # markers, and the bare selector would lose its final values. Increases a short
    # read misses (a target not scraped just before an instant, one that stopped) are
    # put back from the start and end reads of the totals (trends.bin_increases).
    short = dur(g.grid_look)
    grid_q = counter_sums(g.sel(DUR_COUNT), short)
    # timeline exports: their count and seconds on one grid, so each bin's mean is of
    # the same exports (the counter grid's bins may be cut at record evaluations)
    export = {"operation": EXPORT_OPERATION, "status": "success"}
    export_q = tagged(
        *((term, f"sum by (job, instance) (last_over_time({g.sel(m, export)}[{short}]))")
          for term, m in (("count", DUR_COUNT), ("sum", DUR_SUM)))
    )  # fmt: skip
    pst = f"{PROCESS_START}{{{','.join(g.target_scope())}}}"
    up = f"up{{{','.join(g.target_scope())}}}"
    process_q = tagged(
        ("changes", f"changes({pst}[{w}])"),
        ("resets", f"resets({pst}[{w}])"),
        ("min", f"min_over_time({pst}[{w}])"),
        ("last", f"last_over_time({pst}[{w}])"),
    )
    up_q = tagged(
        ("min", f"min_over_time({up}[{w}])"),
        ("count", f"count_over_time({up}[{w}])"),
        ("recent", f"last_over_time({up}[{int(SHORT_LOOK)}s])"),
    )
    grid: list[Series]
    exports: list[Series]
    process: list[Series]
    ups: list[Series]
    intervals: dict[tuple[str, str], float]
    early: list[Early]
    # the range end and start reads go out with the grid (the largest reads, they
    # overlap its many small ones); reads that need another look-back follow later
    grid, end_read, start_read, exports, process, ups, intervals = client.run_all(
        [partial(counter_grid, g), partial(early_read, g, g.window.end),
         partial(early_read, g, g.window.start), lambda: g.range_query(export_q),
         lambda: g.range_query(process_q), lambda: g.range_query(up_q),
         partial(configured_intervals, g)]
    )  # fmt: skip
    early = [end_read, start_read]
    targets = find_targets(g, grid, process, ups)
    configured = [intervals[t.key] for t in targets if t.key in intervals]
    if configured:
        g.interval = max(configured)
    if not targets:
        raise NoDataError(
            f"Prometheus at {client.url} holds no otel-perf data{g.describe_scope()} between "
            f"{iso(window.start)} and {iso(window.end)} (metric {DUR_COUNT}); "
            "check that it scrapes the service's /metrics endpoint and that the range "
            "is right"
        )
    grid, *_ = client.run_all(
        [partial(after_restarts, g, grid, targets),
         *(partial(read_last_scrapes, g, t) for t in targets if t.restarts)]
    )  # fmt: skip
    # the reads the early ones do not cover first (the largest queries left), then the
    # activity edges (chains of short queries), then the early reads' tagging
    groups = sorted(read_groups(g, targets), key=lambda group: covered(group, early) is not None)
    gen_extent, extent, found, *answers = client.run_all(
        [lambda: activity_extent(g, grid, targets, True),
         lambda: activity_extent(g, grid, targets, False),
         lambda: fetch_exemplars(g, exemplars),
         *(partial(read_all, g, group, early) for group in groups)]
    )  # fmt: skip
    term_rows = by_field(answers)
    data = RawData(
        window,
        project,
        g.scope,
        retention_seconds,
        extent or Extent(window.start, window.start),
        gen_extent,
    )
    for name, rows in term_rows.items():
        data.totals[name] = window_totals(rows, targets)
    data.targets = targets
    data.scrape_interval = g.interval
    if extent is not None and extent.seconds * ZOOM < window.seconds:
        grid, exports = zoom(g, extent, grid_q, export_q)
        grid = after_restarts(g, grid, targets)
    fill_trends(g, data, grid, exports, term_rows, targets)
    if isinstance(found, str):
        data.exemplar_problem = found
    else:
        data.recent_errors = recent_errors(g, found, targets)
    data.queries = client.queries
    data.samples_read = client.samples
    data.recorded_instants = g.recorded_instants
    return data

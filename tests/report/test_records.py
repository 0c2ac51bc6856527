"""The report's trend grid from the ``otel-perf-report.rules`` records, against real
Prometheus servers holding the benchmark fleet (2 projects, 2 days, restarts on both
targets) built with promtool, the records backfilled from the generated rule file with
``promtool tsdb create-blocks-from rules``: over the whole range, over its second half
only, and not at all.

Whatever the records, every figure is the raw series' figure, and every trend bin is
exactly what the fleet did between the bin's two cuts: the evaluation timestamps of the
records it was read from (the nominal instants where it was read from raw series)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from tests.support.report_stack import run_cli
from tests.support.tools import require_tool

pytestmark = pytest.mark.e2e

DAY = 86400


@dataclass
class Server:
    url: str
    recorded_from: float | None  # first evaluation backfilled, None: no records


@dataclass
class Stack:
    fleet: Any
    start: int
    end: int
    servers: dict[str, Server]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_tool("promtool")
    require_tool("prometheus")
    from benchmarks import report_fleet as F
    from benchmarks import report_speed as R

    root = tmp_path_factory.mktemp("records")
    end = int(__import__("time").time()) // 3600 * 3600 - 3 * 3600
    fleet = F.build(end, projects=2, days=2)
    raw = root / "absent"
    F.build_tsdb(fleet, raw / "data")
    start = end - 2 * DAY + 2 * 3600  # the report's range: inside the data
    halfway = start + DAY
    for name in ("full", "half"):  # copies of the raw blocks, before a server locks them
        shutil.copytree(raw / "data", root / name / "data")
    procs = []
    try:
        proc, url = R.start_prometheus(raw)
        procs.append(proc)
        R.backfill_records(url, root / "full" / "data", end - 2 * DAY, end)
        R.backfill_records(url, root / "half" / "data", halfway, end)
        servers = {"absent": Server(url, None)}
        for name, first in (("full", end - 2 * DAY), ("half", halfway)):
            proc, url = R.start_prometheus(root / name)
            procs.append(proc)
            servers[name] = Server(url, first)
        yield Stack(fleet, start, end, servers)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


def _report(stack: Stack, server: str, *extra: str) -> dict[str, Any]:
    result = run_cli(
        "report", "--prometheus", stack.servers[server].url, "--start", str(stack.start),
        "--end", str(stack.end), "--format", "json", *extra,
    )  # fmt: skip
    assert result.code == 0, result.err
    return result.json()


def _cuts(stack: Stack, server: str, report: dict[str, Any]) -> list[float]:
    """The bin edges the grid must use: each inner instant moved back onto the record
    evaluation before it (read from Prometheus), where there is one after the previous
    edge; the nominal instant elsewhere."""
    import urllib.parse
    import urllib.request

    step = (stack.end - stack.start) / 60
    nominal = [round(stack.start + i * step, 3) for i in range(61)]
    cuts = [nominal[0]]
    for at in nominal[1:-1]:
        when = None
        if report["recorded_instants"]:
            look = int(min(step, 900) * 1000)
            query = f"last_over_time(otel_perf:report_evaluation:timestamp_seconds[{look}ms])"
            body = urllib.parse.urlencode({"query": query, "time": f"{at:.3f}"}).encode()
            url = stack.servers[server].url + "/api/v1/query"
            with urllib.request.urlopen(url, data=body, timeout=10) as response:
                result = json.loads(response.read())["data"]["result"]
            if result:
                when = round(float(result[0]["value"][1]), 3)
        cuts.append(when if when is not None and when > cuts[-1] + 1e-3 else at)
    return [*cuts, nominal[-1]]


def _truth(stack: Stack, cuts: list[float]) -> tuple[list[float], list[float]]:
    """Operations and failed operations the fleet recorded in each (cut, next cut]."""
    name = "otel_perf_operation_duration_seconds_count"
    times = stack.fleet.times
    ops, errors = np.zeros(60), np.zeros(60)
    bins = np.searchsorted(np.array(cuts), times, side="left") - 1  # (cuts[i], cuts[i+1]]
    inside = (bins >= 0) & (bins < 60)
    for s in stack.fleet.series:
        if s.name != name:
            continue
        per_bin = np.bincount(bins[inside], weights=s.increments[inside], minlength=60)
        ops += per_bin
        if s.labels["status"] == "error":
            errors += per_bin
    return ops.tolist(), errors.tolist()


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    """Everything but the trends, when it ran and how many queries it took."""
    skip = {"generated_at", "queries", "samples_read", "recorded_instants"}
    out = {k: v for k, v in report.items() if k not in skip}
    out["errors"] = {k: v for k, v in report["errors"].items() if k != "trend"}
    return out


def _assert_exact_bins(stack: Stack, server: str, report: dict[str, Any]) -> None:
    ops, errors = _truth(stack, _cuts(stack, server, report))
    trend = report["errors"]["trend"]
    assert [p["operations"] for p in trend] == pytest.approx(ops, abs=1e-9)
    assert [p["errors"] for p in trend] == pytest.approx(errors, abs=1e-9)
    assert sum(ops) == report["errors"]["operations"] > 1000


@pytest.mark.parametrize("server", ["full", "half", "absent"])
def test_records_give_the_raw_figures_and_exact_bins(stack: Stack, server: str):
    with_records = _report(stack, server)
    raw = _report(stack, server, "--no-records")
    assert raw["recorded_instants"] == 0
    recorded = with_records["recorded_instants"]
    if server == "full":
        assert recorded == 59
    elif server == "half":
        assert 20 < recorded < 40  # the inner instants of the range's second half
    else:
        assert recorded == 0
    # the same figures (within float summation order), wherever the grid was read from
    assert json.loads(
        json.dumps(_figures(with_records)), parse_float=lambda x: round(float(x), 6)
    ) == (json.loads(json.dumps(_figures(raw)), parse_float=lambda x: round(float(x), 6)))
    _assert_exact_bins(stack, server, with_records)
    _assert_exact_bins(stack, server, raw)


def test_a_project_report_reads_raw_series(stack: Stack):
    """The records sum the projects away: a report for one project cannot use them."""
    one = _report(stack, "full", "--project", "p00")
    assert one["recorded_instants"] == 0
    assert one["project"] == "p00" and one["errors"]["operations"] > 0
    assert _report(stack, "full", "--selector", 'job="media-api"')["recorded_instants"] == 59
    assert _report(stack, "full", "--selector", 'model!="veo"')["recorded_instants"] == 0

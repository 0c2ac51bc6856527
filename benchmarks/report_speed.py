"""Report speed over a realistic fleet: ``otel-perf report`` against a real Prometheus.

    python -m benchmarks.report_speed build DIR          # the TSDB (20-40 min, ~2 GB)
    python -m benchmarks.report_speed records DIR        # backfill the report's records
    python -m benchmarks.report_speed run DIR            # time the report, check its figures
    python -m benchmarks.report_speed smoke              # a tiny fleet end to end (seconds)

``build`` writes the fleet of ``benchmarks/report_fleet.py`` into ``DIR/data`` with promtool
and the exact figures the report must print into ``DIR/expected.json``, then ``records``:
the generated ``otel-perf-report.rules`` group backfilled over the whole range with
``promtool tsdb create-blocks-from rules`` (what a Prometheus that ran those rules for 90
days holds). ``run`` starts Prometheus on the blocks (read-only use: retention 100 days, no
scraping), waits until it has compacted them, then times ``otel-perf report --range 90d``
and ``--range 7d`` (ending at the fleet's last sample) several times, with the records and
with ``--no-records`` (raw series only), and compares every checked figure with
``expected.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Final

import numpy as np

from benchmarks import report_fleet as F
from otel_perf import metrics as M
from otel_perf.attributes import API_OPERATION, RENDER_OPERATIONS

GENERATION_OPS = {m[0] for m in F.MODELS}
NON_GENERATION = set(RENDER_OPERATIONS.values()) | {API_OPERATION}
DUR_COUNT = M.OPERATION_DURATION + "_count"


def expected(fleet: F.Fleet, start: float) -> dict[str, Any]:
    """The figures the report must print for (start, end], by the seed's definitions."""
    inside = fleet.times > start

    def tot(name: str, ops: set[str] | None = None, **match: str) -> float:
        return float(
            sum(
                s.increments[inside].sum()
                for s in fleet.series
                if s.name == name
                and (ops is None or s.labels.get("operation") in ops)
                and all(s.labels.get(k) == v for k, v in match.items())
            )
        )

    attempts = tot(DUR_COUNT, GENERATION_OPS)
    successes = tot(DUR_COUNT, GENERATION_OPS, status="success")
    operations = tot(DUR_COUNT)
    return {
        "cost_usd": tot(M.COST_USD),
        "generation_attempts": attempts,
        "successful_generations": successes,
        "success_rate_pct": 100 * successes / attempts,
        "operations": operations,
        "all_operations_success_rate_pct": 100 * tot(DUR_COUNT, status="success") / operations,
        "retries_per_success": tot(M.RETRIES, GENERATION_OPS) / successes,
        "safety_blocks": tot(M.OPERATION_ERRORS, error_type="safety_block"),
    }


#: The report's records are evaluated every minute here, as the fleet's fine data is
#: scraped (the shipped rules follow the global evaluation interval, 15 s in the stack).
RECORD_INTERVAL: Final = "60s"


def report_rules_file(path: Path) -> Path:
    """The generated ``otel-perf-report.rules`` group alone, as a rule file."""
    import yaml

    from otel_perf.monitoring.prometheus_files import rule_file
    from otel_perf.monitoring.rules import report_rules

    path.write_text(yaml.safe_dump(rule_file([report_rules()]), sort_keys=False))
    return path


def backfill_records(url: str, data: Path, start: float, end: float) -> int:
    """``promtool tsdb create-blocks-from rules`` for the report's records between
    ``start`` and ``end``, from the Prometheus at ``url`` (serving ``data``), into
    ``data``; the number of blocks written. Restart that Prometheus to read them."""
    with tempfile.TemporaryDirectory(prefix="otel-perf-records-") as tmp:
        out = Path(tmp) / "blocks"
        subprocess.run(
            ["promtool", "tsdb", "create-blocks-from", "rules", "-q", f"--url={url}",
             f"--start={int(start)}", f"--end={int(end)}", f"--eval-interval={RECORD_INTERVAL}",
             f"--output-dir={out}", str(report_rules_file(Path(tmp) / "report.rules.yml"))],
            check=True, capture_output=True,
        )  # fmt: skip
        blocks = [b for b in out.iterdir() if (b / "meta.json").exists()]
        for block in blocks:
            block.rename(data / block.name)
    return len(blocks)


def records(directory: Path) -> dict[str, Any]:
    """Backfill the report's records over the whole fleet (``build`` does this)."""
    meta = json.loads((directory / "expected.json").read_text())
    proc, url = start_prometheus(directory)
    try:
        started = time.time()
        count = backfill_records(url, directory / "data", meta["end"] - meta["days"] * F.DAY,
                                 meta["end"])  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    meta["records"] = {"blocks": count, "seconds": round(time.time() - started, 1),
                       "interval": RECORD_INTERVAL}  # fmt: skip
    (directory / "expected.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta["records"]


def build(directory: Path, projects: int = 50, days: int = 90) -> dict[str, Any]:
    end = int(time.time()) // 3600 * 3600
    started = time.time()
    fleet = F.build(end, projects=projects, days=days)
    samples = F.build_tsdb(fleet, directory / "data")
    meta = {
        "end": end,
        "projects": projects,
        "days": days,
        "series": len(fleet.series) + len(F.TARGETS),
        "samples": samples,
        "build_seconds": round(time.time() - started, 1),
        "restarts": {t: len(r) for t, r in F.RESTARTS.items()},
        "90d": expected(fleet, end - days * F.DAY),
        "7d": expected(fleet, end - 7 * F.DAY),
    }
    (directory / "expected.json").write_text(json.dumps(meta, indent=2) + "\n")
    meta["records"] = records(directory)
    return meta


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_prometheus(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    config = directory / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
    log = (directory / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100d",
         "--query.max-samples=200000000"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/-/ready", timeout=2).read()
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("prometheus did not become ready")


def wait_compacted(data: Path, quiet_seconds: float = 90.0, limit: float = 3600.0) -> int:
    """Wait until Prometheus has compacted the 2-hour blocks promtool wrote (as a server
    that ran for the whole period would have): the block count on disk has not changed
    for ``quiet_seconds`` (Prometheus looks for compactions once a minute). The count."""

    def blocks() -> int:
        return sum(1 for p in data.glob("*/meta.json"))

    last, since, deadline = blocks(), time.monotonic(), time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(5)
        now = blocks()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_seconds:
            break
    return last


def time_report(
    url: str, end: int, range_: str, runs: int, *extra: str
) -> tuple[list[float], dict[str, Any]]:
    """Wall seconds of each of ``runs`` reports (Python start-up included; after one
    untimed run, so the interpreter's byte code is cached as for an installed package)."""
    seconds, data = [], {}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [sys.executable, "-m", "otel_perf", "report", "--prometheus", url,
               "--range", range_, "--end", str(end), "--format", "json", "--timeout", "60",
               *extra]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, env=env)
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run(command, check=True, capture_output=True, env=env)
        seconds.append(time.perf_counter() - started)
        data = json.loads(out.stdout)
    return seconds, data


def check(report: dict[str, Any], want: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Figures that differ from the expected ones (beyond float rounding), and trend bins
    that do not add up to the totals."""
    e = report["efficiency"]
    got = {
        "cost_usd": report["cost"]["total_usd"],
        "generation_attempts": e["generation_attempts"],
        "successful_generations": e["successful_generations"],
        "success_rate_pct": e["success_rate_pct"],
        "operations": report["time"]["operations"],
        "all_operations_success_rate_pct": e["all_operations_success_rate_pct"],
        "retries_per_success": e["retries_per_success"],
        "safety_blocks": report["errors"]["classes"]["safety_blocks"],
    }
    wrong = {
        k: (got[k], v) for k, v in want.items() if not np.isclose(got[k], v, rtol=1e-6, atol=1e-6)
    }
    # the trend's bins tile the range: they add up to the totals
    trend = report["errors"]["trend"]
    for key, total in (("operations", report["errors"]["operations"]),
                       ("errors", report["errors"]["total"])):  # fmt: skip
        binned = sum(p[key] for p in trend)
        if binned != total:
            wrong[f"trend_{key}"] = (binned, total)
    return wrong


def run(directory: Path, runs: int = 3) -> dict[str, Any]:
    meta = json.loads((directory / "expected.json").read_text())
    proc, url = start_prometheus(directory)
    try:
        blocks = wait_compacted(directory / "data")
        results: dict[str, Any] = {"series": meta["series"], "samples": meta["samples"],
                                   "blocks": blocks}  # fmt: skip
        for range_ in ("90d", "7d"):
            for path, extra in (("records", ()), ("raw", ("--no-records",))):
                seconds, report = time_report(url, meta["end"], range_, runs, *extra)
                results[f"{range_} {path}"] = {
                    "seconds": [round(s, 3) for s in seconds],
                    "median": round(statistics.median(seconds), 3),
                    "mismatches": check(report, meta[range_]),
                    "queries": report.get("queries"),
                    "samples_read": report.get("samples_read"),
                    "recorded_instants": report.get("recorded_instants"),
                }
        return results
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def smoke() -> dict[str, Any]:
    """Two projects over two days: builds, serves and checks in well under a minute."""
    with tempfile.TemporaryDirectory(prefix="otel-perf-report-bench-") as tmp:
        directory = Path(tmp)
        build(directory, projects=2, days=2)
        proc, url = start_prometheus(directory)
        try:
            meta = json.loads((directory / "expected.json").read_text())
            # the inner grid instants of a 7-day report that fall inside the 2 days of data
            # (and so after the records' first evaluation)
            step, first = 7 * F.DAY / 60, meta["end"] - meta["days"] * F.DAY
            inside = sum(1 for i in range(1, 60) if meta["end"] - 7 * F.DAY + i * step > first)
            out: dict[str, Any] = {"series": meta["series"], "instants_in_data": inside}
            for path, extra in (("records", ()), ("raw", ("--no-records",))):
                _, report = time_report(url, meta["end"], "7d", 1, *extra)
                # A 2-day fleet: --range 7d covers it all: compare with the 90d (= all) figures.
                out[path] = {"mismatches": check(report, meta["90d"]),
                             "recorded_instants": report["recorded_instants"]}  # fmt: skip
            return out
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report_speed")
    parser.add_argument("command", choices=("build", "records", "run", "smoke"))
    parser.add_argument("directory", nargs="?", type=Path)
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    if args.command == "smoke":
        print(json.dumps(smoke(), indent=2))
        return 0
    if args.directory is None:
        parser.error(f"{args.command} needs DIR")
    if args.command == "build":
        print(json.dumps(build(args.directory, args.projects, args.days), indent=2))
    elif args.command == "records":
        print(json.dumps(records(args.directory), indent=2))
    else:
        print(json.dumps(run(args.directory, args.runs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

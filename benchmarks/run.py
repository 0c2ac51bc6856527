"""Run the benchmarks of issue 4 and print one table, baselines and ratios from this run.

    python -m benchmarks            # full run (several minutes)
    python -m benchmarks --smoke    # seconds: checks that everything runs and prints
    python -m benchmarks --only 1,2 --json results.json

Targets: 1 tracked generation vs bare SDK span; 2 ``on_end`` alone; 3 exact counts and
throughput with threads; 4 cardinality attack; 5 scrape time by series count; 6 the seed's
per-operation budgets; 1m and 2m are 1 and 2 in multiprocess mode (PROMETHEUS_MULTIPROC_DIR).
Timings use process CPU time in interleaved rounds (see
``benchmarks/timing.py``), so other load on the machine disturbs them less.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from benchmarks import cardinality, concurrency, overhead, scrape
from benchmarks.report import Row, table


@dataclass(frozen=True)
class Plan:
    """How much work each target does."""

    calls: int  # calls per timed block (targets 1, 2)
    rounds: int  # interleaved rounds (targets 1, 2)
    per_thread: int  # tracked operations per thread (target 3)
    attack: int  # new model names (and template ids) in the attack (target 4)
    limit: int  # cardinality limit for the attack
    models: tuple[int, ...]  # registry sizes for the scrape (target 5), in models
    scrapes: int  # scrapes per size
    compare_up_to: int  # largest size also rendered by prometheus_client's encoder


FULL = Plan(500, 120, 20_000, 1_000_000, 2000, (40, 100, 385, 1000, 2500, 5000), 7, 1000)
SMOKE = Plan(200, 3, 300, 3_000, 200, (40, 385), 2, 385)


def environment() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "opentelemetry-sdk": version("opentelemetry-sdk"),
        "prometheus-client": version("prometheus-client"),
        "otel-perf": _otel_perf_version(),
        "loadavg_at_start": [round(x, 2) for x in load],
    }


def _otel_perf_version() -> str:
    from otel_perf.version import __version__

    return __version__


def run(plan: Plan, only: set[str]) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    details: dict[str, Any] = {}

    def step(name: str) -> bool:
        if only and name not in only:
            return False
        print(f"… target {name}", file=sys.stderr, flush=True)
        return True

    facts = None
    if only & {"1", "2", "6"} or not only:
        print("… targets 1, 2, 6 (timing)", file=sys.stderr, flush=True)
        tracked_rows, facts = overhead.tracked_vs_bare(plan.calls, plan.rounds)
        details["overhead"] = facts
        if not only or "1" in only:
            rows += tracked_rows
        if not only or "2" in only:
            rows += overhead.on_end_alone(plan.calls, plan.rounds, facts["bare_us"])
    if only & {"1m", "2m"} or not only:
        print("… targets 1m, 2m (multiprocess mode)", file=sys.stderr, flush=True)
        rows += overhead.multiprocess(plan.calls, plan.rounds)
    if step("3"):
        thread_rows, details["threads"] = concurrency.rows(plan.per_thread)
        rows += thread_rows
    if step("4"):
        attack_rows, details["cardinality"] = cardinality.rows(plan.attack, plan.limit)
        rows += attack_rows
    if step("5"):
        scrape_rows, details["scrape"] = scrape.rows(
            list(plan.models), plan.scrapes, plan.compare_up_to
        )
        rows += scrape_rows
    if facts is not None and (not only or "6" in only):
        rows += overhead.budgets(facts)
    return rows, details


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: runs in seconds")
    parser.add_argument("--only", default="", help="comma-separated targets, e.g. 1,2,5")
    parser.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    args = parser.parse_args(argv)
    only = {t.strip() for t in args.only.split(",") if t.strip()}
    plan = SMOKE if args.smoke else FULL
    env = environment()
    started = time.time()
    rows, details = run(plan, only)
    env["seconds"] = round(time.time() - started, 1)
    env["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    mode = "smoke (sizes too small for the figures to mean anything)" if args.smoke else "full"
    print(f"otel-perf benchmarks, {mode} run")
    print(
        f"Python {env['python']}, opentelemetry-sdk {env['opentelemetry-sdk']}, "
        f"prometheus-client {env['prometheus-client']}, {env['cpus']} CPUs, "
        f"load average {env['loadavg_at_start'][0]} at start, {env['seconds']} s"
    )
    print()
    print(table(rows))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(
                {
                    "environment": env,
                    "plan": plan.__dict__,
                    "rows": [r.as_dict() for r in rows],
                    "details": details,
                },
                out,
                indent=2,
                default=str,
            )
    return 0

"""``otel-perf demo``: run the synthetic workload through ``configure()``, serve ``/metrics``,
write the ledger and print what it cost."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from otel_perf.demo import workload as workload_mod


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``otel-perf demo`` options."""
    parser.add_argument(
        "--profile",
        choices=workload_mod.PROFILES,
        default="mixed",
        help="workload shape; 'seed' = 20 images, 5 videos, 3 audio tracks",
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed (deterministic plan)")
    parser.add_argument("--count", type=int, default=None, help="operations to run (default 100)")
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="run for this many seconds (batches of operations until then)",
    )
    parser.add_argument("--forever", action="store_true", help="run until interrupted")
    parser.add_argument(
        "--speed",
        type=float,
        default=100.0,
        help="latency divisor: a 10 s generation takes 10/SPEED s (default 100)",
    )
    parser.add_argument("--workers", type=int, default=4, help="concurrent operations (default 4)")
    parser.add_argument("--projects", default="demo", help="comma-separated project names")
    parser.add_argument("--host", default=None, help="/metrics address (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=None, help="/metrics port (default 9464; 0 = any)"
    )
    parser.add_argument(
        "--ledger", default=None, help="write the ground truth as JSON to this file"
    )
    parser.add_argument(
        "--hold",
        type=float,
        default=0.0,
        help="keep serving /metrics this many seconds after the run",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress or summary output")
    parser.add_argument(
        "--pricing",
        default="seed",
        help="price table: seed (default: the seed's estimates), default (list prices) "
        "or a TOML file merged over the default",
    )


def run(args: argparse.Namespace) -> int:
    """Run the workload, serve /metrics, print the summary; 0 when done."""
    from otel_perf.configuration import configure
    from otel_perf.thresholds import DEFAULT_THRESHOLDS

    if args.speed <= 0:
        raise ValueError("--speed must be > 0")
    if args.count is not None and args.count < 0:
        raise ValueError("--count must be >= 0")
    projects = tuple(p.strip() for p in args.projects.split(",") if p.strip()) or ("demo",)
    # Thresholds scale with latencies, so the planned slow operations stay slow.
    thresholds = {op: seconds / args.speed for op, seconds in DEFAULT_THRESHOLDS.items()}
    # The demo prices with the seed's estimates (the named table "seed"), so its figures
    # are the seed's own; --pricing picks another table.
    kwargs: dict[str, Any] = {
        "service_name": "otel-perf-demo",
        "thresholds": thresholds,
        "pricing": args.pricing,
    }
    if args.host is not None:
        kwargs["prometheus_host"] = args.host
    if args.port is not None:
        kwargs["prometheus_port"] = args.port
    handle = configure(**kwargs)
    out = sys.stderr
    if not args.quiet:
        print(
            f"otel-perf demo: profile {args.profile}, seed {args.seed}, speed x{args.speed:g}; "
            f"metrics at {handle.metrics_url or '(server off)'}",
            file=out,
        )

    stop = _stop_flag()
    deadline = None if args.duration is None else time.monotonic() + args.duration
    ran: list[workload_mod.PlannedOp] = []
    batch = 0
    while True:
        count = args.count if args.count is not None else (50 if deadline or args.forever else 100)
        workload = workload_mod.plan(
            args.profile, seed=args.seed + batch, count=count, projects=projects
        )
        ran += workload_mod.run(
            workload,
            speed=args.speed,
            workers=args.workers,
            deadline=deadline,
            progress=None if args.quiet else _progress(out, len(ran)),
        )
        batch += 1
        if (
            stop()
            or args.profile == "seed"
            or not (args.forever or (deadline and time.monotonic() < deadline))
        ):
            break
    if not args.quiet:
        print(file=out)
    data = workload_mod.ledger(
        ran,
        thresholds=thresholds,
        pricing=handle.settings.pricing,
        meta={
            "profile": args.profile,
            "seed": args.seed,
            "speed": args.speed,
            "projects": list(projects),
        },
    )
    if args.ledger:
        workload_mod.write_ledger(args.ledger, data)
    if not args.quiet:
        _print_summary(data["summary"], sys.stdout)
    hold_until = time.monotonic() + args.hold
    while time.monotonic() < hold_until and not stop():
        time.sleep(0.1)
    handle.shutdown()
    return 0


def _stop_flag() -> Callable[[], bool]:
    stopped = {"flag": False}

    def on_signal(signum: int, frame: Any) -> None:
        stopped["flag"] = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, on_signal)
        except ValueError:  # not the main thread (embedded use)
            pass
    return lambda: stopped["flag"]


def _progress(out: TextIO, offset: int) -> Callable[[int, int], None]:
    tty = out.isatty()

    def report(done: int, total: int) -> None:
        if tty:
            width = 30
            filled = int(width * done / max(total, 1))
            out.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {offset + done} operations")
            out.flush()
        elif done == total or done % max(total // 5, 1) == 0:
            out.write(f"  {offset + done} operations done\n")

    return report


def _print_summary(summary: dict[str, Any], out: TextIO) -> None:
    def table(title: str, rows: list[tuple[str, str]]) -> None:
        print(f"\n{title}", file=out)
        if not rows:
            print("  (none)", file=out)
            return
        width = max(len(r[0]) for r in rows)
        for left, right in rows:
            print(f"  {left:<{width}}  {right:>12}", file=out)

    table(
        "Cost by operation and model",
        [(k, f"${v:,.4f}") for k, v in summary["cost_by_operation_model"].items()]
        + [("TOTAL", f"${summary['total_cost_usd']:,.4f}")],
    )
    table("Errors by type", [(k, str(v)) for k, v in summary["errors_by_type"].items()])
    table("Slow operations", [(k, str(v)) for k, v in summary["slow_by_operation"].items()])
    print(
        f"\nOperations: {summary['operations']}   failed: {summary['failed']}   "
        f"success rate: {summary['success_rate']:.1f}%",
        file=out,
    )

"""The ``otel-perf`` command: ``demo``, ``config``, ``generate``, ``report``, ``purge``."""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from otel_perf import demo
from otel_perf.config import ENVIRONMENT, Settings
from otel_perf.pricing import UNIT_KEYS, PriceTable
from otel_perf.version import __version__

# Subcommands that live in their own packages: (name, module, help). Each module offers
# ``add_arguments(parser)`` and ``run(args) -> int``.
_PLUGGED: tuple[tuple[str, str, str], ...] = (
    ("generate", "otel_perf.monitoring.command", "render alert rules, dashboards and ops files"),
    ("report", "otel_perf.report.command", "analytics report from Prometheus"),
    ("purge", "otel_perf.report.purge", "delete a project's series from Prometheus"),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``otel-perf`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except ValueError as exc:  # bad settings: a clear message, not a traceback
        print(f"otel-perf: error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otel-perf", description=__doc__)
    parser.add_argument("--version", action="version", version=f"otel-perf {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="run a synthetic instrumented media pipeline")
    d.add_argument(
        "--profile",
        choices=demo.PROFILES,
        default="mixed",
        help="workload shape; 'seed' = 20 images, 5 videos, 3 audio tracks",
    )
    d.add_argument("--seed", type=int, default=42, help="random seed (deterministic plan)")
    d.add_argument("--count", type=int, default=None, help="operations to run (default 100)")
    d.add_argument(
        "--duration",
        type=float,
        default=None,
        help="run for this many seconds (batches of operations until then)",
    )
    d.add_argument("--forever", action="store_true", help="run until interrupted")
    d.add_argument(
        "--speed",
        type=float,
        default=100.0,
        help="latency divisor: a 10 s generation takes 10/SPEED s (default 100)",
    )
    d.add_argument("--workers", type=int, default=4, help="concurrent operations (default 4)")
    d.add_argument("--projects", default="demo", help="comma-separated project names")
    d.add_argument("--host", default=None, help="/metrics address (default 127.0.0.1)")
    d.add_argument("--port", type=int, default=None, help="/metrics port (default 9464; 0 = any)")
    d.add_argument("--ledger", default=None, help="write the ground truth as JSON to this file")
    d.add_argument(
        "--hold",
        type=float,
        default=0.0,
        help="keep serving /metrics this many seconds after the run",
    )
    d.add_argument("--quiet", action="store_true", help="no progress or summary output")
    d.set_defaults(func=_demo)

    c = sub.add_parser("config", help="print effective settings, thresholds and prices")
    c.add_argument("--pricing-file", default=None, help="validate and merge this TOML price table")
    c.set_defaults(func=_config)

    for name, module, help_text in _PLUGGED:
        try:
            plugin = importlib.import_module(module)
        except ImportError:
            continue
        p = sub.add_parser(name, help=help_text)
        plugin.add_arguments(p)
        p.set_defaults(func=plugin.run)
    return parser


# --- demo -----------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from otel_perf.setup import configure
    from otel_perf.thresholds import DEFAULT_THRESHOLDS

    if args.speed <= 0:
        raise ValueError("--speed must be > 0")
    if args.count is not None and args.count < 0:
        raise ValueError("--count must be >= 0")
    projects = tuple(p.strip() for p in args.projects.split(",") if p.strip()) or ("demo",)
    # Thresholds scale with latencies, so the planned slow operations stay slow.
    thresholds = {op: seconds / args.speed for op, seconds in DEFAULT_THRESHOLDS.items()}
    kwargs: dict[str, Any] = {"service_name": "otel-perf-demo", "thresholds": thresholds}
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
    ran: list[demo.PlannedOp] = []
    batch = 0
    while True:
        count = args.count if args.count is not None else (50 if deadline or args.forever else 100)
        workload = demo.plan(args.profile, seed=args.seed + batch, count=count, projects=projects)
        ran += demo.run(
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
    data = demo.ledger(
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
        demo.write_ledger(args.ledger, data)
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


# --- config ---------------------------------------------------------------------------------


def _config(args: argparse.Namespace) -> int:
    settings = Settings.resolve(pricing=args.pricing_file)
    out = sys.stdout
    print(f"otel-perf {__version__}", file=out)
    print("\nSettings (arguments > OTEL_PERF_* / OTEL_* environment > defaults)", file=out)
    for name in (
        "enabled",
        "service_name",
        "prometheus_host",
        "prometheus_port",
        "cardinality_limit",
        "extra_operations",
        "record_unsampled",
        "otlp_endpoint",
        "otlp_protocol",
        "multiprocess_dir",
    ):
        print(f"  {name:<20} {getattr(settings, name)!r}", file=out)
    print("\nSlow thresholds (seconds)", file=out)
    for op, seconds in settings.thresholds.items():
        print(f"  {op:<24} {seconds:g}", file=out)
    for template, seconds in settings.template_thresholds.items():
        print(f"  template {template:<15} {seconds:g}", file=out)
    _print_prices(settings.pricing, out)
    print("\nEnvironment variables", file=out)
    for name in ENVIRONMENT:
        print(f"  {name}", file=out)
    if args.pricing_file:
        print(f"\npricing file {args.pricing_file}: valid", file=out)
    return 0


def _print_prices(table: PriceTable, out: TextIO) -> None:
    print(f"\nPrice table (version {table.version}, USD)", file=out)
    for label, entries in (("model", table.models), ("operation default", table.operations)):
        for name, price in sorted(entries.items()):
            parts = [
                f"{u}={getattr(price, u):g}" for u in UNIT_KEYS if getattr(price, u) is not None
            ]
            if price.image_prices:
                parts.append(f"{len(price.image_prices)} size/quality prices")
            aliases = f" (aliases: {', '.join(price.aliases)})" if price.aliases else ""
            print(
                f"  {label} {name}{aliases}: {', '.join(parts)}  [{price.source}, {price.date}]",
                file=out,
            )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

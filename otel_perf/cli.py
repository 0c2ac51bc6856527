"""The ``otel-perf`` command: ``demo``, ``config``, ``estimate``, ``generate``, ``report``,
``purge``."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from otel_perf import demo
from otel_perf.config import ENVIRONMENT, Settings
from otel_perf.estimate import estimate_cost
from otel_perf.pricing import UNIT_KEYS, CostEstimate, PriceTable
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
    d.add_argument(
        "--pricing",
        default="seed",
        help="price table: seed (default: the seed's estimates), default (list prices) "
        "or a TOML file merged over the default",
    )
    d.set_defaults(func=_demo)

    c = sub.add_parser("config", help="print effective settings, thresholds and prices")
    c.add_argument("--pricing-file", default=None, help="validate and merge this TOML price table")
    c.add_argument(
        "--pricing", default=None, help="named price table: default or seed (or a TOML file)"
    )
    c.add_argument(
        "--max-age-days",
        type=float,
        default=None,
        help="warn about price entries older than this (default OTEL_PERF_PRICE_MAX_AGE_DAYS, 180)",
    )

    e = sub.add_parser("estimate", help="what an operation will cost, before running it")
    e.add_argument("operation", help="generate_image, generate_video, generate_speech, ...")
    e.add_argument("--model", required=True, help="model id or alias (veo, gpt-image-1, ...)")
    e.add_argument("--pricing", default=None, help="default, seed or a TOML file (default env)")
    e.add_argument("--pricing-file", default=None, help="TOML price table merged over it")
    for flag, kind in (("images", int), ("image-size", str), ("image-quality", str),
                       ("videos", int), ("video-seconds", float), ("video-resolution", str),
                       ("audio-seconds", float), ("characters", int), ("input-tokens", int),
                       ("output-tokens", int)):  # fmt: skip
        e.add_argument(f"--{flag}", type=kind, default=None)
    e.add_argument(
        "--video-audio", action=argparse.BooleanOptionalAction, default=None,
        help="the clip has sound (--no-video-audio: silent)",
    )  # fmt: skip
    e.add_argument("--format", choices=("text", "json"), default="text")
    e.set_defaults(func=_estimate)
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


def _price_table(args: argparse.Namespace) -> PriceTable:
    """``--pricing`` (else the environment's table) with ``--pricing-file`` merged over it."""
    table = Settings.resolve(pricing=args.pricing).pricing
    if args.pricing_file:
        table = table.merged(PriceTable.from_file(args.pricing_file))
    return table


def _config(args: argparse.Namespace) -> int:
    settings = Settings.resolve(price_max_age_days=args.max_age_days)
    table = _price_table(args)
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
        "price_max_age_days",
        "metrics_exporter",
        "otlp_metrics_protocol",
        "metric_export_interval",
        "metric_export_timeout",
        "multiprocess_dir",
    ):
        print(f"  {name:<22} {getattr(settings, name)!r}", file=out)
    print("\nSlow thresholds (seconds)", file=out)
    for op, seconds in settings.thresholds.items():
        print(f"  {op:<24} {seconds:g}", file=out)
    for template, seconds in settings.template_thresholds.items():
        print(f"  template {template:<15} {seconds:g}", file=out)
    _print_prices(table, out)
    print("\nEnvironment variables", file=out)
    for name in ENVIRONMENT:
        print(f"  {name}", file=out)
    if args.pricing_file:
        print(f"\npricing file {args.pricing_file}: valid", file=out)
    _warn_old_prices(table, settings.price_max_age_days, out)
    return 0


def _warn_old_prices(table: PriceTable, days: float, out: TextIO) -> None:
    """A warning for each price entry last checked more than ``days`` ago."""
    old = table.entries_older_than(days)
    if not old:
        return
    print(
        f"\nWarning: {len(old)} price entr{'y is' if len(old) == 1 else 'ies are'} older than "
        f"{days:g} days (OTEL_PERF_PRICE_MAX_AGE_DAYS); check them against the provider's "
        "page and override them with OTEL_PERF_PRICING_FILE:",
        file=out,
    )
    for kind, price in old:
        print(f"  warning: {kind} {price.name}: price dated {price.date or 'never'}", file=out)


# --- estimate -------------------------------------------------------------------------------


def _estimate(args: argparse.Namespace) -> int:
    usage = {
        name: getattr(args, name)
        for name in ("images", "image_size", "image_quality", "videos", "video_seconds",
                     "video_resolution", "video_audio", "audio_seconds", "characters",
                     "input_tokens", "output_tokens")
        if getattr(args, name) is not None
    }  # fmt: skip
    quote = estimate_cost(args.operation, model=args.model, pricing=_price_table(args), **usage)
    if args.format == "json":
        print(json.dumps(_quote_json(args.operation, args.model, quote), indent=2))
    else:
        _print_quote(args.operation, args.model, quote, sys.stdout)
    return 0 if quote.priced else 1


def _quote_json(operation: str, model: str, quote: CostEstimate) -> dict[str, Any]:
    return {
        "operation": operation,
        "model": model,
        "usd": quote.usd,
        "cost_source": quote.cost_source,
        "unit": quote.unit,
        "unit_price": quote.unit_price,
        "quantity": quote.quantity,
        "lines": [
            {"unit": x.unit, "unit_price": x.unit_price, "quantity": x.quantity, "usd": x.usd}
            for x in quote.lines
        ],
        "entry": quote.entry,
        "source": quote.source,
        "date": quote.date,
        "unconfirmed": quote.unconfirmed,
        "table_version": quote.table_version,
    }


def _print_quote(operation: str, model: str, quote: CostEstimate, out: TextIO) -> None:
    if quote.usd is None:
        print(
            f"{operation} {model}: unpriced in price table {quote.table_version} (no entry "
            "prices this usage; add one with OTEL_PERF_PRICING_FILE)",
            file=out,
        )
        return
    print(f"This operation will cost ${quote.usd:,.4f} ({operation} {model})", file=out)
    for line in quote.lines:
        print(
            f"  {line.unit}: {line.quantity:g} x ${line.unit_price:g} = ${line.usd:,.4f}",
            file=out,
        )
    print(f"  price entry: {quote.entry} [{quote.source}, {quote.date}]", file=out)
    if quote.unconfirmed:
        print(f"  unconfirmed: {quote.unconfirmed}", file=out)
    print(f"  price table: {quote.table_version}", file=out)


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
            if price.video_second_prices:
                parts.append(f"{len(price.video_second_prices)} resolution/audio prices")
            if price.unconfirmed:
                parts.append("unconfirmed")
            print(
                f"  {label} {name}{aliases}: {', '.join(parts)}  [{price.source}, {price.date}]",
                file=out,
            )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``otel-perf config``: the effective settings, thresholds and price table, with a warning
for stale prices."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields
from typing import Final, TextIO

from otel_perf import environment as E
from otel_perf.config import Settings, default_of
from otel_perf.environment import VARIABLES
from otel_perf.pricing import UNIT_KEYS, PriceTable
from otel_perf.version import __version__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``otel-perf config`` options."""
    parser.add_argument(
        "--pricing-file", default=None, help="validate and merge this TOML price table"
    )
    parser.add_argument(
        "--pricing", default=None, help="named price table: default or seed (or a TOML file)"
    )
    parser.add_argument(
        "--max-age-days",
        type=float,
        default=None,
        help=f"warn about price entries older than this (default ${E.PRICE_MAX_AGE_DAYS.name}, "
        f"{default_of('price_max_age_days'):g})",
    )


#: Settings shown as sections of their own (thresholds, prices) rather than one line.
_OWN_SECTION: Final = frozenset({"thresholds", "template_thresholds", "pricing"})


def price_table(args: argparse.Namespace) -> PriceTable:
    """``--pricing`` (else the environment's table) with ``--pricing-file`` merged over it."""
    table = Settings.resolve(pricing=args.pricing).pricing
    if args.pricing_file:
        table = table.merged(PriceTable.from_file(args.pricing_file))
    return table


def run(args: argparse.Namespace) -> int:
    """Print the effective settings, thresholds, prices and environment variables."""
    settings = Settings.resolve(price_max_age_days=args.max_age_days)
    table = price_table(args)
    out = sys.stdout
    print(f"otel-perf {__version__}", file=out)
    print("\nSettings (arguments > OTEL_PERF_* / OTEL_* environment > defaults)", file=out)
    # Every field of the settings table but those printed as tables of their own below.
    for name in (f.name for f in fields(Settings) if f.name not in _OWN_SECTION):
        print(f"  {name:<22} {getattr(settings, name)!r}", file=out)
    print("\nSlow thresholds (seconds)", file=out)
    for op, seconds in settings.thresholds.items():
        print(f"  {op:<24} {seconds:g}", file=out)
    for template, seconds in settings.template_thresholds.items():
        print(f"  template {template:<15} {seconds:g}", file=out)
    _print_prices(table, out)
    print("\nEnvironment variables (set here marked *)", file=out)
    for variable in VARIABLES:
        mark = "*" if os.environ.get(variable.name, "").strip() else " "
        print(f" {mark}{variable.name:<37} {variable.scope}", file=out)
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
        f"{days:g} days ({E.PRICE_MAX_AGE_DAYS.name}); check them against the provider's "
        f"page and override them with {E.PRICING_FILE.name}:",
        file=out,
    )
    for kind, price in old:
        print(f"  warning: {kind} {price.name}: price dated {price.date or 'never'}", file=out)


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

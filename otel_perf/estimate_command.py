"""``otel-perf estimate``: what an operation will cost, before running it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from otel_perf.config_command import price_table
from otel_perf.estimate import estimate_cost
from otel_perf.pricing import CostEstimate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``otel-perf estimate`` options."""
    parser.add_argument("operation", help="generate_image, generate_video, generate_speech, ...")
    parser.add_argument("--model", required=True, help="model id or alias (veo, gpt-image-1, ...)")
    parser.add_argument(
        "--pricing", default=None, help="default, seed or a TOML file (default env)"
    )
    parser.add_argument("--pricing-file", default=None, help="TOML price table merged over it")
    for flag, kind in (("images", int), ("image-size", str), ("image-quality", str),
                       ("videos", int), ("video-seconds", float), ("video-resolution", str),
                       ("audio-seconds", float), ("characters", int), ("input-tokens", int),
                       ("output-tokens", int)):  # fmt: skip
        parser.add_argument(f"--{flag}", type=kind, default=None)
    parser.add_argument(
        "--video-audio", action=argparse.BooleanOptionalAction, default=None,
        help="the clip has sound (--no-video-audio: silent)",
    )  # fmt: skip
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    """Print (or emit as JSON) what the operation will cost; 1 when it is unpriced."""
    usage = {
        name: getattr(args, name)
        for name in ("images", "image_size", "image_quality", "videos", "video_seconds",
                     "video_resolution", "video_audio", "audio_seconds", "characters",
                     "input_tokens", "output_tokens")
        if getattr(args, name) is not None
    }  # fmt: skip
    quote = estimate_cost(args.operation, model=args.model, pricing=price_table(args), **usage)
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

"""``otel-perf report``: the analytics report from Prometheus, in five formats.

Exit codes (``docs/report.md``): 0 written; 1 no otel-perf data in the range and scope;
2 bad arguments; 3 Prometheus unreachable or not answering before the ``--timeout``
deadline; 4 the PDF engine (headless Chromium) missing or failing; 5 a malformed or
oversized answer (not the Prometheus API); 6 Prometheus refused a query.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

from otel_perf import environment as E
from otel_perf.config import Settings
from otel_perf.pricing import PriceTable
from otel_perf.report.build import ReportOptions, build_report
from otel_perf.report.chromium import ChromiumError
from otel_perf.report.model import Report
from otel_perf.report.projects import SORT_COLUMNS
from otel_perf.report.prometheus import (
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    MalformedAnswer,
    PrometheusClient,
    PrometheusError,
    PrometheusRefused,
)
from otel_perf.report.rawdata import NoDataError
from otel_perf.report.render_csv import render_csv
from otel_perf.report.render_html import render_html
from otel_perf.report.render_json import render_json
from otel_perf.report.render_text import render_text
from otel_perf.report.safetext import printable
from otel_perf.report.timerange import RANGE_CHOICES

URL_ENV: Final = E.PROMETHEUS_URL.name
TEMPO_ENV: Final = E.TEMPO_URL.name
FORMATS: Final[dict[str, Callable[[Report], str]]] = {
    "text": render_text,
    "csv": render_csv,
    "json": render_json,
    "html": render_html,
}
EXIT_NO_DATA: Final = 1
EXIT_USAGE: Final = 2
EXIT_PROMETHEUS: Final = 3  # unreachable, or no answer before the deadline
EXIT_PDF: Final = 4
EXIT_MALFORMED: Final = 5
EXIT_REFUSED: Final = 6


def add_prometheus_argument(parser: argparse.ArgumentParser) -> None:
    """``--prometheus URL`` and ``--timeout``, shared with ``otel-perf purge``."""
    parser.add_argument(
        "--prometheus",
        default=os.environ.get(URL_ENV) or DEFAULT_URL,
        metavar="URL",
        help=f"Prometheus server (default ${URL_ENV} or {DEFAULT_URL})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds for the whole command, every request together (default {DEFAULT_TIMEOUT:g})",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_prometheus_argument(parser)
    parser.add_argument(
        "--range",
        default="7d",
        metavar="|".join(RANGE_CHOICES),
        help="how far back: 7d, 30d, all (the server's retention) or any duration like 12h",
    )
    parser.add_argument("--start", help="range start: ISO 8601, unix seconds or now-7d")
    parser.add_argument("--end", help="range end (default now)")
    parser.add_argument("--project", help="only this project (default: all projects)")
    parser.add_argument(
        "--selector",
        metavar="MATCHERS",
        help='PromQL label matchers applied to every query, e.g. job="media-api",env="prod"',
    )
    parser.add_argument(
        "--no-records",
        dest="records",
        action="store_false",
        help="read the trend grid from raw series even where Prometheus has the "
        "otel-perf-report.rules records (the figures are the same; the bins are cut at the "
        "nominal instants instead of the rule evaluations just before them)",
    )
    parser.add_argument(
        "--pricing-file",
        metavar="TOML",
        help="the service's own price table (same shape as the bundled one; merged over "
        "--pricing) for the cost suggestions",
    )
    parser.add_argument(
        "--tempo-url",
        default=os.environ.get(TEMPO_ENV) or None,
        metavar="URL",
        help=f"Tempo base URL: recent errors link to their traces (default ${TEMPO_ENV})",
    )
    parser.add_argument(
        "--format", choices=(*FORMATS, "pdf"), default="text", help="output format (default text)"
    )
    parser.add_argument(
        "--sort",
        default="cost",
        metavar="COLUMN[:asc|desc]",
        help=f"project comparison order: {', '.join(SORT_COLUMNS)} (default cost, largest first)",
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    parser.add_argument("--budget", type=float, help="budget in USD for the budget window")
    parser.add_argument(
        "--pricing",
        metavar="TABLE",
        help="price table the suggestions compare: default, seed or a TOML file merged over "
        "the default (default OTEL_PERF_PRICING / OTEL_PERF_PRICING_FILE)",
    )
    parser.add_argument(
        "--budget-window",
        type=float,
        default=30.0,
        metavar="DAYS",
        help="length of the budget window the cost is projected to (default 30)",
    )


def run(args: argparse.Namespace) -> int:
    options = ReportOptions(
        range=args.range,
        start=args.start,
        end=args.end,
        project=args.project,
        sort=args.sort,
        budget_window_days=args.budget_window,
        budget_usd=args.budget,
        selector=args.selector,
        tempo_url=args.tempo_url,
        records=args.records,
    )
    try:
        if args.budget_window <= 0:
            raise ValueError("--budget-window must be > 0 days")
        if args.format == "pdf" and args.output is None and sys.stdout.isatty():
            raise ValueError("--format pdf writes binary data: pass --output FILE")
        prices = Settings.resolve(pricing=args.pricing).pricing
        if args.pricing_file:  # the service's own prices, over the chosen table
            prices = prices.merged(PriceTable.from_file(args.pricing_file))
        client = PrometheusClient(args.prometheus, timeout=args.timeout)
        # One short pass that allocates a few hundred thousand objects (decoded answers)
        # and frees them by reference counting: the cyclic collector would only rescan
        # them, dozens of times (a tenth of a 7-day report's time). Back on afterwards.
        gc.disable()
        try:
            report = build_report(client, options, prices=prices)
        finally:
            gc.enable()
        if args.format == "pdf":
            from otel_perf.report.render_pdf import render_pdf

            _write_bytes(render_pdf(report), args.output)
        else:
            _write_text(FORMATS[args.format](report), args.output)
    except NoDataError as exc:
        return _fail(exc, EXIT_NO_DATA)
    except MalformedAnswer as exc:
        return _fail(exc, EXIT_MALFORMED)
    except PrometheusRefused as exc:
        return _fail(exc, EXIT_REFUSED)
    except PrometheusError as exc:
        return _fail(exc, EXIT_PROMETHEUS)
    except ChromiumError as exc:
        return _fail(exc, EXIT_PDF)
    except (ValueError, OSError) as exc:
        return _fail(exc, EXIT_USAGE)
    if args.output is not None:
        print(f"otel-perf report: wrote {args.output}", file=sys.stderr)
    return 0


def _fail(exc: Exception, code: int) -> int:
    """One line on stderr, control and bidi characters escaped."""
    message = " ".join(printable(str(exc)).split("\n"))
    print(f"otel-perf report: error: {message}", file=sys.stderr)
    return code


def _write_text(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        Path(output).write_text(text, encoding="utf-8")


def _write_bytes(data: bytes, output: str | None) -> None:
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        Path(output).write_bytes(data)

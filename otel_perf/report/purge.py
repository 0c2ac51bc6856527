"""``otel-perf purge --project P``: delete a project's series through Prometheus's admin API.

Deletes every otel-perf series labelled ``project="P"`` (cost, durations, errors,
retries) for all time, then cleans tombstones so the samples leave the disk. Needs
Prometheus started with ``--web.enable-admin-api``; says so clearly when it is not.
The other otel-perf metrics carry no project label and hold no per-project data.
"""

from __future__ import annotations

import argparse
import sys
from typing import Final

from otel_perf.metrics import SPECS
from otel_perf.report import promql
from otel_perf.report.command import EXIT_PROMETHEUS, EXIT_USAGE, add_prometheus_argument
from otel_perf.report.prometheus import PrometheusClient, PrometheusError
from otel_perf.report.timerange import retention_seconds

#: Every exposed series name that carries a project label.
PROJECT_SERIES: Final = tuple(
    name
    for spec in SPECS
    if "project" in spec.labels
    for name in (
        (spec.name + "_bucket", spec.name + "_count", spec.name + "_sum")
        if spec.kind == "histogram"
        else (spec.name,)
    )
)


def project_matcher(project: str) -> str:
    """The series selector for every otel-perf series of ``project``."""
    return f'{{__name__=~"otel_perf_.+",project={promql.quote(project)}}}'


def count_series(client: PrometheusClient, project: str, seconds: float) -> int:
    """Series of ``project`` holding samples in the last ``seconds`` (deleted ones hold none;
    the series API would still list them until the head is compacted)."""
    total = 0
    for name in PROJECT_SERIES:
        series = promql.selector(name, project=project)
        result = client.query(f"count(last_over_time({series}[{int(seconds)}s]))")
        total += int(result[0].value) if result else 0
    return total


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_prometheus_argument(parser)
    parser.add_argument("--project", required=True, help="the project whose data to delete")
    parser.add_argument(
        "--yes", action="store_true", help="do not ask for confirmation (required without a tty)"
    )
    parser.add_argument(
        "--keep-tombstones",
        action="store_true",
        help="leave deleted samples on disk until the next compaction (faster)",
    )


def run(args: argparse.Namespace) -> int:
    if not args.project:
        print("otel-perf purge: error: --project must not be empty", file=sys.stderr)
        return EXIT_USAGE
    matcher = project_matcher(args.project)
    try:
        client = PrometheusClient(args.prometheus, timeout=args.timeout)
        window = retention_seconds(client.flags()) + 86400.0
        series = count_series(client, args.project, window)
        if not series:
            print(f"otel-perf purge: no series of project {args.project!r} in {client.url}")
            return 0
        if not args.yes and not _confirm(args.project, series, client.url):
            print("otel-perf purge: nothing deleted", file=sys.stderr)
            return EXIT_USAGE
        client.delete_series([matcher])
        if not args.keep_tombstones:
            client.clean_tombstones()
        left = count_series(client, args.project, window)
    except PrometheusError as exc:
        print(f"otel-perf purge: error: {exc}", file=sys.stderr)
        return EXIT_PROMETHEUS
    except ValueError as exc:
        print(f"otel-perf purge: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"otel-perf purge: deleted {series} series of project {args.project!r} "
        f"from {client.url}"
        + (f"; {left} hold new samples (is a service still sending it?)" if left else "")
    )
    return 0


def _confirm(project: str, count: int, url: str) -> bool:
    if not sys.stdin.isatty():
        print(
            f"otel-perf purge: refusing to delete {count} series of project {project!r} "
            "without --yes (no terminal to ask)",
            file=sys.stderr,
        )
        return False
    answer = input(f"Delete {count} series of project {project!r} from {url}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")

"""``otel-perf purge --project P``: delete a project's series through Prometheus's admin API.

Deletes the otel-perf contract's series labelled ``project="P"`` (cost, durations,
errors, retries; ``--selector`` narrows them to a job or environment) for all time, then
cleans tombstones so the samples leave the disk. It counts with the same selector it
deletes with, and shows the jobs and instances the series come from before it asks. Needs
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
from otel_perf.report.safetext import printable
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


def project_matcher(project: str, scope: tuple[str, ...] = ()) -> str:
    """The one selector purge counts and deletes with: the contract's per-project series
    of ``project`` (nothing else named ``otel_perf_*``), narrowed by ``--selector``."""
    names = "|".join(PROJECT_SERIES)
    inner = [f"__name__=~{promql.quote(names)}", f"project={promql.quote(project)}", *scope]
    return "{" + ",".join(inner) + "}"


def count_series(
    client: PrometheusClient, matcher: str, seconds: float
) -> dict[tuple[str, str], int]:
    """Series matched by ``matcher`` holding samples in the last ``seconds``, by job and
    instance (deleted ones hold none; the series API would still list them until the
    head is compacted)."""
    rows = client.query(f"count by (job, instance) (last_over_time({matcher}[{int(seconds)}s]))")
    return {
        (r.labels.get("job", ""), r.labels.get("instance", "")): int(r.value)
        for r in rows
        if r.value > 0
    }


def _where(found: dict[tuple[str, str], int]) -> str:
    return "; ".join(
        f"{n} in job {printable(job)!r} instance {printable(instance)!r}"
        for (job, instance), n in sorted(found.items())
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_prometheus_argument(parser)
    parser.add_argument("--project", required=True, help="the project whose data to delete")
    parser.add_argument(
        "--selector",
        metavar="MATCHERS",
        help='only series also matching these PromQL label matchers, e.g. job="media-api"',
    )
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
    project = printable(args.project)
    try:
        scope = promql.parse_selector(args.selector)
        matcher = project_matcher(args.project, scope)
        client = PrometheusClient(args.prometheus, timeout=args.timeout)
        window = retention_seconds(client.flags()) + 86400.0
        found = count_series(client, matcher, window)
        series = sum(found.values())
        if not series:
            print(f"otel-perf purge: no series of project {project!r} in {client.url}")
            return 0
        print(
            f"otel-perf purge: {series} series of project {project!r} in {client.url}: "
            f"{_where(found)}",
            file=sys.stderr,
        )
        if not args.yes and not _confirm(project, series, client.url):
            print("otel-perf purge: nothing deleted", file=sys.stderr)
            return EXIT_USAGE
        client.delete_series([matcher])
        if not args.keep_tombstones:
            client.clean_tombstones()
        left = sum(count_series(client, matcher, window).values())
    except PrometheusError as exc:
        print(f"otel-perf purge: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_PROMETHEUS
    except ValueError as exc:
        print(f"otel-perf purge: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"otel-perf purge: deleted {series} series of project {project!r} from {client.url}"
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

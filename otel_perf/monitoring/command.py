"""``otel-perf generate [--config FILE] [--out DIR] [--check]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from otel_perf.monitoring.definition_file import load_config
from otel_perf.monitoring.render import drift, render_all, write_files


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``generate`` subcommand's options."""
    parser.add_argument(
        "--config",
        default=None,
        help="YAML, TOML or JSON file overriding thresholds, windows, budget, UIDs (see "
        "docs/operations.md); default: the built-in defaults from the seeds",
    )
    parser.add_argument(
        "--out", default=".", help="directory to write into (default: the current one)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and list the files that differ from what would be generated",
    )


def run(args: argparse.Namespace) -> int:
    """Render every ops file; with ``--check`` report drift instead of writing."""
    config = load_config(args.config)
    files = render_all(config)
    out = Path(args.out)
    if args.check:
        stale = drift(files, out)
        for relative in stale:
            print(f"out of date: {relative}", file=sys.stderr)
        if stale:
            print("run `otel-perf generate` to update them", file=sys.stderr)
            return 1
        print(f"{len(files)} generated files are up to date")
        return 0
    changed = write_files(files, out)
    for relative in changed:
        print(f"wrote {relative}")
    print(f"{len(files)} files generated, {len(changed)} changed")
    return 0

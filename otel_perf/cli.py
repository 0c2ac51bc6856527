"""The ``otel-perf`` command: it dispatches to one module per subcommand (``demo``,
``config``, ``estimate``, ``generate``, ``report``, ``purge``); each offers
``add_arguments(parser)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from otel_perf.optional_deps import MissingExtraError
from otel_perf.version import __version__

# (name, module, help), in the order ``otel-perf --help`` lists them.
SUBCOMMANDS: tuple[tuple[str, str, str], ...] = (
    ("demo", "otel_perf.demo.command", "run a synthetic instrumented media pipeline"),
    ("config", "otel_perf.config_command", "print effective settings, thresholds and prices"),
    ("estimate", "otel_perf.estimate_command", "what an operation will cost, before running it"),
    ("generate", "otel_perf.monitoring.command", "render alert rules, dashboards and ops files"),
    ("report", "otel_perf.report.command", "analytics report from Prometheus"),
    ("purge", "otel_perf.report.purge", "delete a project's series from Prometheus"),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``otel-perf`` console script."""
    parser = _parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except ValueError as exc:  # bad settings: a clear message, not a traceback
        print(f"otel-perf: error: {exc}", file=sys.stderr)
        return 2


def _parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; when ``argv`` names a subcommand, only that one's module is imported
    (``otel-perf report`` does not load the tracing stack ``demo`` needs)."""
    parser = argparse.ArgumentParser(prog="otel-perf", description=__doc__)
    parser.add_argument("--version", action="version", version=f"otel-perf {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    words = sys.argv[1:] if argv is None else list(argv)
    chosen = next((w for w in words if not w.startswith("-")), None)
    only = chosen if chosen in {name for name, _, _ in SUBCOMMANDS} else None
    for name, module, help_text in SUBCOMMANDS:
        if only is not None and name != only:  # listed, never run: its arguments unread
            sub.add_parser(name, help=help_text, prefix_chars="\0").add_argument("rest", nargs="*")
            continue
        try:
            command = importlib.import_module(module)
        except MissingExtraError as exc:
            # Listed anyway; any arguments are accepted (no option prefix), so running it
            # prints which extra to install.
            p = sub.add_parser(
                name, help=f"{help_text} (needs otel-perf[{exc.extra}])", prefix_chars="\0"
            )
            p.add_argument("rest", nargs="*")
            p.set_defaults(func=_missing_extra(exc))
            continue
        p = sub.add_parser(name, help=help_text)
        command.add_arguments(p)
        p.set_defaults(func=command.run)
    return parser


def _missing_extra(exc: MissingExtraError) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        print(f"otel-perf: error: {exc}", file=sys.stderr)
        return 2

    return run


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Keeps ``pytest -m "not e2e"`` free of process starts: a test (or a fixture it uses) that
starts a subprocess or forks must carry the ``e2e`` marker, or it errors at teardown.

Process starts are seen through audit events (``subprocess.Popen``, ``os.fork``, ``os.system``,
``os.posix_spawn``, ``os.exec``), so a new test that launches a tool is caught the first time
it runs, with no list to keep up to date. Items marked ``prometheus`` or ``alertmanager`` or
using a fixture that starts Prometheus (``SERVER_FIXTURES``) start servers, so they are marked ``e2e`` at collection.
"""

from __future__ import annotations

import sys
from typing import Any, Final

import pytest

PROCESS_EVENTS: Final = frozenset(
    {"subprocess.Popen", "os.fork", "os.forkpty", "os.system", "os.posix_spawn", "os.exec",
     "os.spawn"}
)  # fmt: skip
# Markers and fixtures that mean "starts a server process".
SERVER_MARKERS: Final = ("prometheus", "alertmanager")
SERVER_FIXTURES: Final = frozenset({"stack", "full_report", "small_stack", "bare_prometheus"})

# Probes libraries run on their own (``platform.processor()`` runs ``uname -p``), not
# processes a test starts.
IGNORED_EXECUTABLES: Final = frozenset({"uname"})

_started: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event in PROCESS_EVENTS:
        if event == "subprocess.Popen" and str(args[0]).rsplit("/", 1)[-1] in IGNORED_EXECUTABLES:
            return
        _started.append(f"{event} {str(args[0])[:80] if args else ''}".strip())


def install() -> None:
    """Start watching for process starts (audit hooks cannot be removed: once per session)."""
    sys.addaudithook(_audit)


def mark_server_tests(items: list[pytest.Item]) -> None:
    """Add ``e2e`` to items that start servers through their markers or fixtures."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if any(item.get_closest_marker(m) for m in SERVER_MARKERS) or fixtures & SERVER_FIXTURES:
            item.add_marker(pytest.mark.e2e)


def reset() -> None:
    """Forget what earlier tests started (called before each test's setup)."""
    _started.clear()


def check(item: pytest.Item) -> None:
    """Fail ``item`` when it started a process without the ``e2e`` marker."""
    started, _started[:] = list(_started), []
    if started and item.get_closest_marker("e2e") is None:
        pytest.fail(
            f"{item.nodeid} starts a process ({started[0]}) but is not marked e2e: add "
            "pytest.mark.e2e (or pytestmark = pytest.mark.e2e) so `pytest -m 'not e2e'` "
            "stays a fast local loop",
            pytrace=False,
        )

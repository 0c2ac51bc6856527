"""The process guard: a process start in a test without the e2e marker fails that test."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support import process_guard


@dataclass
class _Item:
    nodeid: str = "tests/x.py::test_x"
    markers: dict[str, Any] = field(default_factory=dict)

    def get_closest_marker(self, name: str) -> Any:
        return self.markers.get(name)


def test_an_unmarked_process_start_fails_naming_the_marker() -> None:
    """A Popen seen during an unmarked test fails it with the command and the fix."""
    process_guard.reset()
    process_guard._audit("subprocess.Popen", ("/usr/bin/promtool", ["promtool"], None, None))
    with pytest.raises(pytest.fail.Exception, match=r"promtool.*not marked e2e"):
        process_guard.check(_Item())  # type: ignore[arg-type]


def test_a_marked_test_may_start_processes() -> None:
    """With the e2e marker the same start passes, and the record is cleared."""
    process_guard.reset()
    process_guard._audit("os.fork", ())
    process_guard.check(_Item(markers={"e2e": pytest.mark.e2e}))  # type: ignore[arg-type]
    process_guard.check(_Item())  # type: ignore[arg-type]


def test_library_probes_and_other_events_are_not_process_starts() -> None:
    """``uname`` (platform.processor) and non-process audit events are ignored."""
    process_guard.reset()
    process_guard._audit("subprocess.Popen", ("uname", ["uname", "-p"], None, None))
    process_guard._audit("open", ("/tmp/x", "r", 0))
    process_guard.check(_Item())  # type: ignore[arg-type]

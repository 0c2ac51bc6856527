"""A Prometheus that drips, lies, floods or refuses: one clear line and a distinct exit code."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from otel_perf.report.command import (
    EXIT_MALFORMED,
    EXIT_PROMETHEUS,
    EXIT_REFUSED,
)
from tests.report.fakes import FakePrometheus
from tests.support.report_stack import run_cli
from tests.support.servers import free_port


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> Iterator[FakePrometheus]:
    server = FakePrometheus(request.param)
    yield server
    server.stop()


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("fake", ["drip"], indirect=True)
def test_slow_drip_is_cut_at_the_deadline(fake: FakePrometheus):
    """--timeout is one deadline for the whole report, not per read."""
    started = time.monotonic()
    result = run_cli("report", "--prometheus", fake.url, "--timeout", "2")
    elapsed = time.monotonic() - started
    assert result.code == EXIT_PROMETHEUS
    assert "did not answer within the 2 s deadline" in _one_line(result.err)
    assert elapsed < 15  # the drip alone would take over 8 minutes


@pytest.mark.parametrize("fake", ["lie", "html"], indirect=True)
def test_malformed_answer_is_one_line(fake: FakePrometheus):
    """The wrong shape, or not JSON at all: exit 5 and a sentence naming the URL."""
    result = run_cli("report", "--prometheus", fake.url, "--timeout", "5")
    assert result.code == EXIT_MALFORMED, result.err
    line = _one_line(result.err)
    assert fake.url in line and "Prometheus" in line


@pytest.mark.parametrize("fake", ["flood"], indirect=True)
def test_flood_is_capped(fake: FakePrometheus):
    """An answer past the size cap is abandoned, not buffered."""
    result = run_cli("report", "--prometheus", fake.url, "--timeout", "20")
    assert result.code == EXIT_MALFORMED, result.err
    assert "larger than 64 MiB" in _one_line(result.err)


@pytest.mark.parametrize("fake", ["refuse"], indirect=True)
def test_refused_query_has_its_own_code_and_no_raw_escape(fake: FakePrometheus):
    """An API error exits 6; the server's message cannot reach the terminal raw."""
    result = run_cli("report", "--prometheus", fake.url, "--timeout", "5")
    assert result.code == EXIT_REFUSED
    line = _one_line(result.err)
    assert "\x1b" not in line and "\\x1b[31m" in line


def test_unreachable_exits_3():
    """Nothing listening: exit 3, the URL named."""
    url = f"http://127.0.0.1:{free_port()}"
    result = run_cli("report", "--prometheus", url, "--timeout", "5")
    assert result.code == EXIT_PROMETHEUS
    assert f"cannot reach Prometheus at {url}" in _one_line(result.err)


def test_bad_url_and_control_characters_in_arguments():
    """A URL with an escape sequence is refused with the escape shown, not run."""
    result = run_cli("report", "--prometheus", "http://\x1b[2Jevil\u202e:9090x", "--timeout", "2")
    assert result.code in (2, 3)
    line = _one_line(result.err)
    assert "\x1b" not in line and "\u202e" not in line

"""--range, --start/--end and --sort against the phased stack."""

from __future__ import annotations

import pytest

from otel_perf import metrics as M
from tests.report.ledger_figures import DUR_COUNT, total
from tests.support.report_stack import Stack, run_cli

pytestmark = pytest.mark.e2e  # Prometheus and demo processes

approx = pytest.approx


def _report(stack: Stack, *args: str) -> dict:
    return run_cli("report", "--prometheus", stack.url, "--format", "json", *args).json()


def test_start_end_around_the_first_phase_holds_only_it(stack: Stack):
    """A custom range around phase alpha reports alpha's ledger and nothing else."""
    alpha = stack.phases["alpha"]
    data = _report(stack, "--start", str(alpha.started), "--end", str(alpha.finished))
    ledgers = stack.ledgers("alpha")
    assert data["range"]["label"] == "custom"
    assert [r["project"] for r in data["projects"]] == ["alpha"]
    assert data["cost"]["total_usd"] == approx(total(ledgers, M.COST_USD))
    assert data["errors"]["total"] == total(ledgers, DUR_COUNT, status="error")


def test_start_after_a_phase_excludes_it(stack: Stack):
    """From the end of phase alpha on, only beta, gamma and delta remain."""
    data = _report(stack, "--start", str(stack.phases["alpha"].finished))
    ledgers = stack.ledgers("beta", "gamma")
    assert {r["project"] for r in data["projects"]} == {"beta", "gamma", "delta"}
    assert data["cost"]["total_usd"] == approx(total(ledgers, M.COST_USD))
    assert data["time"]["operations"] == total(ledgers, DUR_COUNT)


@pytest.mark.parametrize("range_", ["7d", "30d", "all", "2h"])
def test_named_ranges_cover_everything(stack: Stack, full_report, range_: str):
    """7d, 30d, all (the retention) and any duration reaching back before the runs agree."""
    data = _report(stack, "--range", range_)
    assert data["range"]["label"] == range_
    assert data["cost"]["total_usd"] == approx(full_report["cost"]["total_usd"])
    assert data["errors"]["total"] == full_report["errors"]["total"]


def test_range_all_reaches_back_over_the_retention(stack: Stack):
    """'all' spans the server's retention (15 days by default) plus a day of margin."""
    data = _report(stack, "--range", "all")
    assert data["retention_days"] == 15
    assert data["range"]["seconds"] == 16 * 86400


def test_range_before_any_data_is_a_clear_error(stack: Stack):
    """A range that ends before the first phase has no data: exit 1, a sentence, no traceback."""
    first = stack.phases["alpha"].started
    result = run_cli(
        "report", "--prometheus", stack.url, "--start", str(first - 3600), "--end", str(first - 60)
    )
    assert result.code == 1
    assert "holds no otel-perf data" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("sort", "key", "descending"),
    [
        ("cost", "cost_usd", True),
        ("time", "time_seconds", True),
        ("operations", "operations", True),
        ("error_rate", "error_rate_pct", True),
        ("success_rate:asc", "success_rate_pct", False),
        ("project", "project", False),
        ("project:desc", "project", True),
    ],
)
def test_sort_orders_the_project_comparison(stack: Stack, sort: str, key: str, descending: bool):
    """--sort COLUMN[:asc|desc] orders the comparison; numbers default to largest first."""
    rows = _report(stack, "--sort", sort)["projects"]
    values = [r[key] for r in rows]
    assert values == sorted(values, reverse=descending)
    assert len(set(values)) > 1  # the workloads differ, so the order is meaningful


def test_bad_sort_column_is_a_usage_error(stack: Stack):
    """An unknown column names the accepted ones and exits 2 before querying."""
    result = run_cli("report", "--prometheus", stack.url, "--sort", "price")
    assert result.code == 2
    assert "accepted values: project, cost, time" in result.err

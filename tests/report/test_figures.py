"""Every figure of the JSON report equals what the demo ledgers imply."""

from __future__ import annotations

from collections import defaultdict

import pytest

from otel_perf import metrics as M
from tests.report.ledger_figures import DUR_COUNT, DUR_SUM, RENDER_OPS, group, projects, total
from tests.support.report_stack import Stack, run_cli

pytestmark = pytest.mark.e2e  # Prometheus and demo processes

approx = pytest.approx


def _nonzero(values: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in values.items() if v}


def test_cost_section_equals_ledgers(stack: Stack, full_report):
    """Total cost, by operation, by model and by operation+model+provider."""
    ledgers = stack.ledgers()
    cost = full_report["cost"]
    assert cost["total_usd"] == approx(total(ledgers, M.COST_USD))
    assert cost["total_usd"] > 0
    assert cost["by_operation"] == approx(group(ledgers, M.COST_USD, "operation"))
    assert cost["by_model"] == approx(group(ledgers, M.COST_USD, "model"))
    by_triple: dict[tuple[str, str, str], float] = defaultdict(float)
    for ledger in ledgers:
        for row in ledger["expected"][M.COST_USD]:
            labels = row["labels"]
            by_triple[(labels["operation"], labels["model"], labels["provider"])] += row["value"]
    got = {
        (r["operation"], r["model"], r["provider"]): r["usd"] for r in cost["by_operation_model"]
    }
    assert got == approx(dict(by_triple))
    assert cost["unpriced_operations"] == total(ledgers, M.UNPRICED_OPERATIONS)


def test_cost_projection_waits_for_a_day_of_activity(full_report):
    """Minutes of demo activity: spend is reported, the projection is "not enough data"."""
    projection = full_report["cost"]["projection"]
    assert projection["spent_usd"] == approx(full_report["cost"]["total_usd"])
    assert projection["status"] == "not enough data"
    assert projection["projected_usd"] is None
    assert projection["minimum_active_seconds"] == 86400
    assert projection["budget_window_days"] == 30


def test_time_section_equals_ledgers(stack: Stack, full_report):
    """Total time, operations, and per operation type: runs, total and average."""
    ledgers = stack.ledgers()
    section = full_report["time"]
    assert section["total_seconds"] == approx(total(ledgers, DUR_SUM))
    assert section["operations"] == total(ledgers, DUR_COUNT) == 180
    counts = group(ledgers, DUR_COUNT, "operation")
    seconds = group(ledgers, DUR_SUM, "operation")
    got = {r["operation"]: r for r in section["by_operation"]}
    assert set(got) == set(counts)
    for op, row in got.items():
        assert row["count"] == counts[op]
        assert row["total_seconds"] == approx(seconds[op])
        assert row["average_seconds"] == approx(seconds[op] / counts[op])
    exports = section["timeline_exports"]
    ok = {"operation": "export_timeline", "status": "success"}
    assert exports["count"] == total(ledgers, DUR_COUNT, **ok) > 0
    assert exports["total_seconds"] == approx(total(ledgers, DUR_SUM, **ok))
    assert sum(p["count"] for p in exports["history"]) == exports["count"]


def test_error_section_equals_ledgers(stack: Stack, full_report):
    """Totals, error rate, types, render reasons, API error types and classes."""
    ledgers = stack.ledgers()
    errors = full_report["errors"]
    failed = total(ledgers, DUR_COUNT, status="error")
    operations = total(ledgers, DUR_COUNT)
    assert errors["total"] == failed > 0
    assert errors["error_rate_pct"] == approx(100 * failed / operations)
    assert errors["by_type"] == _nonzero(group(ledgers, M.OPERATION_ERRORS, "error_type"))
    assert errors["by_operation"] == _nonzero(group(ledgers, M.OPERATION_ERRORS, "operation"))
    render: dict[str, float] = defaultdict(float)
    for op in RENDER_OPS:
        for reason, n in group(ledgers, M.OPERATION_ERRORS, "error_type", operation=op).items():
            render[reason] += n
    assert errors["render_reasons"] == _nonzero(render)
    api = group(ledgers, M.OPERATION_ERRORS, "error_type", operation="api_call")
    assert errors["api_error_types"] == _nonzero(api)
    classes = errors["classes"]
    assert classes["safety_blocks"] == total(ledgers, M.OPERATION_ERRORS, error_type="safety_block")
    assert classes["timeouts"] == total(ledgers, M.OPERATION_ERRORS, error_type="timeout")
    assert classes["api_errors"] == sum(api.values())
    assert classes["render_failures"] == sum(render.values())


def test_worst_endpoints_and_templates_equal_ledgers(stack: Stack, full_report):
    """The worst endpoints and templates are the top five by count, with exact counts."""
    ledgers = stack.ledgers()
    endpoints = group(ledgers, M.API_ERRORS, "endpoint")
    got = {w["endpoint"]: w["errors"] for w in full_report["errors"]["worst_endpoints"]}
    assert got == {k: v for k, v in endpoints.items() if k in got}
    assert len(got) == min(len(endpoints), 5)
    assert min(got.values()) >= max([v for k, v in endpoints.items() if k not in got], default=0)
    for w in full_report["errors"]["worst_endpoints"]:
        codes = group(ledgers, M.API_ERRORS, "status_code", endpoint=w["endpoint"])
        assert w["status_codes"] == {(k or "none"): v for k, v in codes.items() if v}
    templates = group(ledgers, M.RENDER_FAILURES, "template")
    got = {w["template"]: w["failures"] for w in full_report["errors"]["worst_templates"]}
    assert got == {k: v for k, v in templates.items() if k in got}
    assert len(got) == min(len(templates), 5)


def test_error_trend_adds_up_to_the_totals(full_report):
    """The trend's bins tile the observed period: they sum to the error and operation totals."""
    trend = full_report["errors"]["trend"]
    assert sum(p["errors"] for p in trend) == full_report["errors"]["total"]
    assert sum(p["operations"] for p in trend) == full_report["errors"]["operations"]
    busy = [p for p in trend if p["operations"]]
    assert len(busy) >= 3  # one burst per phase at least


def test_efficiency_section_equals_ledgers(stack: Stack, full_report):
    """Generations, success rate, retries per success, queue wait, slow operations."""
    ledgers = stack.ledgers()
    eff = full_report["efficiency"]
    counts = group(ledgers, DUR_COUNT, "operation")
    generation_ops = {op for op in counts if op not in RENDER_OPS | {"api_call"}}
    generations = sum(counts[op] for op in generation_ops)
    assert eff["generation_attempts"] == generations
    assert eff["generations_per_hour"] == approx(generations / eff["active_seconds"] * 3600)
    ok = sum(total(ledgers, DUR_COUNT, operation=op, status="success") for op in generation_ops)
    assert eff["successful_generations"] == ok
    assert eff["success_rate_pct"] == approx(100 * ok / generations)
    successes = total(ledgers, DUR_COUNT, status="success")
    assert eff["successes"] == successes
    assert eff["all_operations_success_rate_pct"] == approx(
        100 * successes / total(ledgers, DUR_COUNT)
    )
    retries = sum(total(ledgers, M.RETRIES, operation=op) for op in generation_ops)
    assert eff["retries"] == retries > 0
    assert eff["all_retries"] == total(ledgers, M.RETRIES)
    assert eff["retries_per_success"] == approx(retries / ok)
    waits = total(ledgers, M.QUEUE_WAIT + "_count")
    assert eff["queue_wait"]["count"] == waits
    assert eff["queue_wait"]["average_seconds"] == approx(
        total(ledgers, M.QUEUE_WAIT + "_sum") / waits
    )
    assert eff["slow_operations"] == _nonzero(group(ledgers, M.SLOW_OPERATIONS, "operation"))
    ok = {op: group(ledgers, DUR_COUNT, "status", operation=op) for op in counts}
    expected_rates = {op: 100 * s.get("success", 0) / counts[op] for op, s in ok.items()}
    assert eff["success_rate_by_operation"] == approx(expected_rates)


def test_project_comparison_equals_ledgers(stack: Stack, full_report):
    """One row per project: cost, time, operations, errors, error and success rate."""
    ledgers = stack.ledgers()
    rows = {r["project"]: r for r in full_report["projects"]}
    assert set(rows) == projects(ledgers) == {"alpha", "beta", "gamma", "delta"}
    for name, row in rows.items():
        operations = total(ledgers, DUR_COUNT, project=name)
        failed = total(ledgers, DUR_COUNT, project=name, status="error")
        assert row["cost_usd"] == approx(total(ledgers, M.COST_USD, project=name))
        assert row["time_seconds"] == approx(total(ledgers, DUR_SUM, project=name))
        assert row["operations"] == operations
        assert row["errors"] == failed
        assert row["error_rate_pct"] == approx(100 * failed / operations)
        assert row["success_rate_pct"] == approx(100 - 100 * failed / operations)


def test_one_project_report_equals_that_project(stack: Stack):
    """--project limits every per-project figure and says which figures are fleet-wide."""
    report = run_cli("report", "--prometheus", stack.url, "--project", "delta", "--format", "json")
    data = report.json()
    ledgers = stack.ledgers("gamma")
    assert data["project"] == "delta"
    assert data["cost"]["total_usd"] == approx(total(ledgers, M.COST_USD, project="delta"))
    assert data["time"]["operations"] == total(ledgers, DUR_COUNT, project="delta")
    assert data["errors"]["by_type"] == _nonzero(
        group(ledgers, M.OPERATION_ERRORS, "error_type", project="delta")
    )
    assert data["efficiency"]["all_retries"] == total(ledgers, M.RETRIES, project="delta")
    assert [r["project"] for r in data["projects"]] == ["delta"]
    assert M.API_ERRORS in data["fleet_wide_metrics"]
    assert M.COST_USD not in data["fleet_wide_metrics"]
    assert any("no project label" in note for note in data["notes"])
    text = run_cli("report", "--prometheus", stack.url, "--project", "delta").out
    assert "worst endpoint (all projects)" in text  # fleet-wide figures say so where shown
    assert "otel-perf report: project delta" in text

"""Suggestion rules: each family on hand-written figures, the 10 % / top-5 policy, and the
suboptimal versus healthy demo workloads on a real Prometheus."""

from __future__ import annotations

import pytest

from otel_perf.pricing import PriceTable
from otel_perf.report.facts import Facts
from otel_perf.report.suggestions import MAX_SUGGESTIONS, suggest
from tests.support.report_stack import Stack, run_cli

PRICES = PriceTable.named("seed")  # the seed's figures, as the demo uses


def _facts(**kw) -> Facts:
    """A healthy baseline: 100 cheap successful image generations, 100 s, $1.50."""
    base = dict(
        cost={("generate_image", "nano-banana", "gcp.gemini"): 1.5},
        ops={("generate_image", "nano-banana", "success"): 100.0},
        time={("generate_image", "nano-banana", "success"): 100.0},
        observed_seconds=3600.0,
    )
    base.update(kw)
    return Facts(**base)


def _rules(facts: Facts) -> list[str]:
    return [s.rule for s in suggest(facts, PRICES)]


def test_healthy_figures_give_no_suggestion():
    """Cheapest model, no errors, no retries, nothing slow: nothing to say."""
    assert suggest(_facts(), PRICES) == []


def test_cheaper_model_from_the_price_table():
    """All on Imagen ($0.035/image): switch to the cheapest per-image model, saving 57 %."""
    facts = _facts(
        cost={("generate_image", "imagen", "gcp.gemini"): 3.5},
        ops={("generate_image", "imagen", "success"): 100.0},
    )
    (s,) = suggest(facts, PRICES)
    assert s.rule == "cheaper_model"
    assert "nano-banana" in s.title
    assert s.saving.unit == "usd"
    assert s.saving.amount == pytest.approx(3.5 * (1 - 0.015 / 0.035))
    assert s.improvement_pct == pytest.approx(100 * (1 - 0.015 / 0.035), abs=0.01)
    assert s.evidence["price_usd"] == 0.035 and s.evidence["alternative_price_usd"] == 0.015


def test_cheaper_model_skips_small_shares_of_the_bill():
    """Saving 57 % on 5 % of the cost is under the 10 % threshold."""
    facts = _facts(
        cost={
            ("generate_image", "imagen", "gcp.gemini"): 0.5,
            ("generate_video", "veo", "gcp.gemini"): 9.5,
        }
    )
    assert "cheaper_model" not in _rules(facts)


def test_threshold_is_strictly_above_ten_percent_as_shown():
    """Upscaling at 10.04 % of the cost prints as 10.0 %: not shown; at 10.2 % it is."""

    def share(upscale: float) -> list[str]:
        cost = {("generate_image", "nano-banana", "gcp.gemini"): 100.0 - upscale,
                ("generate_video", "topaz-video-upscale", "topaz"): upscale}  # fmt: skip
        return _rules(_facts(cost=cost))

    assert share(10.04) == []
    assert share(10.2) == ["upscaling_cost"]


def test_safety_block_prone_model():
    """A model with many content-policy refusals; another model in the data blocks less."""
    facts = _facts(
        ops={
            ("generate_image", "imagen", "success"): 80.0,
            ("generate_image", "imagen", "error"): 20.0,
            ("generate_image", "flux", "success"): 50.0,
        },
        errors={("generate_image", "imagen", "safety_block"): 15.0,
                ("generate_image", "imagen", "server_error"): 5.0},
    )  # fmt: skip
    s = next(s for s in suggest(facts, PRICES) if s.rule == "safety_block_model")
    assert s.title.startswith("15% of imagen")
    assert "try flux" in s.detail
    assert s.improvement_pct == pytest.approx(75.0)  # 15 of 20 failures avoided


def test_rate_limits_and_timeouts():
    """Rate-limit and timeout errors each get their advice, needing at least three events."""
    facts = _facts(
        ops={("api_call", "", "success"): 90.0, ("api_call", "", "error"): 10.0},
        errors={("api_call", "", "rate_limit"): 4.0, ("api_call", "", "timeout"): 4.0,
                ("api_call", "", "server_error"): 2.0},
    )  # fmt: skip
    got = {s.rule: s for s in suggest(facts, PRICES)}
    assert got["rate_limits"].saving.amount == 4
    assert "slow down batch" in got["rate_limits"].title
    assert got["timeouts"].improvement_pct == pytest.approx(40.0)
    few = _facts(
        ops={("api_call", "", "success"): 98.0, ("api_call", "", "error"): 2.0},
        errors={("api_call", "", "timeout"): 2.0},
    )
    assert "timeouts" not in _rules(few)


def test_retries_per_success():
    """30 generation retries among 130 generation attempts, 100 successful: 0.30 retries per
    successful generation (the seed's figure, as in the efficiency section), 23 % of the
    generation attempts; render and API operations and their retries are left out."""
    facts = _facts(
        ops={("generate_image", "nano-banana", "success"): 100.0,
             ("generate_image", "nano-banana", "error"): 30.0,
             ("export_timeline", "", "success"): 400.0,
             ("api_call", "", "success"): 500.0},
        time={("generate_image", "nano-banana", "success"): 100.0,
              ("generate_image", "nano-banana", "error"): 30.0},
        errors={("generate_image", "nano-banana", "server_error"): 2.0},
        retries={"generate_image": 30.0, "export_timeline": 200.0},
    )  # fmt: skip
    (s,) = [s for s in suggest(facts, PRICES) if s.rule == "retries"]
    assert facts.retries_per_success == pytest.approx(0.30)
    assert s.evidence["retries_per_success"] == pytest.approx(0.30)
    assert s.title.startswith("0.30 retries per successful generation")
    assert s.evidence["retry_seconds"] == pytest.approx(30.0)
    assert s.evidence["by_operation"] == {"generate_image": 30.0}
    assert s.improvement_pct == pytest.approx(100 * 30 / 130, abs=0.01)


def test_slow_operation_types_suggest_draft_resolution_for_renders():
    """Slow timeline exports: render drafts at a lower resolution."""
    facts = _facts(
        ops={("export_timeline", "", "success"): 10.0},
        time={("export_timeline", "", "success"): 1000.0},
        cost={},
        slow={"export_timeline": 6.0},
        slowness_avg={"export_timeline": 2.0},
    )
    (s,) = suggest(facts, PRICES)
    assert s.rule == "slow_operations"
    assert "lower resolution" in s.title
    assert s.saving.amount == pytest.approx(6 * 100.0 * 0.5)  # 6 slow x 100 s x (1 - 1/2)
    assert s.saving.unit == "seconds"


def test_slow_rule_is_skipped_for_one_project():
    """Slow-operation counters are fleet-wide, so a one-project report does not blame it."""
    facts = _facts(
        ops={("export_timeline", "", "success"): 10.0},
        time={("export_timeline", "", "success"): 1000.0},
        slow={"export_timeline": 6.0},
        slowness_avg={"export_timeline": 2.0},
        project="p1",
    )
    assert "slow_operations" not in _rules(facts)


def test_upscaling_cost_share():
    """Upscaling that makes up a third of the bill: skip it for drafts."""
    facts = _facts(
        cost={("generate_image", "nano-banana", "gcp.gemini"): 2.0,
              ("generate_video", "topaz-video-upscale", "topaz"): 1.0},
    )  # fmt: skip
    (s,) = suggest(facts, PRICES)
    assert s.rule == "upscaling_cost"
    assert s.improvement_pct == pytest.approx(100 / 3, abs=0.01)
    assert "drafts" in s.title


def test_at_most_five_ranked_by_improvement():
    """Seven applicable rules: the five largest improvements, ranked 1..5 in order."""
    facts = Facts(
        cost={("generate_image", "imagen", "gcp.gemini"): 3.0,
              ("generate_video", "topaz-video-upscale", "topaz"): 2.0},
        ops={("generate_image", "imagen", "success"): 60.0,
             ("generate_image", "imagen", "error"): 40.0,
             ("export_timeline", "", "success"): 20.0},
        time={("generate_image", "imagen", "success"): 100.0,
              ("export_timeline", "", "success"): 4000.0},
        errors={("generate_image", "imagen", "safety_block"): 20.0,
                ("generate_image", "imagen", "rate_limit"): 10.0,
                ("generate_image", "imagen", "timeout"): 10.0},
        retries={"generate_image": 45.0},
        slow={"export_timeline": 10.0},
        slowness_avg={"export_timeline": 3.0},
    )  # fmt: skip
    suggestions = suggest(facts, PRICES)
    assert len(suggestions) == MAX_SUGGESTIONS
    assert [s.rank for s in suggestions] == [1, 2, 3, 4, 5]
    improvements = [s.improvement_pct for s in suggestions]
    assert improvements == sorted(improvements, reverse=True)
    assert all(i > 10 for i in improvements)
    # safety 20/40 failures, retries 45/100 generation attempts, upscaling $2/$5, Imagen -> nano-banana
    # $1.71/$5, slow exports 1333 s/4100 s; rate limits and timeouts (10/40 each) drop out.
    assert [s.rule for s in suggestions] == [
        "safety_block_model", "retries", "upscaling_cost", "cheaper_model", "slow_operations"
    ]  # fmt: skip


@pytest.mark.e2e
def test_suboptimal_workload_gets_its_suggestions(stack: Stack):
    """All on Imagen, many retries, many safety blocks, upscaling: each is called out."""
    data = run_cli(
        "report", "--prometheus", stack.url, "--project", "alpha", "--format", "json"
    ).json()
    rules = {s["rule"]: s for s in data["suggestions"]}
    assert {"cheaper_model", "safety_block_model", "retries", "upscaling_cost"} <= set(rules)
    assert "imagen" in rules["cheaper_model"]["title"]
    assert rules["safety_block_model"]["evidence"]["model"] == "imagen"
    assert len(data["suggestions"]) <= MAX_SUGGESTIONS
    assert all(s["improvement_pct"] > 10 for s in data["suggestions"])
    assert [s["rank"] for s in data["suggestions"]] == list(range(1, len(rules) + 1))


@pytest.mark.e2e
def test_healthy_workload_gets_none(stack: Stack):
    """The healthy project (no failures, retries or slow runs) gets no suggestion."""
    data = run_cli(
        "report",
        "--prometheus",
        stack.url,
        "--project",
        "beta",
        "--format",
        "json",
        "--pricing",
        "seed",  # the demo's table
    ).json()
    assert data["cost"]["total_usd"] > 0
    assert data["suggestions"] == []

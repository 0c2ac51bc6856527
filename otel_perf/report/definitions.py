"""What each headline figure means, by Story 6.2's definitions (seed 000, AC1/AC3).

One table for every output format: the text, CSV, JSON, HTML and PDF reports print each
figure with its name and this definition, so a reader never has to guess which rate
divides what.
"""

from __future__ import annotations

from typing import Final

#: The minimum active period before the cost is projected, and why.
PROJECTION_MIN_ACTIVE_SECONDS: Final = 24 * 3600.0
PROJECTION_THRESHOLD_WHY: Final = (
    "usage follows a daily cycle, so a rate measured over less than a day of activity says "
    "little about a month"
)

#: figure key -> (name, definition)
DEFINITIONS: Final[dict[str, tuple[str, str]]] = {
    "success_rate_pct": (
        "Success rate",
        "successful generations / generation attempts (image, video, audio; renders and API "
        "calls excluded), in percent",
    ),
    "all_operations_success_rate_pct": (
        "Success rate, all operations",
        "successful operations / finished operations of every kind (generations, renders, "
        "API calls), in percent",
    ),
    "retries_per_success": (
        "Average retries per successful generation",
        "generation attempts that were retries (retry attempt > 0) / successful generations",
    ),
    "generations_per_hour": (
        "Generations per hour",
        "generation attempts / the active period, from the first to the last scrape that "
        "showed a new generation plus one scrape interval (idle scrapes do not count)",
    ),
    "generation_time": (
        "Average time per generation",
        "mean duration of successful generations, per generation type and model; count is "
        "successful generations",
    ),
    "failed_generations": (
        "Failed generations",
        "failed generation attempts by generation type and classified reason (error.type)",
    ),
    "api_errors": (
        "API errors",
        "failed API calls (operation api_call) by classified error type",
    ),
    "safety_blocks": (
        "Safety blocks",
        "failed operations classified safety_block (content policy refusals)",
    ),
    "error_rate_pct": (
        "Error rate",
        "failed operations / finished operations of every kind, in percent",
    ),
    "queue_wait": (
        "Queue wait",
        "time operations spent queued before they started: mean, and 50th/90th/99th "
        "percentiles interpolated within the histogram buckets",
    ),
    "timeline_exports": (
        "Timeline export history",
        "successful export_timeline runs per time bin, with their mean duration",
    ),
    "projected_cost_usd": (
        "Projected cost",
        "spend so far plus the average spend per hour of the active period (first to last "
        "operation) times the hours left in the budget window; shown only after "
        f"{PROJECTION_MIN_ACTIVE_SECONDS / 3600:g} h of activity because "
        f"{PROJECTION_THRESHOLD_WHY}",
    ),
    "total_cost_usd": (
        "Total cost",
        "sum of otel_perf_cost_usd_total grown in the range (provider-reported or estimated "
        "from the price table)",
    ),
    "recent_errors": (
        "Recent errors",
        "the last 10 failed operations, from exemplars (trace ids) on the duration histogram; "
        "the error type is the errors counter that grew in the same scrape",
    ),
}


def name(key: str) -> str:
    return DEFINITIONS[key][0]


def definition(key: str) -> str:
    return DEFINITIONS[key][1]

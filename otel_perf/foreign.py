"""Translating spans other instrumentations make into otel-perf's attribute vocabulary.

A span without ``otel_perf.operation`` is counted when it carries GenAI semantic-convention
attributes (``gen_ai.operation.name``). The translation returns a new attribute mapping in
our names, so the processor records foreign and own spans through one code path. Only
spans that qualify pay for a translation; everything else costs one dictionary lookup.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from otel_perf import attributes as A
from otel_perf.pricing import PriceTable, Usage, normalize_model

#: Attributes other libraries use for a cost already computed, in order of preference.
COST_ATTRIBUTES: Final = (
    "gen_ai.usage.cost",  # OpenLIT
    "llm.cost.total",  # OpenInference
)


def translate(attrs: Mapping[str, Any], pricing: PriceTable) -> dict[str, Any] | None:
    """Our attributes for a foreign GenAI span, or ``None`` if it is not one."""
    operation = attrs.get(A.GEN_AI_OPERATION_NAME)
    if not isinstance(operation, str) or not operation:
        return None
    out = dict(attrs)
    out[A.OPERATION] = operation
    for key in COST_ATTRIBUTES:
        cost = attrs.get(key)
        if isinstance(cost, (int, float)) and not isinstance(cost, bool) and math.isfinite(cost):
            out[A.COST_USD] = float(cost)
            out[A.COST_SOURCE] = A.COST_SOURCE_PROVIDER
            return out
    model = normalize_model(attrs.get(A.GEN_AI_REQUEST_MODEL) or attrs.get(A.GEN_AI_RESPONSE_MODEL))
    usage = Usage(
        images=_int(attrs.get(A.GEN_AI_REQUEST_CHOICE_COUNT)),
        input_tokens=_int(attrs.get(A.GEN_AI_USAGE_INPUT_TOKENS)),
        output_tokens=_int(attrs.get(A.GEN_AI_USAGE_OUTPUT_TOKENS)),
    )
    estimate = pricing.estimate(operation, model, usage)
    out[A.COST_SOURCE] = estimate.source
    if estimate.usd is not None:
        out[A.COST_USD] = estimate.usd
    return out


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

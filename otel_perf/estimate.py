"""A pre-flight cost estimate: what an operation will cost before it runs.

Seed 000 AC6 asks for "This operation will cost $X - proceed?" before expensive operations.
:func:`estimate_cost` answers with the price table tracked operations are priced with now
(``configure(pricing=...)`` and its overrides), so the figure shown is the one
``otel_perf_cost_usd_total`` then records for the same call.

>>> quote = estimate_cost("generate_video", model="veo", video_seconds=8)
>>> f"This operation will cost ${quote.usd:.2f} - proceed?"
'This operation will cost $3.20 - proceed?'
>>> quote.unit, quote.unit_price
('per_video_second', 0.4)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from otel_perf import tracking
from otel_perf.pricing import CostEstimate, PriceTable, Usage, is_amount, normalize_model

USAGE_FIELDS: Final = tuple(f.name for f in dataclasses.fields(Usage))
_TEXT_FIELDS: Final = frozenset({"image_size", "image_quality", "video_resolution"})


def estimate_cost(
    operation: str,
    *,
    model: str,
    pricing: PriceTable | None = None,
    **usage: Any,
) -> CostEstimate:
    """The cost of one ``operation`` on ``model`` for the given usage, at the active prices.

    Args:
        operation: the operation label (``generate_image``, ``generate_video``, ...).
        model: the model id or alias, as passed to ``track_generation``.
        pricing: a table to use instead of the active one (default: what ``configure()``
            bound, else the default table).
        **usage: what the operation will consume, named as in ``OperationHandle.set_usage``
            (``images``, ``image_size``, ``image_quality``, ``videos``, ``video_seconds``,
            ``video_resolution``, ``video_audio``, ``audio_seconds``, ``characters``,
            ``input_tokens``, ``output_tokens``).

    Returns:
        A :class:`~otel_perf.pricing.CostEstimate`: ``usd`` (``None`` when unpriced),
        ``unit`` / ``unit_price`` / ``quantity``, every charged line, and the price entry's
        ``source``, ``date`` and ``unconfirmed`` note.

    Raises:
        TypeError: a usage name that is not one of the above (a typo would silently price
            nothing otherwise).
    """
    unknown = set(usage) - set(USAGE_FIELDS)
    if unknown:
        raise TypeError(
            f"estimate_cost: unknown usage {', '.join(sorted(unknown))}; accepted: "
            f"{', '.join(USAGE_FIELDS)}"
        )
    for name, value in usage.items():
        _check(name, value)
    table = pricing if pricing is not None else tracking.active_pricing()
    return table.quote(operation, normalize_model(model), Usage(**usage))


def _check(name: str, value: Any) -> None:
    if value is None:
        return
    if name in _TEXT_FIELDS:
        ok = isinstance(value, str)
        expected = "a string"
    elif name == "video_audio":
        ok = isinstance(value, bool)
        expected = "True or False"
    else:
        ok = is_amount(value)
        expected = "a finite number >= 0"
    if not ok:
        raise ValueError(f"estimate_cost: {name} must be {expected}, got {value!r}")


__all__ = ["USAGE_FIELDS", "estimate_cost"]

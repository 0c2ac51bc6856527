"""Slow-operation thresholds and the TRACK-008 helpers ``is_slow`` and ``error_rate``.

Thresholds are in seconds, keyed by the metric ``operation`` label. The first five are
the seed's ``PERFORMANCE_THRESHOLDS``; the others are our documented defaults.

>>> is_slow("render_still", 6.0)
True
>>> error_rate(100, 5)
5.0
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

DEFAULT_THRESHOLDS: Final[Mapping[str, float]] = MappingProxyType(
    {
        # TRACK-008 PERFORMANCE_THRESHOLDS
        "render_still": 5.0,
        "render_video": 30.0,
        "api_call": 3.0,
        "generate_image": 10.0,
        "generate_speech": 15.0,  # "voice_generation"
        # otel-perf defaults for the operations the seed does not list
        "generate_video": 120.0,
        "generate_music": 60.0,
        "generate_sound_effect": 20.0,
        "transcribe_audio": 30.0,  # speech-to-text of a few minutes of audio
        "render_batch": 120.0,
        "export_timeline": 120.0,  # Story 6.2: "Timeline export takes 2 minutes" is worth a note
    }
)
#: Threshold for operations without an entry (extra operations, foreign GenAI spans).
FALLBACK_THRESHOLD: Final = 60.0


def is_slow(
    operation: str, duration_s: float, thresholds: Mapping[str, float] | None = None
) -> bool:
    """True when ``duration_s`` exceeds the threshold of ``operation`` (``False`` for a
    duration or table that is not usable: this helper never raises)."""
    table = DEFAULT_THRESHOLDS if thresholds is None else thresholds
    try:
        return bool(float(duration_s) > float(table.get(operation, FALLBACK_THRESHOLD)))
    except Exception:
        return False


def slow_threshold(
    operation: str,
    template_id: object,
    thresholds: Mapping[str, float],
    template_thresholds: Mapping[str, float],
) -> float:
    """The threshold a duration is compared with: the render template's own threshold if it
    has one, else the operation's, else :data:`FALLBACK_THRESHOLD`.

    >>> slow_threshold("render_still", "tpl_hero", DEFAULT_THRESHOLDS, {"tpl_hero": 12.0})
    12.0
    """
    threshold = thresholds.get(operation, FALLBACK_THRESHOLD)
    if template_id is not None and template_thresholds:
        return template_thresholds.get(str(template_id), threshold)
    return threshold


def error_rate(total: int, failed: int) -> float:
    """Failed operations as a percentage of ``total`` (0 when there were none).

    Same contract as TRACK-008's ``calculateErrorRate(total, failed)``; anything that is
    not a number gives 0 (this helper never raises).
    """
    try:
        total_f, failed_f = float(total), float(failed)
    except Exception:
        return 0.0
    if not total_f > 0:  # also NaN
        return 0.0
    return failed_f / total_f * 100.0

"""Prometheus duration strings (``90s``, ``15m``, ``1h30m``, ``30d``): validation and seconds.

>>> seconds("1h30m")
5400.0
>>> is_duration("15m"), is_duration("15 minutes")
(True, False)
"""

from __future__ import annotations

import re
from typing import Final

_UNITS: Final = {
    "y": 365 * 86400,
    "w": 7 * 86400,
    "d": 86400,
    "h": 3600,
    "m": 60,
    "s": 1,
    "ms": 0.001,
}
_DURATION: Final = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)


def is_duration(text: str) -> bool:
    """True when ``text`` is a non-empty Prometheus duration."""
    return bool(text) and _DURATION.match(text) is not None


def seconds(text: str) -> float:
    """The length of a Prometheus duration in seconds; ``ValueError`` when malformed."""
    match = _DURATION.match(text) if text else None
    if match is None:
        raise ValueError(f"not a Prometheus duration (like 30s, 15m, 1h, 7d): {text!r}")
    return float(
        sum(
            int(part) * unit
            for part, unit in zip(match.groups(), _UNITS.values(), strict=True)
            if part
        )
    )

"""Checking what the tracked code passes in: types, ranges, payloads, reserved keys.

A wrong value is never raised into the caller: it is counted in
``otel_perf_invalid_values_total{field=...}``, logged once and ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from otel_perf import attributes as A
from otel_perf.redact import scrub
from otel_perf.selfmonitor import count_invalid, warn_once

#: Longer strings are payloads, not metadata (and span-only ids are cut to this length).
MAX_ATTRIBUTE_STRING: Final = 1024
_MAX_SEQUENCE: Final = 128


def put_text(attrs: dict[str, Any], key: str, value: Any, scrubbed: Any = None) -> None:
    """A string argument (project, template, request id...): other types become their
    ``str()``; a payload-like or unprintable value is refused; free text is scrubbed
    (``scrub_label``, cached, for values that repeat: project, template)."""
    if value is None:
        return
    text = checked_text(key, value)
    if text is not None:
        attrs[key] = text if scrubbed is None else scrubbed(text)


def scrub_id(text: str) -> str:
    """A span-only id (request, render): scrubbed, cut to ``MAX_ATTRIBUTE_STRING``."""
    return scrub(text, max_length=MAX_ATTRIBUTE_STRING)


def checked_text(field: str, value: Any) -> str | None:
    """``value`` as a string, or ``None`` (counted) for an unprintable or payload-like one."""
    if type(value) is not str:
        try:
            value = str(value)
        except Exception:
            ignored(field, value)
            return None
        if type(value) is not str:
            ignored(field, value)
            return None
    if is_payload(value):
        count_invalid("payload_attribute")
        warn_once("payload", "otel-perf: refusing payload-like value for %s", field)
        return None
    return value


def put_int(attrs: dict[str, Any], key: str, value: Any) -> None:
    """An int argument in ``[0, 2**31)`` (width, height); anything else is ignored."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 31:
        ignored(key, value)
        return
    attrs[key] = int(value)


def user_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """The accepted span-only attributes of a ``track_*(attributes=...)`` mapping."""
    if attributes is None:
        return {}
    accepted = {}
    try:
        for key, value in attributes.items():
            checked = accepted_attribute(key, value)
            if checked is not None:
                accepted[checked[0]] = checked[1]
    except Exception as exc:  # not a mapping, or one whose items() raises
        misused("attributes", exc)
    return accepted


def accepted_attribute(key: Any, value: Any) -> tuple[str, Any] | None:
    """``(key, value)`` for a span-only attribute, or ``None`` when it is refused."""
    if type(key) is not str:
        ignored("attribute_key", key)
        return None
    if key in A.RESERVED_ATTRIBUTES:
        count_invalid("reserved_attribute")
        warn_once(
            f"reserved.{key}",
            "otel-perf: attribute %s drives metric labels and cannot be set as a span-only "
            "attribute; pass it as an argument of track_*() or a handle method",
            key,
        )
        return None
    if is_payload(value):
        count_invalid("payload_attribute")
        warn_once("payload", "otel-perf: refusing payload-like value for attribute %s", key)
        return None
    if isinstance(value, (str, bool, int, float)):
        return key, value
    if isinstance(value, (list, tuple)):
        return key, tuple(value)
    ignored(f"attribute.{key}", value)  # not an OpenTelemetry attribute type
    return None


def is_payload(value: Any, depth: int = 0) -> bool:
    """Bytes, ``data:`` URIs and strings over 1 KiB, also inside sequences (whose length
    is bounded too); objects of other types count by the length of their ``str()``."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return True
    if isinstance(value, str):
        return len(value) > MAX_ATTRIBUTE_STRING or value.startswith("data:")
    if isinstance(value, (bool, int, float)) or value is None:
        return False
    if isinstance(value, (list, tuple)):
        if depth > 0 or len(value) > _MAX_SEQUENCE:
            return True  # attributes are flat: a nested or huge sequence is not metadata
        return any(is_payload(item, 1) for item in value)
    try:
        return len(str(value)) > MAX_ATTRIBUTE_STRING
    except Exception:
        return True


def checked_amount(value: Any, kind: type) -> Any:
    """A usage value of ``kind`` (``int``, ``float``, ``str`` up to 64, ``bool``), finite
    and ``>= 0`` for numbers; ``None`` when it is not one."""
    if kind is bool:
        return value if isinstance(value, bool) else None
    if kind is str:
        return value if isinstance(value, str) and len(value) <= 64 else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    if kind is int:
        return int(value) if float(value).is_integer() else None
    return float(value)


def misused(stage: str, exc: BaseException) -> None:
    """A public call given something that made it fail: counted, logged once, ignored."""
    count_invalid(stage)
    warn_once(f"misuse.{stage}", "otel-perf: ignoring an invalid argument to %s (%s)", stage,
              safe_repr(exc))  # fmt: skip


def ignored(field: str, value: Any) -> None:
    """A value of the wrong type or range: counted by field, logged once, ignored."""
    count_invalid(field)
    warn_once(f"invalid.{field}", "otel-perf: ignoring invalid %s=%s", field, safe_repr(value))


def safe_repr(value: Any) -> str:
    """``repr(value)``, or a placeholder when its ``__repr__`` raises or cheats."""
    try:
        text = repr(value)
        return text if type(text) is str else f"<{type(value).__name__}>"
    except Exception:
        return f"<unprintable {type(value).__name__}>"

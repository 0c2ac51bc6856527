"""The report's time range: ``--range 7d|30d|all`` or ``--start/--end``.

>>> r = resolve_range("7d", now=1_700_000_000.0)
>>> r.label, r.seconds
('7d', 604800.0)

Durations are Prometheus durations (``90d``, ``1h30m``), read by the one parser,
:func:`otel_perf.monitoring.durations.seconds`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Final

from otel_perf.monitoring.durations import seconds as _prometheus_seconds

RANGE_CHOICES: Final = ("7d", "30d", "all")
#: Prometheus's default retention, used for ``all`` when the server does not report one.
DEFAULT_RETENTION: Final = 15 * 86400.0


@dataclass(frozen=True)
class TimeRange:
    """A closed interval of unix seconds with the label the user chose."""

    start: float
    end: float
    label: str

    @property
    def seconds(self) -> float:
        return self.end - self.start


def duration_seconds(text: str) -> float:
    """Seconds in a Prometheus duration given on the command line (surrounding blanks
    ignored); ``ValueError`` naming the value when it is not one."""
    return _prometheus_seconds(text.strip())


def parse_time(text: str, *, now: float, what: str) -> float:
    """Unix seconds from an ISO 8601 time (UTC if no zone), unix seconds, or ``now``."""
    text = text.strip()
    if text == "now":
        return now
    if text.startswith("now-"):
        return now - duration_seconds(text[4:])
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{what}: expected an ISO 8601 time (2025-11-01T00:00:00Z), unix seconds, "
            f"'now' or 'now-7d'; got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def resolve_range(
    range_: str | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
    now: float,
    retention: float = DEFAULT_RETENTION,
) -> TimeRange:
    """The interval the report covers.

    ``all`` reaches back over the server's retention (nothing older is kept).
    ``--start``/``--end`` win over ``--range``; ``--end`` alone keeps the range's length.
    """
    end_t = now if end is None else parse_time(end, now=now, what="--end")
    if start is not None:
        start_t = parse_time(start, now=now, what="--start")
        label = "custom"
    else:
        choice = range_ or "7d"
        if choice == "all":
            length = retention + 86400.0  # blocks are dropped whole: a day of margin
        elif choice in RANGE_CHOICES:
            length = duration_seconds(choice)
        else:
            length = duration_seconds(choice)  # any duration works: 12h, 90d
        start_t = end_t - length
        label = choice if end is None else f"{choice} to {iso(end_t)}"
    if end_t > now:
        end_t = now  # the future holds no samples
    if start_t >= end_t:
        raise ValueError(f"--start ({iso(start_t)}) must be before --end ({iso(end_t)})")
    return TimeRange(start_t, end_t, label)


def iso(unix: float) -> str:
    """ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(unix, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def retention_seconds(flags: dict[str, str]) -> float:
    """The TSDB retention from Prometheus's flags.

    ``0s`` means the 15 d default, unless only a size limit is set (then time is unbounded
    and ten years stands in for "everything").
    """
    try:
        seconds = duration_seconds(flags.get("storage.tsdb.retention.time", "0s"))
    except ValueError:
        return DEFAULT_RETENTION
    if seconds:
        return seconds
    if flags.get("storage.tsdb.retention.size", "0B") not in ("0B", "0", ""):
        return 10 * 365 * 86400.0
    return DEFAULT_RETENTION

"""Every use of the OpenTelemetry SDK's private fields, each behind a probe and a fallback.

The SDK's public API is complete but slow where otel-perf runs once per span: every
property of ``ReadableSpan`` and ``SpanContext`` is a Python-level call, and the API has
no call to remove an attribute from a live span, to remove a span processor, or to change
the sampler of tracers already created. This module is the one place that reaches past the
API. Each capability is probed once at import on a probe object against the public API;
when a probe fails (another SDK layout), the function below uses the public API or does
nothing, and the rest of the package never knows which.

- :func:`span_start_fields` / :func:`span_end_fields`: a span's fields read directly
  (``FIELDS_READABLE``) or through the public properties.
- :func:`ending_fields` / :func:`add_ending_event`: write
  the estimated cost and the slowness on an SDK span in the OnEnding hook, after its end
  time is set and before any exporter sees it (``CAN_ANNOTATE``); nothing on any other span.
- :func:`remove_span_processors`: take processors back out of a provider.
- :func:`record_unsampled`: the SDK's ``AlwaysRecordSampler`` (1.45+) keeping the span's
  attributes, or an equivalent on older SDKs; :func:`set_sampler` installs it on a provider
  and the tracers it already made.

>>> from opentelemetry.sdk.trace import TracerProvider, sampling
>>> provider = TracerProvider(sampler=sampling.ALWAYS_OFF)
>>> set_sampler(provider, record_unsampled(provider.sampler))
>>> span = provider.get_tracer("t").start_span("s", attributes={"k": "v"})
>>> span.is_recording(), dict(span.attributes or {}), span.get_span_context().trace_flags.sampled
(True, {'k': 'v'}, False)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider, sampling
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import Attributes

_ERROR: Final = StatusCode.ERROR

#: The fields ``span_start_fields`` returns: (span context, attributes).
StartFields = tuple[Any, Mapping[str, Any]]
#: The fields ``span_end_fields`` returns: (context, parent, start, end, failed, attributes).
EndFields = tuple[Any, Any, "int | None", "int | None", bool, Mapping[str, Any]]


# --- reading span fields ------------------------------------------------------------------


def _start_fields_direct(span: Any) -> StartFields:
    if isinstance(span, ReadableSpan):
        bounded = span._attributes
        attrs = bounded._dict if type(bounded) is BoundedAttributes else (bounded or {})
        return span._context, attrs
    return _start_fields_public(span)


def _start_fields_public(span: Any) -> StartFields:
    return span.context, span.attributes or {}


def _end_fields_direct(span: Any) -> EndFields:
    if type(span) is ReadableSpan:
        bounded = span._attributes
        return (
            span._context,
            span._parent,
            span._start_time,
            span._end_time,
            span._status._status_code is _ERROR,
            bounded._dict if type(bounded) is BoundedAttributes else (bounded or {}),
        )
    return _end_fields_public(span)


def _end_fields_public(span: Any) -> EndFields:
    return (
        span.context,
        span.parent,
        span.start_time,
        span.end_time,
        span.status.status_code is _ERROR,
        span.attributes or {},
    )


def _fields_readable() -> bool:
    """Whether this SDK keeps span fields where the direct readers find them.

    Every property of ``ReadableSpan`` and ``SpanContext`` costs 60-130 ns (about ten per
    span), and ``attributes`` builds a ``MappingProxyType`` over a ``BoundedAttributes``
    whose ``get`` is two more calls. Checked once against the public API on a probe span.
    """
    try:
        context = SpanContext(0x1234, 0x56, is_remote=False, trace_flags=TraceFlags(1))
        span = ReadableSpan(
            name="probe",
            context=context,
            parent=context,
            attributes=BoundedAttributes(attributes={"k": "v"}),
            status=Status(StatusCode.ERROR),
            start_time=1,
            end_time=2,
        )
        direct = _end_fields_direct(span)
        public = _end_fields_public(span)
        return (
            direct[:5] == public[:5]
            and direct[0] is context
            and direct[4] is True
            and (context[0], context[1], context[3]) == (0x1234, 0x56, context.trace_flags)
            and type(span._attributes) is BoundedAttributes
            and direct[5] == dict(public[5]) == {"k": "v"}
            and _start_fields_direct(span)[1] == {"k": "v"}
        )
    except Exception:
        return False


FIELDS_READABLE: Final = _fields_readable()
span_start_fields: Callable[[Any], StartFields]
span_end_fields: Callable[[Any], EndFields]


def use_public_api(public: bool = True) -> None:
    """Read span fields through the public properties (``True``), or directly where the
    probe allows (``False``). Used by the tests that check both give the same metrics; a
    processor picks the readers when it is created."""
    global span_start_fields, span_end_fields
    direct = FIELDS_READABLE and not public
    span_start_fields = _start_fields_direct if direct else _start_fields_public
    span_end_fields = _end_fields_direct if direct else _end_fields_public


use_public_api(False)


# --- writing on a span as it ends ---------------------------------------------------------

_SDK_SPAN: type | None
try:
    from opentelemetry.sdk.trace import _Span as _SDK_SPAN
except ImportError:  # an SDK without the class: nothing is ever written at the end
    _SDK_SPAN = None

#: The fields ``ending_fields`` returns: (attributes, start, end, failed).
EndingFields = tuple[dict[str, Any], int, int, bool]
#: Attributes a caller may add to the mapping :func:`ending_fields` returns.
ENDING_ROOM: Final = 8


def ending_fields(span: Any) -> EndingFields | None:
    """An ending SDK span's attributes, start, end and whether it failed, read directly;
    ``None`` for any other span, one within ``ENDING_ROOM`` of its attribute limit, or
    where the probe failed (then nothing is written on it).

    For a processor's ``_on_ending`` (the SDK's OnEnding hook): it runs after the span's
    end time is set and before any processor's ``on_end``, so what is written then is on
    the span every exporter sees, whatever the order the processors were added in. The SDK
    refuses ``set_attribute`` once the end time is set, so the mapping returned is the
    span's own (its ``BoundedAttributes``' dict): the caller may add up to ``ENDING_ROOM``
    keys to it, during that call only.
    """
    if not _annotate_enabled or type(span) is not _SDK_SPAN:
        return None
    bounded = span._attributes  # type: ignore[attr-defined]
    start = span._start_time  # type: ignore[attr-defined]
    end = span._end_time  # type: ignore[attr-defined]
    if type(bounded) is not BoundedAttributes or start is None or end is None:
        return None
    attrs = bounded._dict
    if bounded.maxlen is not None and len(attrs) > bounded.maxlen - ENDING_ROOM:
        return None
    return attrs, start, end, span._status._status_code is _ERROR  # type: ignore[attr-defined]


def add_ending_event(span: Any, name: str, attributes: Mapping[str, Any], timestamp: int) -> bool:
    """Add an event to a span :func:`ending_fields` accepted (``add_event`` is refused once
    the end time is set), within the span's event limit."""
    events: Any = getattr(span, "_events", None)
    if not isinstance(events, BoundedList):
        return False
    events.append(Event(name, BoundedAttributes(attributes=attributes, immutable=True), timestamp))
    return True


class _ProbeProcessor:
    """Writes an attribute and an event in the OnEnding hook; keeps what ``on_end`` sees."""

    def __init__(self) -> None:
        self.ended: Any = None

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def _on_ending(self, span: Any) -> None:
        fields = ending_fields(span)
        if fields is not None:
            fields[0]["added"] = 1
            add_ending_event(span, "probe", {"e": 1}, 3)

    def on_end(self, span: Any) -> None:
        self.ended = span


def _can_annotate() -> bool:
    """Whether the SDK calls ``_on_ending`` before ``on_end`` and what it writes there is
    on the ``ReadableSpan`` every ``on_end`` gets. Checked once on a probe span."""
    global _annotate_enabled
    if _SDK_SPAN is None:
        return False
    try:
        from opentelemetry.sdk.resources import Resource

        _annotate_enabled = True
        processor = _ProbeProcessor()
        probe = _SDK_SPAN(
            "probe",
            trace.SpanContext(1, 1, is_remote=False),
            attributes={"k": "v"},
            resource=Resource.get_empty(),
            span_processor=processor,
        )
        probe.start(start_time=1)
        probe.end(end_time=2)
        ended = processor.ended
        return (
            ended is not None
            and dict(ended.attributes or {}) == {"k": "v", "added": 1}
            and [(e.name, dict(e.attributes or {}), e.timestamp) for e in ended.events]
            == [("probe", {"e": 1}, 3)]
        )
    except Exception:
        return False
    finally:
        _annotate_enabled = False


_annotate_enabled = False
CAN_ANNOTATE: Final = _can_annotate()
_annotate_enabled = CAN_ANNOTATE


def force_annotate(enabled: bool) -> None:
    """Turn writing at the end off (or back on where the probe allows it): for the tests of
    the fallback, where the cost is on the metrics only."""
    global _annotate_enabled
    _annotate_enabled = enabled and CAN_ANNOTATE


# --- provider surgery ---------------------------------------------------------------------


def remove_span_processors(provider: TracerProvider, processors: Iterable[Any]) -> bool:
    """Take ``processors`` out of ``provider`` (the API can only add them). ``False`` on an
    SDK with another layout: the caller's processors then stay, disabled."""
    multi = getattr(provider, "_active_span_processor", None)
    lock = getattr(multi, "_lock", None)
    current = getattr(multi, "_span_processors", None)
    if lock is None or type(current) is not tuple:
        return False
    ours = [p for p in processors if p is not None]
    with lock:
        multi._span_processors = tuple(  # type: ignore[union-attr]
            p
            for p in multi._span_processors  # type: ignore[union-attr]
            if all(p is not mine for mine in ours)
        )
    return True


def set_sampler(provider: TracerProvider, sampler: sampling.Sampler) -> None:
    """Make ``sampler`` the provider's, including in tracers it already made (each captured
    the sampler when it was created)."""
    previous = provider.sampler
    provider.sampler = sampler
    tracers = getattr(provider, "_tracers", None)
    if isinstance(tracers, dict):
        for tracer in list(tracers.values()):
            if getattr(tracer, "sampler", None) is previous:
                tracer.sampler = sampler


class _KeepAttributes:
    """``should_sample`` for a record-unsampled sampler: a ``DROP`` becomes
    ``RECORD_ONLY`` with the span's own attributes (a DROP result carries none, and the
    SDK's ``AlwaysRecordSampler`` passes that empty set on, so a recorded span would lose
    the attributes it started with)."""

    delegate: sampling.Sampler

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[trace.Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> sampling.SamplingResult:
        result = self.delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )
        if result.decision is sampling.Decision.DROP:
            return sampling.SamplingResult(
                sampling.Decision.RECORD_ONLY, attributes, result.trace_state
            )
        return result


_SdkAlwaysRecord: Any = getattr(sampling, "AlwaysRecordSampler", None)


class _RecordUnsampled(_KeepAttributes, sampling.Sampler):
    """Record-unsampled on an SDK without ``AlwaysRecordSampler`` (before 1.45)."""

    def __init__(self, delegate: sampling.Sampler) -> None:
        self.delegate = delegate

    def get_description(self) -> str:
        return f"AlwaysRecordSampler{{{self.delegate.get_description()}}}"


if _SdkAlwaysRecord is not None:

    class _AlwaysRecord(_KeepAttributes, _SdkAlwaysRecord):  # type: ignore[misc]
        """The SDK's ``AlwaysRecordSampler``, keeping the span's attributes on a DROP."""

        def __init__(self, delegate: sampling.Sampler) -> None:
            super().__init__(delegate)
            self.delegate = delegate

    RecordUnsampledSampler: type[sampling.Sampler] = _AlwaysRecord
else:  # pragma: no cover - SDKs before 1.45
    RecordUnsampledSampler = _RecordUnsampled


def record_unsampled(delegate: sampling.Sampler, *, sdk_sampler: bool = True) -> sampling.Sampler:
    """A sampler that records what ``delegate`` drops (``RECORD_ONLY``): exporters see the
    same sampled spans, span processors see every span. An ``AlwaysRecordSampler`` where
    the SDK has one (``sdk_sampler=False`` forces the fallback)."""
    if sdk_sampler and _SdkAlwaysRecord is not None:
        return RecordUnsampledSampler(delegate)  # type: ignore[call-arg]
    return _RecordUnsampled(delegate)


def records_unsampled(sampler: sampling.Sampler) -> bool:
    """Whether ``sampler`` is one :func:`record_unsampled` made."""
    return isinstance(sampler, _KeepAttributes)


__all__ = [
    "CAN_ANNOTATE",
    "ENDING_ROOM",
    "FIELDS_READABLE",
    "RecordUnsampledSampler",
    "add_ending_event",
    "ending_fields",
    "force_annotate",
    "record_unsampled",
    "records_unsampled",
    "remove_span_processors",
    "set_sampler",
    "span_end_fields",
    "span_start_fields",
    "use_public_api",
]

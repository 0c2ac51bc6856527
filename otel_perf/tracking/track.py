"""``track_generation``, ``track_render`` and ``track_api_call``: the public entry points.

Each checks its arguments, builds the span's start attributes and name, and returns a
:class:`~otel_perf.tracking.tracker.Tracker`. A generation's start attributes depend only on
(operation, model, provider, project): the usual call repeats a few of those, so they are
built once and cached (bounded).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.trace import SpanKind

from otel_perf import attributes as A
from otel_perf.redact import scrub_label
from otel_perf.tracking.arguments import (
    checked_text,
    ignored,
    put_int,
    put_text,
    safe_repr,
    scrub_id,
    user_attributes,
)
from otel_perf.tracking.routes import route_template
from otel_perf.tracking.runtime import runtime
from otel_perf.tracking.tracker import Tracker

#: A generation's start attributes and span name.
_Template = tuple[dict[str, Any], str]
_generation_templates: dict[tuple[Any, ...], _Template] = {}
TEMPLATE_CACHE_SIZE: Final = 1024


def track_generation(
    operation: str,
    *,
    model: str,
    provider: str | None = None,
    project: str | None = None,
    request_id: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Tracker:
    """Track one media generation (image, video, speech, music, sound effect).

    Args:
        operation: ``generate_image``, ``generate_video``, ``generate_speech``,
            ``generate_music``, ``generate_sound_effect``, ``transcribe_audio`` or an operation added with
            ``configure(extra_operations=...)``. Anything else raises ``ValueError``.
        model: the model id or a price-table alias (``flux``, ``imagen``, ``veo``, ...).
        provider: ``gen_ai.provider.name`` (``openai``, ``gcp.gemini``, ...).
        project: the project the cost is attributed to (a metric label: no user ids).
        request_id: span-only correlation id.
        attributes: extra span-only attributes (never payloads).

    >>> @track_generation("generate_video", model="veo")
    ... async def animate(frame): ...
    """
    if type(operation) is not str or operation not in runtime.generation_operations:
        raise ValueError(
            f"track_generation: unknown operation {safe_repr(operation)}; accepted values: "
            f"{', '.join(sorted(runtime.generation_operations))} "
            "(add more with configure(extra_operations=...))"
        )
    if attributes is None and request_id is None:
        try:
            template = _generation_templates.get((operation, model, provider, project))
        except Exception:  # an unhashable model or provider: nothing to cache
            template = None
        if template is None:
            template = _cached_generation_template(operation, model, provider, project)
    else:
        template = _generation_template(operation, model, provider, project, request_id, attributes)
    attrs, name = template
    return Tracker(A.KIND_GENERATION, operation, name, SpanKind.CLIENT, attrs)


def _cached_generation_template(
    operation: str, model: Any, provider: str | None, project: str | None
) -> _Template:
    """Built once per (operation, model, provider, project); the cached attribute dict is
    only ever read (``start_span`` copies it into the span)."""
    template = _generation_template(operation, model, provider, project, None, None)
    try:
        key = (operation, model, provider, project)
        hash(key)
    except Exception:  # an unhashable model or provider: nothing to cache
        return template
    if len(_generation_templates) >= TEMPLATE_CACHE_SIZE:
        _generation_templates.clear()  # bounded under a flood of distinct models
    _generation_templates[key] = template
    return template


def _generation_template(
    operation: str,
    model: Any,
    provider: str | None,
    project: str | None,
    request_id: str | None,
    attributes: Mapping[str, Any] | None,
) -> _Template:
    """A generation span's start attributes and its name."""
    attrs = user_attributes(attributes)
    attrs[A.OPERATION] = operation
    attrs[A.GEN_AI_OPERATION_NAME] = operation
    model = "" if model is None else (checked_text("model", model) or "")
    attrs[A.GEN_AI_REQUEST_MODEL] = model
    output_type = A.OUTPUT_TYPES.get(operation)
    if output_type is not None:
        attrs[A.GEN_AI_OUTPUT_TYPE] = output_type
    put_text(attrs, A.GEN_AI_PROVIDER_NAME, provider)
    put_text(attrs, A.PROJECT, project, scrub_label)
    put_text(attrs, A.REQUEST_ID, request_id, scrub_id)
    name = f"{operation} {model}" if model else operation
    return attrs, name


def track_render(
    render_type: str,
    *,
    render_id: str | None = None,
    template_id: str | None = None,
    width: int | None = None,
    height: int | None = None,
    project: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Tracker:
    """Track one render: ``still``, ``video``, ``batch`` or ``timeline_export``.

    Failures classify into ``timeout``, ``memory_exceeded``, ``invalid_composition``,
    ``missing_asset``, ``codec_error`` or ``unknown``; per-template thresholds apply.

    >>> with track_render("still", template_id="tpl_hero", width=1920, height=1080) as r:
    ...     pass
    """
    operation = A.RENDER_OPERATIONS.get(render_type) if type(render_type) is str else None
    if operation is None:
        raise ValueError(
            f"track_render: unknown render_type {safe_repr(render_type)}; accepted values: "
            f"{', '.join(A.RENDER_TYPES)}"
        )
    attrs = user_attributes(attributes)
    attrs[A.OPERATION] = operation
    attrs[A.RENDER_TYPE] = render_type
    put_text(attrs, A.RENDER_ID, render_id, scrub_id)
    put_text(attrs, A.RENDER_TEMPLATE_ID, template_id, scrub_label)
    put_int(attrs, A.RENDER_WIDTH, width)
    put_int(attrs, A.RENDER_HEIGHT, height)
    put_text(attrs, A.PROJECT, project, scrub_label)
    return Tracker(A.KIND_RENDER, operation, operation, SpanKind.INTERNAL, attrs)


def track_api_call(
    endpoint: str,
    *,
    method: str = "GET",
    request_id: str | None = None,
    project: str | None = None,
    span_kind: SpanKind = SpanKind.CLIENT,
    attributes: Mapping[str, Any] | None = None,
) -> Tracker:
    """Track one API call. ``endpoint`` is the route template (``/api/render``).

    Query strings are dropped and id-like path segments (numbers, UUIDs, long hex) become
    ``{id}`` so a URL cannot explode the ``endpoint`` label. A recorded status >= 400 fails
    the call with the error type the status implies, even without an exception.
    """
    method_upper = method.upper() if type(method) is str else None
    if method_upper not in A.HTTP_METHODS:
        raise ValueError(
            f"track_api_call: unknown method {safe_repr(method)}; accepted values: "
            f"{', '.join(sorted(A.HTTP_METHODS))}"
        )
    route = route_template(checked_text("endpoint", endpoint) or "")
    if not isinstance(span_kind, SpanKind):
        ignored("span_kind", span_kind)
        span_kind = SpanKind.CLIENT
    attrs = user_attributes(attributes)
    attrs[A.OPERATION] = A.API_OPERATION
    attrs[A.HTTP_ROUTE] = route
    attrs[A.HTTP_REQUEST_METHOD] = method_upper
    put_text(attrs, A.REQUEST_ID, request_id, scrub_id)
    put_text(attrs, A.PROJECT, project, scrub_label)
    return Tracker(A.KIND_API, A.API_OPERATION, f"{method_upper} {route}", span_kind, attrs)

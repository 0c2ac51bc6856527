"""Hypothesis over the public API: no exception escapes into the caller, except the
documented ValueErrors naming the setting, and the user's exception is re-raised as the
same object. Bounded (a few thousand examples in all), no deadline."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.trace import SpanKind

import otel_perf
from otel_perf.classify import classify_error, classify_status, normalize_error_type
from otel_perf.redact import scrub

FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


class Hostile:
    """An object whose every protocol method raises."""

    def __str__(self) -> str:
        raise RuntimeError("str")

    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __hash__(self) -> int:
        raise RuntimeError("hash")

    def __float__(self) -> float:
        raise RuntimeError("float")

    def __int__(self) -> int:
        raise RuntimeError("int")

    def __len__(self) -> int:
        raise RuntimeError("len")

    def __iter__(self) -> Any:
        raise RuntimeError("iter")

    def __bool__(self) -> bool:
        raise RuntimeError("bool")


class HostileStr(str):
    def __str__(self) -> str:  # type: ignore[override]
        raise RuntimeError("str")

    def upper(self) -> str:  # type: ignore[override]
        raise RuntimeError("upper")


class BigStr:
    def __str__(self) -> str:
        return "y" * 10_000


class HostileException(Exception):
    @property
    def status_code(self) -> int:
        raise RuntimeError("status_code")

    @property
    def response(self) -> Any:
        raise RuntimeError("response")

    def __str__(self) -> str:
        raise RuntimeError("str")


ANY = st.deferred(
    lambda: st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=40),
        st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=3),
        st.binary(max_size=20),
        st.builds(Hostile),
        st.builds(HostileStr, st.text(max_size=3)),
        st.builds(BigStr),
        st.builds(object),
        st.sampled_from(
            [SpanKind.SERVER, "generate_image", "still", "GET", "data:image/png;base64,AAAA",
             "x" * 2000, 429, 503, "estimated", "timeout"]
        ),
        st.lists(st.one_of(st.integers(), st.text(max_size=5), st.binary(max_size=5)), max_size=4),
        st.tuples(st.text(max_size=5), st.binary(max_size=5)),
        st.dictionaries(st.one_of(st.text(max_size=10), st.integers()), ANY, max_size=3),
    )
)  # fmt: skip
FIELDS = ("images", "image_size", "image_quality", "videos", "video_seconds",
          "audio_seconds", "characters", "input_tokens", "output_tokens")  # fmt: skip


class UserError(Exception):
    pass


def _run(tracker: Any, calls: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Enter the tracker, call handle methods, raise the user's exception; it must come
    back as the same object whatever the arguments did."""
    mine = UserError("mine")
    with pytest.raises(UserError) as info:
        with tracker as op:
            for name, args in calls:
                method = getattr(op, name)
                if name == "set_usage":
                    method(**{args[0]: args[1]})
                else:
                    method(*args)
            raise mine
    assert info.value is mine


CALLS = st.lists(
    st.one_of(
        st.tuples(st.just("set_usage"), st.tuples(st.sampled_from(FIELDS), ANY)),
        st.tuples(st.just("set_cost"), st.tuples(ANY, ANY)),
        st.tuples(st.just("set_cost"), st.tuples(ANY)),
        st.tuples(st.just("set_retry_attempt"), st.tuples(ANY)),
        st.tuples(st.just("set_queue_wait"), st.tuples(ANY)),
        st.tuples(st.just("set_status_code"), st.tuples(ANY)),
        st.tuples(st.just("fail"), st.tuples(ANY, ANY)),
        st.tuples(st.just("fail"), st.tuples(ANY)),
        st.tuples(st.just("set_attribute"), st.tuples(ANY, ANY)),
    ),
    max_size=5,
)


def _named_value_error(exc: ValueError, setting: str) -> None:
    text = str(exc)
    assert setting in text and "accepted values" in text


@FUZZ
@given(operation=ANY, model=ANY, provider=ANY, project=ANY, request_id=ANY, attributes=ANY,
       calls=CALLS)  # fmt: skip
def test_track_generation(pipeline, operation, model, provider, project, request_id,
                          attributes, calls):  # fmt: skip
    try:
        tracker = otel_perf.track_generation(
            operation, model=model, provider=provider, project=project,
            request_id=request_id, attributes=attributes,
        )  # fmt: skip
    except ValueError as exc:
        _named_value_error(exc, "operation")
        return
    _run(tracker, calls)


@FUZZ
@given(render_type=ANY, render_id=ANY, template_id=ANY, width=ANY, height=ANY, project=ANY,
       attributes=ANY, calls=CALLS)  # fmt: skip
def test_track_render(pipeline, render_type, render_id, template_id, width, height, project,
                      attributes, calls):  # fmt: skip
    try:
        tracker = otel_perf.track_render(
            render_type, render_id=render_id, template_id=template_id, width=width,
            height=height, project=project, attributes=attributes,
        )  # fmt: skip
    except ValueError as exc:
        _named_value_error(exc, "render_type")
        return
    _run(tracker, calls)


@FUZZ
@given(endpoint=ANY, method=ANY, request_id=ANY, project=ANY, span_kind=ANY, attributes=ANY,
       calls=CALLS)  # fmt: skip
def test_track_api_call(pipeline, endpoint, method, request_id, project, span_kind,
                        attributes, calls):  # fmt: skip
    try:
        tracker = otel_perf.track_api_call(
            endpoint, method=method, request_id=request_id, project=project,
            span_kind=span_kind, attributes=attributes,
        )  # fmt: skip
    except ValueError as exc:
        _named_value_error(exc, "method")
        return
    _run(tracker, calls)
    assert pipeline.spans()  # the operation was recorded


@FUZZ
@given(start_time=ANY, end_with=ANY, decorated=ANY, seconds=ANY)
def test_start_end_decorate_and_deadline(pipeline, start_time, end_with, decorated, seconds):
    tracker = otel_perf.track_api_call("/v1/x")
    handle = tracker.start(start_time)
    handle.end(end_with)
    handle.end(end_with)
    assert tracker(decorated) is decorated or callable(decorated)
    deadline = otel_perf.deadline(seconds)

    async def main() -> None:
        async with deadline:
            await asyncio.sleep(0)

    try:
        asyncio.run(main())
    except TimeoutError:  # a deadline of 0 or less expires at the first await
        pass


@FUZZ
@given(value=ANY, render=st.booleans())
def test_module_functions(value, render):
    assert isinstance(scrub(value), str)
    assert isinstance(otel_perf.normalize_model(value), str)
    assert isinstance(normalize_error_type(value), str)
    assert classify_status(value) in (None, *otel_perf.API_ERROR_TYPES)
    kinds = (*otel_perf.API_ERROR_TYPES, *otel_perf.RENDER_FAILURE_REASONS)
    assert classify_error(HostileException(), render=render) in kinds
    assert classify_error(value, render=render) in kinds
    assert isinstance(otel_perf.is_slow(value, value), bool)
    assert isinstance(otel_perf.is_slow("render_still", value, value), bool)
    assert isinstance(otel_perf.error_rate(value, value), float)
    assert isinstance(otel_perf.stats().total_errors, int)
    from otel_perf.tracking import route_template

    assert isinstance(route_template(value), str)
    assert otel_perf.current_operation() is None


@FUZZ
@given(error_type=ANY)
def test_user_exception_identity_for_any_exception_kind(pipeline, error_type):
    """Whatever the exception object, it comes back unchanged and is recorded."""
    raised: BaseException = HostileException() if error_type is None else UserError(error_type)
    with pytest.raises(type(raised)) as info:
        with otel_perf.track_generation("generate_image", model="flux"):
            raise raised
    assert info.value is raised

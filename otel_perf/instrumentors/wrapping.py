"""The wrapper every SDK instrumentor uses: one SDK method call -> one tracked operation.

An instrumentor describes a method with a *plan* function: given the call's arguments it
returns a :class:`Call` (the ``track_generation`` tracker plus what to record from the
result or the exception), or ``None`` to leave the call alone. :func:`wrapper_for`
turns a plan into a ``wrapt`` wrapper for a sync or an async method; both share every line
of logic but the ``await``.

Guarantees, whatever the SDK or our code does:

- the user's call runs exactly once, with the same arguments;
- the user's exception propagates unchanged (same object, bare ``raise``);
- a failure inside otel-perf (a plan, a recorder) is counted in
  ``otel_perf_internal_errors_total`` and never reaches the caller.

:class:`Patcher` applies wrappers and undoes them: ``uninstrument()`` restores the original
method when our wrapper is still the outermost one, and otherwise (another instrumentation
wrapped on top of ours since) turns ours into a pass-through, so neither breaks the other.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from opentelemetry.trace import Tracer
from wrapt import FunctionWrapper

from otel_perf.selfmonitor import report_internal_error
from otel_perf.tracking import OperationHandle

logger = logging.getLogger("otel_perf")

Recorder = Callable[[OperationHandle, Any], None]
ErrorRecorder = Callable[[OperationHandle, BaseException], None]


@dataclass(frozen=True)
class Call:
    """What a plan decided for one SDK call.

    Attributes:
        tracker: a ``track_generation(...)`` tracker (a context manager) for the call.
        on_result: records usage and outcome from the SDK's return value.
        on_error: records a provider-specific failure reason before the exception
            propagates (the generic classification applies when it records nothing).
        job: the call *submits* a long-running job: the span starts with the call but is
            not ended by it; ``on_result`` hands it to a :class:`~.jobs.JobTracker`. A
            failed submission ends it with the error.
    """

    tracker: Any
    on_result: Recorder | None = None
    on_error: ErrorRecorder | None = None
    job: bool = False


Plan = Callable[[Any, tuple[Any, ...], dict[str, Any]], "Call | None"]
Switch = Callable[[], bool]


def _plan(plan: Plan, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
    try:
        return plan(instance, args, kwargs)
    except Exception as exc:
        report_internal_error("instrumentor.plan", exc)
        return None


def _result(call: Call, handle: OperationHandle, result: Any) -> None:
    if call.on_result is not None:
        try:
            call.on_result(handle, result)
            return
        except Exception as exc:
            report_internal_error("instrumentor.result", exc)
    if call.job:
        handle.end()  # nobody took the job over: end it here rather than leak it


class _Submission:
    """Context manager for a job submission: starts the span, ends it only on failure."""

    __slots__ = ("handle", "tracker")

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker
        self.handle: OperationHandle | None = None

    def __enter__(self) -> OperationHandle:
        self.handle = self.tracker.start()
        return self.handle

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is not None and self.handle is not None:
            self.handle.end(exc)
        return False


def _context(call: Call) -> Any:
    return _Submission(call.tracker) if call.job else call.tracker


def _error(call: Call, handle: OperationHandle, error: BaseException) -> None:
    if call.on_error is None:
        return
    try:
        call.on_error(handle, error)
    except Exception as exc:
        report_internal_error("instrumentor.error", exc)


def is_async(method: Any) -> bool:
    """True for ``async def`` methods, also behind sync decorators (``functools.wraps``):
    SDKs decorate async methods with sync wrappers that return the coroutine."""
    try:
        return inspect.iscoroutinefunction(inspect.unwrap(method))
    except ValueError:  # a __wrapped__ cycle
        return inspect.iscoroutinefunction(method)


def wrapper_for(
    method: Any, plan: Plan, enabled: Switch, tracer: Tracer | None = None
) -> Callable[..., Any]:
    """A ``wrapt`` wrapper running ``plan`` around ``method`` (sync or ``async def``); its
    spans start from ``tracer`` when given (the instrumentor's ``tracer_provider``)."""
    if tracer is not None:
        plan = _traced(plan, tracer)
    if is_async(method):

        async def async_wrapper(
            wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: Any
        ) -> Any:
            call = _plan(plan, instance, args, kwargs) if enabled() else None
            if call is None:
                return await wrapped(*args, **kwargs)
            with _context(call) as handle:
                try:
                    result = await wrapped(*args, **kwargs)
                except Exception as exc:
                    _error(call, handle, exc)
                    raise
                _result(call, handle, result)
                return result

        return async_wrapper

    def sync_wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: Any
    ) -> Any:
        call = _plan(plan, instance, args, kwargs) if enabled() else None
        if call is None:
            return wrapped(*args, **kwargs)
        with _context(call) as handle:
            try:
                result = wrapped(*args, **kwargs)
            except Exception as exc:
                _error(call, handle, exc)
                raise
            _result(call, handle, result)
            return result

    return sync_wrapper


def observer_for(method: Any, observe: Callable[[Any, Any], None], enabled: Switch) -> Any:
    """A wrapper that calls ``observe(instance, result)`` after ``method`` returns, with no
    span of its own: polls of long-running jobs report to the job's span instead."""

    def safe(instance: Any, result: Any) -> None:
        if not enabled():
            return
        try:
            observe(instance, result)
        except Exception as exc:
            report_internal_error("instrumentor.observe", exc)

    if is_async(method):

        async def async_observer(
            wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: Any
        ) -> Any:
            result = await wrapped(*args, **kwargs)
            safe(instance, result)
            return result

        return async_observer

    def sync_observer(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: Any
    ) -> Any:
        result = wrapped(*args, **kwargs)
        safe(instance, result)
        return result

    return sync_observer


def _traced(plan: Plan, tracer: Tracer) -> Plan:
    """``plan`` whose calls start their spans from ``tracer``."""

    def traced(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        call = plan(instance, args, kwargs)
        if call is not None:
            call.tracker.using(tracer)
        return call

    return traced


def wrapping(
    plan: Plan, tracer: Tracer | None = None
) -> Callable[[Any, Switch], Callable[..., Any]]:
    """A ``Patcher.patch`` factory applying :func:`wrapper_for` with ``plan`` (and
    ``tracer``, the instrumentor's own when it was given a ``tracer_provider``)."""
    return lambda method, enabled: wrapper_for(method, plan, enabled, tracer)


def observing(observe: Callable[[Any, Any], None]) -> Callable[[Any, Switch], Callable[..., Any]]:
    """A ``Patcher.patch`` factory applying :func:`observer_for` with ``observe``."""
    return lambda method, enabled: observer_for(method, observe, enabled)


class _Switch:
    """On while its wrapper is applied; off for good once unpatched (a wrapper another
    library kept a reference to stays a pass-through even after a later instrument())."""

    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = True

    def __call__(self) -> bool:
        return self.on


class Patcher:
    """Applies wrappers to SDK methods and undoes exactly what it applied."""

    def __init__(self) -> None:
        self._applied: list[tuple[Any, str, Any, Any, _Switch]] = []

    def patch(
        self, module: str, path: str, make: Callable[[Any, Switch], Callable[..., Any]]
    ) -> bool:
        """Wrap ``module.path`` (``"Images.generate"``) with ``make(original, switch)``.

        Returns False, and logs at debug level, when the installed SDK lacks the method.
        """
        try:
            owner: Any = importlib.import_module(module)
            *parents, name = path.split(".")
            for part in parents:
                owner = getattr(owner, part)
            original = vars(owner)[name]
        except (ImportError, AttributeError, KeyError):
            logger.debug("otel-perf: %s.%s not found; not instrumented", module, path)
            return False
        switch = _Switch()
        proxy = FunctionWrapper(original, make(getattr(owner, name), switch))
        setattr(owner, name, proxy)
        self._applied.append((owner, name, original, proxy, switch))
        return True

    def unpatch_all(self) -> None:
        """Turn every wrapper off; restore each original that we still wrap on the outside.

        Another library may have wrapped on top of ours since, or snapshotted our wrapper
        and put it back (as a bound wrapper): ours is recognised in both forms; under a
        foreign wrapper it stays in place as a pass-through so neither library breaks.
        """
        for owner, name, original, proxy, switch in reversed(self._applied):
            switch.on = False
            current = vars(owner).get(name)
            if current is proxy or getattr(current, "_self_parent", None) is proxy:
                setattr(owner, name, original)
            else:
                logger.debug(
                    "otel-perf: %s.%s was wrapped again by another library; our wrapper "
                    "stays in place as a pass-through",
                    getattr(owner, "__name__", owner),
                    name,
                )
        self._applied.clear()

"""Auto-instrumentation of the OpenAI SDK's media calls.

=================================================  ===================  =====================
SDK call (sync and async clients)                  operation            usage -> cost
=================================================  ===================  =====================
``images.generate``, ``images.edit``               ``generate_image``   images, size, quality
``audio.speech.create``                            ``generate_speech``  characters of input
``audio.transcriptions.create``                    ``transcribe_audio`` audio seconds (tokens)
``videos.create`` ... ``videos.retrieve``/``poll``  ``generate_video``   seconds of video
=================================================  ===================  =====================

A video is a long-running job: one span from ``videos.create`` to the ``retrieve`` or
``poll`` that sees it ``completed`` or ``failed`` (see :mod:`otel_perf.instrumentors.jobs`).
Streamed calls (``stream=True``) are passed through untouched: their duration is not the
call's. Chat and embeddings are left to the contrib ``openai-v2`` instrumentation, whose
spans the processor maps (``otel_perf.foreign``).

>>> from otel_perf.instrumentors.openai import OpenAIInstrumentor
>>> OpenAIInstrumentor().instrument()  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any, Final

from otel_perf import attributes as A
from otel_perf.classify import classify_message
from otel_perf.instrumentors import package
from otel_perf.instrumentors.base import MediaInstrumentor
from otel_perf.instrumentors.jobs import JobStatus, JobTracker
from otel_perf.instrumentors.wrapping import Call, observing, wrapping
from otel_perf.tracking import OperationHandle, track_generation

#: Error codes OpenAI returns for content-policy refusals.
SAFETY_CODES: Final = frozenset(
    {"content_policy_violation", "moderation_blocked", "content_filter", "safety_violation"}
)
#: What the API uses when the request names no model (documented per endpoint).
DEFAULT_VIDEO_MODEL: Final = "sora-2"
DEFAULT_VIDEO_SECONDS: Final = 4.0


def _given(value: Any) -> Any:
    """``None`` for absent arguments (the SDK's ``omit`` / ``NOT_GIVEN`` sentinels too)."""
    if value is None or type(value).__name__ in ("Omit", "NotGiven"):
        return None
    return value


def _provider(instance: Any) -> str:
    client = getattr(instance, "_client", None)
    return (
        "azure.ai.openai" if type(client).__name__.startswith(("Azure", "AsyncAzure")) else "openai"
    )


def _tracker(operation: str, model: Any, instance: Any, method: str) -> Any:
    return track_generation(
        operation,
        model=str(_given(model) or ""),
        provider=_provider(instance),
        attributes={A.SDK_METHOD: method},
    )


def _on_error(handle: OperationHandle, exc: BaseException) -> None:
    """Content-policy refusals carry a code; everything else classifies generically."""
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code in SAFETY_CODES:
        handle.fail("safety_block", str(exc))


# --- images ---------------------------------------------------------------------------------


def _images(method: str) -> Any:
    def plan(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        if _given(kwargs.get("stream")):
            return None
        requested = _given(kwargs.get("n"))
        size = _given(kwargs.get("size"))
        quality = _given(kwargs.get("quality"))

        def on_result(handle: OperationHandle, result: Any) -> None:
            data = getattr(result, "data", None)
            images = len(data) if isinstance(data, list) else requested
            usage = getattr(result, "usage", None)
            handle.set_usage(
                images=images if isinstance(images, int) else 1,
                image_size=_concrete(getattr(result, "size", None) or size),
                image_quality=_concrete(getattr(result, "quality", None) or quality),
                input_tokens=getattr(usage, "input_tokens", None),
                output_tokens=getattr(usage, "output_tokens", None),
            )

        return Call(
            _tracker("generate_image", kwargs.get("model"), instance, method), on_result, _on_error
        )

    return plan


def _concrete(value: Any) -> str | None:
    """A size or quality the price table can use (``auto`` is not one)."""
    return value if isinstance(value, str) and value != "auto" else None


# --- audio ----------------------------------------------------------------------------------


def _speech(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
    text = _given(kwargs.get("input"))
    characters = len(text) if isinstance(text, str) else None

    def on_result(handle: OperationHandle, result: Any) -> None:
        handle.set_usage(characters=characters)

    tracker = _tracker("generate_speech", kwargs.get("model"), instance, "audio.speech.create")
    return Call(tracker, on_result, _on_error)


def _transcription(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
    if _given(kwargs.get("stream")):
        return None

    def on_result(handle: OperationHandle, result: Any) -> None:
        usage = getattr(result, "usage", None)
        seconds = (
            getattr(usage, "seconds", None) if getattr(usage, "type", None) == "duration" else None
        )
        if seconds is None:
            seconds = getattr(result, "duration", None)  # verbose_json / diarized_json
        if isinstance(seconds, (int, float)):
            handle.set_usage(audio_seconds=float(seconds))
        elif getattr(usage, "type", None) == "tokens":
            handle.set_usage(
                input_tokens=getattr(usage, "input_tokens", None),
                output_tokens=getattr(usage, "output_tokens", None),
            )

    method = "audio.transcriptions.create"
    return Call(
        _tracker("transcribe_audio", kwargs.get("model"), instance, method), on_result, _on_error
    )


# --- videos (long-running jobs) -------------------------------------------------------------


def _video(result: Any) -> Any:
    """The ``Video`` a call returned, also through ``with_raw_response`` (parsed once,
    cached by the SDK, so the caller's own ``parse()`` gets the same object)."""
    if hasattr(result, "status") and hasattr(result, "id"):
        return result
    if type(result).__name__ == "LegacyAPIResponse":
        parsed = result.parse()
        if hasattr(parsed, "status") and hasattr(parsed, "id"):
            return parsed
    return None


def _video_status(video: Any) -> JobStatus:
    status = getattr(video, "status", None)
    if status in ("queued", None):
        return JobStatus(done=False)
    if status == "in_progress":
        return JobStatus(done=False, running=True)
    failure = None
    if status == "failed":
        error = getattr(video, "error", None)
        code = str(getattr(error, "code", "") or "")
        message = str(getattr(error, "message", "") or code or "video generation failed")
        reason = "safety_block" if code in SAFETY_CODES else classify_message(f"{code} {message}")
        failure = (reason, message)
    usage: dict[str, Any] = {"videos": 1}
    try:
        usage["video_seconds"] = float(str(getattr(video, "seconds", "")))
    except ValueError:
        pass
    size = getattr(video, "size", None)
    if isinstance(size, str) and size:
        usage["video_resolution"] = size  # sora-2-pro: 1024x1792 costs more than 720x1280
    return JobStatus(done=True, failure=failure, usage=usage)


class _Videos:
    """Plans and observers for OpenAI video jobs, sharing one :class:`JobTracker`."""

    def __init__(self, jobs: JobTracker) -> None:
        self.jobs = jobs

    def create(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        model = _given(kwargs.get("model")) or DEFAULT_VIDEO_MODEL
        try:
            seconds = float(_given(kwargs.get("seconds")) or DEFAULT_VIDEO_SECONDS)
        except (TypeError, ValueError):
            seconds = DEFAULT_VIDEO_SECONDS

        def on_result(handle: OperationHandle, result: Any) -> None:
            video = _video(result)
            if video is None:
                raise TypeError(f"unexpected videos.create result {type(result).__name__}")
            handle.set_attribute(A.REQUEST_ID, str(video.id))
            submitted = getattr(handle.span, "start_time", None) or time.time_ns()
            self.jobs.submit(
                str(video.id), handle, submitted, {"videos": 1, "video_seconds": seconds}
            )
            status = _video_status(video)
            if status.done or status.running:  # a queued job is the normal answer
                self.jobs.observe(str(video.id), status)

        tracker = _tracker("generate_video", model, instance, "videos.create")
        return Call(tracker, on_result, _on_error, job=True)

    def observe(self, instance: Any, result: Any) -> None:
        video = _video(result)
        if video is not None:
            self.jobs.observe(str(video.id), _video_status(video))


class OpenAIInstrumentor(MediaInstrumentor):
    """Instruments the OpenAI SDK's image, speech, transcription and video calls.

    ``instrument()`` twice is harmless (the second call logs and returns);
    ``uninstrument()`` restores the original methods and ends open video jobs as cancelled.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return package.OPENAI

    def _instrument(self, **kwargs: Any) -> None:
        videos, tracer = _Videos(self.jobs), self._tracer(kwargs)
        patch = self._patcher.patch
        for cls in ("Images", "AsyncImages"):
            for name in ("generate", "edit"):
                plan = _images(f"images.{name}")
                patch("openai.resources.images", f"{cls}.{name}", wrapping(plan, tracer))
        for cls in ("Speech", "AsyncSpeech"):
            patch("openai.resources.audio.speech", f"{cls}.create", wrapping(_speech, tracer))
        for cls in ("Transcriptions", "AsyncTranscriptions"):
            patch(
                "openai.resources.audio.transcriptions",
                f"{cls}.create",
                wrapping(_transcription, tracer),
            )
        for cls in ("Videos", "AsyncVideos"):
            patch("openai.resources.videos", f"{cls}.create", wrapping(videos.create, tracer))
            for name in ("retrieve", "poll"):
                patch(
                    "openai.resources.videos",
                    f"{cls}.{name}",
                    observing(videos.observe),
                )


__all__ = ["OpenAIInstrumentor"]

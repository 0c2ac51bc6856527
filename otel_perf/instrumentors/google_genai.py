"""Auto-instrumentation of the Google Gen AI SDK's media calls (Gemini API and Vertex AI).

==============================================  ===================  ========================
SDK call (``client.models`` / ``client.aio``)   operation            usage -> cost
==============================================  ===================  ========================
``generate_images``, ``edit_image`` (Imagen)    ``generate_image``   images returned, size
``generate_content`` with image output          ``generate_image``   images returned, tokens
``generate_videos`` ... ``operations.get`` (Veo)  ``generate_video``   videos x seconds
==============================================  ===================  ========================

``generate_content`` counts as an image generation when the model is an image model (its
name contains ``image``, as ``gemini-2.5-flash-image`` does) or the request asks for the
``IMAGE`` response modality; other ``generate_content`` calls are left to the contrib
``google-genai`` instrumentation, whose spans the processor maps.

Safety blocks are failures with ``error.type=safety_block`` even though the SDK returns a
response: a blocked prompt (``prompt_feedback.block_reason``), a candidate stopped for
safety (``finish_reason`` ``SAFETY``, ``IMAGE_SAFETY``, ``PROHIBITED_CONTENT``, ...) with
no image, Imagen returning no image (every output RAI-filtered), a Veo job whose videos
were all filtered (``rai_media_filtered_count``). The response still reaches the caller.

A Veo job is one span from ``generate_videos`` to the ``operations.get`` that sees it done
(:mod:`otel_perf.instrumentors.jobs`); the queue ends when the operation's metadata first
reports it running (``state``, a progress above zero, or a ``startTime``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any, Final

from otel_perf import attributes as A
from otel_perf.classify import classify_message
from otel_perf.instrumentors import package
from otel_perf.instrumentors.base import MediaInstrumentor
from otel_perf.instrumentors.jobs import JobStatus, JobTracker
from otel_perf.instrumentors.wrapping import Call, observing, wrapping
from otel_perf.tracking import OperationHandle, track_generation

#: Candidate finish reasons that mean a safety filter stopped the output.
SAFETY_FINISH_REASONS: Final = frozenset(
    {
        "SAFETY",
        "IMAGE_SAFETY",
        "PROHIBITED_CONTENT",
        "IMAGE_PROHIBITED_CONTENT",
        "BLOCKLIST",
        "SPII",
        "MODEL_ARMOR",
    }
)
#: google.rpc.Code of a failed long-running operation -> error type.
RPC_ERROR_TYPES: Final[Mapping[int, str]] = {
    3: "client_error",  # INVALID_ARGUMENT
    4: "timeout",  # DEADLINE_EXCEEDED
    5: "client_error",  # NOT_FOUND
    7: "authentication",  # PERMISSION_DENIED
    8: "rate_limit",  # RESOURCE_EXHAUSTED
    9: "client_error",  # FAILED_PRECONDITION
    13: "server_error",  # INTERNAL
    14: "server_error",  # UNAVAILABLE
    16: "authentication",  # UNAUTHENTICATED
}
RUNNING_STATES: Final = frozenset({"RUNNING", "ACTIVE", "PROCESSING", "JOB_STATE_RUNNING"})
#: Veo's default clip length when the request does not set ``duration_seconds``.
DEFAULT_VIDEO_SECONDS: Final = 8.0


def _get(obj: Any, name: str) -> Any:
    """An attribute of a pydantic model or a key of its ``...Dict`` form."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _provider(instance: Any) -> str:
    client = getattr(instance, "_api_client", None)
    return "gcp.vertex_ai" if getattr(client, "vertexai", False) else "gcp.gemini"


def _tracker(operation: str, model: Any, instance: Any, method: str) -> Any:
    return track_generation(
        operation,
        model=str(model or ""),
        provider=_provider(instance),
        attributes={A.SDK_METHOD: method},
    )


def _size(config: Any) -> str | None:
    size = _get(config, "image_size") or _get(_get(config, "image_config"), "image_size")
    return size if isinstance(size, str) else None


# --- Imagen ---------------------------------------------------------------------------------


def _imagen(method: str) -> Any:
    def plan(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        size = _size(kwargs.get("config"))

        def on_result(handle: OperationHandle, result: Any) -> None:
            generated = _get(result, "generated_images") or []
            images = sum(1 for g in generated if _has_image(_get(g, "image")))
            reasons = [r for g in generated if (r := _get(g, "rai_filtered_reason"))]
            if reasons:
                handle.set_attribute(A.USAGE_IMAGES_FILTERED, len(reasons))
            if images == 0:
                detail = "; ".join(str(r) for r in reasons) or "prompt or every output filtered"
                handle.fail("safety_block", f"no image returned: {detail}")
                return
            handle.set_usage(images=images, image_size=size)

        return Call(_tracker("generate_image", kwargs.get("model"), instance, method), on_result)

    return plan


def _has_image(image: Any) -> bool:
    return bool(_get(image, "image_bytes") or _get(image, "gcs_uri"))


# --- Gemini image output ("Nano Banana") ----------------------------------------------------


def _wants_image(model: Any, config: Any) -> bool:
    if isinstance(model, str) and "image" in model.lower():
        return True
    modalities = _get(config, "response_modalities") or ()
    return any(str(getattr(m, "value", m)).upper() == "IMAGE" for m in modalities)


def _content(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
    model, config = kwargs.get("model"), kwargs.get("config")
    if not _wants_image(model, config):
        return None
    size = _size(config)

    def on_result(handle: OperationHandle, result: Any) -> None:
        usage = _get(result, "usage_metadata")
        tokens = {
            "input_tokens": _get(usage, "prompt_token_count"),
            "output_tokens": _get(usage, "candidates_token_count"),
        }
        block = _get(_get(result, "prompt_feedback"), "block_reason")
        if block is not None:
            handle.fail("safety_block", f"prompt blocked: {getattr(block, 'value', block)}")
            return
        images, stopped = 0, []
        for candidate in _get(result, "candidates") or []:
            for part in _get(_get(candidate, "content"), "parts") or []:
                mime = _get(_get(part, "inline_data"), "mime_type")
                if isinstance(mime, str) and mime.startswith("image/"):
                    images += 1
            reason = _get(candidate, "finish_reason")
            reason = str(getattr(reason, "value", reason) or "")
            if reason in SAFETY_FINISH_REASONS:
                stopped.append(reason)
        if images == 0 and stopped:
            handle.fail("safety_block", f"output blocked: {', '.join(stopped)}")
            return
        handle.set_usage(images=images, image_size=size, **tokens)

    tracker = _tracker("generate_image", model, instance, "models.generate_content")
    return Call(tracker, on_result)


# --- Veo (long-running jobs) ----------------------------------------------------------------


def _operation_status(operation: Any) -> JobStatus:
    metadata = _get(operation, "metadata")
    started = _started_ns(metadata)
    if not _get(operation, "done"):
        return JobStatus(done=False, running=_running(metadata), started_ns=started)
    error = _get(operation, "error")
    if error:
        message = str(_get(error, "message") or "video generation failed")
        reason = classify_message(message)
        if reason != "safety_block":
            reason = RPC_ERROR_TYPES.get(_get(error, "code"), reason)
        return JobStatus(done=True, started_ns=started, failure=(reason, message))
    response = _get(operation, "response") or _get(operation, "result")
    videos = len(_get(response, "generated_videos") or [])
    if videos == 0:
        filtered = _get(response, "rai_media_filtered_count")
        reasons = "; ".join(str(r) for r in _get(response, "rai_media_filtered_reasons") or [])
        if filtered or reasons:
            failure = ("safety_block", f"videos filtered: {reasons or filtered}")
        else:
            failure = ("unknown", "the job finished without a video")
        return JobStatus(done=True, started_ns=started, failure=failure)
    return JobStatus(done=True, started_ns=started, usage={"videos": videos})


def _running(metadata: Any) -> bool:
    if not isinstance(metadata, Mapping):
        return False
    if str(metadata.get("state", "")).upper() in RUNNING_STATES:
        return True
    for key in ("progressPercent", "progress_percent", "progress"):
        value = metadata.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return True
    return False


def _started_ns(metadata: Any) -> int | None:
    """The job's start time when the provider reports one (RFC 3339)."""
    if not isinstance(metadata, Mapping):
        return None
    raw = metadata.get("startTime") or metadata.get("start_time")
    if not isinstance(raw, str):
        return None
    text = raw.strip().replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # fromisoformat takes at most 6 fractional digits before Python 3.11
        digits = "".join(c for c in rest if c.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp() * 1e9)


class _Veo:
    """The ``generate_videos`` plan and the ``operations.get`` observer, sharing jobs."""

    def __init__(self, jobs: JobTracker) -> None:
        self.jobs = jobs

    def submit(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        config = kwargs.get("config")
        requested = _get(config, "number_of_videos") or 1
        seconds = _get(config, "duration_seconds") or DEFAULT_VIDEO_SECONDS
        usage: dict[str, Any] = {
            "videos": int(requested),
            "video_seconds": float(seconds) * int(requested),
        }
        resolution, audio = _get(config, "resolution"), _get(config, "generate_audio")
        if isinstance(resolution, str):
            usage["video_resolution"] = resolution  # prices differ by resolution (4k)
        if isinstance(audio, bool):
            usage["video_audio"] = audio

        def on_result(handle: OperationHandle, operation: Any) -> None:
            name = _get(operation, "name")
            if not isinstance(name, str) or not name:
                raise TypeError("generate_videos returned an operation without a name")
            handle.set_attribute(A.REQUEST_ID, name)
            submitted = getattr(handle.span, "start_time", None)
            self.jobs.submit(name, handle, submitted or 0, usage)
            status = _operation_status(operation)
            if status.done or status.running:
                self.jobs.observe(name, status)

        tracker = _tracker(
            "generate_video", kwargs.get("model"), instance, "models.generate_videos"
        )
        return Call(tracker, on_result, job=True)

    def observe(self, instance: Any, operation: Any) -> None:
        name = _get(operation, "name")
        if isinstance(name, str):
            self.jobs.observe(name, _operation_status(operation))


class GoogleGenAIInstrumentor(MediaInstrumentor):
    """Instruments the Google Gen AI SDK's Imagen, Gemini image and Veo calls.

    ``instrument()`` twice is harmless (the second call logs and returns);
    ``uninstrument()`` restores the original methods and ends open Veo jobs as cancelled.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return package.GOOGLE_GENAI

    def _instrument(self, **kwargs: Any) -> None:
        veo, tracer = _Veo(self.jobs), self._tracer(kwargs)
        patch = self._patcher.patch
        for cls in ("Models", "AsyncModels"):
            for name in ("generate_images", "edit_image"):
                patch(
                    "google.genai.models",
                    f"{cls}.{name}",
                    wrapping(_imagen(f"models.{name}"), tracer),
                )
            patch("google.genai.models", f"{cls}.generate_content", wrapping(_content, tracer))
            patch("google.genai.models", f"{cls}.generate_videos", wrapping(veo.submit, tracer))
        for cls in ("Operations", "AsyncOperations"):
            patch(
                "google.genai.operations",
                f"{cls}.get",
                observing(veo.observe),
            )


__all__ = ["GoogleGenAIInstrumentor"]

"""Span attribute names and the closed value sets that may become metric labels.

GenAI and HTTP semantic-convention names are used where they exist; everything the
conventions lack lives under ``otel_perf.*``. Values that end up on metric labels come
from the closed sets below, never from free text.
"""

from __future__ import annotations

from typing import Final

# --- OpenTelemetry semantic conventions -------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_SYSTEM: Final = "gen_ai.system"  # deprecated predecessor of gen_ai.provider.name
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
ERROR_TYPE: Final = "error.type"
ERROR_MESSAGE: Final = "error.message"  # scrubbed (otel_perf.redact) before it is set
HTTP_REQUEST_METHOD: Final = "http.request.method"
HTTP_ROUTE: Final = "http.route"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"

# --- otel_perf namespace ------------------------------------------------------------------
OPERATION: Final = "otel_perf.operation"  # the metric `operation` label; marks our spans
OUTCOME: Final = "otel_perf.outcome"  # "cancelled" when the block was cancelled
COST_USD: Final = "otel_perf.cost.usd"
COST_SOURCE: Final = "otel_perf.cost.source"
COST_TABLE_VERSION: Final = "otel_perf.cost.table_version"  # the price table that priced it
RENDER_ID: Final = "otel_perf.render.id"
RENDER_TEMPLATE_ID: Final = "otel_perf.render.template_id"
RENDER_TYPE: Final = "otel_perf.render.type"
RENDER_WIDTH: Final = "otel_perf.render.width"
RENDER_HEIGHT: Final = "otel_perf.render.height"
RETRY_ATTEMPT: Final = "otel_perf.retry.attempt"
QUEUE_WAIT_S: Final = "otel_perf.queue.wait_s"
PROJECT: Final = "otel_perf.project"
REQUEST_ID: Final = "otel_perf.request.id"
USAGE_IMAGES: Final = "otel_perf.usage.images"
USAGE_IMAGE_SIZE: Final = "otel_perf.usage.image_size"
USAGE_IMAGE_QUALITY: Final = "otel_perf.usage.image_quality"
USAGE_VIDEOS: Final = "otel_perf.usage.videos"
USAGE_VIDEO_SECONDS: Final = "otel_perf.usage.video_seconds"
USAGE_AUDIO_SECONDS: Final = "otel_perf.usage.audio_seconds"
USAGE_CHARACTERS: Final = "otel_perf.usage.characters"
USAGE_VIDEO_RESOLUTION: Final = "otel_perf.usage.video_resolution"
USAGE_VIDEO_AUDIO: Final = "otel_perf.usage.video_audio"
USAGE_IMAGES_FILTERED: Final = "otel_perf.usage.images_filtered"  # outputs a safety filter removed
JOB_GENERATION_S: Final = "otel_perf.job.generation_s"  # long-running job: time after the queue
JOB_POLLS: Final = "otel_perf.job.polls"  # long-running job: status polls observed
SDK_METHOD: Final = "otel_perf.sdk.method"  # the SDK method an instrumentor wrapped
DURATION_S: Final = "otel_perf.duration_s"  # on seed-003 events: the span's duration
SLOW_THRESHOLD_S: Final = "otel_perf.slow.threshold_s"  # a slow operation's expected threshold
SLOWNESS_FACTOR: Final = "otel_perf.slow.factor"  # actual duration / threshold (> 1)

# --- Span events (seed 003, TRACK-008) ----------------------------------------------------
EVENT_RENDER_FAILED: Final = "render_failed"
EVENT_API_ERROR: Final = "api_error"
EVENT_SLOW_RENDER: Final = "slow_render"

# --- Cost sources -------------------------------------------------------------------------
COST_SOURCE_PROVIDER: Final = "provider"
COST_SOURCE_ESTIMATED: Final = "estimated"
COST_SOURCE_UNPRICED: Final = "unpriced"
COST_SOURCES: Final = frozenset({COST_SOURCE_PROVIDER, COST_SOURCE_ESTIMATED, COST_SOURCE_UNPRICED})

# --- Operations ---------------------------------------------------------------------------
GENERATION_OPERATIONS: Final = (
    "generate_image",
    "generate_video",
    "generate_speech",
    "generate_music",
    "generate_sound_effect",
    "transcribe_audio",
)
#: render_type argument -> operation label
RENDER_OPERATIONS: Final = {
    "still": "render_still",
    "video": "render_video",
    "batch": "render_batch",
    "timeline_export": "export_timeline",
}
RENDER_TYPES: Final = tuple(RENDER_OPERATIONS)
API_OPERATION: Final = "api_call"
#: GenAI semantic-convention operation names, accepted from spans other libraries make.
SEMCONV_GENAI_OPERATIONS: Final = (
    "chat",
    "text_completion",
    "generate_content",
    "embeddings",
    "create_agent",
    "invoke_agent",
    "execute_tool",
)
#: Label for GenAI spans whose operation name is outside every known set.
OTHER_OPERATION: Final = "other"

# Kinds of operation: which seed rules apply (generations are priced, renders have failure
# reasons and per-template thresholds, API calls have routes and status codes).
KIND_GENERATION: Final = "generation"
KIND_RENDER: Final = "render"
KIND_API: Final = "api"

OUTPUT_TYPES: Final = {
    "generate_image": "image",
    "generate_video": "video",
    "generate_speech": "speech",
    "generate_music": "audio",
    "generate_sound_effect": "audio",
    "transcribe_audio": "text",
}

# --- Error types --------------------------------------------------------------------------
RENDER_FAILURE_REASONS: Final = (
    "timeout",
    "memory_exceeded",
    "invalid_composition",
    "missing_asset",
    "codec_error",
    "unknown",
)
API_ERROR_TYPES: Final = (
    "rate_limit",
    "authentication",
    "timeout",
    "safety_block",
    "server_error",
    "client_error",
    "network",
    "unknown",
)
#: Every value `error.type` can take on a span we create.
ERROR_TYPES: Final = tuple(dict.fromkeys(API_ERROR_TYPES + RENDER_FAILURE_REASONS))

HTTP_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)

#: Keys that drive metric labels, counts or cost on otel-perf's own spans. Only the
#: ``track_*`` arguments and the handle's methods set them; ``set_attribute`` and
#: ``attributes=`` refuse them, so a span-only attribute can never become a label.
RESERVED_ATTRIBUTES: Final = frozenset({
    OPERATION, OUTCOME, COST_USD, COST_SOURCE, RENDER_TEMPLATE_ID, RENDER_TYPE, RETRY_ATTEMPT,
    QUEUE_WAIT_S, PROJECT, ERROR_TYPE, GEN_AI_OPERATION_NAME, GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL, GEN_AI_PROVIDER_NAME, GEN_AI_SYSTEM, HTTP_ROUTE, HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
})  # fmt: skip

#: ``OperationHandle.set_usage`` keyword -> (span attribute, value type). The processor reads
#: the same attributes back into a :class:`~otel_perf.pricing.Usage` to price a span.
USAGE_FIELDS: Final = {
    "images": (USAGE_IMAGES, int),
    "image_size": (USAGE_IMAGE_SIZE, str),
    "image_quality": (USAGE_IMAGE_QUALITY, str),
    "videos": (USAGE_VIDEOS, int),
    "video_seconds": (USAGE_VIDEO_SECONDS, float),
    "audio_seconds": (USAGE_AUDIO_SECONDS, float),
    "characters": (USAGE_CHARACTERS, int),
    "input_tokens": (GEN_AI_USAGE_INPUT_TOKENS, int),
    "output_tokens": (GEN_AI_USAGE_OUTPUT_TOKENS, int),
    "video_resolution": (USAGE_VIDEO_RESOLUTION, str),
    "video_audio": (USAGE_VIDEO_AUDIO, bool),
}

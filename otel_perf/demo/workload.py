"""A synthetic, instrumented media pipeline for demos and end-to-end tests.

The workload is planned from a seed (deterministic), then run through the real tracking
API with latencies scaled down by ``speed``. Failures are raised as realistic exceptions or
recorded status codes, so classification runs for real. The *ledger* is the ground truth:
what was planned (operations, failures, costs) plus the durations actually measured on the
spans, rolled up into the exact metric samples the processor must expose.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from otel_perf import metrics as M
from otel_perf.attributes import RENDER_FAILURE_REASONS, RENDER_OPERATIONS
from otel_perf.pricing import PriceTable, Usage, normalize_model
from otel_perf.thresholds import DEFAULT_THRESHOLDS
from otel_perf.tracking import track_api_call, track_generation, track_render

PROFILES: Final = ("mixed", "healthy", "failing", "suboptimal", "seed")

# (operation, model, provider, typical seconds) for generations.
_GENERATIONS: Final[tuple[tuple[str, str, str, float], ...]] = (
    ("generate_image", "flux", "black-forest-labs", 8.0),
    ("generate_image", "imagen", "gcp.gemini", 12.0),
    ("generate_image", "nano-banana", "gcp.gemini", 6.0),
    ("generate_image", "dall-e-3", "openai", 9.0),
    ("generate_video", "veo", "gcp.gemini", 45.0),
    ("generate_speech", "tts-1", "openai", 5.0),
    ("generate_music", "suno-v4", "suno", 28.0),
    ("generate_sound_effect", "elevenlabs-sfx", "elevenlabs", 6.0),
)
_UNPRICED_MODEL: Final = ("generate_image", "sdxl-turbo", "stability", 4.0)
# A video upscaler billed per call: the provider reports the cost (no price-table entry).
_UPSCALER: Final = ("generate_video", "topaz-video-upscale", "topaz", 20.0)
_UPSCALE_COST_USD: Final = 0.12
_RENDERS: Final = (("still", 2.0), ("video", 18.0), ("batch", 50.0), ("timeline_export", 70.0))
_TEMPLATES: Final = ("tpl_hero", "tpl_product", "tpl_testimonial", "tpl_story")
_ENDPOINTS: Final = (
    ("/api/render", "POST"),
    ("/api/assets/{id}", "GET"),
    ("/api/generate", "POST"),
)
_API_LATENCY: Final = 0.6
_API_FAILURES: Final = (
    ("rate_limit", 429),
    ("authentication", 401),
    ("server_error", 503),
    ("client_error", 400),
    ("timeout", None),
    ("network", None),
)
_GENERATION_FAILURES: Final = ("safety_block", "rate_limit", "timeout", "server_error")
_RENDER_FAILURES: Final = RENDER_FAILURE_REASONS
# A realistic message per failure; classification must recover the type from it.
_MESSAGES: Final = {
    "safety_block": "Your request was rejected as a result of our safety system",
    "rate_limit": "Rate limit reached for requests (429 Too Many Requests)",
    "authentication": "Incorrect API key provided: sk-demo-XXXXXXXXXXXXXXXXXXXX",
    "server_error": "The server is overloaded; 503 Service Unavailable",
    "client_error": "Invalid request: unsupported aspect ratio",
    "timeout": "Request timed out after 30s",
    "network": "Connection refused by upstream",
    "memory_exceeded": "Memory limit exceeded while compositing layer 4",
    "invalid_composition": "Composition not found: main",
    "missing_asset": "File not found: assets/logo.png",
    "codec_error": "Encoding failed: codec h265 not available",
    "unknown": "Segmentation fault in renderer worker",
}


class DemoProviderError(Exception):
    """What a provider SDK raises in the demo (carries an HTTP status like real SDKs)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class DemoNetworkError(ConnectionError):
    """A dropped connection."""


@dataclass
class PlannedOp:
    """One planned operation of the workload."""

    kind: str  # generation | render | api
    operation: str
    model: str = ""
    provider: str = ""
    project: str = ""
    template: str = ""
    render_type: str = ""
    endpoint: str = ""
    method: str = "GET"
    latency_s: float = 0.0  # real-world seconds, before scaling
    failure: str | None = None
    status_code: int | None = None
    retry_attempt: int = 0
    queue_wait_s: float | None = None
    images: int | None = None
    characters: int | None = None
    provider_cost_usd: float | None = None  # set_cost(): what the provider billed
    # Filled in when it runs:
    duration_s: float = 0.0
    cost_usd: float | None = None
    cost_source: str = ""
    slow: bool = False


@dataclass
class Profile:
    failure_rate: float
    slow_rate: float
    retry_rate: float
    unpriced_rate: float = 0.02
    expensive_only: bool = False
    safety_heavy: bool = False
    upscale_rate: float = 0.0  # share of generations that upscale a video (provider-billed)


_PROFILES: Final = {
    "mixed": Profile(failure_rate=0.12, slow_rate=0.1, retry_rate=0.15),
    "healthy": Profile(failure_rate=0.0, slow_rate=0.0, retry_rate=0.0, unpriced_rate=0.0),
    "failing": Profile(failure_rate=0.6, slow_rate=0.7, retry_rate=0.3),
    "suboptimal": Profile(
        failure_rate=0.3,
        slow_rate=0.3,
        retry_rate=0.6,
        expensive_only=True,
        safety_heavy=True,
        upscale_rate=0.3,
    ),
    "seed": Profile(failure_rate=0.15, slow_rate=0.1, retry_rate=0.1, unpriced_rate=0.0),
}


@dataclass
class Workload:
    """A deterministic plan of operations."""

    profile: str
    seed: int
    projects: tuple[str, ...]
    thresholds: dict[str, float]
    ops: list[PlannedOp] = field(default_factory=list)


def plan(
    profile: str = "mixed",
    *,
    seed: int = 42,
    count: int = 100,
    projects: tuple[str, ...] = ("demo",),
    thresholds: dict[str, float] | None = None,
) -> Workload:
    """Plan ``count`` operations (the ``seed`` profile plans exactly 20 images, 5 videos
    and 3 audio tracks, as in the Story 6.2 verification)."""
    if profile not in _PROFILES:
        raise ValueError(f"profile: accepted values: {', '.join(PROFILES)}; got {profile!r}")
    rng = random.Random(seed)
    table = dict(DEFAULT_THRESHOLDS if thresholds is None else thresholds)
    workload = Workload(profile, seed, projects, table)
    shape = _PROFILES[profile]
    if profile == "seed":
        kinds = ["image"] * 20 + ["video"] * 5 + ["audio"] * 3
        rng.shuffle(kinds)
        for kind in kinds:
            workload.ops.append(_plan_seed(rng, kind, shape, workload))
        return workload
    for _ in range(count):
        roll = rng.random()
        if roll < 0.55:
            op = _plan_generation(rng, shape)
        elif roll < 0.8:
            op = _plan_render(rng, shape)
        else:
            op = _plan_api(rng, shape)
        op.project = rng.choice(projects)
        _maybe_slow(rng, op, shape, table)
        workload.ops.append(op)
    return workload


def _plan_seed(rng: random.Random, kind: str, shape: Profile, workload: Workload) -> PlannedOp:
    choices = {
        "image": [g for g in _GENERATIONS if g[0] == "generate_image"],
        "video": [g for g in _GENERATIONS if g[0] == "generate_video"],
        "audio": [
            g
            for g in _GENERATIONS
            if g[0] in ("generate_speech", "generate_music", "generate_sound_effect")
        ],
    }[kind]
    operation, model, provider, latency = rng.choice(choices)
    op = PlannedOp(
        "generation", operation, model, provider, latency_s=latency * rng.uniform(0.5, 0.9)
    )
    op.project = rng.choice(workload.projects)
    if rng.random() < shape.failure_rate:
        op.failure = rng.choice(_GENERATION_FAILURES)
    _maybe_slow(rng, op, shape, workload.thresholds)
    return op


def _plan_generation(rng: random.Random, shape: Profile) -> PlannedOp:
    # Only profiles with upscaling draw for it, so the other profiles' plans stay the same.
    if shape.upscale_rate and rng.random() < shape.upscale_rate:
        operation, model, provider, latency = _UPSCALER
        return PlannedOp(
            "generation",
            operation,
            model,
            provider,
            latency_s=latency * rng.uniform(0.4, 0.8),
            provider_cost_usd=_UPSCALE_COST_USD,
        )
    if shape.expensive_only:
        # Everything on the most expensive image model, the mistake the report should catch.
        choice = ("generate_image", "imagen", "gcp.gemini", 12.0)
    elif rng.random() < shape.unpriced_rate:
        choice = _UNPRICED_MODEL
    else:
        choice = rng.choice(_GENERATIONS)
    operation, model, provider, latency = choice
    op = PlannedOp(
        "generation", operation, model, provider, latency_s=latency * rng.uniform(0.4, 0.8)
    )
    if operation == "generate_image":
        op.images = rng.choice((1, 1, 2, 4))
    if operation == "generate_speech":
        op.characters = rng.randint(40, 400)
    if rng.random() < shape.failure_rate:
        op.failure = (
            "safety_block"
            if shape.safety_heavy and rng.random() < 0.6
            else rng.choice(_GENERATION_FAILURES)
        )
    if rng.random() < shape.retry_rate:
        op.retry_attempt = rng.randint(1, 3)
    if rng.random() < 0.5:
        op.queue_wait_s = round(rng.uniform(0.5, 12.0), 3)
    return op


def _plan_render(rng: random.Random, shape: Profile) -> PlannedOp:
    render_type, latency = rng.choice(_RENDERS)
    op = PlannedOp(
        "render",
        RENDER_OPERATIONS[render_type],
        render_type=render_type,
        template=rng.choice(_TEMPLATES),
        latency_s=latency * rng.uniform(0.4, 0.8),
    )
    if rng.random() < shape.failure_rate:
        op.failure = rng.choice(_RENDER_FAILURES)
    if rng.random() < shape.retry_rate:
        op.retry_attempt = 1
    return op


def _plan_api(rng: random.Random, shape: Profile) -> PlannedOp:
    endpoint, method = rng.choice(_ENDPOINTS)
    op = PlannedOp("api", "api_call", endpoint=endpoint, method=method)
    op.latency_s = _API_LATENCY * rng.uniform(0.3, 1.0)
    if rng.random() < shape.failure_rate:
        op.failure, op.status_code = rng.choice(_API_FAILURES)
    else:
        op.status_code = 200
    return op


def _maybe_slow(
    rng: random.Random, op: PlannedOp, shape: Profile, thresholds: dict[str, float]
) -> None:
    if op.failure is None and rng.random() < shape.slow_rate:
        op.latency_s = thresholds.get(op.operation, 60.0) * rng.uniform(1.3, 2.5)


# --- Running --------------------------------------------------------------------------------


def run(
    workload: Workload,
    *,
    speed: float = 100.0,
    workers: int = 4,
    deadline: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[PlannedOp]:
    """Run the planned operations; returns those that ran (all, unless ``deadline`` hit).

    Thresholds must be the configured ones divided by ``speed`` so slowness survives the
    scaling: the CLI configures them that way.
    """
    done: list[PlannedOp] = []
    lock = threading.Lock()

    def one(op: PlannedOp) -> None:
        if deadline is not None and time.monotonic() > deadline:
            return
        _execute(op, speed)
        with lock:
            done.append(op)
            if progress is not None:
                progress(len(done), len(workload.ops))

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="otel-perf-demo") as pool:
        list(pool.map(one, workload.ops))
    return done


def _execute(op: PlannedOp, speed: float) -> None:
    scaled = op.latency_s / speed
    try:
        if op.kind == "generation":
            with track_generation(
                op.operation, model=op.model, provider=op.provider, project=op.project
            ) as h:
                _common(h, op)
                h.set_usage(images=op.images, characters=op.characters)
                if op.provider_cost_usd is not None:
                    h.set_cost(op.provider_cost_usd)
                time.sleep(scaled)
                if op.failure is not None:
                    raise DemoProviderError(_MESSAGES[op.failure], _STATUS.get(op.failure))
        elif op.kind == "render":
            with track_render(
                op.render_type, template_id=op.template, project=op.project, width=1920, height=1080
            ) as h:
                _common(h, op)
                time.sleep(scaled)
                if op.failure is not None:
                    raise RuntimeError(_MESSAGES[op.failure])
        else:
            with track_api_call(op.endpoint, method=op.method, project=op.project) as h:
                _common(h, op)
                time.sleep(scaled)
                if op.failure == "timeout":
                    raise TimeoutError(_MESSAGES["timeout"])
                if op.failure == "network":
                    raise DemoNetworkError(_MESSAGES["network"])
                if op.status_code is not None:
                    h.set_status_code(op.status_code)
    except (DemoProviderError, DemoNetworkError, RuntimeError, TimeoutError):
        pass  # the failure was planned; the span recorded it
    span: Any = h.span
    op.duration_s = (span.end_time - span.start_time) / 1e9
    attrs = span.attributes or {}
    op.cost_usd = attrs.get("otel_perf.cost.usd")
    op.cost_source = attrs.get("otel_perf.cost.source", "")


_STATUS: Final = {"safety_block": 400, "rate_limit": 429, "server_error": 503, "timeout": None}


def _common(handle: Any, op: PlannedOp) -> None:
    if op.retry_attempt:
        handle.set_retry_attempt(op.retry_attempt)
    if op.queue_wait_s is not None:
        handle.set_queue_wait(op.queue_wait_s)


# --- Ledger ---------------------------------------------------------------------------------


def ledger(
    ops: list[PlannedOp],
    *,
    thresholds: dict[str, float],
    pricing: PriceTable | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The exact metric samples ``ops`` must produce, computed from the plan.

    Costs come from the price table (the plan's usage), durations from the spans, slowness
    from the durations and ``thresholds`` (already scaled). Gauges are not included: their
    final value depends on thread interleaving.
    """
    table = pricing or PriceTable.bundled()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(
        lambda: defaultdict(float)
    )

    def add(name: str, value: float, **labels: str) -> None:
        samples[name][tuple(sorted(labels.items()))] += value

    for op in ops:
        model = normalize_model(op.model)
        failed = op.failure is not None
        error_type = op.failure or ""
        status = "error" if failed else "success"
        base = {"operation": op.operation, "model": model, "provider": op.provider}
        add(M.OPERATION_DURATION + "_count", 1, **base, status=status, project=op.project)
        add(M.OPERATION_DURATION + "_sum", op.duration_s, **base, status=status, project=op.project)
        if failed:
            add(M.OPERATION_ERRORS, 1, **base, error_type=error_type, project=op.project)
            if op.kind == "render":
                add(
                    M.RENDER_FAILURES,
                    1,
                    render_type=op.render_type,
                    reason=error_type,
                    template=op.template,
                )
            if op.kind == "api":
                code = "" if op.status_code is None else str(op.status_code)
                add(M.API_ERRORS, 1, endpoint=op.endpoint, status_code=code, error_type=error_type)
        else:
            op.slow = op.duration_s > thresholds.get(op.operation, 60.0)
            if op.slow:
                add(M.SLOW_OPERATIONS, 1, operation=op.operation, model=model)
        if op.provider_cost_usd is not None:  # reported cost counts whatever the outcome
            if op.provider_cost_usd:
                add(M.COST_USD, op.provider_cost_usd, **base, project=op.project)
        elif op.kind == "generation" and not failed:
            estimate = table.estimate(
                op.operation, model, Usage(images=op.images, characters=op.characters)
            )
            if estimate.usd is None:
                add(M.UNPRICED_OPERATIONS, 1, operation=op.operation, model=model)
            elif estimate.usd:
                add(M.COST_USD, estimate.usd, **base, project=op.project)
        if op.retry_attempt:
            add(M.RETRIES, 1, operation=op.operation, project=op.project)
        if op.queue_wait_s is not None:
            add(M.QUEUE_WAIT + "_count", 1, operation=op.operation)
            add(M.QUEUE_WAIT + "_sum", op.queue_wait_s, operation=op.operation)

    expected = {
        name: [
            {"labels": dict(labels), "value": value} for labels, value in sorted(by_labels.items())
        ]
        for name, by_labels in sorted(samples.items())
    }
    return {
        "schema": 1,
        **(meta or {}),
        "thresholds": thresholds,
        "summary": summary(ops),
        "expected": expected,
        "operations": [asdict(op) for op in ops],
    }


def summary(ops: list[PlannedOp]) -> dict[str, Any]:
    """Totals for the end-of-run table: cost by operation and model, errors, slow, success."""
    cost: dict[str, float] = defaultdict(float)
    errors: dict[str, int] = defaultdict(int)
    slow: dict[str, int] = defaultdict(int)
    for op in ops:
        if op.cost_usd:
            cost[f"{op.operation} {normalize_model(op.model)}".strip()] += op.cost_usd
        if op.failure:
            errors[op.failure] += 1
        if op.slow:
            slow[op.operation] += 1
    failed = sum(errors.values())
    return {
        "operations": len(ops),
        "failed": failed,
        "success_rate": 0.0 if not ops else round(100.0 * (len(ops) - failed) / len(ops), 2),
        "total_cost_usd": round(sum(cost.values()), 6),
        "cost_by_operation_model": dict(sorted(cost.items())),
        "errors_by_type": dict(sorted(errors.items())),
        "slow_by_operation": dict(sorted(slow.items())),
    }


def write_ledger(path: str | Path, data: dict[str, Any]) -> None:
    """Write the ledger as indented JSON."""
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

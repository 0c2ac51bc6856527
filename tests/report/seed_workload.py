"""Story 6.2's verification workload, run through the real tracking API, then served.

    python -m tests.report.seed_workload PORT LEDGER

20 images (4 attempts fail, each retried once and then succeeds), 5 videos (one times out
and is retried), 3 audio tracks, 3 renders (one fails) and 3 API calls (one rate-limited).
So: 33 generation attempts, 28 successful (84.85%), 5 retries (0.18 per success). The
ledger holds what the spans measured, per model, for the test to compare with the report.
Then /metrics is served until the process is stopped.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from otel_perf import configure, track_api_call, track_generation, track_render
from otel_perf.pricing import normalize_model

IMAGES = ["flux"] * 8 + ["imagen"] * 7 + ["nano-banana"] * 5
IMAGE_FAILURES = {
    1: "Your request was rejected as a result of our safety system",
    5: "Your request was rejected as a result of our safety system",
    9: "Rate limit reached for requests (429 Too Many Requests)",
    16: "Request timed out after 30s",
}
PROVIDERS = {"flux": "black-forest-labs", "imagen": "gcp.gemini", "nano-banana": "gcp.gemini"}
SECONDS = {"flux": 0.03, "imagen": 0.05, "nano-banana": 0.02, "veo": 0.08}
AUDIO = (
    ("generate_speech", "tts-1", "openai"),
    ("generate_music", "suno-v4", "suno"),
    ("generate_sound_effect", "elevenlabs-sfx", "elevenlabs"),
)


class ProviderError(Exception):
    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


def run() -> dict[str, Any]:
    durations: dict[str, list[float]] = defaultdict(list)  # "op model" -> successful seconds

    def attempt(op: str, model: str, provider: str, seconds: float, *, retry: int = 0,
                failure: str | None = None, queue: float | None = None) -> None:  # fmt: skip
        try:
            with track_generation(op, model=model, provider=provider, project="film") as h:
                if retry:
                    h.set_retry_attempt(retry)
                if queue is not None:
                    h.set_queue_wait(queue)
                time.sleep(seconds)
                if failure is not None:
                    raise ProviderError(failure, 429 if "429" in failure else None)
        except ProviderError:
            return
        span: Any = h.span
        durations[f"{op} {normalize_model(model)}"].append((span.end_time - span.start_time) / 1e9)

    for i, model in enumerate(IMAGES):
        failure = IMAGE_FAILURES.get(i)
        seconds = SECONDS[model]
        attempt("generate_image", model, PROVIDERS[model], seconds, failure=failure, queue=0.4)
        if failure is not None:
            attempt("generate_image", model, PROVIDERS[model], seconds, retry=1, queue=2.5)
    for i in range(5):
        if i == 2:
            attempt(
                "generate_video", "veo", "gcp.gemini", 0.01, failure="Request timed out after 30s"
            )
            attempt("generate_video", "veo", "gcp.gemini", SECONDS["veo"], retry=1, queue=7.0)
        else:
            attempt("generate_video", "veo", "gcp.gemini", SECONDS["veo"], queue=3.0)
    for op, model, provider in AUDIO:
        attempt(op, model, provider, 0.02)
    for render_type in ("still", "timeline_export"):
        with track_render(render_type, template_id="tpl_trailer", project="film"):
            time.sleep(0.02)
    try:
        with track_render("video", template_id="tpl_trailer", project="film"):
            raise RuntimeError("Encoding failed: codec h265 not available")
    except RuntimeError:
        pass
    for code in (200, 200, 429):
        with track_api_call("/api/assets/{id}", method="GET", project="film") as h:
            h.set_status_code(code)
    return {
        "generation_attempts": 33,
        "successful_generations": 28,
        "retries": 5,
        "average_seconds": {k: sum(v) / len(v) for k, v in durations.items()},
        "counts": {k: len(v) for k, v in durations.items()},
    }


def main(argv: list[str]) -> int:
    port, ledger = int(argv[0]), Path(argv[1])
    configure(service_name="media-api", prometheus_port=port)
    data = run()
    ledger.write_text(json.dumps(data, indent=2))
    while True:
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

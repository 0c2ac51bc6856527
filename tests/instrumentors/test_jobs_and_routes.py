"""Job bookkeeping, API-route patterns and the api_routes setting."""

from __future__ import annotations

import pytest

from otel_perf import track_generation
from otel_perf.config import Settings
from otel_perf.foreign import compile_routes
from otel_perf.instrumentors.jobs import JobStatus, JobTracker


@pytest.mark.parametrize(
    ("pattern", "url", "label"),
    [
        ("api.example.com/v1/renders/{id}", "https://api.example.com/v1/renders/42?key=s", "/v1/renders/{id}"),
        ("api.example.com/v1/renders/{id}", "http://api.example.com:8080/v1/renders/42/", "/v1/renders/{id}"),
        ("api.example.com/v1/renders/{id}", "https://api.example.com/v1/renders/42/frames", None),
        ("api.example.com/v1/renders/{id}", "https://evil.test/api.example.com/v1/renders/42", None),
        ("https://api.example.com/v1/x", "http://api.example.com/v1/x", None),
        ("*.fal.run/queue/*", "https://queue.fal.run/queue/fal-ai/flux/requests/1", "/queue"),
        ("*.fal.run/queue/*", "https://fal.run/queue/a", None),
    ],
)  # fmt: skip
def test_route_patterns(pattern, url, label):
    """{name} is one segment, a final * the rest, *.host any subdomain; queries are ignored."""
    assert compile_routes([pattern]).match(url) == label


@pytest.mark.parametrize("bad", ["no-path-here", "/v1/only-a-path", ""])
def test_malformed_routes_fail_at_configure_naming_the_setting(bad):
    """An invalid api_routes argument raises ValueError naming it; an env value is ignored."""
    with pytest.raises(ValueError, match="api_routes"):
        Settings.resolve(env={}, api_routes=[bad])
    assert Settings.resolve(env={"OTEL_PERF_API_ROUTES": bad}).api_routes == ()
    assert Settings.resolve(env={"OTEL_PERF_API_ROUTES": "a.test/x, b.test/{y}"}).api_routes == (
        "a.test/x",
        "b.test/{y}",
    )


def test_jobs_past_the_limit_end_as_cancelled(pipeline):
    """The oldest open job beyond max_jobs is ended as cancelled, not as an error."""
    jobs = JobTracker(max_jobs=2)
    for key in ("a", "b", "c"):
        handle = track_generation("generate_video", model="veo-3").start()
        jobs.submit(key, handle, 0, {"videos": 1, "video_seconds": 8.0})
    assert len(jobs) == 2
    assert not jobs.observe("a", JobStatus(done=True))  # evicted: unknown now
    assert jobs.observe("b", JobStatus(done=True, usage={"videos": 0}))
    assert pipeline.value("otel_perf_cancelled_operations_total", operation="generate_video") == 1
    assert pipeline.value("otel_perf_operation_errors_total", project="", operation="generate_video",
                          model="veo-3", provider="", error_type="unknown") == 0  # fmt: skip
    # "b" finished with fewer videos than requested: its seconds scaled down to zero cost.
    assert pipeline.value("otel_perf_cost_usd_total", operation="generate_video", model="veo-3",
                          provider="", project="") == 0  # fmt: skip


def test_handle_end_is_idempotent(pipeline):
    """A started operation ends once, however often end() is called."""
    handle = track_generation("generate_image", model="flux").start()
    assert len(pipeline.spans()) == 0
    handle.end()
    handle.end(RuntimeError("late"))
    (span,) = pipeline.spans()
    assert "error.type" not in (span.attributes or {})

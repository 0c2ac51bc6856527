"""Failure classification: status codes, exceptions and messages -> closed error types."""

from __future__ import annotations

import pytest

from otel_perf.classify import (
    classify_error,
    classify_message,
    classify_status,
    normalize_error_type,
)


class FakeSDKError(Exception):
    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class Response:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


class HTTPStatusError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.response = Response(status)


class RateLimitError(Exception):
    pass


class APIConnectionError(Exception):
    pass


@pytest.mark.parametrize(
    ("code", "kind"),
    [(200, None), (399, None), (400, "client_error"), (401, "authentication"), (403, "authentication"),
     (404, "client_error"), (408, "timeout"), (429, "rate_limit"), (500, "server_error"),
     (503, "server_error"), (504, "timeout")],
)  # fmt: skip
def test_classify_status(code, kind):
    assert classify_status(code) == kind


@pytest.mark.parametrize(
    ("exc", "kind"),
    [(FakeSDKError("Too Many Requests", 429), "rate_limit"),
     (FakeSDKError("Your request was rejected as a result of our safety system", 400), "safety_block"),
     (FakeSDKError("content_policy_violation", 400), "safety_block"),
     (FakeSDKError("Incorrect API key provided", 401), "authentication"),
     (HTTPStatusError("Server error '502 Bad Gateway'", 502), "server_error"),
     (TimeoutError("read timed out"), "timeout"),
     (ConnectionResetError("reset"), "network"),
     (APIConnectionError("Connection error."), "network"),
     (RateLimitError("slow down"), "rate_limit"),
     (RuntimeError("Quota exceeded for imagen"), "rate_limit"),
     (RuntimeError("deadline exceeded"), "timeout"),
     (RuntimeError("Image generation blocked by Responsible AI filters"), "safety_block"),
     (RuntimeError("something odd"), "unknown")],
)  # fmt: skip
def test_classify_api_errors(exc, kind):
    assert classify_error(exc) == kind


# The seed's failure-reason table (TRACK-008), example messages per reason.
@pytest.mark.parametrize(
    ("message", "reason"),
    [("Memory limit exceeded", "memory_exceeded"), ("OOM", "memory_exceeded"),
     ("Timeout after 30s", "timeout"), ("Request timeout", "timeout"),
     ("Composition not found", "invalid_composition"), ("Invalid format", "invalid_composition"),
     ("File not found", "missing_asset"), ("Missing image", "missing_asset"),
     ("Codec error", "codec_error"), ("Encoding failed", "codec_error"),
     ("All other errors", "unknown")],
)  # fmt: skip
def test_render_reasons_from_seed_table(message, reason):
    assert classify_message(message, render=True) == reason
    assert classify_error(RuntimeError(message), render=True) == reason


def test_render_exception_types():
    assert classify_error(MemoryError(), render=True) == "memory_exceeded"
    assert classify_error(TimeoutError(), render=True) == "timeout"
    assert classify_error(FileNotFoundError(2, "No such file"), render=True) == "missing_asset"


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_unprintable_exception_is_unknown():
    assert classify_error(Unprintable()) == "unknown"


@pytest.mark.parametrize(
    ("value", "kind"),
    [("rate_limit", "rate_limit"), ("openai.RateLimitError", "rate_limit"), ("429", "rate_limit"),
     ("503", "server_error"), ("_OTHER", "unknown"), ("httpx.ConnectTimeout", "timeout"),
     ("google.genai.errors.ClientError", "unknown"), (None, "unknown"), (500, "server_error")],
)  # fmt: skip
def test_normalize_error_type(value, kind):
    assert normalize_error_type(value) == kind

"""Classifying failures: exception, HTTP status or message -> a closed error type.

API calls and generations use :data:`~otel_perf.attributes.API_ERROR_TYPES`; renders use
the seed's :data:`~otel_perf.attributes.RENDER_FAILURE_REASONS`.

>>> classify_status(429)
'rate_limit'
>>> classify_error(TimeoutError("render took too long"), render=True)
'timeout'
>>> classify_message("Composition not found: hero_001", render=True)
'invalid_composition'
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from otel_perf.attributes import ERROR_TYPES

# Checked in order; the first match wins.
_API_MESSAGE_RULES: Final = (
    ("safety_block", r"safety|content[ _-]?polic|moderation|responsible ?ai|prohibited content"
                     r"|blocked (?:prompt|by)|prompt (?:was )?blocked|image[s]? (?:were |was )?filtered"),
    ("rate_limit", r"rate[ _-]?limit|too many requests|quota|resource[ _-]?exhausted|\b429\b"),
    ("authentication", r"unauthori[sz]ed|unauthenticated|authentication|invalid api key"
                       r"|incorrect api key|permission[ _-]?denied|forbidden|\b40[13]\b"),
    ("timeout", r"time[ ]?out|timed out|deadline[ _-]?exceeded|\b40[8]\b|\b504\b"),
    ("network", r"connection (?:error|refused|reset|aborted)|network|name resolution|dns"
                r"|unreachable|reset by peer|ssl"),
    ("server_error", r"internal server error|service unavailable|bad gateway|overloaded|\b5\d\d\b"),
)  # fmt: skip
_RENDER_MESSAGE_RULES: Final = (
    ("memory_exceeded", r"memory|\boom\b|out of mem"),
    ("timeout", r"time[ ]?out|timed out|deadline exceeded"),
    ("invalid_composition", r"composition|invalid (?:format|template|config|props|dimensions)"),
    ("missing_asset", r"not found|missing|no such file|\b404\b|does not exist"),
    ("codec_error", r"codec|encod|decod|ffmpeg|muxer|bitstream"),
)
_API_RULES: Final = tuple((kind, re.compile(p, re.IGNORECASE)) for kind, p in _API_MESSAGE_RULES)
_RENDER_RULES: Final = tuple(
    (kind, re.compile(p, re.IGNORECASE)) for kind, p in _RENDER_MESSAGE_RULES
)


def classify_status(status_code: int | None) -> str | None:
    """The API error type an HTTP status implies, or ``None`` below 400 (or not an int)."""
    if type(status_code) is not int or status_code < 400:
        return None
    if status_code == 429:
        return "rate_limit"
    if status_code in (401, 403, 407):
        return "authentication"
    if status_code in (408, 504):
        return "timeout"
    if status_code >= 500:
        return "server_error"
    return "client_error"


def classify_message(message: str, *, render: bool = False) -> str:
    """Classify a failure message; ``"unknown"`` when no rule matches."""
    for kind, pattern in _RENDER_RULES if render else _API_RULES:
        if pattern.search(message):
            return kind
    return "unknown"


def status_code_of(exc: BaseException) -> int | None:
    """The HTTP status an SDK exception carries (openai, httpx, requests, google-genai).

    Every attribute read is guarded: an exception whose ``status_code``, ``response`` or
    ``code`` property raises (or returns something odd) just carries no status.
    """
    for candidate in (
        _read(exc, "status_code"),
        _read(_read(exc, "response"), "status_code"),
        _read(exc, "code"),
        _read(exc, "status"),
    ):
        # type() rather than isinstance: an int subclass may compare or hash strangely.
        if type(candidate) is int and 100 <= candidate <= 599:
            return candidate
    return None


def _read(obj: object, name: str) -> object:
    if obj is None:
        return None
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def classify_error(exc: BaseException, *, render: bool = False) -> str:
    """Classify an exception into an error type (render reasons when ``render``).

    Never raises, whatever the exception object does: ``"unknown"`` when it resists.
    """
    try:
        return _classify_error(exc, render)
    except Exception:
        return "unknown"


def _classify_error(exc: BaseException, render: bool) -> str:
    # Only type(): isinstance() consults a __class__ property, which user code may define.
    cls = type(exc)
    name = str(cls.__name__)
    message = _message(exc)
    if render:
        if issubclass(cls, MemoryError):
            return "memory_exceeded"
        if issubclass(cls, TimeoutError) or "Timeout" in name:
            return "timeout"
        kind = classify_message(message, render=True)
        if kind == "unknown" and issubclass(cls, FileNotFoundError):
            return "missing_asset"
        return kind
    # A content-policy refusal often arrives as a plain 400: the message decides first.
    if _API_RULES[0][1].search(message) or "Safety" in name or "ContentFilter" in name:
        return "safety_block"
    if issubclass(cls, TimeoutError) or "Timeout" in name:
        return "timeout"
    by_status = classify_status(status_code_of(exc))
    if by_status is not None:
        return by_status
    if issubclass(cls, ConnectionError) or "Connect" in name or "Network" in name:
        return "network"
    if "RateLimit" in name:
        return "rate_limit"
    if "Authentication" in name or "PermissionDenied" in name:
        return "authentication"
    return classify_message(message)


def _message(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        return ""
    # A str subclass could misbehave in the regex engine; bound the work too.
    return text[:4096] if type(text) is str else ""


_ERROR_TYPES: Final = frozenset(ERROR_TYPES)
_NAME_RULES: Final = (
    ("rate_limit", re.compile(r"ratelimit|rate_limit|toomanyrequests|resourceexhausted", re.I)),
    ("authentication", re.compile(r"auth|permission|forbidden|unauthori", re.I)),
    ("timeout", re.compile(r"timeout|deadline", re.I)),
    (
        "safety_block",
        re.compile(r"safety|contentfilter|content_filter|contentpolicy|blocked", re.I),
    ),
    ("network", re.compile(r"connect|network|socket|ssl", re.I)),
    ("server_error", re.compile(r"internalserver|serviceunavailable|servererror|overloaded", re.I)),
)


def normalize_error_type(value: object) -> str:
    """Map any ``error.type`` value onto the closed set of error types.

    Our own spans already carry a member of the set. Other instrumentations write exception
    class names (``openai.RateLimitError``), HTTP status codes (``"429"``) or ``_OTHER``.

    >>> normalize_error_type("openai.RateLimitError")
    'rate_limit'
    >>> normalize_error_type("503")
    'server_error'
    """
    if value is None:
        return "unknown"
    try:
        text = value if type(value) is str else str(value)
        if type(text) is not str:
            return "unknown"
    except Exception:
        return "unknown"
    if text in _ERROR_TYPES:
        return text
    return _normalize_foreign_error_type(text)


@lru_cache(maxsize=1024)  # bounded: a flood of distinct values cannot grow memory
def _normalize_foreign_error_type(text: str) -> str:
    if text.isdigit():
        return classify_status(int(text)) or "unknown"
    for kind, pattern in _NAME_RULES:
        if pattern.search(text):
            return kind
    return "unknown"

"""Scrubbing secrets and personal data from messages before they touch a span.

>>> scrub("401 for key=sk-proj-abcdefghijklmnop1234 from ops@example.com")
'401 for key=[REDACTED] from [EMAIL]'
"""

from __future__ import annotations

import re
from typing import Final

REDACTED: Final = "[REDACTED]"
MAX_MESSAGE_LENGTH: Final = 512

# Order matters: specific token shapes first, then generic `key=value` forms.
_PATTERNS: Final = (
    # Authorization headers and bearer/basic tokens.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    # OpenAI / Anthropic style keys: sk-..., sk-proj-..., sk-ant-...
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),
    # Google API keys.
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), REDACTED),
    # AWS access key ids and secret keys written as assignments.
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"(?i)(aws_secret_access_key\s*[=:]\s*)[A-Za-z0-9/+=]{40}"), r"\1" + REDACTED),
    # GitHub, Slack, Hugging Face, Replicate and fal tokens.
    (re.compile(r"\b(?:ghp|gho|ghu|ghs|github_pat)_[A-Za-z0-9_]{20,}"), REDACTED),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), REDACTED),
    (re.compile(r"\bhf_[A-Za-z0-9]{20,}"), REDACTED),
    (re.compile(r"\br8_[A-Za-z0-9]{20,}"), REDACTED),
    # JSON Web Tokens.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), REDACTED),
    # Credentials in URLs: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/:@]+:[^\s/@]+@"), r"\1" + REDACTED + "@"),
    # key=..., token=..., api_key: ..., password=... in query strings, headers and logs.
    (
        re.compile(
            r"(?i)\b((?:api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|token|secret|"
            r"client[_-]?secret|password|passwd|pwd|key|sig|signature|x-api-key|x-goog-api-key)"
            r"[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;}]+"
        ),
        r"\1" + REDACTED,
    ),
    # E-mail addresses.
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[EMAIL]"),
    # Any remaining long random-looking token (40+ characters mixing upper case, lower case
    # and digits), e.g. a bare AWS secret key: when in doubt, redact.
    (re.compile(r"(?<![A-Za-z0-9/+_=-])(?=[A-Za-z0-9/+_=-]*[A-Z])(?=[A-Za-z0-9/+_=-]*[a-z])"
                r"(?=[A-Za-z0-9/+_=-]*\d)[A-Za-z0-9/+_=-]{40,}"), REDACTED),
)  # fmt: skip


def scrub(message: object, max_length: int = MAX_MESSAGE_LENGTH) -> str:
    """Return ``message`` as text with secrets and e-mail addresses replaced, truncated.

    Never raises: an object whose ``str()`` fails becomes its type name.
    """
    try:
        text = str(message)
    except Exception:
        text = f"<unprintable {type(message).__name__}>"
    # Bound the work on huge inputs before running the patterns.
    if len(text) > max_length * 4:
        text = text[: max_length * 4]
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    if len(text) > max_length:
        text = text[: max_length - 1] + "…"
    return text

"""Scrubbing secrets and personal data from text before it touches a span, a label or a log.

>>> scrub("401 for key=sk-proj-abcdefghijklmnop1234 from ops@example.com")
'401 for key=[REDACTED] from [EMAIL]'

Three doors, one pattern table: :func:`scrub` for messages (exceptions, ``fail()``),
:func:`scrub_label` for metric label values that carry free text (endpoint, template,
project; cached, since the same values repeat), and :class:`ScrubbingFilter` on the
``otel_perf`` logger, so every log line otel-perf writes is cleaned too.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any, Final

REDACTED: Final = "[REDACTED]"
EMAIL: Final = "[EMAIL]"
MAX_MESSAGE_LENGTH: Final = 512

_T: Final = r"[A-Za-z0-9_-]"  # a URL-safe token character
# Key names whose value is a secret, in `name=value`, `name: value` and JSON forms. The
# name may have any prefix (api_token, auth_token, X-Amz-Security-Token, AccountKey, FAL_KEY):
# matching from the keyword leaves the prefix as it is and costs far less than scanning it
# (the lookahead on the first letters lets the regex engine skip most positions quickly).
_SECRET_NAMES: Final = (
    r"key|token|secret|password|passwd|pwd|signature|credential|cookie|private_key_id|sig"
    r"|session|auth"
)

# (anchors, pattern, replacement). A pattern runs only when one of its anchors occurs in
# the text (in the lower-cased text for anchors written in lower case), which keeps a
# failure's scrub to a few substring searches and the handful of patterns that can match.
# `None` runs always. Order matters: whole shapes first, then `name=value`, then generic.
_PATTERNS: Final = (
    # PEM private keys (GCP service-account JSON, SSH/RSA keys), also when cut off.
    (("-----BEGIN",), re.compile(r"-----BEGIN[A-Z ]*PRIVATE KEY-----(?:.*?-----END[A-Z ]*"
                                 r"PRIVATE KEY-----|.*)", re.S), REDACTED),
    # Authorization schemes: Bearer, Basic, Token (Replicate), Key (fal).
    (("bearer", "basic"), re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
     r"\1 " + REDACTED),
    (("token", "key"), re.compile(r"(?i)\b(token|key)\s+(?=[^\s]*\d)[A-Za-z0-9._~+/=:-]{16,}"),
     r"\1 " + REDACTED),
    # Provider key shapes: OpenAI/Anthropic/Stability sk-…, ElevenLabs/Stripe sk_…, rk_…,
    # whsec_…, Google AIza…/GOCSPX-…/ya29./1//0…, AWS key ids, Replicate r8_, Runway
    # key_…, Hugging Face, GitHub, GitLab, Slack, SendGrid, Mailgun, Twilio.
    (("sk-",), re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),
    (("sk_", "rk_"), re.compile(r"\b[sr]k_(?:live_|test_)?[A-Za-z0-9]{16,}"), REDACTED),
    (("whsec_",), re.compile(r"\bwhsec_[A-Za-z0-9+/=]{16,}"), REDACTED),
    (("AIza",), re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), REDACTED),
    (("GOCSPX-",), re.compile(r"\bGOCSPX-[A-Za-z0-9_-]{16,}"), REDACTED),
    (("ya29.", "1//0"), re.compile(r"(?:\bya29\.|\b1//0)[A-Za-z0-9_-]{16,}"), REDACTED),
    (("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "AIPA"),
     re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|AIPA)[0-9A-Z]{16}\b"), REDACTED),
    (("r8_", "hf_", "key_", "key-", "glpat-", "SG."),
     re.compile(r"\b(?:r8_[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{20,}|key_[0-9a-f]{32,}"
                r"|key-[0-9a-f]{32}|glpat-[A-Za-z0-9_-]{20,}"
                r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,})"), REDACTED),
    (("gh", "github_pat_"), re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,})"),
     REDACTED),
    (("xox",), re.compile(r"\bxox[abprse]-[A-Za-z0-9-]{10,}"), REDACTED),
    (("SK",), re.compile(r"\bSK[0-9a-f]{32}\b"), REDACTED),
    # Azure AD client secrets: three characters, a digit, "Q~", then 31-34 more.
    (("Q~",), re.compile(r"[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}"), REDACTED),
    # fal keys: "<uuid>:<32 hex>".
    ((":",), re.compile(r"\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}:[0-9a-fA-F]{32}\b"),
     REDACTED),
    # JSON Web Tokens.
    (("eyJ",), re.compile(rf"\beyJ{_T}{{8,}}\.{_T}{{8,}}\.{_T}{{8,}}"), REDACTED),
    # Webhook URLs carry their secret in the path.
    (("hooks.slack.com", "/api/webhooks/"),
     re.compile(r"(?:hooks\.slack\.com/services|discord(?:app)?\.com/api/webhooks)/[\w/-]+"),
     REDACTED),
    # Credentials in URLs: scheme://user:password@host, also url-encoded (%3A, %40).
    (("://",), re.compile(r"://[^\s/:@]+:[^\s/@]+@"), "://" + REDACTED + "@"),
    (("%3a%2f%2f",), re.compile(r"(?i)(%3A%2F%2F)[^\s&/]*?%3A[^\s&/]*?%40"),
     r"\1" + REDACTED + "%40"),
    # name=value, name: value, "name": "value" in query strings, headers, JSON and logs.
    (("=", ":"), re.compile(rf"(?i)(?=[kKtTsSpPcCaA])((?:{_SECRET_NAMES})[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;}}]+"),
     r"\1" + REDACTED),
    # E-mail addresses, also url-encoded.
    (("@", "%40"), re.compile(r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), EMAIL),
    # Remaining long random-looking tokens (see _generic): when in doubt, redact.
    (None, re.compile(r"[A-Za-z0-9/+_=-]{32,}"), lambda m: _generic(m.group())),
)  # fmt: skip


def scrub(message: object, max_length: int = MAX_MESSAGE_LENGTH) -> str:
    """Return ``message`` as text with secrets and e-mail addresses replaced, truncated.

    Never raises: an object whose ``str()`` fails becomes its type name. Lone surrogates
    and other unencodable characters are replaced, so the text is valid UTF-8.
    """
    try:
        text = message if type(message) is str else str(message)
    except Exception:
        text = f"<unprintable {_type_name(message)}>"
    if type(text) is not str:  # a str subclass with a lying __str__
        text = f"<unprintable {_type_name(message)}>"
    # Bound the work on huge inputs before running the patterns.
    if len(text) > max_length * 4:
        text = text[: max_length * 4]
    text = _scrubbed(text)
    if len(text) > max_length:
        text = text[: max_length - 1] + "…"
    return text


# One pass finds which anchors occur (longest first); a pattern runs only
# if one of its anchors did. "://" also counts as ":" (the alternation consumes it).
# Searched in the lower-cased text: a case-sensitive alternation lets the regex engine skip
# positions by their first character, which IGNORECASE would prevent (ten times slower).
_ANCHORS: Final = re.compile(
    "|".join(
        re.escape(anchor)
        for anchor in sorted(
            {a.lower() for anchors, _, _ in _PATTERNS if anchors for a in anchors},
            key=len,
            reverse=True,
        )
    )
)
_RUNS: Final[tuple[tuple[frozenset[str] | None, re.Pattern[str], Any], ...]] = tuple(
    (None if anchors is None else frozenset(a.lower() for a in anchors), pattern, replacement)
    for anchors, pattern, replacement in _PATTERNS
)


def _scrubbed(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    hits = set(_ANCHORS.findall(text.lower()))
    if "://" in hits:
        hits.add(":")
    for anchors, pattern, replacement in _RUNS:
        if anchors is None or not hits.isdisjoint(anchors):
            text = pattern.sub(replacement, text)
    return text


def _generic(token: str) -> str:
    """40+ characters mixing upper case, lower case and digits (a bare AWS secret key, an
    Azure storage key), or 32+ lower-case hex characters with letters and digits
    (ElevenLabs, Azure OpenAI, signatures, key ids)."""
    if (
        len(token) >= 40
        and any(c.isupper() for c in token)
        and any(c.islower() for c in token)
        and any(c.isdigit() for c in token)
    ):
        return REDACTED
    if _HEX_TOKEN.fullmatch(token) and not token.isdigit() and not token.isalpha():
        return REDACTED
    return token


_HEX_TOKEN: Final = re.compile(r"[0-9a-f]{32,}")


@lru_cache(maxsize=4096)  # label values repeat; bounded so a flood cannot grow memory
def scrub_label(value: str) -> str:
    """A label value with secrets replaced (``[REDACTED]``); ordinary values unchanged."""
    return _scrubbed(value)


def _type_name(value: object) -> str:
    try:
        return str(type(value).__name__)
    except Exception:  # pragma: no cover - a metaclass whose __name__ raises
        return "object"


class ScrubbingFilter(logging.Filter):
    """Cleans every record of the logger it is attached to: the formatted message and the
    rendered exception, so a value otel-perf logs (``%r`` of a bad argument, an internal
    error's traceback) never writes a secret to the host's logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg = scrub(record.getMessage(), max_length=4096)
            record.args = None
            if record.exc_info:
                import traceback

                rendered = "".join(traceback.format_exception(*record.exc_info))
                record.exc_text = scrub(rendered[-4096:], max_length=4096)
                record.exc_info = None
        except Exception:  # pragma: no cover - never let logging fail on our account
            record.msg, record.args, record.exc_info = "otel-perf: unloggable message", None, None
        return True


def install_log_filter(logger: logging.Logger) -> None:
    """Attach one :class:`ScrubbingFilter` to ``logger`` (idempotent)."""
    if not any(isinstance(f, ScrubbingFilter) for f in logger.filters):
        logger.addFilter(ScrubbingFilter())

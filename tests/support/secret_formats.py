"""A table of real-looking secret formats (fabricated values) for the scrubbing tests.

Each row is a format name, a message template with ``{s}`` where the secret goes, and the
secret itself. Values are generated from a seeded random source in the shape each provider
documents, so no literal key sits in the repository and the table is the same on every run.
"""

from __future__ import annotations

import random
import string
from typing import NamedTuple

_rng = random.Random(12)
_ALNUM = string.ascii_letters + string.digits
_HEX = "0123456789abcdef"
_B64 = _ALNUM + "+/"


def _r(n: int, alphabet: str = _ALNUM) -> str:
    text = "".join(_rng.choice(alphabet) for _ in range(n))
    # Mix classes as real keys do (a value that happens to be all letters is unrealistic).
    if alphabet in (_ALNUM, _B64) and n >= 8:
        text = "aZ7" + text[3:]
    if alphabet == _HEX and n >= 8:
        text = "9f" + text[2:-1] + "e"
    return text


def _uuid() -> str:
    h = _r(32, _HEX)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


class SecretFormat(NamedTuple):
    name: str
    template: str
    secret: str
    pii: bool = False

    @property
    def text(self) -> str:
        return self.template.format(s=self.secret)


_PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + _r(120, _B64)

FORMATS: tuple[SecretFormat, ...] = (
    # OpenAI
    SecretFormat("openai legacy", "Incorrect API key provided: {s}.", "sk-" + _r(48)),
    SecretFormat(
        "openai project", "Incorrect API key provided: {s}", "sk-proj-" + _r(64, _ALNUM + "_-")
    ),
    SecretFormat(
        "openai service account", "key {s} revoked", "sk-svcacct-" + _r(64, _ALNUM + "_-")
    ),
    SecretFormat("openai admin", "admin key {s} rejected", "sk-admin-" + _r(60, _ALNUM + "_-")),
    # Anthropic
    SecretFormat("anthropic api", "x-api-key: {s}", "sk-ant-api03-" + _r(93, _ALNUM + "_-") + "AA"),
    SecretFormat(
        "anthropic admin", "invalid x-api-key {s}", "sk-ant-admin01-" + _r(93, _ALNUM + "_-") + "AA"
    ),
    # Google
    SecretFormat(
        "google api key", "POST /v1beta/models?key={s} 400", "AIza" + _r(35, _ALNUM + "_-")
    ),
    SecretFormat("google api key bare", "API key not valid: {s}", "AIza" + _r(35, _ALNUM + "_-")),
    SecretFormat(
        "google oauth client secret", "client secret {s} invalid", "GOCSPX-" + _r(28, _ALNUM + "_-")
    ),
    SecretFormat(
        "google oauth access token", "token {s} expired", "ya29." + _r(120, _ALNUM + "_-")
    ),
    SecretFormat(
        "google oauth refresh token", "refresh with {s} failed", "1//0" + _r(100, _ALNUM + "_-")
    ),
    SecretFormat(
        "gcp service account private key",
        '{{"type": "service_account", "private_key": "{s}"}}',
        "-----BEGIN PRIVATE KEY-----\\n" + _PEM_BODY + "\\n-----END PRIVATE KEY-----\\n",
    ),
    SecretFormat(
        "gcp service account key id",
        '{{"type": "service_account", "private_key_id": "{s}", "project_id": "p"}}',
        _r(40, _HEX),
    ),
    # AWS
    SecretFormat(
        "aws access key id",
        "The AWS Access Key Id {s} does not exist",
        "AKIA" + _r(16, string.ascii_uppercase + string.digits),
    ),
    SecretFormat(
        "aws temporary key id",
        "credential {s} expired",
        "ASIA" + _r(16, string.ascii_uppercase + string.digits),
    ),
    SecretFormat("aws secret assigned", "aws_secret_access_key = {s}", _r(40, _B64)),
    SecretFormat("aws secret json", '{{"SecretAccessKey": "{s}"}}', _r(40, _B64)),
    SecretFormat("aws secret bare", "signature mismatch for {s}", _r(40, _B64)),
    SecretFormat(
        "aws session token",
        "X-Amz-Security-Token={s}&X-Amz-Date=20250101",
        "IQoJb3JpZ2luX2VjE" + _r(180, _B64),
    ),
    SecretFormat(
        "aws presigned signature",
        "GET https://b.s3.amazonaws.com/o?X-Amz-Signature={s} 403",
        _r(64, _HEX),
    ),
    # Azure
    SecretFormat(
        "azure ad client secret",
        "AADSTS7000215: Invalid client secret {s}",
        "Xqa8Q~" + _r(34, _ALNUM + "_~.-"),
    ),
    SecretFormat(
        "azure storage account key",
        "DefaultEndpointsProtocol=https;AccountName=a;AccountKey={s};",
        _r(86, _B64) + "==",
    ),
    SecretFormat(
        "azure sas signature",
        "https://a.blob.core.windows.net/c/x.png?sv=2022-11-02&sig={s}",
        _r(43, _B64) + "%3D",
    ),
    SecretFormat("azure openai api-key header", "api-key: {s}", _r(32, _HEX)),
    SecretFormat(
        "azure service bus",
        "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKey={s}",
        _r(43, _B64) + "=",
    ),
    # Image / video / audio providers
    SecretFormat("replicate", "Authorization: Token {s}", "r8_" + _r(37)),
    SecretFormat("replicate bare", "REPLICATE_API_TOKEN {s} is invalid", "r8_" + _r(37)),
    SecretFormat("stability", "Authorization: {s}", "sk-" + _r(48)),
    SecretFormat("runway", "RUNWAYML_API_SECRET={s}", "key_" + _r(128, _HEX)),
    SecretFormat("runway bare", "invalid runway key {s}", "key_" + _r(128, _HEX)),
    SecretFormat("bfl x-key header", "x-key: {s}", _uuid()),
    SecretFormat("fal key", "FAL_KEY={s}", _uuid() + ":" + _r(32, _HEX)),
    SecretFormat("fal key bare", "Authorization: Key {s}", _uuid() + ":" + _r(32, _HEX)),
    SecretFormat(
        "fal key in message", "fal rejected credentials {s}", _uuid() + ":" + _r(32, _HEX)
    ),
    SecretFormat("elevenlabs sk_", "invalid_api_key: {s}", "sk_" + _r(48, _HEX)),
    SecretFormat("elevenlabs header", "xi-api-key: {s}", _r(32, _HEX)),
    SecretFormat("hugging face", "401 for {s}", "hf_" + _r(34)),
    # Payment / webhooks (seen in pipelines that bill)
    SecretFormat("stripe secret live", "No such key: {s}", "sk_live_" + _r(99)),
    SecretFormat("stripe secret test", "key {s}", "sk_test_" + _r(24)),
    SecretFormat("stripe restricted", "restricted key {s} lacks scope", "rk_live_" + _r(99)),
    SecretFormat("webhook signing secret", "signature invalid for {s}", "whsec_" + _r(32)),
    # Code hosts, chat, mail
    SecretFormat("github classic", "git clone failed with {s}", "ghp_" + _r(36)),
    SecretFormat("github fine-grained", "token {s} expired", "github_pat_" + _r(22) + "_" + _r(59)),
    SecretFormat("gitlab", "PRIVATE-TOKEN: {s}", "glpat-" + _r(20, _ALNUM + "_-")),
    SecretFormat(
        "slack bot",
        "slack post failed: {s}",
        "xoxb-" + _r(12, string.digits) + "-" + _r(12, string.digits) + "-" + _r(24),
    ),
    SecretFormat(
        "slack webhook",
        "POST {s} 404",
        "https://hooks.slack.com/services/T"
        + _r(10, string.ascii_uppercase)
        + "/B"
        + _r(10, string.ascii_uppercase)
        + "/"
        + _r(24),
    ),
    SecretFormat(
        "discord webhook",
        "POST {s} 401",
        "https://discord.com/api/webhooks/" + _r(18, string.digits) + "/" + _r(68, _ALNUM + "_-"),
    ),
    SecretFormat(
        "sendgrid",
        "sendgrid rejected {s}",
        "SG." + _r(22, _ALNUM + "_-") + "." + _r(43, _ALNUM + "_-"),
    ),
    SecretFormat("mailgun", "api:{s}", "key-" + _r(32, _HEX)),
    SecretFormat("twilio api key", "twilio: {s}", "SK" + _r(32, _HEX)),
    # Generic shapes
    SecretFormat("bearer header", "Authorization: Bearer {s}", _r(40, _ALNUM + "._-")),
    SecretFormat("basic header", "Authorization: Basic {s}", _r(28, _B64) + "=="),
    SecretFormat(
        "jwt",
        "token rejected: {s}",
        "eyJhbGciOiJIUzI1NiJ9.eyJ" + _r(40, _ALNUM + "_-") + "." + _r(43, _ALNUM + "_-"),
    ),
    SecretFormat("api_token query", "GET /v1/assets?api_token={s}&page=2 500", _r(24)),
    SecretFormat("auth_token query", "GET /v1/assets?auth_token={s} 401", _r(24)),
    SecretFormat("access_token json", '{{"access_token": "{s}"}}', _r(30)),
    SecretFormat("client_secret form", "client_id=app&client_secret={s}", _r(30, _ALNUM + "_-")),
    SecretFormat("password assignment", "connect failed: password={s}", "hunter2-" + _r(6)),
    SecretFormat(
        "db url password",
        "could not connect to postgresql://render:{s}@db.internal:5432/app",
        _r(16),
    ),
    SecretFormat(
        "url-encoded credentials",
        "redirect to https%3A%2F%2Fops%40studio.example%3A{s}%40cdn.example.com%2Fx",
        "p4ss" + _r(10),
    ),
    SecretFormat(
        "url userinfo with %40",
        "fetch https://ops%40studio.example:{s}@cdn.example.com/a.png failed",
        "pw" + _r(12),
    ),
    SecretFormat("lower-case hex token", "upstream said: invalid token {s}", _r(40, _HEX)),
    SecretFormat("lower-case hex 32", "asset server refused {s}", _r(32, _HEX)),
    SecretFormat(
        "pem rsa key",
        "loaded {s}",
        "-----BEGIN RSA PRIVATE KEY-----\n" + _PEM_BODY + "\n-----END RSA PRIVATE KEY-----",
    ),
    SecretFormat(
        "pem truncated", "key file starts {s}", "-----BEGIN OPENSSH PRIVATE KEY-----\n" + _PEM_BODY
    ),
    SecretFormat("cookie session", "Cookie: session={s}; theme=dark", _r(48, _ALNUM + "-_.")),
    SecretFormat("x-goog-api-key header", "x-goog-api-key: {s}", "AIza" + _r(35, _ALNUM + "_-")),
    SecretFormat("signature param", "webhook sig={s} mismatch", _r(64, _HEX)),
    # Personal data (best effort; asserted separately)
    SecretFormat("email", "upload by {s} failed", "jane.doe+ops@example.co.uk", pii=True),
    SecretFormat("email in url", "user {s} over quota", "a.person@studio.example", pii=True),
)

#: Fixed parts of formats that are not secret by themselves (PEM armour, URL hosts).
_PUBLIC = (
    "-----BEGIN PRIVATE KEY-----\\n",
    "\\n-----END PRIVATE KEY-----\\n",
    "-----BEGIN RSA PRIVATE KEY-----\n",
    "\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    "https://hooks.slack.com/services/",
    "https://discord.com/api/webhooks/",
)


def leaked(secret: str, output: str, window: int = 10) -> bool:
    """Whether any ``window`` characters of ``secret`` (outside its public armour) survive."""
    for i in range(len(secret) - window + 1):
        part = secret[i : i + window]
        if part in output and not any(part in public for public in _PUBLIC):
            return True
    return len(secret) < window and secret in output

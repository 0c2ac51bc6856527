"""Scrubbing secrets and e-mail addresses from messages."""

from __future__ import annotations

import pytest

from otel_perf.redact import scrub

# Real-looking secrets (not real): every one must disappear.
SECRETS = [
    "sk-proj-4fJx9Q2mZkL8vN1bR7tY3wE6uI0oP5aS",
    "sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345",
    "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "hf_AbCdEfGhIjKlMnOpQrStUvWxYz12345678",
    "r8_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "xoxb-123456789012-abcdefghijklmnop",
    "jane.doe+ops@example.co.uk",
]
# Secrets with no shape of their own: found by the key they are assigned to.
ASSIGNED = ["s3cr3t-p4ss", "hunter2hunter2"]
MESSAGES = [
    "Incorrect API key provided: {s}. You can find your API key at platform",
    "POST https://api.example.com/v1/images?key={s}&alt=json failed",
    "Authorization: Bearer {s}",
    "aws_secret_access_key={s} was rejected",
    "token={s}",
    'config {{"api_key": "{s}"}}',
    "upload by {s} failed",
    "https://user:{s}@registry.example.com/v2",
]


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("template", MESSAGES)
def test_secrets_are_removed(template, secret):
    text = scrub(template.format(s=secret))
    assert secret not in text
    # the interesting part of the message survives
    assert len(text) > 10


@pytest.mark.parametrize("secret", ASSIGNED)
@pytest.mark.parametrize(
    "template",
    ["password={s}", "?api_key={s}&x=1", "x-api-key: {s}", 'secret: "{s}"', "passwd = {s}"],
)
def test_assigned_secrets_are_removed(template, secret):
    assert secret not in scrub(template.format(s=secret))


def test_ordinary_text_is_kept():
    message = "Render failed: Composition not found (template tpl_hero, 1920x1080)"
    assert scrub(message) == message


def test_long_messages_are_truncated():
    assert len(scrub("x" * 100_000)) == 512


def test_unprintable_objects_do_not_raise():
    class Bad:
        def __str__(self) -> str:
            raise RuntimeError

    assert scrub(Bad()) == "<unprintable Bad>"

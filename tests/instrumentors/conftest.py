"""Fixtures for the SDK instrumentors (helpers: tests/support/fake_http.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_http import Transport


@pytest.fixture
def transport() -> Iterator[Transport]:
    yield Transport()

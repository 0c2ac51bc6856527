"""External tools the tests run: found on PATH, or a skip (a failure under CI=true)."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str) -> str:
    """Path of an executable; under CI=true a missing tool fails instead of skipping."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (scripts/test installs it with apt-get)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path

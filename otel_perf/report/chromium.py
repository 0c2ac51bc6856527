"""Headless Chromium, the engine that prints the HTML report to PDF.

Found through ``OTEL_PERF_CHROMIUM`` or the usual command names. Runs with a fresh
profile, no network services, a bounded time, and is always cleaned up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from otel_perf.environment import CHROMIUM

ENV_VAR: Final = CHROMIUM.name
NAMES: Final = (
    "chromium",
    "chromium-browser",
    "chromium-headless-shell",
    "headless_shell",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
)
TIMEOUT: Final = 120.0
FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


class ChromiumError(RuntimeError):
    """Chromium is missing or failed."""


def find_chromium() -> str:
    """The Chromium executable; ``ChromiumError`` saying how to get one when there is none."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        path = shutil.which(configured)
        if path is None:
            raise ChromiumError(f"{ENV_VAR}={configured!r} is not an executable")
        return path
    for name in NAMES:
        path = shutil.which(name)
        if path is not None:
            return path
    raise ChromiumError(
        "PDF output prints the HTML report with headless Chromium, and none was found: "
        f"install it (Debian/Ubuntu: apt-get install chromium) or set {ENV_VAR} to its path; "
        "--format html needs no browser"
    )


def run_chromium(
    args: Sequence[str], *, binary: str | None = None, timeout: float = TIMEOUT
) -> None:
    """Run headless Chromium with ``args`` in a throw-away profile."""
    exe = binary or find_chromium()
    with tempfile.TemporaryDirectory(prefix="otel-perf-chromium-") as profile:
        argv = [exe, *FLAGS, f"--user-data-dir={profile}", *args]
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ChromiumError(f"{exe} did not finish within {timeout:g} s") from None
        except OSError as exc:
            raise ChromiumError(f"cannot run {exe}: {exc}") from None
    if done.returncode != 0:
        tail = done.stdout.decode(errors="replace")[-1500:]
        raise ChromiumError(f"{exe} failed with exit code {done.returncode}:\n{tail}")


def print_to_pdf(html_file: Path, pdf_file: Path, *, binary: str | None = None) -> None:
    """Print ``html_file`` to ``pdf_file`` (A4 as the page's CSS asks, no header/footer)."""
    run_chromium(
        ["--no-pdf-header-footer", f"--print-to-pdf={pdf_file}", html_file.resolve().as_uri()],
        binary=binary,
    )
    if not pdf_file.exists() or pdf_file.stat().st_size == 0:
        raise ChromiumError(f"Chromium wrote no PDF to {pdf_file}")


def screenshot(
    html_file: Path,
    png_file: Path,
    *,
    width: int = 1280,
    height: int = 4200,
    binary: str | None = None,
) -> None:
    """A PNG of the rendered page (used to check the HTML report renders)."""
    run_chromium(
        [
            f"--window-size={width},{height}",
            f"--screenshot={png_file}",
            html_file.resolve().as_uri(),
        ],
        binary=binary,
    )
    if not png_file.exists():
        raise ChromiumError(f"Chromium wrote no screenshot to {png_file}")

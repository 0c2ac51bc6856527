"""Shared fixtures: global state reset, a fresh registry, a pipeline (tests/support/pipeline.py).

Helpers live in tests/support/; this file holds fixtures only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from otel_perf import configuration, selfmonitor, tracking
from otel_perf.config import Settings
from tests.support import process_guard
from tests.support.pipeline import Pipeline


def pytest_configure(config: pytest.Config) -> None:
    process_guard.install()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    process_guard.mark_server_tests(items)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    process_guard.reset()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    process_guard.check(item)


@pytest.fixture(autouse=True)
def _reset_global_state() -> Iterator[None]:
    """Each test starts unconfigured, with no internal errors counted."""
    selfmonitor.reset()
    yield
    handle = configuration.active()
    if handle is not None:
        handle.shutdown()
    tracking.unbind()
    selfmonitor.reset()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def make_pipeline(registry: CollectorRegistry):  # type: ignore[no-untyped-def]
    def make(**settings: object) -> Pipeline:
        return Pipeline(registry, Settings.resolve(env={}, **settings))

    return make


@pytest.fixture
def pipeline(make_pipeline) -> Pipeline:  # type: ignore[no-untyped-def]
    return make_pipeline()

"""The README stays true: every metric, attribute, setting and error type is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from otel_perf import attributes as A
from otel_perf import metrics as M
from otel_perf.config import _RESOLVERS, ENVIRONMENT
from otel_perf.thresholds import DEFAULT_THRESHOLDS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize(
    "name", [s.name for s in M.SPECS] + [M.SERIES_OVERFLOW, M.INTERNAL_ERRORS, M.INVALID_VALUES]
)
def test_every_metric_is_documented_with_its_labels(name):
    row = next((line for line in README.splitlines() if line.startswith(f"| `{name}` |")), None)
    assert row is not None, name
    spec = M.SPECS_BY_NAME.get(name)
    if spec is not None:
        assert f"| {', '.join(spec.labels)} |" in row


# gen_ai.system and gen_ai.response.model are only read from other libraries' spans.
_READ_ONLY = {A.GEN_AI_SYSTEM, A.GEN_AI_RESPONSE_MODEL}
ATTRIBUTES = sorted(
    v
    for k, v in vars(A).items()
    if k.isupper()
    and isinstance(v, str)
    and re.match(r"^[a-z_]+\.[a-z_.]+$", v)
    and v not in _READ_ONLY
)


@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_every_span_attribute_is_documented(attribute):
    assert f"`{attribute}`" in README


@pytest.mark.parametrize("variable", sorted(ENVIRONMENT))
def test_every_environment_variable_is_documented(variable):
    assert f"`{variable}`" in README


@pytest.mark.parametrize("setting", sorted(_RESOLVERS))
def test_every_configure_argument_is_documented(setting):
    assert f"| `{setting}` |" in README


@pytest.mark.parametrize("error_type", A.ERROR_TYPES)
def test_every_error_type_is_documented(error_type):
    assert f"`{error_type}`" in README


@pytest.mark.parametrize(("operation", "seconds"), sorted(DEFAULT_THRESHOLDS.items()))
def test_default_thresholds_are_documented(operation, seconds):
    assert f"`{operation}` {seconds:g}" in README

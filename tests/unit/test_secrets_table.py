"""The secrets table (tests/support/secret_formats.py) over spans, labels and logs."""

from __future__ import annotations

import logging

import pytest

import otel_perf
from otel_perf import attributes as A
from otel_perf import textformat
from otel_perf.redact import scrub
from tests.support.secret_formats import FORMATS, leaked

IDS = [f.name for f in FORMATS]


def test_the_table_is_large_enough():
    assert len([f for f in FORMATS if not f.pii]) >= 60


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_scrub(fmt):
    assert not leaked(fmt.secret, scrub(fmt.text))


def _span_text(span) -> str:  # type: ignore[no-untyped-def]
    parts = [span.name, str(span.status.description), *map(str, span.attributes.values())]
    for event in span.events:
        parts.extend(map(str, event.attributes.values()))
    return "\n".join(parts)


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_spans(pipeline, fmt):
    """Exception message, stack trace, fail() message and request id are clean."""
    with pytest.raises(RuntimeError):
        with otel_perf.track_generation("generate_image", model="flux", request_id=fmt.text):
            raise RuntimeError(fmt.text)
    with otel_perf.track_api_call("/v1/x", request_id=fmt.text) as op:
        op.fail("server_error", fmt.text)
    for span in pipeline.spans():
        assert not leaked(fmt.secret, _span_text(span)), span.name


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_labels(pipeline, fmt):
    """Project, template and endpoint label values are clean in the scrape."""
    with otel_perf.track_render("still", template_id=fmt.text, project=fmt.text) as r:
        r.fail("timeout")
    with otel_perf.track_api_call(fmt.text, project=fmt.text) as op:
        op.set_status_code(500)
    body, _ = textformat.generate(pipeline.registry, "application/openmetrics-text")
    assert not leaked(fmt.secret, body.decode("utf-8"))
    assert A.PROJECT  # the labels were written (checked below for one format)


def test_labels_are_written_at_all(pipeline):
    with otel_perf.track_render("still", template_id="tpl_hero", project="p1") as r:
        r.fail("timeout")
    body, _ = textformat.generate(pipeline.registry, "text/plain")
    assert 'template="tpl_hero"' in body.decode() and 'project="p1"' in body.decode()


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_logs(pipeline, fmt, caplog):
    """Values otel-perf logs when it ignores them are scrubbed in the log line."""
    with caplog.at_level(logging.DEBUG, "otel_perf"):
        with otel_perf.track_api_call("/v1/x") as op:
            op.fail(fmt.text)
            op.set_status_code(fmt.text)
            op.set_usage(image_size=f"{fmt.text} {fmt.text}")
            op.set_cost(fmt.text)
    assert len(caplog.records) >= 3
    assert not leaked(fmt.secret, caplog.text)

"""Optional dependencies: a missing extra fails with a message naming it, and the core never
needs one."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from otel_perf import cli, configuration, otlp_metrics
from otel_perf.config import Settings
from otel_perf.optional_deps import (
    GRPC_METRIC_EXPORTER,
    GRPC_TRACE_EXPORTER,
    MissingExtraError,
    import_optional,
)


def test_import_optional_names_the_extra() -> None:
    """The message says what needed the module and the pip command that installs it."""
    with pytest.raises(MissingExtraError) as caught:
        import_optional("otel_perf_no_such_module", "grpc", "OTLP export over gRPC")
    assert caught.value.extra == "grpc"
    assert "pip install 'otel-perf[grpc]'" in str(caught.value)
    assert "OTLP export over gRPC" in str(caught.value)


def test_grpc_span_exporter_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """otlp_protocol='grpc' without otel-perf[grpc] names the extra and the setting."""
    monkeypatch.setitem(sys.modules, GRPC_TRACE_EXPORTER, None)
    settings = Settings.resolve(env={}, otlp_endpoint="http://127.0.0.1:4317", otlp_protocol="grpc")
    with pytest.raises(MissingExtraError, match=r"otlp_protocol='grpc'.*otel-perf\[grpc\]"):
        configuration._otlp_exporter(settings, explicit=True)


def test_http_span_exporter_needs_no_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default protocol works with gRPC absent."""
    monkeypatch.setitem(sys.modules, GRPC_TRACE_EXPORTER, None)
    settings = Settings.resolve(env={}, otlp_endpoint="http://127.0.0.1:4318")
    exporter = configuration._otlp_exporter(settings, explicit=True)
    assert type(exporter).__module__.startswith("opentelemetry.exporter.otlp.proto.http")


def test_grpc_metric_exporter_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """otlp_metrics_protocol='grpc' without otel-perf[grpc] names the extra."""
    monkeypatch.setitem(sys.modules, GRPC_METRIC_EXPORTER, None)
    with pytest.raises(MissingExtraError, match=r"otel-perf\[grpc\]"):
        otlp_metrics.otlp_exporter("grpc")


def test_generate_without_yaml_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`otel-perf generate` is still listed without PyYAML, and running it names the extra."""
    monkeypatch.setitem(sys.modules, "yaml", None)
    for name in [m for m in sys.modules if m.startswith("otel_perf.monitoring")]:
        monkeypatch.delitem(sys.modules, name)
    assert cli.main(["generate", "--check"]) == 2
    err = capsys.readouterr().err
    assert "otel-perf generate" in err
    assert "pip install 'otel-perf[generate]'" in err


@pytest.mark.e2e
def test_core_imports_neither_grpc_nor_yaml() -> None:
    """configure(), the tracking API and the demo import without gRPC or PyYAML installed."""
    code = textwrap.dedent(
        """
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("grpc", "yaml") or name.startswith(
                    "opentelemetry.exporter.otlp.proto.grpc"
                ):
                    raise ImportError(f"blocked: {name}")
                return None

        sys.meta_path.insert(0, Block())
        import otel_perf, otel_perf.cli, otel_perf.demo
        handle = otel_perf.configure(prometheus_port=0, service_name="no-extras")
        with otel_perf.track_generation("generate_image", model="gpt-image-1") as op:
            op.set_usage(images=1)
        handle.shutdown()
        assert otel_perf.cli.main(["config"]) == 0
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")


def test_grpc_from_the_environment_without_the_extra_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """OTEL_EXPORTER_OTLP_PROTOCOL=grpc with no otel-perf[grpc]: logged, http/protobuf used;
    the same as an argument raises naming the extra."""
    monkeypatch.setitem(sys.modules, GRPC_TRACE_EXPORTER, None)
    monkeypatch.setitem(sys.modules, GRPC_METRIC_EXPORTER, None)
    settings = Settings.resolve(
        env={"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, otlp_endpoint="http://127.0.0.1:4318"
    )
    assert settings.otlp_protocol == settings.otlp_metrics_protocol == "grpc"
    with caplog.at_level("ERROR", logger="otel_perf"):
        fixed = configuration._grpc_or_http(settings, None, None)
    assert fixed.otlp_protocol == fixed.otlp_metrics_protocol == "http/protobuf"
    assert caplog.text.count("pip install 'otel-perf[grpc]'") == 2
    with pytest.raises(MissingExtraError, match=r"otlp_protocol='grpc'"):
        configuration._grpc_or_http(settings, "grpc", None)

"""Settings: arguments > environment > defaults; bad arguments raise, bad env is logged."""

from __future__ import annotations

import logging

import pytest

from otel_perf.config import Settings
from otel_perf.thresholds import DEFAULT_THRESHOLDS, error_rate, is_slow


def test_defaults():
    s = Settings.resolve(env={})
    assert (s.prometheus_host, s.prometheus_port, s.cardinality_limit) == ("127.0.0.1", 9464, 2000)
    assert s.otlp_endpoint is None and s.enabled and s.record_unsampled
    assert s.thresholds["render_still"] == 5.0


def test_seed_thresholds():
    """TRACK-008 PERFORMANCE_THRESHOLDS, in seconds."""
    assert {k: DEFAULT_THRESHOLDS[k] for k in ("render_still", "render_video", "api_call",
            "generate_image", "generate_speech")} == {"render_still": 5.0, "render_video": 30.0,
            "api_call": 3.0, "generate_image": 10.0, "generate_speech": 15.0}  # fmt: skip


def test_environment_is_read():
    env = {
        "OTEL_SERVICE_NAME": "media-api",
        "OTEL_PERF_PROMETHEUS_HOST": "0.0.0.0",
        "OTEL_PERF_PROMETHEUS_PORT": "9500",
        "OTEL_PERF_THRESHOLDS": "render_still=8, api_call=1.5",
        "OTEL_PERF_TEMPLATE_THRESHOLDS": "tpl_hero=12",
        "OTEL_PERF_CARDINALITY_LIMIT": "500",
        "OTEL_PERF_EXTRA_OPERATIONS": "upscale_image,generate_3d",
        "OTEL_PERF_RECORD_UNSAMPLED": "false",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    }
    s = Settings.resolve(env=env)
    assert s.service_name == "media-api"
    assert (s.prometheus_host, s.prometheus_port) == ("0.0.0.0", 9500)
    assert s.thresholds["render_still"] == 8.0 and s.thresholds["api_call"] == 1.5
    assert s.thresholds["render_video"] == 30.0
    assert s.template_thresholds == {"tpl_hero": 12.0}
    assert s.cardinality_limit == 500
    assert s.extra_operations == ("upscale_image", "generate_3d")
    assert s.record_unsampled is False
    assert s.otlp_endpoint == "http://collector:4318" and s.otlp_protocol == "grpc"


def test_arguments_win_over_environment():
    s = Settings.resolve(env={"OTEL_PERF_PROMETHEUS_PORT": "9500"}, prometheus_port=9600)
    assert s.prometheus_port == 9600
    assert (
        Settings.resolve(
            env={"OTEL_PERF_PROMETHEUS_PORT": "9500"}, prometheus_port=None
        ).prometheus_port
        is None
    )


def test_extra_operations_accept_thresholds():
    s = Settings.resolve(
        env={}, extra_operations=["upscale_image"], thresholds={"upscale_image": 4}
    )
    assert s.thresholds["upscale_image"] == 4.0
    assert "upscale_image" in s.operations


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"thresholds": {"render_stil": 5}}, r"thresholds: unknown operation 'render_stil'; accepted values: .*render_still"),
     ({"thresholds": {"render_still": -1}}, r"thresholds\['render_still'\] must be a finite number of seconds > 0"),
     ({"thresholds": {"render_still": float("nan")}}, "finite"),
     ({"prometheus_port": 70000}, "prometheus_port must be an integer port 0-65535 or None"),
     ({"prometheus_port": "9464"}, "prometheus_port"),
     ({"cardinality_limit": 0}, "cardinality_limit must be an integer >= 1"),
     ({"extra_operations": ["Upscale Image"]}, "not a valid operation name"),
     ({"extra_operations": ["generate_image"]}, "already a built-in"),
     ({"otlp_protocol": "http/json"}, "otlp_protocol: accepted values: grpc, http/protobuf"),
     ({"enabled": "yes"}, "enabled must be True or False"),
     ({"pricing": 3}, "pricing must be one of 'default', 'seed', a PriceTable"),
     ({"pricing": "seeed"}, r"pricing: 'seeed' is neither a named price table \(default, seed\).*accepted values: 'default', 'seed'"),
     ({"pricing": {"models": {"x": {"per_imag": 1}}}}, "unknown key 'per_imag'"),
     ({"template_thresholds": {"t": 0}}, r"template_thresholds\['t'\]")],
)  # fmt: skip
def test_invalid_arguments_raise_naming_the_setting(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Settings.resolve(env={}, **kwargs)


@pytest.mark.parametrize(
    ("name", "raw", "field", "default"),
    [("OTEL_PERF_PROMETHEUS_PORT", "ninety", "prometheus_port", 9464),
     ("OTEL_PERF_CARDINALITY_LIMIT", "-5", "cardinality_limit", 2000),
     ("OTEL_PERF_RECORD_UNSAMPLED", "perhaps", "record_unsampled", True),
     ("OTEL_PERF_ENABLED", "maybe", "enabled", True),
     ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon", "otlp_protocol", "http/protobuf")],
)  # fmt: skip
def test_bad_environment_values_are_logged_and_defaulted(caplog, name, raw, field, default):
    with caplog.at_level(logging.WARNING, logger="otel_perf"):
        s = Settings.resolve(env={name: raw})
    assert getattr(s, field) == default
    assert name in caplog.text and repr(raw) in caplog.text


def test_bad_thresholds_env_keeps_defaults(caplog):
    with caplog.at_level(logging.WARNING, logger="otel_perf"):
        s = Settings.resolve(env={"OTEL_PERF_THRESHOLDS": "render_still=fast"})
    assert s.thresholds["render_still"] == 5.0
    assert "OTEL_PERF_THRESHOLDS" in caplog.text


def test_bad_pricing_file_env_uses_bundled_table(caplog, tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text("[models.x]\nper_image = 'free'\n")
    with caplog.at_level(logging.WARNING, logger="otel_perf"):
        s = Settings.resolve(env={"OTEL_PERF_PRICING_FILE": str(bad)})
    assert "x" not in s.pricing.models and "flux-dev" in s.pricing.models
    assert "OTEL_PERF_PRICING_FILE" in caplog.text


def test_pricing_file_env_is_merged(tmp_path):
    good = tmp_path / "p.toml"
    good.write_text('[models."house-model"]\nper_image = 0.001\n')
    s = Settings.resolve(env={"OTEL_PERF_PRICING_FILE": str(good)})
    assert s.pricing.estimate("generate_image", "house-model").usd == 0.001


def test_port_off_in_environment():
    assert Settings.resolve(env={"OTEL_PERF_PROMETHEUS_PORT": "off"}).prometheus_port is None


def test_is_slow_and_error_rate_match_track_008():
    assert is_slow("render_still", 5.01) and not is_slow("render_still", 5.0)
    assert is_slow("api_call", 3.5) and not is_slow("render_video", 29.0)
    assert (
        error_rate(100, 5) == 5.0
        and error_rate(0, 0) == 0.0
        and error_rate(3, 1) == pytest.approx(33.333, 0.001)
    )

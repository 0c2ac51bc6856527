"""Settings: arguments > environment > defaults; bad arguments raise, bad env is logged."""

from __future__ import annotations

import logging
from dataclasses import fields

import pytest

from otel_perf import environment as E
from otel_perf.config import _RESOLVERS, Settings, default_of, describe
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


# --- the settings table (otel_perf.environment + Settings defaults) -------------------------

#: A valid value for each variable that sets a field, different from that field's default.
_SAMPLES = {
    E.ENABLED: "false",
    E.SERVICE_NAME: "media-api",
    E.PROMETHEUS_HOST: "0.0.0.0",
    E.PROMETHEUS_PORT: "9500",
    E.THRESHOLDS: "render_still=8",
    E.TEMPLATE_THRESHOLDS: "tpl_hero=12",
    E.PRICING: "seed",
    E.PRICE_MAX_AGE_DAYS: "30",
    E.CARDINALITY_LIMIT: "500",
    E.EXTRA_OPERATIONS: "upscale_image",
    E.API_ROUTES: "api.example.com/v1/renders/{id}",
    E.RECORD_UNSAMPLED: "false",
    E.OTLP_ENDPOINT: "http://collector:4318",
    E.OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces",
    E.OTLP_PROTOCOL: "grpc",
    E.OTLP_TRACES_PROTOCOL: "grpc",
    E.METRICS_EXPORTER: "otlp",
    E.OTLP_METRICS_PROTOCOL: "grpc",
    E.METRIC_EXPORT_INTERVAL: "5000",
    E.METRIC_EXPORT_TIMEOUT: "2000",
}


def test_every_settings_field_has_one_resolver_and_a_default():
    """The dataclass is the table: resolving an empty environment gives its defaults."""
    resolved = Settings.resolve(env={})
    assert set(_RESOLVERS) == {f.name for f in fields(Settings)}
    for f in fields(Settings):
        if f.name != "pricing":  # a PriceTable compares by identity
            assert getattr(resolved, f.name) == default_of(f.name), f.name
    assert (resolved.pricing.models, resolved.pricing.operations) == (
        Settings().pricing.models,
        Settings().pricing.operations,
    )


@pytest.mark.parametrize("variable", sorted(_SAMPLES, key=lambda v: v.name), ids=lambda v: v.name)
def test_every_variable_in_the_table_sets_its_field(variable):
    """A variable listed as setting a field does: its sample value changes that field."""
    field_name = variable.setting
    assert field_name is not None
    default = getattr(Settings.resolve(env={}), field_name)
    changed = getattr(Settings.resolve(env={variable.name: _SAMPLES[variable]}), field_name)
    if field_name == "pricing":
        assert changed.models != default.models
    else:
        assert changed != default


def test_every_service_variable_with_a_field_is_sampled_or_special():
    """New variables get a sample above (pricing file and multiprocess dir need files)."""
    special = {E.PRICING_FILE, E.MULTIPROC_DIR}
    with_field = {v for v in E.VARIABLES if v.setting is not None}
    assert with_field == set(_SAMPLES) | special
    assert all(v.setting in {f.name for f in fields(Settings)} for v in with_field)


def test_described_defaults_are_the_resolved_ones():
    """The descriptions print the defaults the resolver applies (60 s as 60000 ms)."""
    resolved = Settings.resolve(env={})
    assert f"default {resolved.prometheus_port};" in describe(E.PROMETHEUS_PORT)
    assert f"default {resolved.cardinality_limit})" in describe(E.CARDINALITY_LIMIT)
    assert f"default {resolved.metric_export_interval * 1000:g})" in describe(
        E.METRIC_EXPORT_INTERVAL
    )
    assert "{" not in "".join(describe(v) for v in E.VARIABLES if v is not E.API_ROUTES)


def test_otel_perf_config_lists_every_setting_and_variable_marking_the_set_ones(
    monkeypatch, capsys
):
    """`otel-perf config` prints one line per settings field (tables of their own aside)
    and every variable of the table, starred where the environment sets it."""
    from otel_perf.cli import main

    for variable in E.VARIABLES:
        monkeypatch.delenv(variable.name, raising=False)
    monkeypatch.setenv(E.CARDINALITY_LIMIT.name, "700")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "  cardinality_limit      700\n" in out
    for f in fields(Settings):
        if f.name not in ("thresholds", "template_thresholds", "pricing"):
            assert f"\n  {f.name:<22} " in out, f.name
    listed = {line[2:].split()[0]: line[1] for line in out.splitlines()
              if line[2:].startswith(("OTEL_", "PROMETHEUS_"))}  # fmt: skip
    assert set(listed) == {v.name for v in E.VARIABLES}
    assert {name for name, mark in listed.items() if mark == "*"} == {E.CARDINALITY_LIMIT.name}

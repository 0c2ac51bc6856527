"""The bundled price table, overrides, and cost estimation."""

from __future__ import annotations

import pytest

from otel_perf.pricing import PriceTable, Usage, normalize_model

# Story 6.2 API_COST_ESTIMATES, the seed's own numbers.
SEED_PRICES = [
    ("generate_image", "flux", 0.02),
    ("generate_image", "imagen", 0.035),
    ("generate_image", "nano-banana", 0.015),
    ("generate_video", "veo", 0.30),
    ("generate_music", "any-music-model", 0.25),
    ("generate_speech", "any-voice-model", 0.05),
    ("generate_sound_effect", "any-sfx-model", 0.10),
]


@pytest.mark.parametrize(("operation", "model", "usd"), SEED_PRICES)
def test_seed_estimates_are_bundled(operation, model, usd):
    """With no usage recorded, one output costs the seed's estimate."""
    estimate = PriceTable.bundled().estimate(operation, model)
    assert estimate.source == "estimated"
    assert estimate.usd == pytest.approx(usd)


def test_every_entry_states_source_and_date():
    """Every bundled price says where it came from and when."""
    table = PriceTable.bundled()
    for price in [*table.models.values(), *table.operations.values()]:
        assert price.source and price.date, price.name


def test_aliases_resolve_to_real_model_ids():
    """The seed's names are aliases of the providers' model ids."""
    table = PriceTable.bundled()
    assert table.price_for("flux") is table.price_for("flux-dev")
    assert table.price_for("Nano-Banana") is table.price_for("gemini-2.5-flash-image")
    assert table.price_for("veo") is table.price_for("veo-3.1-generate-preview")


@pytest.mark.parametrize(
    ("usage", "usd"),
    [(Usage(), 0.04), (Usage(images=2, image_quality="hd"), 0.16),
     (Usage(images=1, image_size="1792x1024", image_quality="hd"), 0.12),
     (Usage(images=3, image_size="1024x1792", image_quality="standard"), 0.24)],
)  # fmt: skip
def test_image_prices_by_size_and_quality(usage, usd):
    """DALL-E 3 prices depend on size and quality."""
    assert PriceTable.bundled().estimate("generate_image", "dall-e-3", usage).usd == pytest.approx(
        usd
    )


def test_multipliers_apply_without_an_exact_entry():
    table = PriceTable.from_mapping(
        {"models": {"m": {"per_image": 0.1, "size_multipliers": {"2048x2048": 4},
                          "quality_multipliers": {"hd": 2}}}}
    )  # fmt: skip
    estimate = table.estimate(
        "generate_image", "m", Usage(images=2, image_size="2048x2048", image_quality="HD")
    )
    assert estimate.usd == pytest.approx(1.6)


def test_per_unit_prices():
    """Per character, per second and per token prices multiply the recorded usage."""
    table = PriceTable.from_mapping(
        {"models": {
            "voice": {"per_character": 0.00003},
            "clip": {"per_video_second": 0.1},
            "llm": {"per_input_token": 1e-6, "per_output_token": 4e-6},
        }}
    )  # fmt: skip
    assert table.estimate("generate_speech", "voice", Usage(characters=1000)).usd == pytest.approx(
        0.03
    )
    assert table.estimate("generate_video", "clip", Usage(video_seconds=8)).usd == pytest.approx(
        0.8
    )
    assert table.estimate(
        "chat", "llm", Usage(input_tokens=1000, output_tokens=500)
    ).usd == pytest.approx(0.003)


def test_unit_price_without_usage_falls_back_then_unpriced():
    """A per-second model with no seconds recorded uses the operation default, else unpriced."""
    table = PriceTable.from_mapping({"models": {"clip": {"per_video_second": 0.1}}})
    assert table.estimate("generate_video", "clip").source == "unpriced"
    merged = PriceTable.bundled().merged(table)
    assert merged.estimate("generate_music", "unknown").usd == pytest.approx(0.25)


def test_unknown_model_without_operation_default_is_unpriced():
    estimate = PriceTable.bundled().estimate("generate_image", "mystery-model")
    assert estimate.usd is None and estimate.source == "unpriced"


def test_toml_override_replaces_and_extends(tmp_path):
    """A TOML file overrides bundled entries by name and adds new ones."""
    path = tmp_path / "prices.toml"
    path.write_text(
        'version = "team-2026"\n[models."flux-dev"]\naliases = ["flux"]\nper_image = 0.03\n'
        '[models."my-sdxl"]\nper_image = 0.004\n'
    )
    table = PriceTable.bundled().merged(PriceTable.from_file(path))
    assert table.estimate("generate_image", "flux").usd == pytest.approx(0.03)
    assert table.estimate("generate_image", "my-sdxl").usd == pytest.approx(0.004)
    assert table.estimate("generate_image", "imagen").usd == pytest.approx(0.035)
    assert "team-2026" in table.version


@pytest.mark.parametrize(
    ("data", "message"),
    [({"modles": {}}, "unknown key 'modles'"),
     ({"models": {"m": {"per_imag": 0.1}}}, "unknown key 'per_imag'"),
     ({"models": {"m": {"per_image": -1}}}, "finite price >= 0"),
     ({"models": {"m": {"per_image": "cheap"}}}, "expected a number"),
     ({"models": {"m": {"source": "x"}}}, "no price"),
     ({"models": {"m": {"per_image": 1, "aliases": "m2"}}}, "list of strings")],
)  # fmt: skip
def test_invalid_tables_name_the_key(data, message):
    with pytest.raises(ValueError, match=message):
        PriceTable.from_mapping(data)


def test_invalid_toml_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[models\n")
    with pytest.raises(ValueError, match="invalid TOML"):
        PriceTable.from_file(path)
    with pytest.raises(ValueError, match="cannot read"):
        PriceTable.from_file(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("raw", "label"),
    [("GPT-Image-1", "gpt-image-1"), ("gpt-4o-2024-08-06", "gpt-4o"), ("claude-3@20240229", "claude-3"),
     ("models/imagen-3.0-generate-002", "imagen-3.0-generate-002"), ("  Flux Dev ", "flux-dev"),
     (None, ""), ("m" * 300, "m" * 100)],
)  # fmt: skip
def test_normalize_model(raw, label):
    assert normalize_model(raw) == label

"""The bundled price table, overrides, and cost estimation."""

from __future__ import annotations

import datetime

import pytest

from otel_perf.pricing import NAMED_TABLES, PriceTable, Usage, normalize_model

# Story 6.2 API_COST_ESTIMATES, the seed's own numbers (the named table "seed").
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
def test_seed_table_reproduces_the_seed_estimates(operation, model, usd):
    """With the "seed" table and no usage recorded, one output costs the seed's estimate."""
    estimate = PriceTable.named("seed").estimate(operation, model)
    assert estimate.source == "estimated"
    assert estimate.usd == pytest.approx(usd)


# Each bundled model, a representative usage, and the list price its source states for it.
LIST_PRICES = [
    ("generate_image", "gpt-image-1", Usage(image_quality="high", image_size="1024x1536"), 0.25),
    ("generate_image", "gpt-image-1", Usage(images=2, image_quality="low", image_size="1024x1024"), 0.022),
    ("generate_image", "gpt-image-1-mini", Usage(image_quality="medium", image_size="1536x1024"), 0.015),
    ("generate_speech", "tts-1", Usage(characters=300), 0.0045),
    ("generate_speech", "tts-1-hd", Usage(characters=1_000_000), 30.0),
    ("generate_video", "sora-2", Usage(video_seconds=8), 0.80),
    ("generate_video", "sora-2-pro", Usage(video_seconds=10, video_resolution="1792x1024"), 5.0),
    ("generate_video", "sora-2-pro", Usage(video_seconds=10, video_resolution="1280x720"), 3.0),
    ("generate_image", "dall-e-3", Usage(image_quality="hd", image_size="1792x1024"), 0.12),
    ("generate_image", "dall-e-2", Usage(image_size="512x512"), 0.018),
    ("generate_speech", "gpt-4o-mini-tts", Usage(characters=1000), 0.015),
    ("transcribe_audio", "whisper-1", Usage(audio_seconds=60), 0.006),
    ("transcribe_audio", "gpt-4o-transcribe", Usage(audio_seconds=60), 0.006),
    ("transcribe_audio", "gpt-4o-mini-transcribe", Usage(audio_seconds=60), 0.003),
    ("generate_video", "veo-3.1-generate-preview", Usage(video_seconds=8), 3.20),
    ("generate_video", "veo-3.1-generate-preview", Usage(video_seconds=8, video_resolution="4K", video_audio=True), 4.80),
    ("generate_video", "veo-3.1-fast-generate-preview", Usage(video_seconds=8, video_resolution="1080p"), 1.20),
    ("generate_video", "veo-3.1-lite-generate-001", Usage(video_seconds=8, video_resolution="720p"), 0.40),
    ("generate_video", "veo-3.0-generate-001", Usage(video_seconds=8, video_audio=False), 3.20),
    ("generate_video", "veo-3.0-fast-generate-001", Usage(video_seconds=8), 1.20),
    ("generate_video", "veo-2.0-generate-001", Usage(video_seconds=8), 2.80),
    ("generate_image", "imagen-4.0-generate-001", Usage(), 0.04),
    ("generate_image", "imagen-4.0-ultra-generate-001", Usage(), 0.06),
    ("generate_image", "imagen-4.0-fast-generate-001", Usage(images=4), 0.08),
    ("generate_image", "imagen-3.0-generate-002", Usage(), 0.03),
    ("generate_image", "imagen-3.0-fast-generate-001", Usage(), 0.02),
    ("generate_image", "gemini-2.5-flash-image", Usage(), 0.039),
    ("generate_image", "gemini-3-pro-image-preview", Usage(image_size="4K"), 0.24),
    ("generate_image", "flux-pro-1.1", Usage(), 0.04),
    ("generate_image", "flux-pro-1.1-ultra", Usage(), 0.06),
    ("generate_image", "flux-kontext-pro", Usage(), 0.04),
    ("generate_image", "flux-kontext-max", Usage(), 0.08),
    ("generate_image", "flux-dev", Usage(), 0.025),
    ("generate_speech", "eleven_multilingual_v2", Usage(characters=1000), 0.12),
    ("generate_speech", "eleven_flash_v2_5", Usage(characters=1000), 0.06),
]  # fmt: skip


@pytest.mark.parametrize(("operation", "model", "usage", "usd"), LIST_PRICES)
def test_bundled_models_cost_their_list_price(operation, model, usage, usd):
    """The default table prices each model at the list price its source states."""
    estimate = PriceTable.bundled().estimate(operation, model, usage)
    assert estimate.source == "estimated"
    assert estimate.usd == pytest.approx(usd)


def test_every_bundled_model_has_a_list_price_case():
    """A model added to the default table needs a row in LIST_PRICES."""
    assert set(PriceTable.bundled().models) == {row[1] for row in LIST_PRICES}


def test_every_entry_states_source_and_date():
    """Every bundled price says where it came from (a URL) and when it was checked."""
    for name in NAMED_TABLES:
        table = PriceTable.named(name)
        for price in [*table.models.values(), *table.operations.values()]:
            assert price.source and price.date, price.name
            datetime.date.fromisoformat(price.date)
    for price in PriceTable.bundled().models.values():
        assert "https://" in price.source, price.name


def test_default_table_has_no_guessed_operation_defaults():
    """Unknown models are unpriced in the default table; the seed's per-call guesses are not."""
    assert PriceTable.bundled().operations == {}
    assert PriceTable.bundled().estimate("generate_music", "suno-v4").source == "unpriced"
    assert PriceTable.named("seed").estimate("generate_music", "suno-v4").usd == 0.25


def test_unconfirmed_prices_say_how_they_were_chosen():
    """Entries whose provider page was not checked say so; the rest have no such note."""
    table = PriceTable.bundled()
    assert table.price_for("veo").unconfirmed  # Google's pricing page was not stored
    assert table.price_for("gpt-image-1").unconfirmed is None
    assert table.price_for("tts-1").unconfirmed is None


def test_short_aliases_resolve_to_list_prices_in_the_default_table():
    """`veo` is Veo 3.1 at its per-second list price, not the seed's per-video guess."""
    table = PriceTable.bundled()
    assert table.estimate("generate_video", "veo", Usage(video_seconds=8)).usd == pytest.approx(3.2)
    assert table.estimate("generate_video", "veo").source == "unpriced"  # seconds not recorded
    seed = PriceTable.named("seed")
    assert seed.estimate("generate_video", "veo", Usage(video_seconds=8)).usd == pytest.approx(0.3)


def test_named_tables_and_unknown_names():
    assert PriceTable.named("default") is PriceTable.bundled()
    assert PriceTable.named("seed").version == f"{PriceTable.bundled().version}+seed-000"
    with pytest.raises(
        ValueError, match="unknown price table 'sed'; accepted values: default, seed"
    ):
        PriceTable.named("sed")


def test_quote_shows_the_working_and_matches_estimate():
    """quote() gives the same amount as estimate(), with unit price and source."""
    table = PriceTable.bundled()
    usage = Usage(image_quality="high", image_size="1024x1536", images=2)
    quote = table.quote("generate_image", "gpt-image-1", usage)
    assert quote.usd == table.estimate("generate_image", "gpt-image-1", usage).usd == 0.5
    assert (quote.unit, quote.unit_price, quote.quantity) == ("per_image", 0.25, 2)
    assert quote.entry == "gpt-image-1" and "developers.openai.com" in quote.source
    assert quote.table_version == table.version
    tokens = table.quote(
        "transcribe_audio", "gpt-4o-transcribe", Usage(input_tokens=1000, output_tokens=100)
    )
    assert [line.unit for line in tokens.lines] == ["per_input_token", "per_output_token"]
    assert tokens.usd == pytest.approx(sum(line.usd for line in tokens.lines))
    unpriced = table.quote("generate_image", "mystery")
    assert unpriced.usd is None and unpriced.cost_source == "unpriced" and not unpriced.priced


def test_video_second_prices_by_resolution_and_audio():
    table = PriceTable.from_mapping(
        {"models": {"v": {"per_video_second": 0.4,
                          "video_second_prices": {"silent": 0.2, "4k": 0.6, "silent:4k": 0.5}}}}
    )  # fmt: skip

    def cost(**kw):  # type: ignore[no-untyped-def]
        return table.estimate("generate_video", "v", Usage(video_seconds=10, **kw)).usd

    assert cost() == pytest.approx(4.0)
    assert cost(video_audio=True) == pytest.approx(4.0)
    assert cost(video_audio=False) == pytest.approx(2.0)
    assert cost(video_resolution="4K") == pytest.approx(6.0)
    assert cost(video_resolution="4k", video_audio=False) == pytest.approx(5.0)


def test_entries_older_than():
    table = PriceTable.from_mapping(
        {"models": {"new": {"per_image": 1, "date": "2026-11-01"},
                    "old": {"per_image": 1, "date": "2025-01-01"},
                    "undated": {"per_image": 1}}}
    )  # fmt: skip
    old = table.entries_older_than(180, today=datetime.date(2026, 12, 1))
    assert sorted(price.name for _, price in old) == ["old", "undated"]


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
    merged = PriceTable.named("seed").merged(table)
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
    assert table.estimate("generate_image", "imagen").usd == pytest.approx(0.03)
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


def test_docs_list_every_bundled_model():
    """docs/pricing.md says for each bundled model what was confirmed."""
    from pathlib import Path

    docs = (Path(__file__).parents[2] / "docs" / "pricing.md").read_text(encoding="utf-8")
    for name in PriceTable.bundled().models:
        short = name.replace("-ultra-generate-001", "").replace("-fast-generate-001", "")
        assert f"`{name}`" in docs or f"`{short}" in docs, name

"""The price table and cost estimation.

The bundled tables are versioned package data: ``default`` (``otel_perf/data/prices.toml``,
the providers' list prices) and ``seed`` (seed 000's estimates over it,
``data/prices_seed.toml``). Users extend or override them with a TOML file of the same shape
or a mapping in code.

>>> table = PriceTable.bundled()
>>> table.estimate("generate_image", "flux", Usage(images=2))
Estimate(usd=0.05, source='estimated')
>>> table.estimate("generate_image", "some-new-model", Usage())
Estimate(usd=None, source='unpriced')
>>> PriceTable.named("seed").estimate("generate_image", "flux", Usage(images=2))
Estimate(usd=0.04, source='estimated')
"""

from __future__ import annotations

import datetime
import math
import os
import re
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from otel_perf.attributes import COST_SOURCE_ESTIMATED, COST_SOURCE_UNPRICED

UNIT_KEYS: Final = (
    "per_image",
    "per_video",
    "per_video_second",
    "per_audio_second",
    "per_character",
    "per_input_token",
    "per_output_token",
    "per_call",
)
_PRICE_TABLES: Final = (
    "image_prices",
    "video_second_prices",
    "size_multipliers",
    "quality_multipliers",
)
_ENTRY_KEYS: Final = frozenset({*UNIT_KEYS, *_PRICE_TABLES, "source", "date", "unconfirmed"})
_MODEL_KEYS: Final = _ENTRY_KEYS | {"aliases", "provider", "operation"}
_TOP_KEYS: Final = frozenset({"schema_version", "version", "currency", "operations", "models"})
#: Named tables shipped with the package: name -> data file merged over the default table.
NAMED_TABLES: Final = {"default": None, "seed": "data/prices_seed.toml"}
DEFAULT_TABLE: Final = "default"
MAX_MODEL_LABEL_LENGTH: Final = 100
_ESTIMATE_CACHE_SIZE: Final = 4096


@dataclass(frozen=True)
class Usage:
    """What an operation consumed; each field drives one price unit."""

    images: int | None = None
    image_size: str | None = None
    image_quality: str | None = None
    videos: int | None = None
    video_seconds: float | None = None
    audio_seconds: float | None = None
    characters: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    video_resolution: str | None = None
    video_audio: bool | None = None


NO_USAGE: Final = Usage()


@dataclass(frozen=True)
class Estimate:
    """An estimated cost; ``usd`` is ``None`` when unpriced."""

    usd: float | None
    source: str


UNPRICED: Final = Estimate(None, COST_SOURCE_UNPRICED)


@dataclass(frozen=True)
class PriceLine:
    """One unit a price charges: ``unit_price`` US dollars per ``unit``, times ``quantity``."""

    unit: str
    unit_price: float
    quantity: float

    @property
    def usd(self) -> float:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Price:
    """One model's (or one operation's default) price entry."""

    name: str
    per_image: float | None = None
    per_video: float | None = None
    per_video_second: float | None = None
    per_audio_second: float | None = None
    per_character: float | None = None
    per_input_token: float | None = None
    per_output_token: float | None = None
    per_call: float | None = None
    image_prices: Mapping[str, float] = field(default_factory=dict)
    video_second_prices: Mapping[str, float] = field(default_factory=dict)
    size_multipliers: Mapping[str, float] = field(default_factory=dict)
    quality_multipliers: Mapping[str, float] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    provider: str | None = None
    operation: str | None = None
    source: str | None = None
    date: str | None = None
    unconfirmed: str | None = None

    def lines(self, usage: Usage) -> tuple[PriceLine, ...]:
        """Each unit this price charges for ``usage``, in a fixed order (empty: none applies)."""
        lines = []
        if self.per_image is not None or self.image_prices:
            images = 1 if usage.images is None else usage.images
            lines.append(PriceLine("per_image", self._image_price(usage), images))
        if self.per_video is not None:
            videos = 1 if usage.videos is None else usage.videos
            lines.append(PriceLine("per_video", self.per_video, videos))
        if usage.video_seconds is not None:
            rate = self._video_second_price(usage)
            if rate is not None:
                lines.append(PriceLine("per_video_second", rate, usage.video_seconds))
        for unit, price, quantity in (
            ("per_audio_second", self.per_audio_second, usage.audio_seconds),
            ("per_character", self.per_character, usage.characters),
            ("per_input_token", self.per_input_token, usage.input_tokens),
            ("per_output_token", self.per_output_token, usage.output_tokens),
            ("per_call", self.per_call, 1),
        ):
            if price is not None and quantity is not None:
                lines.append(PriceLine(unit, price, quantity))
        return tuple(lines)

    def cost(self, usage: Usage) -> float | None:
        """The cost of ``usage`` at this price, or ``None`` if no unit applies."""
        lines = self.lines(usage)
        if not lines:
            return None
        total = 0.0
        for line in lines:
            total += line.unit_price * line.quantity
        return round(total, 10)

    def _image_price(self, usage: Usage) -> float:
        size = (usage.image_size or "").lower()
        quality = (usage.image_quality or "").lower()
        prices = self.image_prices
        for key in (f"{quality}:{size}", size, quality):
            if key in prices:
                return prices[key]
        base = self.per_image if self.per_image is not None else 0.0
        return (
            base * self.size_multipliers.get(size, 1.0) * self.quality_multipliers.get(quality, 1.0)
        )

    def _video_second_price(self, usage: Usage) -> float | None:
        prices = self.video_second_prices
        if prices:
            resolution = (usage.video_resolution or "").lower()
            audio = {True: "audio", False: "silent"}.get(usage.video_audio, "")  # type: ignore[arg-type]
            for key in (f"{audio}:{resolution}", resolution, audio):
                if key in prices:
                    return prices[key]
        return self.per_video_second


@dataclass(frozen=True)
class CostEstimate:
    """What an operation will cost at the active prices: the answer of :func:`estimate_cost`.

    ``usd`` is ``None`` when nothing prices it (``cost_source == "unpriced"``). ``unit`` and
    ``unit_price`` are those of the first charged unit (``lines`` holds every one);
    ``source``, ``date`` and ``unconfirmed`` come from the price entry used.
    """

    usd: float | None
    cost_source: str
    unit: str | None = None
    unit_price: float | None = None
    quantity: float | None = None
    lines: tuple[PriceLine, ...] = ()
    entry: str | None = None
    source: str | None = None
    date: str | None = None
    unconfirmed: str | None = None
    table_version: str = "custom"

    @property
    def priced(self) -> bool:
        return self.usd is not None


class PriceTable:
    """Prices by model (aliases resolved) and default prices by operation."""

    def __init__(
        self,
        models: Mapping[str, Price],
        operations: Mapping[str, Price],
        version: str = "custom",
    ) -> None:
        self.models: dict[str, Price] = dict(models)
        self.operations: dict[str, Price] = dict(operations)
        self.version = version
        self._lookup: dict[str, Price] = {}
        # Estimates for operations that recorded no usage, the common case: computed once.
        self._no_usage: dict[tuple[str, str], Estimate] = {}
        for name, price in self.models.items():
            for key in (name, *price.aliases):
                self._lookup[normalize_model(key)] = price

    @classmethod
    def bundled(cls) -> PriceTable:
        """The default table shipped with the package: providers' list prices."""
        return _bundled()

    @classmethod
    def named(cls, name: str) -> PriceTable:
        """A table shipped with the package by name: ``default`` or ``seed``.

        ``seed`` is the default table with seed 000's estimates on top. Raises
        ``ValueError`` naming the accepted names.
        """
        if name not in NAMED_TABLES:
            raise ValueError(
                f"unknown price table {name!r}; accepted values: {', '.join(NAMED_TABLES)}"
            )
        return _named(name)

    @classmethod
    def from_file(cls, path: str | Path) -> PriceTable:
        """Load a table from a TOML file; raises ``ValueError`` naming a bad key.

        The file must be a regular file of at most :data:`MAX_PRICING_FILE_BYTES`: a FIFO
        (which would block), a device such as ``/dev/zero`` (endless) or a huge file is
        refused before anything is read.
        """
        path = Path(path)
        try:
            data = tomllib.loads(_read_regular_file(path).decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ValueError(f"pricing file {str(path)!r}: not UTF-8 text: {exc}") from exc
        except OSError as exc:
            raise ValueError(f"pricing file {str(path)!r}: cannot read it: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"pricing file {str(path)!r}: invalid TOML: {exc}") from exc
        return cls.from_mapping(data, origin=f"pricing file {str(path)!r}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], origin: str = "pricing") -> PriceTable:
        """Build a table from the TOML shape as a mapping; validates every key and value."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{origin}: expected a mapping with 'models' and/or 'operations'")
        _check_keys(data, _TOP_KEYS, origin)
        models = {
            str(name): _parse_entry(str(name), entry, _MODEL_KEYS, f"{origin}: models.{name}")
            for name, entry in _table(data, "models", origin).items()
        }
        operations = {
            str(name): _parse_entry(str(name), entry, _ENTRY_KEYS, f"{origin}: operations.{name}")
            for name, entry in _table(data, "operations", origin).items()
        }
        return cls(models, operations, str(data.get("version", "custom")))

    def merged(self, override: PriceTable) -> PriceTable:
        """A new table: this one with ``override``'s entries replacing same-named ones."""
        version = f"{self.version}+{override.version}"
        return PriceTable(
            {**self.models, **override.models}, {**self.operations, **override.operations}, version
        )

    def price_for(self, model: str) -> Price | None:
        """The price entry for a model name or alias (normalised), if any."""
        return self._lookup.get(normalize_model(model))

    def estimate(self, operation: str, model: str, usage: Usage = NO_USAGE) -> Estimate:
        """Estimate a cost; the model's price wins over the operation default.

        A model price none of whose units was recorded (per-character, no character count)
        falls back to the operation default; with neither the result is unpriced.
        """
        if usage is NO_USAGE:
            key = (operation, model)
            cached = self._no_usage.get(key)
            if cached is None:
                cached = self._estimate(operation, model, usage)
                if len(self._no_usage) >= _ESTIMATE_CACHE_SIZE:
                    self._no_usage.clear()  # bounded under a flood of distinct models
                self._no_usage[key] = cached
            return cached
        return self._estimate(operation, model, usage)

    def _estimate(self, operation: str, model: str, usage: Usage) -> Estimate:
        usd = self._priced(operation, model, usage)[1]
        return UNPRICED if usd is None else Estimate(usd, COST_SOURCE_ESTIMATED)

    def _priced(
        self, operation: str, model: str, usage: Usage
    ) -> tuple[Price | None, float | None]:
        price = self._lookup.get(model) or self._lookup.get(normalize_model(model))
        usd = None if price is None else price.cost(usage)
        if usd is None:
            # No model price, or none of its units was recorded (a per-character price
            # and no character count): fall back to the operation's default price.
            price = self.operations.get(operation)
            usd = None if price is None else price.cost(usage)
        return (None, None) if usd is None else (price, usd)

    def quote(self, operation: str, model: str, usage: Usage = NO_USAGE) -> CostEstimate:
        """:meth:`estimate` with its working: the unit price, the lines and the entry's source.

        The amount is the one :meth:`estimate` gives (and tracking records) for the same call.
        """
        price, usd = self._priced(operation, model, usage)
        if price is None or usd is None:
            return CostEstimate(None, COST_SOURCE_UNPRICED, table_version=self.version)
        lines = price.lines(usage)
        first = lines[0]
        return CostEstimate(
            usd,
            COST_SOURCE_ESTIMATED,
            unit=first.unit,
            unit_price=first.unit_price,
            quantity=first.quantity,
            lines=lines,
            entry=price.name,
            source=price.source,
            date=price.date,
            unconfirmed=price.unconfirmed,
            table_version=self.version,
        )

    def entries_older_than(
        self, days: float, today: datetime.date | None = None
    ) -> list[tuple[str, Price]]:
        """``(kind, price)`` for every entry dated more than ``days`` before ``today``.

        ``kind`` is ``model`` or ``operation default``; an entry without a parseable
        ``YYYY-MM-DD`` date counts as old.
        """
        today = today or datetime.date.today()
        old = []
        for kind, entries in (("model", self.models), ("operation default", self.operations)):
            for price in entries.values():
                try:
                    dated = datetime.date.fromisoformat(str(price.date))
                except ValueError:
                    dated = None
                if dated is None or (today - dated).days > days:
                    old.append((kind, price))
        return old


@lru_cache(maxsize=1)
def _bundled() -> PriceTable:
    return _load_packaged("data/prices.toml", "bundled price table")


@lru_cache(maxsize=len(NAMED_TABLES))
def _named(name: str) -> PriceTable:
    path = NAMED_TABLES[name]
    if path is None:
        return _bundled()
    return _bundled().merged(_load_packaged(path, f"bundled price table {name!r}"))


def _load_packaged(path: str, origin: str) -> PriceTable:
    with resources.files("otel_perf").joinpath(path).open("rb") as fh:
        return PriceTable.from_mapping(tomllib.load(fh), origin=origin)


_INF: Final = float("inf")


def is_amount(value: Any) -> bool:
    """A finite number >= 0 (bools excluded): a usable cost, duration or quantity."""
    if type(value) is float:
        return 0.0 <= value < _INF  # NaN fails the comparison
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _table(data: Mapping[str, Any], key: str, origin: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ValueError(f"{origin}: {key!r} must be a table of entries")
    return value


def _check_keys(data: Mapping[str, Any], accepted: frozenset[str], origin: str) -> None:
    for key in data:
        if key not in accepted:
            raise ValueError(
                f"{origin}: unknown key {key!r}; accepted keys: {', '.join(sorted(accepted))}"
            )


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: expected a number of US dollars, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{where}: expected a finite price >= 0, got {value!r}")
    return float(value)


def _number_table(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a table of numbers")
    return {str(k).lower(): _number(v, f"{where}.{k}") for k, v in value.items()}


def _parse_entry(name: str, entry: Any, accepted: frozenset[str], origin: str) -> Price:
    if not isinstance(entry, Mapping):
        raise ValueError(f"{origin}: expected a table")
    _check_keys(entry, accepted, origin)
    kwargs: dict[str, Any] = {"name": name}
    for key, value in entry.items():
        if key in UNIT_KEYS:
            kwargs[key] = _number(value, f"{origin}.{key}")
        elif key in _PRICE_TABLES:
            kwargs[key] = _number_table(value, f"{origin}.{key}")
        elif key == "aliases":
            if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
                raise ValueError(f"{origin}.aliases: expected a list of strings")
            kwargs[key] = tuple(value)
        else:
            kwargs[key] = str(value)
    if not any(k in kwargs for k in (*UNIT_KEYS, "image_prices", "video_second_prices")):
        raise ValueError(f"{origin}: no price; give at least one of {', '.join(UNIT_KEYS)}")
    return Price(**kwargs)


# --- Model name normalisation ---------------------------------------------------------------

_DATE_SUFFIX: Final = re.compile(r"(?:-\d{4}-\d{2}-\d{2}|-\d{8}|@.*)$")


def normalize_model(model: object) -> str:
    """The model name as it appears on metric labels.

    Lower-cased and trimmed; a ``models/`` prefix, a date snapshot suffix
    (``-2024-08-06``, ``-20240806``) and an ``@version`` suffix are removed; capped at 100
    characters. ``None`` becomes ``""``.

    >>> normalize_model("GPT-Image-1-2025-04-15")
    'gpt-image-1'
    >>> normalize_model("models/imagen-3.0-generate-002")
    'imagen-3.0-generate-002'
    """
    if model is None:
        return ""
    try:  # never raises: an unprintable model is no model
        text = model if type(model) is str else str(model)
    except Exception:
        return ""
    return _normalize(text) if type(text) is str else ""


@lru_cache(maxsize=4096)  # bounded: a flood of distinct names cannot grow memory
def _normalize(name: str) -> str:
    name = name.strip().lower().replace(" ", "-").removeprefix("models/")
    return _DATE_SUFFIX.sub("", name)[:MAX_MODEL_LABEL_LENGTH]


#: The largest price file read (the bundled table is a few KiB).
MAX_PRICING_FILE_BYTES: Final = 1 << 20


def _read_regular_file(path: Path) -> bytes:
    """The bytes of a regular file under the size limit; ``ValueError`` for anything else.
    Opened non-blocking, so a FIFO cannot hang the caller; checked on the open descriptor."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"pricing file {str(path)!r}: not a regular file")
        if info.st_size > MAX_PRICING_FILE_BYTES:
            raise ValueError(
                f"pricing file {str(path)!r}: {info.st_size} bytes, over the limit of "
                f"{MAX_PRICING_FILE_BYTES}"
            )
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(MAX_PRICING_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_PRICING_FILE_BYTES:
        raise ValueError(f"pricing file {str(path)!r}: over {MAX_PRICING_FILE_BYTES} bytes")
    return data

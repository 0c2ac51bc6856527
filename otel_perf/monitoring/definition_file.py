"""Reading a monitoring config file (YAML, TOML or JSON) over the defaults, with errors
that name the dotted key.

>>> config_from_mapping({"cost": {"budget_usd": 25}}).cost.budget_usd
25.0
>>> config_from_mapping({"cost": {"budget": 25}})
Traceback (most recent call last):
ValueError: config: cost.budget: unknown key; known keys: budget_usd, window
"""

from __future__ import annotations

import json
import sys
import typing
from collections.abc import Mapping
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from otel_perf.optional_deps import MissingExtraError

try:
    import yaml
except ImportError as exc:  # an extra: the core never needs YAML
    raise MissingExtraError("yaml", "generate", "otel-perf generate") from exc

from otel_perf.monitoring.definition import MonitoringConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def load_config(path: str | Path | None) -> MonitoringConfig:
    """The defaults, overridden by a ``.yaml``/``.yml``/``.toml``/``.json`` file when given."""
    if path is None:
        return MonitoringConfig()
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"cannot read monitoring config {path}: {exc.strerror}") from None
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}") from None
    return config_from_mapping(data or {}, source=str(path))


def config_from_mapping(data: Any, source: str = "config") -> MonitoringConfig:
    """Defaults overridden by a nested mapping (the parsed file)."""
    return _merge(MonitoringConfig(), data, source, "")  # type: ignore[no-any-return]


def _key_of(f: Any) -> str:
    return str(f.metadata.get("key") or f.name)


def _merge(base: Any, data: Any, source: str, path: str) -> Any:
    where = path or "top level"
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: {where}: expected a table of keys, got {_kind(data)}")
    hints = typing.get_type_hints(type(base))
    by_key = {_key_of(f): f for f in fields(base)}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{path}.{key}" if path else str(key)
        f = by_key.get(key)
        if f is None:
            raise ValueError(f"{source}: {name}: unknown key; known keys: {', '.join(by_key)}")
        changes[f.name] = _convert(getattr(base, f.name), hints[f.name], value, source, name)
        check = f.metadata.get("check")
        problem = check(changes[f.name]) if check else None
        if problem:
            raise ValueError(f"{source}: {name}: {problem}; got {value!r}")
    return replace(base, **changes)


def _convert(current: Any, hint: Any, value: Any, source: str, name: str) -> Any:
    if is_dataclass(current):
        return _merge(current, value, source, name)
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item_type, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ValueError(f"{source}: {name}: expected a list, got {_kind(value)}")
        return tuple(
            _item(item_type, item, source, f"{name}[{index}]") for index, item in enumerate(value)
        )
    return _scalar(hint, value, source, name)


def _item(item_type: Any, value: Any, source: str, name: str) -> Any:
    if isinstance(item_type, type) and is_dataclass(item_type):
        hints = typing.get_type_hints(item_type)
        by_key = {_key_of(f): f for f in fields(item_type)}
        if not isinstance(value, Mapping):
            raise ValueError(f"{source}: {name}: expected a table of keys, got {_kind(value)}")
        missing = [key for key, f in by_key.items() if key not in value]
        if missing:
            raise ValueError(f"{source}: {name}: missing keys: {', '.join(missing)}")
        values: dict[str, Any] = {}
        for key, item in value.items():
            f = by_key.get(key)
            if f is None:
                raise ValueError(
                    f"{source}: {name}.{key}: unknown key; known keys: {', '.join(by_key)}"
                )
            values[f.name] = _scalar(hints[f.name], item, source, f"{name}.{key}")
            check = f.metadata.get("check")
            problem = check(values[f.name]) if check else None
            if problem:
                raise ValueError(f"{source}: {name}.{key}: {problem}; got {item!r}")
        return item_type(**values)
    return _scalar(item_type, value, source, name)


def _scalar(hint: Any, value: Any, source: str, name: str) -> Any:
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is str and isinstance(value, str):
        return value
    expected = {float: "a number", int: "an integer", str: "a string"}.get(hint, str(hint))
    raise ValueError(f"{source}: {name}: expected {expected}, got {_kind(value)} {value!r}")


def _kind(value: Any) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )

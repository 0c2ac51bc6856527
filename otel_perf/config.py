"""Settings: arguments, then ``OTEL_PERF_*`` / ``OTEL_*`` environment variables, then defaults.

An invalid *argument* raises ``ValueError`` naming the setting and what it accepts. An
invalid *environment value* is logged and the default is used, so a typo in a deployment
never takes the service down.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from otel_perf import environment as E
from otel_perf.attributes import (
    API_OPERATION,
    GENERATION_OPERATIONS,
    RENDER_OPERATIONS,
    SEMCONV_GENAI_OPERATIONS,
)
from otel_perf.foreign import compile_routes
from otel_perf.metrics import DEFAULT_CARDINALITY_LIMIT
from otel_perf.pricing import DEFAULT_TABLE, NAMED_TABLES, PriceTable
from otel_perf.thresholds import DEFAULT_THRESHOLDS

logger = logging.getLogger("otel_perf")

BUILTIN_OPERATIONS: Final = (*GENERATION_OPERATIONS, *RENDER_OPERATIONS.values(), API_OPERATION)
OTLP_PROTOCOLS: Final = ("grpc", "http/protobuf")
#: Where metrics go (``OTEL_METRICS_EXPORTER``): the ``/metrics`` server, OTLP push, or both.
METRICS_EXPORTERS: Final = ("prometheus", "otlp")
_OPERATION_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DEFAULT_PRICE_MAX_AGE_DAYS: Final = 180.0
_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off"})


@dataclass(frozen=True)
class Settings:
    """The effective, validated settings. Build with :meth:`resolve`.

    The settings table: one field per ``configure()`` argument (durations in seconds), its
    default declared here and nowhere else (resolvers, docs/reference.md and ``otel-perf
    config`` read it with :func:`default_of`); the environment variables feeding each field
    are :mod:`otel_perf.environment`'s.
    """

    enabled: bool = True
    service_name: str | None = None
    prometheus_host: str = "127.0.0.1"
    prometheus_port: int | None = 9464
    thresholds: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    template_thresholds: Mapping[str, float] = field(default_factory=dict)
    pricing: PriceTable = field(default_factory=PriceTable.bundled)
    price_max_age_days: float = DEFAULT_PRICE_MAX_AGE_DAYS
    cardinality_limit: int = DEFAULT_CARDINALITY_LIMIT
    extra_operations: tuple[str, ...] = ()
    record_unsampled: bool = True
    api_routes: tuple[str, ...] = ()
    otlp_endpoint: str | None = None
    otlp_protocol: str = "http/protobuf"
    metrics_exporter: tuple[str, ...] = ("prometheus",)
    otlp_metrics_protocol: str = "http/protobuf"
    metric_export_interval: float = 60.0  # seconds
    metric_export_timeout: float = 30.0  # seconds
    multiprocess_dir: str | None = None

    @property
    def operations(self) -> tuple[str, ...]:
        """Every operation label this configuration accepts."""
        return (*BUILTIN_OPERATIONS, *self.extra_operations)

    @classmethod
    def resolve(cls, env: Mapping[str, str] | None = None, **arguments: Any) -> Settings:
        """Settings from ``arguments`` (``None`` = not given), then ``env``, then defaults."""
        env = os.environ if env is None else env
        unknown = set(arguments) - set(_RESOLVERS)
        if unknown:
            raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        # extra_operations first: thresholds are validated against the operation set.
        for name in ("extra_operations", *(n for n in _RESOLVERS if n != "extra_operations")):
            resolver = _RESOLVERS[name]
            try:
                values[name] = resolver(arguments.get(name, _UNSET), env, values)
            except Exception as exc:  # whatever the value did, the error names the setting
                if isinstance(exc, ValueError) and name in str(exc):
                    raise
                given = arguments.get(name, _UNSET)
                raise ValueError(
                    f"{name}: invalid value of type {type(given).__name__} "
                    f"({type(exc).__name__}); see the accepted values in the "
                    "configure() docstring"
                ) from None
        return cls(**values)


# --- Parsing and validation -----------------------------------------------------------------


def _env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value.strip() if value is not None and value.strip() != "" else None


def _from_env(env: Mapping[str, str], name: str, parse: Callable[[str], Any], default: Any) -> Any:
    raw = _env(env, name)
    if raw is None:
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        logger.warning("ignoring %s=%r: %s; using the default %r", name, raw, exc, default)
        return default


def parse_bool(raw: str) -> bool:
    """Parse ``true/false/1/0/yes/no/on/off`` (case-insensitive)."""
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("accepted values: true, false, 1, 0, yes, no, on, off")


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def _check_port(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ValueError(f"{name} must be an integer port 0-65535 or None (off), got {value!r}")
    return value


def _parse_port(raw: str) -> int | None:
    if raw.lower() in ("off", "none", "disabled"):
        return None
    try:
        port = int(raw)
    except ValueError:
        raise ValueError("accepted values: a port 0-65535, or off") from None
    return _check_port("port", port)


def _check_seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    return float(value)


def _check_thresholds(name: str, value: Any, operations: tuple[str, ...]) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping of operation name to seconds, got {value!r}")
    checked = {}
    for op, seconds in value.items():
        if op not in operations:
            raise ValueError(
                f"{name}: unknown operation {op!r}; accepted values: {', '.join(operations)}"
            )
        checked[op] = _check_seconds(f"{name}[{op!r}]", seconds)
    return checked


def _check_template_thresholds(name: str, value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping of template id to seconds, got {value!r}")
    return {str(k): _check_seconds(f"{name}[{k!r}]", v) for k, v in value.items()}


def _parse_pairs(raw: str) -> dict[str, float]:
    pairs: dict[str, float] = {}
    for item in raw.split(","):
        key, sep, number = item.partition("=")
        if not sep or not key.strip():
            raise ValueError("expected comma-separated name=seconds pairs")
        try:
            pairs[key.strip()] = float(number)
        except ValueError:
            raise ValueError(f"{number.strip()!r} is not a number of seconds") from None
    return pairs


def _check_operations(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be a sequence of operation names, got {value!r}")
    for op in value:
        if not _OPERATION_NAME.match(op):
            raise ValueError(
                f"{name}: {op!r} is not a valid operation name (lower-case letters, digits, "
                "underscores; starting with a letter; at most 64 characters)"
            )
        if op in BUILTIN_OPERATIONS or op in SEMCONV_GENAI_OPERATIONS:
            raise ValueError(f"{name}: {op!r} is already a built-in operation")
    return tuple(dict.fromkeys(value))


def _check_routes(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be a sequence of route patterns, got {value!r}")
    try:
        compile_routes(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    return tuple(dict.fromkeys(v.strip() for v in value))


def _check_limit(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def _check_pricing(name: str, value: Any) -> PriceTable:
    bundled = PriceTable.bundled()
    if value is None:
        return bundled
    if isinstance(value, PriceTable):
        return bundled.merged(value)
    if isinstance(value, str) and value in NAMED_TABLES:
        return PriceTable.named(value)
    if isinstance(value, (str, Path)):
        if not os.path.lexists(value):  # a FIFO or device exists: from_file refuses it
            raise ValueError(
                f"{name}: {str(value)!r} is neither a named price table "
                f"({', '.join(NAMED_TABLES)}) nor an existing TOML file; accepted values: "
                f"{', '.join(repr(n) for n in NAMED_TABLES)}, a TOML file path, a PriceTable "
                "or a mapping in the price-table shape"
            )
        return bundled.merged(PriceTable.from_file(value))
    if isinstance(value, Mapping):
        return bundled.merged(PriceTable.from_mapping(value, origin=name))
    raise ValueError(
        f"{name} must be one of {', '.join(repr(n) for n in NAMED_TABLES)}, a PriceTable, a "
        f"mapping in the price-table shape or a TOML file path, got {type(value).__name__}"
    )


def _check_named_table(name: str, value: Any) -> str:
    if value not in NAMED_TABLES:
        raise ValueError(f"{name}: accepted values: {', '.join(NAMED_TABLES)}; got {value!r}")
    return str(value)


def _check_days(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number of days, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of days >= 0, got {value!r}")
    return float(value)


def _check_protocol(name: str, value: Any) -> str:
    if value not in OTLP_PROTOCOLS:
        raise ValueError(f"{name}: accepted values: {', '.join(OTLP_PROTOCOLS)}; got {value!r}")
    return str(value)


def _check_str(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


Resolver = Callable[[Any, Mapping[str, str], dict[str, Any]], Any]


_FIELDS: Final = {f.name: f for f in fields(Settings)}


def default_of(setting: str) -> Any:
    """The default of ``Settings.<setting>``, declared once on the dataclass.

    >>> default_of("cardinality_limit")
    2000
    """
    f = _FIELDS[setting]
    if f.default is MISSING:
        factory: Callable[[], Any] = f.default_factory  # type: ignore[assignment]
        return factory()
    return f.default


def _simple(
    variable: E.Variable, check: Callable[[str, Any], Any], parse: Callable[[str], Any]
) -> Resolver:
    """The resolver of a setting read from one variable: argument, variable, default."""
    name, env_name = str(variable.setting), variable.name
    default = default_of(name)

    def resolve(arg: Any, env: Mapping[str, str], _: dict[str, Any]) -> Any:
        if _given(arg):
            return check(name, arg)
        return _from_env(env, env_name, lambda raw: check(env_name, parse(raw)), default)

    return resolve


def _resolve_thresholds(
    arg: Any, env: Mapping[str, str], values: dict[str, Any]
) -> dict[str, float]:
    operations = (*BUILTIN_OPERATIONS, *values["extra_operations"])
    merged: dict[str, float] = default_of("thresholds")
    if _given(arg):
        merged.update(_check_thresholds("thresholds", arg, operations))
    else:
        merged.update(
            _from_env(
                env,
                E.THRESHOLDS.name,
                lambda raw: _check_thresholds(E.THRESHOLDS.name, _parse_pairs(raw), operations),
                {},
            )
        )
    return merged


def _resolve_port(arg: Any, env: Mapping[str, str], _: dict[str, Any]) -> int | None:
    if arg is None:  # explicitly None: server off
        return None
    if arg is not _UNSET:
        return _check_port("prometheus_port", arg)
    return _from_env(env, E.PROMETHEUS_PORT.name, _parse_port, default_of("prometheus_port"))  # type: ignore[no-any-return]


def _resolve_pricing(arg: Any, env: Mapping[str, str], _: dict[str, Any]) -> PriceTable:
    if _given(arg):
        return _check_pricing("pricing", arg)
    base = PriceTable.named(
        _from_env(
            env,
            E.PRICING.name,
            lambda raw: _check_named_table(E.PRICING.name, raw),
            DEFAULT_TABLE,
        )
    )
    path = _env(env, E.PRICING_FILE.name)
    if path is None:
        return base
    try:
        return base.merged(PriceTable.from_file(path))
    except ValueError as exc:
        logger.warning("ignoring %s: %s; using the bundled price table", E.PRICING_FILE.name, exc)
        return base


def _resolve_endpoint(arg: Any, env: Mapping[str, str], _: dict[str, Any]) -> str | None:
    if _given(arg):
        return _check_str("otlp_endpoint", arg)
    return _env(env, E.OTLP_TRACES_ENDPOINT.name) or _env(env, E.OTLP_ENDPOINT.name)


def _protocol(specific: E.Variable, general: E.Variable) -> Resolver:
    """An OTLP protocol: the argument, the signal's own variable, the general one, default."""
    setting = str(specific.setting)
    default = default_of(setting)

    def resolve(arg: Any, env: Mapping[str, str], _: dict[str, Any]) -> str:
        if _given(arg):
            return _check_protocol(setting, arg)
        name = specific.name if _env(env, specific.name) is not None else general.name
        return str(_from_env(env, name, lambda raw: _check_protocol(name, raw), default))

    return resolve


def _check_metrics_exporter(name: str, value: Any) -> tuple[str, ...]:
    accepted = (
        f"accepted values: {', '.join(METRICS_EXPORTERS)}, a comma-separated combination, or none"
    )
    items = _parse_list(value) if isinstance(value, str) else value
    if not isinstance(items, (tuple, list)) or not all(isinstance(v, str) for v in items):
        raise ValueError(f"{name}: {accepted}; got {value!r}")
    names = tuple(dict.fromkeys(v.strip().lower() for v in items))
    if names == ("none",):
        # The OpenTelemetry SDK reads this variable too, and `none` there (no SDK metric
        # export, as under opentelemetry-instrument) must not take otel-perf's own /metrics
        # away: no push, and the server follows prometheus_port as always.
        return ("prometheus",)
    unknown = [v for v in names if v not in METRICS_EXPORTERS]
    if unknown or not names:
        raise ValueError(f"{name}: {accepted}; got {value!r}")
    return names


def _milliseconds(variable: E.Variable) -> Resolver:
    """A duration given in seconds as an argument, in milliseconds in the environment."""
    setting, name = str(variable.setting), variable.name
    default = float(default_of(setting))

    def resolve(arg: Any, env: Mapping[str, str], _: dict[str, Any]) -> float:
        if _given(arg):
            return _check_seconds(setting, arg)

        def parse(raw: str) -> float:
            try:
                return _check_seconds(name, float(raw) / 1000)
            except ValueError:
                raise ValueError("expected a number of milliseconds > 0") from None

        return float(_from_env(env, name, parse, default))

    return resolve


def _resolve_multiprocess_dir(arg: Any, env: Mapping[str, str], _: dict[str, Any]) -> str | None:
    from otel_perf.multiprocess import ENV_VAR, check_directory, directory_from_env

    if _given(arg):
        if not isinstance(arg, (str, os.PathLike)) or not str(arg):
            raise ValueError(f"multiprocess_dir must be a directory path, got {arg!r}")
        path = os.fspath(arg)
        problem = check_directory(path)
        if problem is not None:
            raise ValueError(f"multiprocess_dir: {problem}")
        return str(path)
    path = directory_from_env(env)
    if path is None:
        return None
    problem = check_directory(path)
    if problem is not None:
        # Not raised (a deployment typo must not take the service down), but loud: every
        # process now counts on its own and no endpoint shows the sum.
        logger.error(
            "otel-perf: ignoring %s: %s. Metrics are kept per process until this is fixed, "
            "so a prefork server's /metrics shows one worker only",
            ENV_VAR,
            problem,
        )
        return None
    return path


def _parse_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


#: Marks "argument not given" where ``None`` itself is meaningful (prometheus_port=None).
_UNSET: Final[Any] = _Unset()


def _given(arg: Any) -> bool:
    return arg is not None and arg is not _UNSET


_RESOLVERS: Final[dict[str, Resolver]] = {
    "enabled": _simple(E.ENABLED, _check_bool, parse_bool),
    "service_name": _simple(E.SERVICE_NAME, _check_str, str),
    "prometheus_host": _simple(E.PROMETHEUS_HOST, _check_str, str),
    "prometheus_port": _resolve_port,
    "thresholds": _resolve_thresholds,
    "template_thresholds": _simple(E.TEMPLATE_THRESHOLDS, _check_template_thresholds, _parse_pairs),
    "pricing": _resolve_pricing,
    "price_max_age_days": _simple(E.PRICE_MAX_AGE_DAYS, _check_days, float),
    "cardinality_limit": _simple(E.CARDINALITY_LIMIT, _check_limit, int),
    "extra_operations": _simple(E.EXTRA_OPERATIONS, _check_operations, _parse_list),
    "record_unsampled": _simple(E.RECORD_UNSAMPLED, _check_bool, parse_bool),
    "api_routes": _simple(E.API_ROUTES, _check_routes, _parse_list),
    "otlp_endpoint": _resolve_endpoint,
    "otlp_protocol": _protocol(E.OTLP_TRACES_PROTOCOL, E.OTLP_PROTOCOL),
    "metrics_exporter": _simple(E.METRICS_EXPORTER, _check_metrics_exporter, str),
    "otlp_metrics_protocol": _protocol(E.OTLP_METRICS_PROTOCOL, E.OTLP_PROTOCOL),
    "metric_export_interval": _milliseconds(E.METRIC_EXPORT_INTERVAL),
    "metric_export_timeout": _milliseconds(E.METRIC_EXPORT_TIMEOUT),
    "multiprocess_dir": _resolve_multiprocess_dir,
}


def describe(variable: E.Variable) -> str:
    """``variable``'s description, its ``{default}`` filled in from ``Settings``.

    >>> describe(E.PROMETHEUS_PORT)
    'Port of the embedded /metrics server (default 9464; `off` disables it).'
    >>> describe(E.METRIC_EXPORT_INTERVAL)
    'Milliseconds between OTLP metric pushes (default 60000).'
    """
    if variable.setting is None or "{default}" not in variable.doc:
        return variable.doc.format()
    default = default_of(variable.setting)
    if isinstance(default, float):
        default = f"{default * variable.scale:g}"
    return variable.doc.format(default=default)


#: Every environment variable the service side reads, with what it sets (docs/reference.md).
ENVIRONMENT: Final = {v.name: describe(v) for v in E.VARIABLES if v.scope == "service"}

"""Translating spans other instrumentations make into otel-perf's attribute vocabulary.

A span without ``otel_perf.operation`` is counted when it is recognisably a GenAI span:

- ``gen_ai.operation.name`` (OpenTelemetry GenAI semantic conventions: the contrib
  ``openai-v2`` / ``google-genai`` instrumentations, OpenLIT, recent OpenLLMetry),
- ``llm.request.type`` (OpenLLMetry / Traceloop),
- ``openinference.span.kind`` (OpenInference; only model calls, agents and tools),

or, when API routes are configured, an HTTP client span (contrib ``httpx`` / ``requests``
instrumentations) whose URL matches one of them. The translation returns a new attribute
mapping in our names, so the processor records (and prices) foreign and own spans through one code path. Which
of a GenAI span's attributes hold the model, provider, tokens and cost is worked out once
per instrumentation scope and attribute-key set and cached (bounded, ``MAX_MAPPINGS``).
A span that is none of these costs three failed dictionary lookups (four for client spans
when routes are configured); only spans that qualify pay for a translation.

The full mapping table is in ``docs/instrumentation.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.trace import SpanKind, StatusCode

from otel_perf import attributes as A
from otel_perf.classify import classify_status, normalize_error_type
from otel_perf.pricing import is_amount, normalize_model

if TYPE_CHECKING:  # only annotations: the report imports this without the SDK
    from opentelemetry.sdk.trace import ReadableSpan

# --- attribute names other libraries write -------------------------------------------------
OPENINFERENCE_SPAN_KIND: Final = "openinference.span.kind"
OPENLLMETRY_REQUEST_TYPE: Final = "llm.request.type"

#: Attributes other libraries use for a cost already computed, in order of preference.
COST_ATTRIBUTES: Final = (
    "gen_ai.usage.cost",  # OpenLIT
    "llm.cost.total",  # OpenInference
)
MODEL_ATTRIBUTES: Final = (
    A.GEN_AI_REQUEST_MODEL,  # semantic conventions, OpenLIT, OpenLLMetry
    A.GEN_AI_RESPONSE_MODEL,
    "llm.model_name",  # OpenInference
    "embedding.model_name",  # OpenInference embeddings
    "llm.request.model",  # OpenLLMetry before it moved to gen_ai.*
    "llm.response.model",
)
PROVIDER_ATTRIBUTES: Final = (
    A.GEN_AI_PROVIDER_NAME,
    A.GEN_AI_SYSTEM,  # deprecated semconv name, OpenLIT, OpenLLMetry
    "llm.provider",  # OpenInference
    "llm.system",  # OpenInference
    "llm.vendor",  # early OpenLLMetry
)
INPUT_TOKEN_ATTRIBUTES: Final = (
    A.GEN_AI_USAGE_INPUT_TOKENS,
    "gen_ai.usage.prompt_tokens",  # OpenLLMetry
    "llm.token_count.prompt",  # OpenInference
    "llm.usage.prompt_tokens",  # early OpenLLMetry
)
OUTPUT_TOKEN_ATTRIBUTES: Final = (
    A.GEN_AI_USAGE_OUTPUT_TOKENS,
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
)
OPENLIT_IMAGE_SIZE: Final = "gen_ai.request.image_size"
OPENLIT_IMAGE_QUALITY: Final = "gen_ai.request.image_quality"

#: Foreign operation names -> our operation label. ``None``: an application-level span
#: (workflow, vector DB), not a GenAI operation: not counted.
OPERATION_ALIASES: Final[Mapping[str, str | None]] = {
    # OpenLIT operation names
    "image": "generate_image",
    "audio": "generate_speech",
    "text_to_speech": "generate_speech",
    "speech_to_text": "transcribe_audio",
    "agent": "invoke_agent",
    "vectordb": None,
    "framework": None,
    "workflow": None,
    # OpenLLMetry llm.request.type values
    "completion": "text_completion",
    "embedding": "embeddings",
    "rerank": A.OTHER_OPERATION,
    "unknown": A.OTHER_OPERATION,
}
#: OpenInference span kinds that are GenAI operations; chains, retrievers, rerankers,
#: guardrails and evaluators are application-level and not counted.
OPENINFERENCE_KINDS: Final[Mapping[str, str]] = {
    "LLM": "chat",
    "EMBEDDING": "embeddings",
    "AGENT": "invoke_agent",
    "TOOL": "execute_tool",
}
#: Operations that are one call to a model: the ones the count-once rule compares.
MODEL_CALL_OPERATIONS: Final = frozenset(
    {*A.GENERATION_OPERATIONS, "chat", "text_completion", "generate_content", "embeddings"}
)
#: Provider spellings other libraries use -> gen_ai.provider.name values.
PROVIDER_ALIASES: Final[Mapping[str, str]] = {
    "google": "gcp.gemini",
    "gemini": "gcp.gemini",
    "vertexai": "gcp.vertex_ai",
    "vertex_ai": "gcp.vertex_ai",
    "vertex ai": "gcp.vertex_ai",
    "azure": "azure.ai.openai",
    "azureopenai": "azure.ai.openai",
    "aws": "aws.bedrock",
    "bedrock": "aws.bedrock",
    "mistralai": "mistral_ai",
}

# HTTP client spans: stable semantic conventions first, then the pre-1.0 names.
_HTTP_METHOD: Final = ("http.request.method", "http.method")
_HTTP_URL: Final = ("url.full", "http.url")
_HTTP_STATUS: Final = ("http.response.status_code", "http.status_code")


#: Mappings kept at most, one per instrumentation scope and attribute-key set (a flood of
#: distinct key sets empties the cache, it never grows past this).
MAX_MAPPINGS: Final = 512


class _Mapping:
    """Which of a GenAI span's attributes hold what: the keys of each candidate list that a
    span of one instrumentation scope and attribute-key set has, in order of preference.
    Built once per (scope, keys); a span then reads only the keys it has."""

    __slots__ = ("cost", "input_tokens", "model", "output_tokens", "provider")

    def __init__(self, keys: Iterable[Any]) -> None:
        present = set(keys)
        self.model = tuple(k for k in MODEL_ATTRIBUTES if k in present)
        self.provider = tuple(k for k in PROVIDER_ATTRIBUTES if k in present)
        self.cost = tuple(k for k in COST_ATTRIBUTES if k in present)
        self.input_tokens = tuple(k for k in INPUT_TOKEN_ATTRIBUTES if k in present)
        self.output_tokens = tuple(k for k in OUTPUT_TOKEN_ATTRIBUTES if k in present)


class ForeignSpans:
    """Translates foreign spans into our attributes, with a fixed API-route list.

    The translation maps names only: a cost the span reports is kept as the provider's,
    usage goes into our usage attributes, and the processor prices it like our own spans.

    Args:
        api_routes: URL patterns whose HTTP client spans count as ``api_call``
            (see :func:`compile_routes`).
        max_mappings: mappings cached (per instrumentation scope and attribute-key set);
            ``0`` builds one for every span (the tests compare both).
    """

    def __init__(self, api_routes: Iterable[str] = (), *, max_mappings: int | None = None) -> None:
        self.routes = compile_routes(api_routes)
        self.max_mappings = MAX_MAPPINGS if max_mappings is None else max_mappings
        self._mappings: dict[tuple[Any, ...], _Mapping] = {}

    def translate(self, span: ReadableSpan, attrs: Mapping[str, Any]) -> dict[str, Any] | None:
        """Our attributes for a foreign span, or ``None`` if it is not one we count."""
        operation = attrs.get(A.GEN_AI_OPERATION_NAME)
        if operation is None:
            request_type = attrs.get(OPENLLMETRY_REQUEST_TYPE)
            if request_type is not None:
                operation = request_type
            else:
                kind = attrs.get(OPENINFERENCE_SPAN_KIND)
                if kind is not None:
                    operation = OPENINFERENCE_KINDS.get(str(kind).upper())
                    if operation is None:
                        return None
                elif self.routes and span.kind is SpanKind.CLIENT:
                    return self._http(span, attrs)
                else:
                    return None
        if not isinstance(operation, str) or not operation:
            return None
        if operation in OPERATION_ALIASES:
            mapped = OPERATION_ALIASES[operation]
            if mapped is None:
                return None
            operation = mapped
        return self._genai(span, attrs, operation, self._mapping(span, attrs))

    def _mapping(self, span: ReadableSpan, attrs: Mapping[str, Any]) -> _Mapping:
        if not self.max_mappings:
            return _Mapping(tuple(attrs))
        scope = span.instrumentation_scope
        key = (None if scope is None else (scope.name, scope.version), *attrs)
        found = self._mappings.get(key)
        if found is None:
            found = _Mapping(key[1:])
            if len(self._mappings) >= self.max_mappings:
                self._mappings.clear()
            self._mappings[key] = found
        return found

    def _genai(
        self, span: ReadableSpan, attrs: Mapping[str, Any], operation: str, mapping: _Mapping
    ) -> dict[str, Any]:
        out = dict(attrs)
        out[A.OPERATION] = operation
        model = normalize_model(_first(attrs, mapping.model))
        out[A.GEN_AI_REQUEST_MODEL] = model
        provider = _first(attrs, mapping.provider)
        if provider is not None:
            text = str(provider).strip().lower()
            out[A.GEN_AI_PROVIDER_NAME] = PROVIDER_ALIASES.get(text, text)
        if A.ERROR_TYPE not in attrs and span.status.status_code is StatusCode.ERROR:
            out[A.ERROR_TYPE] = _error_type(span, attrs)
        for key in mapping.cost:
            cost = attrs.get(key)
            if isinstance(cost, (int, float)) and is_amount(cost):
                out[A.COST_USD] = float(cost)
                out[A.COST_SOURCE] = A.COST_SOURCE_PROVIDER
                return out
        # Usage in our names: the processor prices it (model calls only, never failures).
        _put(out, A.USAGE_IMAGES, _int(attrs.get(A.GEN_AI_REQUEST_CHOICE_COUNT)))
        _put(out, A.USAGE_IMAGE_SIZE, _str(attrs.get(OPENLIT_IMAGE_SIZE)))
        _put(out, A.USAGE_IMAGE_QUALITY, _str(attrs.get(OPENLIT_IMAGE_QUALITY)))
        _put(out, A.GEN_AI_USAGE_INPUT_TOKENS, _int(_first(attrs, mapping.input_tokens)))
        _put(out, A.GEN_AI_USAGE_OUTPUT_TOKENS, _int(_first(attrs, mapping.output_tokens)))
        return out

    def _http(self, span: ReadableSpan, attrs: Mapping[str, Any]) -> dict[str, Any] | None:
        url = attrs.get(_HTTP_URL[0]) or attrs.get(_HTTP_URL[1])
        if not isinstance(url, str):
            return None
        route = self.routes.match(url)
        if route is None:
            return None
        method = _first(attrs, _HTTP_METHOD)
        out: dict[str, Any] = {
            A.OPERATION: A.API_OPERATION,
            A.HTTP_ROUTE: route,
            A.HTTP_REQUEST_METHOD: str(method).upper() if method else "",
        }
        status = _first(attrs, _HTTP_STATUS)
        if isinstance(status, int) and not isinstance(status, bool):
            out[A.HTTP_RESPONSE_STATUS_CODE] = status
        error_type = classify_status(status) if isinstance(status, int) else None
        if error_type is None and span.status.status_code is StatusCode.ERROR:
            error_type = _error_type(span, attrs)
        if error_type is not None:
            out[A.ERROR_TYPE] = error_type
        return out


class RouteTable:
    """Compiled API-route patterns; :meth:`match` returns the route label for a URL."""

    def __init__(self, routes: list[tuple[re.Pattern[str], str]]) -> None:
        self._routes = routes
        self._cache: dict[str, str | None] = {}

    def __bool__(self) -> bool:
        return bool(self._routes)

    def match(self, url: str) -> str | None:
        """The route template (``/v1/jobs/{id}``) of the first pattern matching ``url``."""
        cached = self._cache.get(url, _MISS)
        if cached is not _MISS:
            return cached  # type: ignore[return-value]
        found = None
        for pattern, label in self._routes:
            if pattern.match(url):
                found = label
                break
        if len(self._cache) >= 4096:
            self._cache.clear()  # bounded under a flood of distinct URLs
        self._cache[url] = found
        return found


_MISS: Final = object()
_PLACEHOLDER: Final = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")


def compile_routes(routes: Iterable[str]) -> RouteTable:
    """Compile API-route patterns such as ``api.example.com/v1/renders/{id}``.

    A pattern is ``[scheme://]host[:port]/path``; ``{name}`` matches one path segment, a
    final ``*`` matches the rest of the path, a host ``*.example.com`` matches its
    subdomains. The query string is ignored. The metric ``endpoint`` label is the path as
    written (``/v1/renders/{id}``). Raises ``ValueError`` naming a malformed pattern.

    >>> compile_routes(["api.example.com/v1/renders/{id}"]).match(
    ...     "https://api.example.com/v1/renders/42?x=1")
    '/v1/renders/{id}'
    """
    compiled = []
    for raw in routes:
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError(f"api route {raw!r}: expected host/path, e.g. api.example.com/v1/x")
        text = raw.strip()
        scheme, sep, rest = text.partition("://")
        if not sep:
            scheme, rest = "", text
        host, slash, path = rest.partition("/")
        if not host or not slash:
            raise ValueError(
                f"api route {raw!r}: expected host/path, e.g. api.example.com/v1/renders/{{id}}"
            )
        host_re = re.escape(host)
        if host.startswith("*."):
            host_re = r"[^/?#]+\." + re.escape(host[2:])
        if ":" not in host:
            host_re += r"(?::\d+)?"
        path_re = ""
        for part in re.split(r"(\{[A-Za-z_][A-Za-z0-9_]*\}|\*$)", path):
            if not part:
                continue
            if part == "*":
                path_re += r"[^?#]*"
            elif _PLACEHOLDER.fullmatch(part):
                path_re += r"[^/?#]+"
            else:
                path_re += re.escape(part)
        scheme_re = re.escape(scheme) + "://" if scheme else r"[a-zA-Z][a-zA-Z0-9+.-]*://"
        pattern = re.compile(f"^{scheme_re}{host_re}/{path_re}/?(?:[?#].*)?$")
        label = "/" + path.rstrip("*").rstrip("/") if path.endswith("*") else "/" + path
        compiled.append((pattern, label))
    return RouteTable(compiled)


def _first(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def _error_type(span: ReadableSpan, attrs: Mapping[str, Any]) -> str:
    """Error type of a failed foreign span: its exception event, else its HTTP status."""
    for event in span.events:
        if event.name == "exception" and event.attributes:
            kind = normalize_error_type(event.attributes.get("exception.type"))
            if kind != "unknown":
                return kind
    status = _first(attrs, _HTTP_STATUS)
    if isinstance(status, int):
        return classify_status(status) or "unknown"
    return "unknown"


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        out.pop(key, None)  # a value of the wrong type is not usage
    else:
        out[key] = value


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and len(value) <= 64 else None

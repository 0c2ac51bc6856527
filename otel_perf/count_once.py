"""The count-once rule: one call to a model is counted once, whoever instrumented it.

Two instrumentations can wrap the same call: otel-perf's SDK instrumentor and the contrib
``google-genai`` one, OpenLIT and the contrib ``openai-v2`` one, an OpenInference
framework span around a provider span, a hand-written ``track_generation`` block around
an auto-instrumented SDK call. Each makes a span for the same call, nested as parent and
child. The rule:

1. Two spans are the *same call* when one is the direct parent of the other, both are
   model calls (a generation, ``chat``, ``text_completion``, ``generate_content``,
   ``embeddings``) and they name the same model (price-table aliases resolved; a span
   without a model matches any).
2. Of the same call only one span is counted: the **outer one if it is an otel-perf
   span**, otherwise the **inner one**. So an otel-perf span always wins over a foreign
   one, a hand-written block wins over the SDK instrumentor inside it, and of two foreign
   spans the one closer to the provider (with the response's model and usage) wins.
3. An HTTP client span mapped to ``api_call`` (configured API routes) is not counted when
   its direct parent is an open otel-perf span: that operation already counts the call.

Only the direct parent is compared: wrappers of one call nest directly. Parents in another
process (remote span contexts) are never compared. Both tables are bounded, so a parent
that never ends cannot grow memory.
"""

from __future__ import annotations

import threading
from typing import Final

from opentelemetry.sdk.trace import ReadableSpan

from otel_perf.pricing import PriceTable

_MAX_ENTRIES: Final = 4096
_NOT_A_MODEL_CALL: Final = "\x00"  # open own span that is not a model call (render, API)


class CountOnce:
    """Decides whether a finished span is counted (see the module docstring)."""

    def __init__(self, pricing: PriceTable) -> None:
        self._pricing = pricing
        self._lock = threading.Lock()
        # Open otel-perf spans: span id -> model key (or _NOT_A_MODEL_CALL).
        self._open: dict[int, str] = {}
        # Parents one of whose model-call children was counted: span id -> model key.
        self._covered: dict[int, str] = {}
        self._keys: dict[str, str] = {}

    def opened(self, span_id: int, model: str | None) -> None:
        """An otel-perf span started; ``model`` is ``None`` unless it is a model call."""
        with self._lock:
            if len(self._open) >= _MAX_ENTRIES:
                del self._open[next(iter(self._open))]
            self._open[span_id] = _NOT_A_MODEL_CALL if model is None else self._key(model)

    def own(self, span: ReadableSpan, model: str | None) -> bool:
        """Whether a finished otel-perf span is counted (``model`` None: not a model call)."""
        context = span.context
        with self._lock:
            if context is not None:
                self._open.pop(context.span_id, None)
                self._covered.pop(context.span_id, None)
            if model is None:
                return True
            return self._model_call(span, self._key(model), ours=True)

    def foreign(self, span: ReadableSpan, model: str, model_call: bool, api_call: bool) -> bool:
        """Whether a finished foreign span, already translated, is counted."""
        parent = span.parent
        with self._lock:
            if api_call:
                return parent is None or parent.is_remote or parent.span_id not in self._open
            if not model_call:
                return True
            key = self._key(model)
            context = span.context
            if context is not None:
                inner = self._covered.pop(context.span_id, None)
                if inner is not None and _same(inner, key):
                    return False  # a nested span already counted this call
            return self._model_call(span, key, ours=False)

    def _model_call(self, span: ReadableSpan, key: str, ours: bool) -> bool:
        parent = span.parent
        if parent is None or parent.is_remote:
            return True
        enclosing = self._open.get(parent.span_id)
        if enclosing is not None and enclosing != _NOT_A_MODEL_CALL and _same(enclosing, key):
            return False  # rule 2: the enclosing otel-perf span counts this call
        if not ours or enclosing is None:
            # Tell a foreign parent that this call is counted (rule 2: inner wins). Our
            # own parents never ask, so nothing is stored for them.
            if len(self._covered) >= _MAX_ENTRIES:
                del self._covered[next(iter(self._covered))]
            self._covered[parent.span_id] = key
        return True

    def _key(self, model: str) -> str:
        key = self._keys.get(model)
        if key is None:
            price = self._pricing.price_for(model) if model else None
            key = price.name if price is not None else model
            if len(self._keys) >= _MAX_ENTRIES:
                self._keys.clear()
            self._keys[model] = key
        return key


def _same(a: str, b: str) -> bool:
    return not a or not b or a == b

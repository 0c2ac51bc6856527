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
process (remote span contexts) are never compared. The open-span table is the processor's
(it keeps one for the in-progress gauge anyway; see ``PerformanceSpanProcessor``); both
tables are bounded, so a parent that never ends cannot grow memory.

No lock: every step is one dictionary operation, atomic on its own, and this runs twice
for every span (a lock would be two acquisitions per span on the hot path). Spans of one
call end on one thread, child first; across threads the rule's outcome depends on which
span ends first, with or without a lock.
"""

from __future__ import annotations

from typing import Any, Final

from opentelemetry.trace import SpanContext

from otel_perf.pricing import PriceTable

_MAX_ENTRIES: Final = 4096
_NOT_A_MODEL_CALL: Final = "\x00"  # open own span that is not a model call (render, API)
#: An open own span: (anything, its model, or None if it is not a model call).
OpenSpan = tuple[Any, "str | None"]


class CountOnce:
    """Decides whether a finished span is counted (see the module docstring)."""

    def __init__(
        self,
        pricing: PriceTable,
        open_spans: dict[int, OpenSpan],
        covered: dict[int, str] | None = None,
    ) -> None:
        self._pricing = pricing
        # Open otel-perf spans, kept by the processor: span id -> (..., model or None).
        self._open = open_spans
        # Parents one of whose model-call children was counted: span id -> model key. The
        # processor may keep it: while it is empty, an own span without a parent is always
        # counted, which the processor then knows without calling own().
        self._covered: dict[int, str] = {} if covered is None else covered
        self._keys: dict[str, str] = {}

    # The span's id and parent are passed in rather than read from the span: the processor
    # has them already, and each property read is a Python-level call.

    def own(self, span_id: int | None, parent: SpanContext | None, model: str | None) -> bool:
        """Whether a finished otel-perf span is counted (``model`` None: not a model call).

        The processor has already removed the span from the open-span table.
        """
        if span_id is not None and self._covered:
            self._covered.pop(span_id, None)
        if model is None or parent is None or parent.is_remote:
            return True
        return self._model_call(parent, self._key(model), ours=True)

    def foreign(
        self,
        span_id: int | None,
        parent: SpanContext | None,
        model: str,
        model_call: bool,
        api_call: bool,
    ) -> bool:
        """Whether a finished foreign span, already translated, is counted."""
        if api_call:
            return parent is None or parent.is_remote or parent.span_id not in self._open
        if not model_call:
            return True
        key = self._key(model)
        if span_id is not None:
            inner = self._covered.pop(span_id, None)
            if inner is not None and _same(inner, key):
                return False  # a nested span already counted this call
        return self._model_call(parent, key, ours=False)

    def _model_call(self, parent: SpanContext | None, key: str, ours: bool) -> bool:
        if parent is None or parent.is_remote:
            return True
        entry = self._open.get(parent.span_id)
        enclosing = None
        if entry is not None:
            enclosing = _NOT_A_MODEL_CALL if entry[1] is None else self._key(entry[1])
        if enclosing is not None and enclosing != _NOT_A_MODEL_CALL and _same(enclosing, key):
            return False  # rule 2: the enclosing otel-perf span counts this call
        if not ours or enclosing is None:
            # Tell a foreign parent that this call is counted (rule 2: inner wins). Our
            # own parents never ask, so nothing is stored for them.
            if len(self._covered) >= _MAX_ENTRIES:
                _drop_oldest(self._covered)
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


def _drop_oldest(table: dict[int, str]) -> None:
    try:
        del table[next(iter(table))]
    except (KeyError, RuntimeError, StopIteration):
        pass  # another thread changed the table meanwhile; it is still bounded


def _same(a: str, b: str) -> bool:
    return not a or not b or a == b

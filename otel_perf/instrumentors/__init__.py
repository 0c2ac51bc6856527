"""Auto-instrumentation of the media generation SDKs, one module per SDK.

Each instrumentor is a ``BaseInstrumentor`` registered under the
``opentelemetry_instrumentor`` entry point, so ``opentelemetry-instrument`` applies it when
the SDK is installed in a supported version (:mod:`otel_perf.instrumentors.package`):

- :class:`otel_perf.instrumentors.openai.OpenAIInstrumentor` (``otel-perf[openai]``)
- :class:`otel_perf.instrumentors.google_genai.GoogleGenAIInstrumentor`
  (``otel-perf[google-genai]``)

They import their SDK only when instrumenting; importing this package imports neither.
"""

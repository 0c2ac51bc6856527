"""The benchmark harness of issue 4. Run it with ``python -m benchmarks`` (``--smoke`` for a
quick check); ``BENCHMARKS.md`` explains the method and records one full run."""

"""Hooks for process managers: ``otel_perf.integrations.gunicorn``."""

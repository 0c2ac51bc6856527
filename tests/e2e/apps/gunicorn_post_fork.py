"""A user's own gunicorn config: otel-perf's hooks, and configure() in post_fork."""

from otel_perf.integrations.gunicorn import child_exit, on_exit  # noqa: F401


def post_fork(server, worker):  # type: ignore[no-untyped-def]
    import otel_perf

    otel_perf.configure(service_name="media-api")

"""Celery media tasks on redis. ``APP_CONFIGURE``: ``import`` (the master configures, the
prefork children inherit) or ``worker_process_init`` (each child configures)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_init

import otel_perf

COST_USD = 0.02
BROKER = os.environ["APP_BROKER_URL"]

app = Celery("media_tasks", broker=BROKER, backend=BROKER)
app.conf.update(worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)

if os.environ.get("APP_CONFIGURE", "import") == "import":
    otel_perf.configure(service_name="media-worker")


@worker_process_init.connect
def _configure_child(**kwargs: object) -> None:
    if os.environ.get("APP_CONFIGURE") == "worker_process_init":
        otel_perf.configure(service_name="media-worker")


@app.task
def generate() -> int:
    with otel_perf.track_generation(
        "generate_image", model="flux-pro", provider="black-forest-labs"
    ) as op:
        op.set_cost(COST_USD)
    return os.getpid()

"""A Flask media service, as the README's gunicorn recipe runs it.

``APP_CONFIGURE`` says where otel-perf is configured: ``import`` (here, in every process
that imports the app: each worker, or the master with ``--preload``) or ``none`` (by a
gunicorn hook or by ``opentelemetry-instrument``).
"""

from __future__ import annotations

import os
import time

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

import otel_perf

COST_USD = 0.02

if os.environ.get("APP_CONFIGURE", "import") == "import":
    otel_perf.configure(service_name="media-api")

flask_app = Flask(__name__)


@flask_app.get("/work")
def work() -> str:
    with otel_perf.track_generation(
        "generate_image", model="flux-pro", provider="black-forest-labs"
    ) as op:
        op.set_cost(COST_USD)
        time.sleep(0.01)  # a sync worker is busy meanwhile: concurrent requests spread
    return str(os.getpid())


# /metrics mounted in the app: in multiprocess mode any worker answers with the sum.
app = DispatcherMiddleware(flask_app, {"/metrics": otel_perf.make_wsgi_app()})

"""A bare ASGI media service with otel-perf's ASGI app mounted at /metrics (uvicorn)."""

from __future__ import annotations

import os
import time
from typing import Any

import otel_perf

COST_USD = 0.02

otel_perf.configure(service_name="media-api")
metrics = otel_perf.make_asgi_app()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/metrics":
        await metrics(scope, receive, send)
        return
    status, body = 404, b""
    if scope["path"] == "/work":
        with otel_perf.track_generation(
            "generate_image", model="flux-pro", provider="black-forest-labs"
        ) as op:
            op.set_cost(COST_USD)
            time.sleep(0.01)  # blocks this worker's loop: concurrent requests spread
        status, body = 200, str(os.getpid()).encode()
    await receive()
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": body})

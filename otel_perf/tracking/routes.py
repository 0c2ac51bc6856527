"""``route_template``: an API call's URL as a bounded ``endpoint`` label."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from otel_perf.redact import scrub_label

_ID_SEGMENT: Final = re.compile(
    r"^(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{16,}|[A-Za-z0-9_-]{24,})$"
)


def route_template(endpoint: str) -> str:
    """``/api/render/42?x=1`` -> ``/api/render/{id}``; already-templated routes unchanged.

    >>> route_template("https://api.example.com/v1/jobs/123e4567-e89b-12d3-a456-426614174000")
    '/v1/jobs/{id}'
    """
    return _route_template(endpoint if type(endpoint) is str else "")


@lru_cache(maxsize=1024)  # bounded: many distinct URLs cannot grow memory
def _route_template(endpoint: str) -> str:
    # Scrubbed first: a secret cut into segments would no longer look like one.
    path = scrub_label(endpoint.split("?", 1)[0].split("#", 1)[0])
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    return "/".join("{id}" if _ID_SEGMENT.match(seg) else seg for seg in path.split("/"))

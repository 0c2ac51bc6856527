"""Mocked HTTP transports serving recorded-shape responses, and span inspection helpers,
for the SDK instrumentor tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2

Handler = Callable[[httpx2.Request], httpx2.Response]


class Transport:
    """A mock HTTP transport: routes by path suffix, records every request it served.

    A route's answer is a response, an exception to raise (a timeout), or a list of them
    served in turn (a polled job).
    """

    def __init__(self) -> None:
        self.routes: dict[str, list[Any]] = {}
        self.requests: list[httpx2.Request] = []

    def on(self, suffix: str, *answers: Any) -> None:
        self.routes[suffix] = list(answers)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        for suffix, answers in self.routes.items():
            if request.url.path.endswith(suffix):
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if isinstance(answer, BaseException):
                    raise answer
                return answer
        return httpx2.Response(404, json={"error": {"message": f"no route {request.url.path}"}})

    def sync_client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self))

    def async_client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self))

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def ok(payload: Any, status: int = 200, **headers: str) -> httpx2.Response:
    return httpx2.Response(status, json=payload, headers=headers)


def attrs_of(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


def no_payload(span: Any, *payloads: str) -> bool:
    """True when no attribute or event of ``span`` carries any of ``payloads``."""
    values = [str(v) for v in (span.attributes or {}).values()]
    for event in span.events:
        values += [str(v) for v in (event.attributes or {}).values()]
    text = "\n".join(values)
    return not any(p in text for p in payloads)

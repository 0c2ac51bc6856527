"""OTLP metric receivers on 127.0.0.1 for tests (HTTP/protobuf and gRPC), and the ledger they
add up: the last cumulative point of every stream, summed over the pushing processes.

>>> with HttpReceiver() as receiver:  # doctest: +SKIP
...     ...  # push to receiver.endpoint
...     samples = receiver.samples()
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections import defaultdict
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import accumulate
from typing import Any

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from prometheus_client.utils import floatToGoString

from tests.support.servers import free_port

Request = metrics_service_pb2.ExportMetricsServiceRequest
#: (metric name, sorted attribute pairs) -> the Prometheus samples of one stream
Key = tuple[str, tuple[tuple[str, str], ...]]


def _value(value: AnyValue) -> Any:
    return getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None


def attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs}


class _Store:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[Request] = []

    def add(self, body: bytes) -> None:
        request = Request()
        request.ParseFromString(body)
        with self._lock:
            self.requests.append(request)

    def add_request(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def snapshot(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    def instances(self) -> dict[str, dict[str, Any]]:
        """``service.instance.id`` -> resource attributes, for every process that pushed."""
        out: dict[str, dict[str, Any]] = {}
        for request in self.snapshot():
            for rm in request.resource_metrics:
                attrs = attributes(rm.resource.attributes)
                out[str(attrs.get("service.instance.id"))] = attrs
        return out

    def metrics(self) -> Iterator[tuple[str, Any, Any]]:
        """(instance id, scope, metric) of every metric received."""
        for request in self.snapshot():
            for rm in request.resource_metrics:
                instance = str(attributes(rm.resource.attributes).get("service.instance.id"))
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        yield instance, sm.scope, metric

    def samples(self) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        """The Prometheus samples (``_total``, ``_bucket``/``_count``/``_sum``) the received
        data amounts to: per process and stream the latest point (cumulative), then summed
        over processes, as Prometheus's ``sum()`` over instances would."""
        latest: dict[tuple[str, str, tuple[tuple[str, str], ...]], tuple[int, Any, str]] = {}
        for instance, _scope, metric in self.metrics():
            kind = metric.WhichOneof("data")
            for point in getattr(metric, kind).data_points:
                labels = tuple(sorted((k, str(v)) for k, v in attributes(point.attributes).items()))
                key = (instance, metric.name, labels)
                if key not in latest or point.time_unix_nano >= latest[key][0]:
                    latest[key] = (point.time_unix_nano, point, kind)
        out: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(
            lambda: defaultdict(float)
        )
        for (_instance, name, labels), (_t, point, kind) in latest.items():
            if kind == "histogram":
                cumulative = list(accumulate(point.bucket_counts))
                bounds = [*point.explicit_bounds, float("inf")]
                for bound, count in zip(bounds, cumulative, strict=True):
                    le = tuple(sorted((*labels, ("le", floatToGoString(bound)))))
                    out[name + "_bucket"][le] += count
                out[name + "_count"][labels] += point.count
                out[name + "_sum"][labels] += point.sum
            else:
                value = point.as_double if point.HasField("as_double") else point.as_int
                out[name][labels] += value
        return out


class _Handler(BaseHTTPRequestHandler):
    store: _Store

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        if self.path != "/v1/metrics":
            self.send_response(404)
            self.end_headers()
            return
        self.store.add(body)
        reply = metrics_service_pb2.ExportMetricsServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class HttpReceiver(_Store):
    """OTLP/HTTP (protobuf) on ``http://127.0.0.1:<port>/v1/metrics``."""

    protocol = "http/protobuf"

    def __init__(self) -> None:
        super().__init__()
        handler = type("Handler", (_Handler,), {"store": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}/v1/metrics"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HttpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Servicer(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, store: _Store) -> None:
        self._store = store

    def Export(self, request: Request, context: Any) -> Any:
        self._store.add_request(request)
        return metrics_service_pb2.ExportMetricsServiceResponse()


class GrpcReceiver(_Store):
    """OTLP/gRPC on ``http://127.0.0.1:<port>`` (insecure)."""

    protocol = "grpc"

    def __init__(self) -> None:
        import grpc

        super().__init__()
        port = free_port()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Servicer(self), self._server)
        self._server.add_insecure_port(f"127.0.0.1:{port}")
        self.endpoint = f"http://127.0.0.1:{port}"

    def __enter__(self) -> GrpcReceiver:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None)

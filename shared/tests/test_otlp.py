"""The kit's OTLP encoder writes what OpenTelemetry's own encoder writes: both requests, decoded by
protobuf, are equal, for spans of every kind, attribute type, event, link, status and parent; and
the exporter's requests reach a real OTLP/HTTP receiver on loopback, decodable."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import (
    encode_spans as opentelemetry_encode_spans,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from platform_tools.testing.stubs import serve
from service_kit import otlp

REMOTE = SpanContext(
    trace_id=0x0AF7651916CD43DD8448EB211C80319C,
    span_id=0xB7AD6B7169203331,
    is_remote=True,
    trace_flags=TraceFlags(1),
    trace_state=TraceState([("vendor", "v1"), ("other", "x-y")]),
)


def recorded_spans() -> list:
    """Spans of two resources and three scopes, with every shape the SDK records."""
    memory = InMemorySpanExporter()
    spans = []
    for service in ("gateway", "order"):
        provider = TracerProvider(
            resource=Resource.create({"service.name": service, "service.version": "1.2.3"})
        )
        provider.add_span_processor(SimpleSpanProcessor(memory))
        edge = provider.get_tracer("service_kit", "1.0", schema_url="https://opentelemetry.io/s/1")
        django = provider.get_tracer("opentelemetry.instrumentation.django")
        attributes = {
            "text": "GET /api/v1/products/42",
            "empty": "",
            "unicode": "crème brûlée ✓ 注文",
            "long": "x" * 300,
            "true": True,
            "false": False,
            "zero": 0,
            "int": 8000,
            "negative": -5,
            "large": 2**62,
            "float": 0.25,
            "nan-free float": -1e300,
            "strings": ("a", "", "ç"),
            "ints": [1, -2, 3],
            "bools": [True, False],
            "floats": (0.5, 1.5),
        }
        with edge.start_as_current_span(
            "GET products", kind=SpanKind.SERVER, attributes=attributes
        ) as root:
            root.add_event("retry", {"attempt": 2, "why": "timeout"})
            root.add_event("bare")
            with django.start_as_current_span("SELECT", kind=SpanKind.CLIENT) as child:
                child.set_status(Status(StatusCode.ERROR, "connection reset"))
            with edge.start_as_current_span("publish", kind=SpanKind.PRODUCER):
                pass
            root.set_status(Status(StatusCode.OK))
        with (
            edge.start_as_current_span(
                "order.placed process",
                context=trace.set_span_in_context(trace.NonRecordingSpan(REMOTE)),
                kind=SpanKind.CONSUMER,
                links=[Link(REMOTE, {"platform.link": "untrusted_caller"}), Link(REMOTE)],
            ),
            django.start_as_current_span("internal"),
        ):
            pass
        spans.extend(memory.get_finished_spans())
        memory.clear()
    return spans


def decoded(body: bytes) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString(body)


def test_the_request_is_the_one_opentelemetry_writes():
    spans = recorded_spans()
    assert len(spans) == 10
    ours = decoded(otlp.encode_spans(spans))
    theirs = opentelemetry_encode_spans(spans)
    assert ours == theirs
    assert [len(r.scope_spans) for r in ours.resource_spans] == [2, 2]
    consumer = next(
        s
        for r in ours.resource_spans
        for scope in r.scope_spans
        for s in scope.spans
        if s.name == "order.placed process"
    )
    assert consumer.parent_span_id == REMOTE.span_id.to_bytes(8, "big")
    assert consumer.trace_state == "vendor=v1,other=x-y"
    assert consumer.flags == 0x300  # its parent is known to be remote


def test_an_attribute_it_cannot_encode_is_left_out_as_opentelemetry_leaves_it(caplog):
    spans = recorded_spans()[:1]
    # Attributes the SDK refuses never reach an exporter; a processor may still add any value.
    spans[0]._attributes = {"kept": "yes", "object": object(), "huge": 2**64}
    ours = decoded(otlp.encode_spans(spans))
    assert ours == opentelemetry_encode_spans(spans)
    (span,) = ours.resource_spans[0].scope_spans[0].spans
    assert [a.key for a in span.attributes] == ["kept"]
    assert "otlp.attribute_dropped" in caplog.text


def test_nothing_to_send_is_an_empty_request():
    assert otlp.encode_spans([]) == b""
    assert decoded(b"") == opentelemetry_encode_spans([])


@pytest.fixture()
def receiver():
    """An OTLP/HTTP receiver on loopback: each request's path, headers and decoded body."""
    requests: list[tuple[str, str, ExportTraceServiceRequest]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            requests.append((self.path, self.headers["Content-Type"], decoded(body)))
            self.send_response(400 if self.path == "/refused" else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serve(server)
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()


def test_the_exporter_sends_them_to_a_real_receiver(receiver):
    url, requests = receiver
    spans = recorded_spans()
    exporter = otlp.OTLPSpanExporter(endpoint=f"{url}/v1/traces")
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    ((path, content_type, request),) = requests
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    assert request == opentelemetry_encode_spans(spans)
    exporter.shutdown()
    assert exporter.export(spans) is SpanExportResult.FAILURE  # shut down: nothing more sent
    assert len(requests) == 1


def test_a_receiver_that_refuses_is_a_failed_export(receiver):
    url, requests = receiver
    refused = otlp.OTLPSpanExporter(endpoint=f"{url}/refused", timeout=2)
    assert refused.export(recorded_spans()) is SpanExportResult.FAILURE
    assert [path for path, _, _ in requests] == ["/refused"]  # a 400 is not retried

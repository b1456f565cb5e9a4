"""Work under a span that is not sampled makes no spans: the instrumentations (here urllib3's, on a
real request to a server on loopback) are suppressed under an unsampled request or message, and
run under a sampled one. The ``traceparent`` still reaches the callee, its flag saying "not
sampled". Each case in a fresh interpreter: tracing is set up once a process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

CODE = """
import json, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import urllib3
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from service_kit import tracing

received = []

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        received.append(self.headers.get("traceparent"))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}/"

assert tracing.setup("order", "1.0.0", "real")
memory = InMemorySpanExporter()
trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(memory))

def call():
    headers = {}
    tracing.inject_into(headers)  # as the kit's ServiceClient does
    urllib3.request("GET", url, headers=headers, timeout=5)
    return is_instrumentation_enabled()

seen = {"outside": is_instrumentation_enabled()}
span, token = tracing.start_server_span("POST orders", {}, {})
seen["request"] = call()
envelope = {"id": "m1", "type": "order.placed", "trace": tracing.carrier()}
tracing.end_server_span(span, token)
with tracing.consumer_span(envelope, "inventory.order_placed", "order.placed"):
    seen["message"] = call()
seen["after"] = is_instrumentation_enabled()
seen["spans"] = sorted(s.name for s in memory.get_finished_spans())
seen["traceparents"] = received
print(json.dumps(seen))
"""


def call(sampler: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_TRACES_SAMPLER": sampler}
    result = subprocess.run(  # noqa: S603 - this interpreter, code written here
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def flags(traceparent: str) -> int:
    return int(traceparent.split("-")[3], 16)


def test_under_an_unsampled_request_and_message_the_instrumentations_are_quiet():
    seen = call("parentbased_always_off")

    assert (seen["outside"], seen["request"], seen["message"], seen["after"]) == (
        True,
        False,
        False,
        True,
    )
    assert seen["spans"] == []
    assert len(seen["traceparents"]) == 2
    assert all(not flags(header) & 1 for header in seen["traceparents"])  # "not sampled"


def test_under_a_sampled_request_and_message_they_make_their_spans():
    seen = call("parentbased_always_on")

    assert (seen["request"], seen["message"]) == (True, True)
    assert seen["spans"] == ["GET", "GET", "POST orders", "inventory.order_placed process"]
    assert all(flags(header) & 1 for header in seen["traceparents"])


DJANGO = """
import io, json, sys
from unittest import mock
sys.path.insert(0, "tests")
from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware
from kitproject.wsgi import application
from django.conf import settings

def get(traceparent):
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/healthz", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "HTTP_TRACEPARENT": traceparent,
    }
    statuses = []
    body = b"".join(application(environ, lambda status, headers, exc=None: statuses.append(status)))
    return statuses[0]

from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
memory = InMemorySpanExporter()
trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(memory))

def spy(name):
    return mock.patch.object(
        _DjangoMiddleware, name, autospec=True, side_effect=getattr(_DjangoMiddleware, name)
    )

seen = {"first": settings.MIDDLEWARE[0]}
with spy("process_request") as request, spy("process_view") as view:
    seen["unsampled"] = get("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00")
    seen["read unsampled"] = (request.call_count, view.call_count)
    seen["sampled"] = get("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    seen["read sampled"] = (request.call_count, view.call_count)
seen["spans"] = [
    (s.name, s.attributes.get("http.route")) for s in memory.get_finished_spans()
]
print("RESULT " + json.dumps(seen))
"""


def test_djangos_middleware_does_nothing_for_a_request_its_caller_did_not_sample():
    """OpenTelemetry's Django middleware reads a request's attributes and resolves its URL again
    even for a span it will not record: behind a caller that did not sample, it is skipped, its
    ``process_view`` (which Django calls apart) too. A sampled request gets its span and route."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env |= {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
        "DJANGO_SETTINGS_MODULE": "kitproject.settings",
    }
    result = subprocess.run(  # noqa: S603 - this interpreter, code written here
        [sys.executable, "-c", DJANGO],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    seen = json.loads(line.removeprefix("RESULT "))

    assert seen["first"] == "service_kit.tracing_django.DjangoMiddleware"
    assert (seen["unsampled"], seen["sampled"]) == ("200 OK", "200 OK")
    assert (seen["read unsampled"], seen["read sampled"]) == ([0, 0], [1, 1])
    assert seen["spans"] == [["GET healthz", "healthz"]]

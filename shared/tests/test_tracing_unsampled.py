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

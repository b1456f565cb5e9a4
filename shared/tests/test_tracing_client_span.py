"""The CLIENT span of an upstream call: made under a sampled request (its own ``traceparent``
sent), skipped under one not sampled, whose ``traceparent`` (sampled flag off) is still sent so
that the callee records nothing either. Each case in a fresh interpreter: tracing is set up once
a process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

CODE = """
import json
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from service_kit import tracing

assert tracing.setup("gateway", "1.0.0", "real")
memory = InMemorySpanExporter()
trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(memory))
assert tracing.tracer() is tracing.tracer()
span, token = tracing.start_server_span("GET products", {}, {})
headers = {}
with tracing.client_span("GET product", {"platform.upstream": "product"}, headers) as client:
    client.set_attribute("http.response.status_code", 200)
tracing.end_server_span(span, token)
print(json.dumps({
    "traceparent": headers["traceparent"],
    "server": format(span.get_span_context().span_id, "016x"),
    "spans": sorted(s.name for s in memory.get_finished_spans()),
}))
"""


def call(sampler: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_TRACES_SAMPLER": sampler}
    result = subprocess.run(  # noqa: S603 - this interpreter, code written here
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_a_sampled_request_gets_a_client_span_whose_traceparent_is_sent():
    seen = call("always_on")
    assert seen["spans"] == ["GET product", "GET products"]
    _, _, parent, flags = seen["traceparent"].split("-")
    assert int(flags, 16) & 1  # sampled
    assert parent != seen["server"]  # the CLIENT span's id: the callee's parent


def test_an_unsampled_request_makes_no_span_but_still_says_not_sampled():
    seen = call("always_off")
    assert seen["spans"] == []
    _, trace_id, parent, flags = seen["traceparent"].split("-")
    assert not int(flags, 16) & 1  # not sampled: the callee records nothing either
    assert trace_id != "0" * 32
    assert parent == seen["server"]

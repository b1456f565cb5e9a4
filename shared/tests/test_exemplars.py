"""Exemplars in multiprocess mode: processes that observed a latency histogram under a sampled
span leave its trace on the bucket, and a scrape from another process serves it in OpenMetrics."""

from __future__ import annotations

import os
import subprocess
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

OBSERVE = """
import sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from service_kit.exemplars import Histogram

sampled = sys.argv[1] == "sampled"
provider = TracerProvider(sampler=ALWAYS_ON if sampled else ALWAYS_OFF)
hist = Histogram("job_seconds", "A job", ["kind"], buckets=(0.1, 1, 10))
with provider.get_tracer("t").start_as_current_span("job") as span:
    hist.labels(sys.argv[2]).observe(float(sys.argv[3]))
    print(format(span.get_span_context().trace_id, "032x"))
"""  # the process exits: atexit writes what the timer has not yet

SCRAPE = """
import sys
from service_kit import exemplars
body, content_type = exemplars.encode(exemplars.process_registry(), sys.argv[1])
print(content_type)
sys.stdout.write(body.decode())
"""


def _run(folder, code, *args) -> str:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",  # tracing on; nothing is exported
    }
    out = subprocess.run(  # noqa: S603 - this interpreter, our code
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True
    )
    return out.stdout


def test_each_process_exemplar_reaches_the_scrape_of_another(tmp_path):
    slow = _run(tmp_path, OBSERVE, "sampled", "export", "5").strip()
    fast = _run(tmp_path, OBSERVE, "sampled", "export", "0.05").strip()
    _run(tmp_path, OBSERVE, "unsampled", "import", "0.5")

    output = _run(tmp_path, SCRAPE, "application/openmetrics-text; version=1.0.0")
    content_type, body = output.split("\n", 1)
    assert content_type.startswith("application/openmetrics-text")
    buckets = {
        (s.labels["kind"], s.labels["le"]): s
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == "job_seconds_bucket"
    }
    assert buckets["export", "10.0"].exemplar.labels["trace_id"] == slow
    assert buckets["export", "10.0"].exemplar.value == 5
    assert buckets["export", "0.1"].exemplar.labels["trace_id"] == fast
    assert buckets["export", "10.0"].value == 2  # counts add up as before
    assert buckets["export", "1.0"].exemplar is None
    # an unsampled trace is exported nowhere: no exemplar points to it
    assert buckets["import", "1.0"].value == 1 and buckets["import", "1.0"].exemplar is None

    classic = _run(tmp_path, SCRAPE, "text/plain")
    assert classic.startswith("text/plain") and "trace_id" not in classic


def test_without_tracing_nothing_is_written(tmp_path):
    code = (
        "from service_kit.exemplars import Histogram\n"
        "Histogram('job_seconds', 'A job').observe(1)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    subprocess.run(  # noqa: S603 - this interpreter, our code
        [sys.executable, "-c", code],
        env={**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
        check=True,
    )
    assert not list(tmp_path.glob("exemplars_*"))

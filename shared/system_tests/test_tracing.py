"""OpenTelemetry traces on real processes: one order's saga is one trace, received by a real
OTLP/HTTP endpoint running in the test (the services export with the standard variables), also
across a broker outage the outbox sweep makes up for; and the latency histograms' exemplars name
traces that endpoint received.

order_service reaches the broker through a loopback proxy of the test's own, which the outage
test cuts (the shared RabbitMQ is never touched)."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from platform_helpers import (
    GATEWAY,
    NO_THROTTLES,
    ORDER,
    PRODUCT,
    customer_token,
    settle,
    start_saga,
    stop,
)
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from platform_tools.testing import backing
from platform_tools.testing.api import SHIPPING_ADDRESS
from platform_tools.testing.client import call
from platform_tools.testing.faults import TcpProxy
from platform_tools.testing.processes import Harness, wait_for
from platform_tools.testing.stubs import serve

SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5  # OTLP's SpanKind numbers


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP endpoint: every span it is sent, decoded, with its service's name."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[dict] = []
        self.lock = threading.Lock()
        serve(self)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def trace(self, trace_id: str) -> list[dict]:
        with self.lock:
            return [span for span in self.spans if span["trace"] == trace_id]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        spans = []
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    spans.append(
                        {
                            "service": resource["service.name"],
                            "name": span.name,
                            "kind": span.kind,
                            "trace": span.trace_id.hex(),
                            "id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex(),
                            "links": [link.trace_id.hex() for link in span.links],
                            "attributes": {
                                a.key: a.value.string_value or a.value.int_value
                                for a in span.attributes
                            },
                        }
                    )
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.spans.extend(spans)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def _flat(line: str) -> dict:
    """A JSON log line with its nested ECS fields as dotted keys ({} for any other line)."""
    try:
        record = json.loads(line)
    except ValueError:
        return {}
    flat: dict = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}{key}.", inner)
        else:
            flat[prefix[:-1]] = value

    walk("", record if isinstance(record, dict) else {})
    return flat


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    backing.require("postgres", "rabbitmq", "redis")
    receiver = Receiver()
    tracing_env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    harness = Harness(
        tmp_path_factory.mktemp("tracing"),
        profile="real",
        broker_url=backing.create_vhost(),
        env=tracing_env,
    )
    # order_service's broker connections go through a proxy the outage test cuts.
    broker = urlsplit(harness.broker_url_for(ORDER))
    proxy = TcpProxy(broker.hostname, broker.port or 5672).start()
    proxied = broker._replace(netloc=broker.netloc.rsplit(":", 1)[0] + f":{proxy.port}")
    try:
        platform = start_saga(
            harness, {"TRACE-MUG": 5}, order={"CELERY_BROKER_URL": proxied.geturl()}
        )
        gateway = harness.start_web(
            GATEWAY,
            wait=False,
            GATEWAY_THROTTLES=NO_THROTTLES,
            AUTH_SERVICE_URL=platform["auth"].url,
            PRODUCT_SERVICE_URL=platform["product"].url,
            ORDER_SERVICE_URL=platform["order"].url,
            USER_SERVICE_URL=f"http://127.0.0.1:{_closed_port()}",  # refuses: retried
            **platform["keys"],
        )
        gateway.wait_http("/healthz")
        # The product's id from its database (the creating shell's last line may be a log line).
        ids = dict(harness.query(PRODUCT, "SELECT sku, id::text FROM catalogue_product", ()))
        yield {**platform, "ids": ids, "gateway": gateway, "receiver": receiver, "proxy": proxy}
    finally:
        stop(harness)
        proxy.cut()
        receiver.shutdown()


def test_one_order_is_one_trace_across_http_and_the_broker(platform):
    receiver = platform["receiver"]
    token = customer_token(platform["auth"])
    body = {
        "lines": [{"product_id": platform["ids"]["TRACE-MUG"], "quantity": 1}],
        "shipping_address": SHIPPING_ADDRESS,
        "payment_token": "tok_visa",
    }
    untrusted = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    request_id = f"trace-test-{uuid.uuid4().hex}"
    status, order = call_with(
        "POST", f"{platform['gateway'].url}/api/v1/orders/", token, body, untrusted, request_id
    )
    assert status == 201, order
    assert settle(platform, token, order["id"], via="gateway")["status"] == "CONFIRMED"

    roots = wait_for(
        lambda: [
            s
            for s in list(receiver.spans)
            if s["service"] == "gateway" and s["kind"] == SERVER and s["name"] == "POST orders"
        ],
        timeout=30,
        what="the gateway's server span",
    )
    root = roots[0]
    # A client's traceparent is not trusted: a new trace, linked to the client's.
    assert root["parent"] == ""
    assert root["trace"] != untrusted.split("-")[1]
    assert root["links"] == [untrusted.split("-")[1]]

    def complete():
        spans = receiver.trace(root["trace"])
        ids = {s["id"] for s in spans}
        consumers = [s for s in spans if s["kind"] == CONSUMER]
        consumed = {s["attributes"].get("platform.message.type") for s in consumers}
        wanted = {"inventory.reserve", "payment.charge", "inventory.commit"}
        # every span's parent arrived too (a producer's span ends after its consumer may start)
        whole = all(s["parent"] in ids for s in spans if s["parent"])
        return spans if wanted <= consumed and whole else None

    spans = wait_for(complete, timeout=30, what="the saga's spans in the gateway's trace")
    by_id = {s["id"]: s for s in spans}
    services = {s["service"] for s in spans}
    assert {
        "gateway",
        "order",
        "product",
        "inventory",
        "payment",
    } <= services, services
    # The gateway's client span is the parent of order_service's server span.
    client = next(s for s in spans if s["attributes"].get("platform.upstream") == "order")
    assert client["parent"] == root["id"]
    order_server = next(s for s in spans if s["service"] == "order" and s["kind"] == SERVER)
    assert order_server["parent"] == client["id"]
    # Every message: a PRODUCER then a CONSUMER under it, with the messaging conventions.
    kinds = defaultdict(list)
    for span in spans:
        if "platform.message.type" in span["attributes"]:  # the kit's (Celery's own also join)
            kinds[span["kind"]].append(span)
    assert kinds[PRODUCER] and kinds[CONSUMER]
    for consumer in kinds[CONSUMER]:
        producer = by_id[consumer["parent"]]
        assert producer["kind"] == PRODUCER
        for span in (producer, consumer):
            assert span["attributes"]["messaging.system"] == "rabbitmq"
            assert span["attributes"]["messaging.destination.name"]
        assert (
            producer["attributes"]["messaging.message.id"]
            == consumer["attributes"]["messaging.message.id"]
        )
    charge = next(
        s for s in kinds[CONSUMER] if s["attributes"]["platform.message.type"] == "payment.charge"
    )
    assert charge["service"] == "payment"
    # Every log line of the order, in every service, carries the trace's id.
    lines = [
        line
        for log in (platform["harness"].folder / "logs").glob("*.log")
        for line in map(_flat, log.read_text(errors="replace").splitlines())
        if line.get("http.request.id") == request_id
    ]
    assert {line["service.name"] for line in lines} >= {"gateway", "order", "inventory", "payment"}
    assert {line.get("trace.id") for line in lines} == {root["trace"]}
    assert all(line.get("span.id") for line in lines)


def test_a_hop_sent_by_the_outbox_sweep_after_a_broker_outage_stays_in_the_trace(platform):
    """The broker cut while the order is placed: the relay fails, the sweep publishes once the
    broker is back, and its PRODUCER span is still the child of the request that wrote the row,
    the handler's CONSUMER span its child."""
    receiver, proxy, harness = platform["receiver"], platform["proxy"], platform["harness"]
    token = customer_token(platform["auth"])
    request_id = f"trace-outage-{uuid.uuid4().hex}"
    proxy.cut()
    try:
        status, order = call_with(
            "POST",
            f"{platform['gateway'].url}/api/v1/orders/",
            token,
            _body(platform),
            None,
            request_id,
        )
        assert status == 201, order
        # The relay tried at once and failed: the order's rows wait for the sweep.
        rows = wait_for(
            lambda: dict(
                harness.query(
                    ORDER,
                    "SELECT name, id::text FROM service_kit_outboxmessage"
                    " WHERE envelope->>'request_id' = ? AND published_at IS NULL"
                    " AND EXISTS (SELECT 1 FROM service_kit_outboxmessage failed"
                    " WHERE failed.envelope->>'request_id' = ? AND failed.attempts >= 1)",
                    (request_id, request_id),
                )
            ),
            timeout=30,
            what="the relay's failed publish",
        )
        reserve = rows["inventory.reserve"]
    finally:
        proxy.restore()
    assert settle(platform, token, order["id"], via="gateway")["status"] == "CONFIRMED"

    def hop():
        consumed = [
            s
            for s in list(receiver.spans)
            if s["kind"] == CONSUMER and s["attributes"].get("messaging.message.id") == reserve
        ]
        if not consumed:
            return None
        spans = receiver.trace(consumed[0]["trace"])
        parents = {s["id"] for s in spans}
        whole = all(s["parent"] in parents for s in spans if s["parent"])
        return (consumed[0], spans) if whole else None

    consumer, spans = wait_for(hop, timeout=30, what="the swept hop's spans")
    by_id = {s["id"]: s for s in spans}
    producer = by_id[consumer["parent"]]
    assert producer["kind"] == PRODUCER and producer["service"] == "order", producer
    assert producer["attributes"]["platform.outbox.publisher"] == "sweep", producer
    assert producer["attributes"]["messaging.message.id"] == reserve
    writer = by_id[producer["parent"]]
    # The row was written by order_service's POST, under the gateway's request
    assert writer["service"] == "order" and writer["kind"] == SERVER, writer
    client = by_id[writer["parent"]]
    assert client["service"] == "gateway" and client["kind"] == CLIENT
    root = by_id[client["parent"]]
    assert root["kind"] == SERVER and root["attributes"]["http.request.id"] == request_id
    assert consumer["service"] == "inventory"
    assert consumer["trace"] == producer["trace"] == root["trace"]
    # The relay's failed attempt is in the trace too, under the same request
    failed = [
        s
        for s in spans
        if s["kind"] == PRODUCER
        and s["attributes"].get("messaging.message.id") in rows.values()
        and s["attributes"].get("platform.outbox.publisher") == "relay"
    ]
    assert failed and all(s["parent"] == writer["id"] for s in failed), failed


def _body(platform) -> dict:
    return {
        "lines": [{"product_id": platform["ids"]["TRACE-MUG"], "quantity": 1}],
        "shipping_address": SHIPPING_ADDRESS,
        "payment_token": "tok_visa",
    }


def test_latency_buckets_carry_exemplars_of_received_traces(platform):
    """The gateway's, order_service's HTTP and the saga's latency histograms, scraped in
    OpenMetrics, name on their buckets traces the OTLP endpoint received (web and worker
    processes write their exemplars apart; the scrape merges them)."""
    receiver = platform["receiver"]
    wanted = {
        "gateway": ("gateway_request_duration_seconds", platform["gateway"]),
        "order": ("django_http_requests_latency_seconds_by_view_method", platform["order"]),
        "saga": ("order_saga_duration_seconds", platform["order"]),
    }

    def exemplified(metric: str, url: str) -> dict | None:
        """The traces named on ``metric``'s buckets whose root span was received, by trace."""
        status, headers, body = _scrape(url)
        assert status == 200, status
        assert headers["Content-Type"].startswith("application/openmetrics-text"), dict(headers)
        traces = {
            sample.exemplar.labels["trace_id"]
            for family in text_string_to_metric_families(body)
            for sample in family.samples
            if sample.name == f"{metric}_bucket" and sample.exemplar is not None
        }
        roots = {s["trace"]: s for s in list(receiver.spans) if not s["parent"]}
        return {t: roots[t] for t in traces if t in roots} or None

    for what, (metric, process) in wanted.items():
        found = wait_for(
            lambda m=metric, p=process: exemplified(m, p.url),
            timeout=15,
            what=f"an exemplar of a received trace on {metric}",
        )
        if what == "saga":  # an order's own trace: rooted at the gateway's POST
            assert any(root["name"] == "POST orders" for root in found.values()), found
    # The classic format (a scraper that did not ask) has none.
    _, headers, body = _scrape(platform["gateway"].url, accept="text/plain")
    assert headers["Content-Type"].startswith("text/plain") and "trace_id" not in body


def _scrape(url: str, accept: str = "application/openmetrics-text; version=1.0.0"):
    import urllib.request

    request = urllib.request.Request(f"{url}/metrics", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=20) as response:
        return response.status, response.headers, response.read().decode()


def test_a_retried_upstream_call_shows_one_client_span_per_attempt(platform):
    receiver = platform["receiver"]
    token = customer_token(platform["auth"])
    status, _ = call("GET", f"{platform['gateway'].url}/api/v1/users/me/", token)
    assert status == 503

    def attempts():
        roots = [s for s in list(receiver.spans) if s["name"] == "GET users"]
        if not roots:
            return None
        spans = [
            s
            for s in receiver.trace(roots[0]["trace"])
            if s["kind"] == CLIENT and s["attributes"].get("platform.upstream") == "user"
        ]
        return spans if len(spans) == 2 else None

    spans = wait_for(attempts, timeout=15, what="two attempts at the user upstream")
    assert {s["parent"] for s in spans} == {roots_id(receiver, "GET users")}
    assert sorted(s["attributes"]["http.request.resend_count"] for s in spans) == [0, 1]


def test_an_order_its_caller_did_not_sample_makes_no_span_anywhere(platform):
    """A trace the caller did not sample (flag 00), posted to order_service directly: its saga
    goes through every service and the broker and no process records a span of it (each one runs
    it with the instrumentations suppressed), while the same call sampled (01) is recorded."""
    receiver = platform["receiver"]
    token = customer_token(platform["auth"])
    body = {
        "lines": [{"product_id": platform["ids"]["TRACE-MUG"], "quantity": 1}],
        "shipping_address": SHIPPING_ADDRESS,
        "payment_token": "tok_visa",
    }
    unsampled, sampled = uuid.uuid4().hex, uuid.uuid4().hex
    for trace_id, flags in ((unsampled, "00"), (sampled, "01")):
        traceparent = f"00-{trace_id}-b7ad6b7169203331-{flags}"
        status, order = call_with(
            "POST", f"{platform['order'].url}/api/v1/orders/", token, body, traceparent, trace_id
        )
        assert status == 201, order
        assert settle(platform, token, order["id"])["status"] == "CONFIRMED"

    def recorded():
        services = {s["service"] for s in receiver.trace(sampled)}
        return services >= {"order", "inventory", "payment"} and services

    wait_for(recorded, timeout=30, what="the sampled order's spans from its services")
    assert receiver.trace(unsampled) == []


def roots_id(receiver: Receiver, name: str) -> str:
    return next(s["id"] for s in list(receiver.spans) if s["name"] == name)


def call_with(
    method: str, url: str, token: str, body: dict, traceparent: str | None, request_id: str
):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method=method,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "X-Request-ID": request_id,
            **({"traceparent": traceparent} if traceparent else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_off_by_default_no_exporter(tmp_path):
    """Without the endpoint a process imports nothing of the SDK and sends nothing."""
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        "os.environ.pop('OTEL_EXPORTER_OTLP_ENDPOINT', None)\n"
        "from service_kit import tracing\n"
        "assert not tracing.ON and tracing.carrier() is None and tracing.current_ids() is None\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry.sdk')))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run(  # noqa: S603 - this interpreter, our code
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "[]"

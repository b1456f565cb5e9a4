"""The compose validator's checks of the logs and traces (profile ``observability``): Logstash's
pipeline, Kibana's data view, the OpenTelemetry Collector and Grafana's trace links pass on the
repository and fail on each breakage, naming it.

docker-compose resolves the stack once (it is slow); each test breaks a copy of ``compose/``
and runs the checks on it with the resolved services pointed at the copy."""

from __future__ import annotations

import json
import shutil
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from copies import edit

from platform_tools.testing.delivery import compose, telemetry
from platform_tools.testing.stubs import serve
from service_kit.conf import REPO_ROOT

PIPELINE = "compose/logstash/pipeline/platform.conf"
PIPELINES = "compose/logstash/config/pipelines.yml"
FILEBEAT = "compose/filebeat/filebeat.yml"
DATA_VIEW = "compose/kibana/data-view.json"
COLLECTOR = "compose/otel-collector/config.yaml"
PROMETHEUS_SOURCE = "compose/grafana/provisioning/datasources/prometheus.yml"
JAEGER_SOURCE = "compose/grafana/provisioning/datasources/jaeger.yml"


@pytest.fixture(scope="module")
def resolved() -> dict:
    config, problems = compose.compose_config(REPO_ROOT, ("observability",))
    assert config is not None, problems
    return config["services"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "compose", tmp_path / "compose")
    shutil.copytree(REPO_ROOT / "charts/platform/files", tmp_path / "charts/platform/files")
    return tmp_path


def services_in(tree: Path, resolved: dict) -> dict:
    """The resolved services, their mounts from the copy instead of the repository."""
    text = json.dumps(resolved).replace(str(REPO_ROOT.resolve()), str(tree.resolve()))
    return json.loads(text)


def problems_of(tree: Path, resolved: dict) -> list[str]:
    services = services_in(tree, resolved)
    return telemetry.check(tree, services) + compose.check_grafana(tree, services)


def test_the_repository_passes(resolved):
    assert problems_of(REPO_ROOT, resolved) == []


def test_an_unbroken_copy_passes(tree, resolved):
    assert problems_of(tree, resolved) == []


@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        # Logstash: the pipeline's syntax, with the line where it breaks
        pytest.param(
            PIPELINE,
            '"[data_stream][namespace]" => "default"',
            '"[data_stream][namespace]" => "default",',
            f"{PIPELINE}: Logstash syntax error at line 51, column 46",
            id="pipeline-syntax",
        ),
        pytest.param(
            PIPELINE, "  mutate {", "  mutat {", "no filter plugin mutat", id="unknown-plugin"
        ),
        pytest.param(
            PIPELINES,
            "/usr/share/logstash/pipeline/platform.conf",
            "/usr/share/logstash/pipeline/main.conf",
            "logstash pipeline /usr/share/logstash/pipeline/main.conf is not a file compose mounts",
            id="pipeline-not-mounted",
        ),
        # Logstash: its redaction is the kit's
        pytest.param(
            PIPELINE,
            r'"tok_(?<![A-Za-z0-9]tok_)[A-Za-z0-9_]+"',
            r'"tok_[A-Za-z0-9]+"',
            "script_params shapes is not the kit's",
            id="redaction-shape-differs",
        ),
        pytest.param(
            PIPELINE, '"otp", ', "", "script_params fields is not the kit's", id="field-forgotten"
        ),
        pytest.param(
            PIPELINE,
            '"password|passwd|secret|_token$|api[_-]?key"',
            '"password|secret"',
            "script_params name_parts is not the kit's",
            id="name-parts-differ",
        ),
        pytest.param(
            PIPELINE,
            "/usr/share/logstash/scripts/redact.rb",
            "/usr/share/logstash/redact.rb",
            "the redaction script /usr/share/logstash/redact.rb is not mounted",
            id="script-not-mounted",
        ),
        # Logstash: routing, its input and its output
        pytest.param(
            PIPELINE,
            '"platform.%{[service][name]}"',
            '"platform.all"',
            "no filter routes by service.name",
            id="not-routed-by-service",
        ),
        pytest.param(
            FILEBEAT,
            'hosts: ["logstash:5044"]',
            'hosts: ["logstash:5045"]',
            "sends to logstash:5045, where no Logstash beats input listens",
            id="filebeat-wrong-port",
        ),
        pytest.param(
            FILEBEAT,
            'output.logstash:\n  hosts: ["logstash:5044"]',
            'output.elasticsearch:\n  hosts: ["http://elasticsearch:9200"]',
            "Filebeat must send to Logstash",
            id="filebeat-past-logstash",
        ),
        pytest.param(
            PIPELINE,
            'hosts => ["http://elasticsearch:9200"]',
            'hosts => ["http://elastic:9200"]',
            "http://elastic:9200 is not a service of the stack",
            id="output-to-nowhere",
        ),
        # Kibana's data view
        pytest.param(
            DATA_VIEW,
            '"title": "logs-platform.*"',
            '"title": "logs-*"',
            "the data view must read logs-platform.*",
            id="data-view-pattern",
        ),
        pytest.param(
            DATA_VIEW, '"id": "url"', '"id": "string"', "trace.id must be a url", id="no-link"
        ),
        # the collector
        pytest.param(
            COLLECTOR,
            "processors: [memory_limiter, batch]",
            "processors: [batch, memory_limiter]",
            "must run memory_limiter first",
            id="collector-memory-limiter-late",
        ),
        pytest.param(
            COLLECTOR,
            "exporters: [otlp/jaeger]",
            "exporters: [otlp/tempo]",
            "pipeline traces uses otlp/tempo, not in exporters",
            id="collector-undefined-exporter",
        ),
        pytest.param(
            COLLECTOR,
            "endpoint: jaeger:4317",
            "endpoint: tempo:4317",
            "exporter otlp/jaeger sends to tempo, not a service",
            id="collector-exports-nowhere",
        ),
        pytest.param(
            COLLECTOR,
            "endpoint: 0.0.0.0:4318",
            "endpoint: 0.0.0.0:4319",
            "no OTLP/HTTP receiver on :4318",
            id="collector-wrong-port",
        ),
        # Grafana: exemplars open their trace in Jaeger
        pytest.param(
            PROMETHEUS_SOURCE,
            "datasourceUid: jaeger",
            "datasourceUid: tempo",
            "exemplars (trace_id) must link to the jaeger datasource",
            id="exemplars-unlinked",
        ),
        pytest.param(
            JAEGER_SOURCE,
            "url: http://jaeger:16686",
            "url: http://jaeger:16687",
            "grafana needs a jaeger datasource",
            id="no-jaeger-datasource",
        ),
    ],
)
def test_a_broken_copy_fails(tree, resolved, path, old, new, expected):
    edit(tree / path, old, new)
    problems = problems_of(tree, resolved)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("logstash", "service logstash is missing"),
        ("kibana-setup", "service kibana-setup is missing"),
        ("otel-collector", "service otel-collector is missing"),
    ],
)
def test_a_missing_service_fails(tree, resolved, service, expected):
    services = services_in(tree, resolved)
    del services[service]
    assert any(expected in problem for problem in telemetry.check(tree, services))


def test_the_kibana_link_must_reach_jaeger_where_compose_publishes_it(tree, resolved):
    services = services_in(tree, resolved)
    services["kibana-setup"]["environment"]["JAEGER_URL"] = "http://localhost:16000"
    problems = telemetry.check(tree, services)
    assert "kibana-setup: JAEGER_URL must be where compose publishes Jaeger's UI" in problems


def test_kibana_setup_posts_the_data_view_with_the_jaeger_link():
    """The one-shot's script (in Kibana's image: sh, sed, curl) against a stand-in of Kibana's
    data views API."""
    received: list[tuple[str, dict, dict]] = []

    class Kibana(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.path, dict(self.headers), body))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Kibana)
    serve(server)
    try:
        result = subprocess.run(  # noqa: S603 - sh runs the repository's script
            ["sh", str(REPO_ROOT / "compose/kibana/setup.sh")],  # noqa: S607 - sh from PATH
            env={
                "PATH": "/usr/bin:/bin",
                "KIBANA_URL": f"http://127.0.0.1:{server.server_port}",
                "JAEGER_URL": "http://localhost:16686/",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    [(path, headers, body), (default_path, _, default)] = received
    assert path == "/api/data_views/data_view"
    assert headers["kbn-xsrf"] == "true"
    view = body["data_view"]
    assert (view["id"], view["title"]) == ("platform-logs", "logs-platform.*")
    assert body["override"] is True
    link = view["fieldFormats"]["trace.id"]
    assert link["id"] == "url"
    assert link["params"]["urlTemplate"] == "http://localhost:16686/trace/{{value}}"
    assert default_path == "/api/data_views/default"
    assert default == {"data_view_id": "platform-logs", "force": True}

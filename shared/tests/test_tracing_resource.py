"""The resource every span carries: the kit names the service, its version and environment, and
what the deployment says in the standard variables (the chart's OTEL_SERVICE_NAME and
OTEL_RESOURCE_ATTRIBUTES) wins. Each case in a fresh interpreter: tracing is set up once a
process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

CODE = (
    "import json; from opentelemetry import trace; from service_kit import tracing; "
    "assert tracing.setup('order', '1.4.0', 'real'); "
    "print(json.dumps(dict(trace.get_tracer_provider().resource.attributes)))"
)


def resource(**variables: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    # Nowhere to send: nothing is exported before the process ends (no span is made).
    env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", **variables}
    result = subprocess.run(  # noqa: S603 - this interpreter, code written here
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_the_kit_names_the_service_its_version_and_environment():
    attributes = resource()
    assert attributes["service.name"] == "order"
    assert attributes["service.version"] == "1.4.0"
    assert attributes["deployment.environment"] == "real"


def test_the_deployments_variables_win():
    attributes = resource(
        OTEL_SERVICE_NAME="order",
        OTEL_RESOURCE_ATTRIBUTES=(
            "service.version=abc123,deployment.environment=staging,k8s.namespace.name=shop"
        ),
    )
    assert attributes["service.version"] == "abc123"
    assert attributes["deployment.environment"] == "staging"
    assert attributes["k8s.namespace.name"] == "shop"

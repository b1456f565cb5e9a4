"""The charts validator passes on the repository and fails on each breakage the issue names: a
typo in a values file, an invalid manifest, an Istio object with a bad field, a policy removed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from copies import edit

from platform_tools.testing.delivery import charts
from service_kit.conf import REPO_ROOT
from service_kit.platform import SERVICE_CLIENTS

CHART = charts.CHART


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the chart, the only part of the repository the validator reads."""
    shutil.copytree(REPO_ROOT / CHART, tmp_path / CHART)
    return tmp_path


def reported(problems: list[str], *fragments: str) -> bool:
    """Whether one problem names every fragment."""
    return any(all(fragment in problem for fragment in fragments) for problem in problems)


def test_the_repository_passes():
    assert charts.check(REPO_ROOT) == []


def test_an_unbroken_copy_passes(tree):
    assert charts.check(tree) == []


def test_a_missing_chart_is_reported(tmp_path):
    assert charts.check(tmp_path) == [f"charts: {CHART}/Chart.yaml is missing"]


# -- values files and values.schema.json ---------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        pytest.param(
            "values-production.yaml",
            "    replicas: 3\n",
            "    replica: 3\n",
            ("values-production.yaml", "additional properties 'replica' not allowed"),
            id="typo-in-a-key",
        ),
        pytest.param(
            "values-staging.yaml",
            "  tlsCredentialName: staging",
            "  tlsCredentialNam: staging",
            ("values-staging.yaml", "tlsCredentialNam"),
            id="typo-in-istio-key",
        ),
        pytest.param(
            "values.yaml",
            "    terminationGracePeriodSeconds: 330\n",
            "    terminationGracePeriodSeconds: 60\n",
            ("values.yaml", "terminationGracePeriodSeconds", "minimum"),
            id="worker-grace-below-the-warm-shutdown",
        ),
        pytest.param(
            "values-production.yaml",
            "      maxReplicas: 12\n",
            "      maxReplicas: twelve\n",
            ("values-production.yaml", "maxReplicas"),
            id="wrong-type",
        ),
    ],
)
def test_a_wrong_value_in_a_values_file_is_refused_by_the_schema(tree, file, old, new, expected):
    edit(tree / CHART / file, old, new)
    problems = charts.check(tree)
    assert reported(problems, "helm refused the chart", *expected), problems


def test_auth_without_its_smtp_server_is_refused_by_the_schema(tree):
    edit(tree / CHART / "values.yaml", "                 EMAIL_URL]\n", "                 ]\n")
    problems = charts.check(tree)
    assert reported(problems, "helm refused the chart", "values.yaml", "EMAIL_URL"), problems


def test_the_gateway_without_its_service_client_is_refused_by_the_schema(tree):
    old = "without.\n    secretKeys: [SECRET_KEY, DATABASE_URL, CACHE_URL, CELERY_BROKER_URL"
    edit(tree / CHART / "values.yaml", f"{old}, SERVICE_CLIENT_SECRET]\n", f"{old}]\n")
    problems = charts.check(tree)
    assert reported(problems, "helm refused the chart", "values.yaml", "SERVICE_CLIENT_SECRET"), (
        problems
    )


def with_user_env(tree: Path, env: str) -> None:
    old = "    folder: user_service\n    env: {}\n"
    edit(tree / CHART / "values.yaml", old, f"    folder: user_service\n    env: {env}\n")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ("{MEDIA_BACKEND: gcs}", "missing property 'GCS_BUCKET'"),
        ("{MEDIA_BACKEND: s3}", "missing property 'S3_BUCKET'"),
        ("{MEDIA_BACKEND: azure}", "value must be one of 'filesystem', 's3', 'gcs'"),
        # nothing signs the URLs
        ("{GCS_BUCKET: gs://shop-media}", "missing property 'GOOGLE_APPLICATION_CREDENTIALS'"),
        ("{GCS_BUCKET: gs://shop-media, GCS_IAM_SIGN_BLOB: 'no'}", "GCS_IAM_SIGN_BLOB"),
        ("{GCS_BUCKET: gs://shop-media, GOOGLE_APPLICATION_CREDENTIALS: key.json}", "'^/'"),
        ("{GCS_BUCKET: 'gs://Shop Media', GCS_IAM_SIGN_BLOB: 'true'}", "GCS_BUCKET"),
        # both buckets and no choice
        (
            "{GCS_BUCKET: gs://a-bucket, S3_BUCKET: b-bucket, GCS_IAM_SIGN_BLOB: 'true'}",
            "missing property 'MEDIA_BACKEND'",
        ),
    ],
)
def test_a_half_configured_media_bucket_is_refused_by_the_schema(tree, env, expected):
    with_user_env(tree, env)
    problems = charts.check(tree)
    assert reported(problems, "values.yaml: helm lint", "/services/user/env", expected), problems


@pytest.mark.parametrize(
    "env",
    [
        "{MEDIA_BACKEND: gcs, GCS_BUCKET: gs://shop-media, GCS_IAM_SIGN_BLOB: 'true'}",
        "{MEDIA_BACKEND: gcs, GCS_BUCKET: shop-media,"
        " GOOGLE_APPLICATION_CREDENTIALS: /var/run/secrets/platform/GCS_CREDENTIALS}",
        "{MEDIA_BACKEND: s3, S3_BUCKET: shop-media}",
    ],
)
def test_a_configured_media_bucket_passes(tree, env):
    with_user_env(tree, env)
    assert charts.check(tree) == []


def test_every_auth_process_reads_its_smtp_server_from_its_secret():
    objects = charts.rendered({})
    assert charts.policy_problems(objects, environment=False) == []
    for job in (o for o in objects if o["metadata"]["name"] == "platform-auth-migrate"):
        [container] = job["spec"]["template"]["spec"]["containers"]
        container["env"] = [e for e in container["env"] if e["name"] != "EMAIL_URL_FILE"]

    assert charts.policy_problems(objects, environment=False) == [
        "Job platform-auth-migrate: no EMAIL_URL (SMTP) from its Secret"
    ]


def test_the_gateway_and_order_read_their_service_client_secret_from_their_secret():
    objects = charts.rendered({})
    assert charts.policy_problems(objects, environment=False) == []
    [web] = [
        o
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "platform-gateway-web"
    ]
    [container] = web["spec"]["template"]["spec"]["containers"]
    container["env"] = [e for e in container["env"] if e["name"] != "SERVICE_CLIENT_SECRET_FILE"]

    assert charts.policy_problems(objects, environment=False) == [
        "Deployment platform-gateway-web: no SERVICE_CLIENT_SECRET from its Secret"
    ]


def test_a_schema_that_lets_wrong_values_through_is_reported(tree):
    path = tree / CHART / "values.schema.json"
    schema = json.loads(path.read_text())
    schema["properties"]["istio"]["properties"]["mtlsMode"] = {"type": "string"}
    path.write_text(json.dumps(schema))
    problems = charts.check(tree)
    assert problems == [
        'values.schema.json accepts wrong values {"istio": {"mtlsMode": "DISABLE"}}'
    ]


def test_a_missing_schema_is_reported(tree):
    (tree / CHART / "values.schema.json").unlink()
    assert reported(charts.check(tree), "values.schema.json is missing")


# -- core objects against Kubernetes 1.30 --------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "old", "new", "expected"),
    [
        pytest.param(
            "web.yaml",
            "  revisionHistoryLimit: 5\n",
            "  revisionHistoryLimits: 5\n",
            "Kubernetes 1.30 schema: spec: Additional properties are not allowed "
            "('revisionHistoryLimits' was unexpected)",
            id="unknown-field",
        ),
        pytest.param(
            "web.yaml",
            "      containerPort: {{ $web.port }}",
            '      containerPort: "http"',
            "'http' is not of type 'integer'",
            id="wrong-type",
        ),
        pytest.param(
            "migrate.yaml",
            "      restartPolicy: Never",
            "      restartPolicy: Never\n      restartPolice: Always",
            "'restartPolice' was unexpected",
            id="unknown-field-in-the-hook-job",
        ),
        pytest.param(
            "web.yaml",
            "apiVersion: policy/v1\n",
            "apiVersion: policy/v1beta1\n",
            "policy/v1beta1 PodDisruptionBudget is not in Kubernetes 1.30",
            id="removed-api",
        ),
    ],
)
def test_an_invalid_manifest_is_refused_by_the_kubernetes_schema(
    tree, template, old, new, expected
):
    edit(tree / CHART / "templates" / template, old, new)
    problems = charts.check(tree)
    assert reported(problems, "values-production.yaml", expected), problems


# -- custom resources against their CRDs' schemas -----------------------------------------------


@pytest.mark.parametrize(
    ("template", "old", "new", "expected"),
    [
        pytest.param(
            "istio.yaml",
            "      consecutive5xxErrors:",
            "      consecutive5xxErrorz:",
            (
                "DestinationRule platform-auth",
                "outlierDetection/consecutive5xxErrorz: unknown field",
            ),
            id="istio-unknown-field",
        ),
        pytest.param(
            "istio.yaml",
            "      mode: ISTIO_MUTUAL",
            "      mode: MUTUAL_ISTIO",
            ("DestinationRule", "tls/mode must be equal to one of the allowed values"),
            id="istio-bad-enum",
        ),
        pytest.param(
            "istio.yaml",
            "  hosts: [{{ $host }}]\n",
            "  hosts: {{ $host }}\n",
            ("VirtualService platform-auth", "hosts must be array"),
            id="istio-wrong-type",
        ),
        pytest.param(
            "monitoring.yaml",
            "      path: /metrics\n",
            "      paths: /metrics\n",
            ("ServiceMonitor", "paths: unknown field"),
            id="servicemonitor-unknown-field",
        ),
        pytest.param(
            "externalsecrets.yaml",
            "    creationPolicy: Owner",
            "    creationPolicy: Owns",
            ("ExternalSecret platform-auth-signing-keys", "creationPolicy"),
            id="externalsecret-bad-enum",
        ),
    ],
)
def test_a_bad_custom_resource_is_refused_by_its_crd_schema(tree, template, old, new, expected):
    edit(tree / CHART / "templates" / template, old, new)
    problems = charts.check(tree)
    assert reported(problems, "values-production.yaml", "CRD schema", *expected), problems


def test_an_unknown_kind_of_a_known_group_is_refused(tree):
    edit(tree / CHART / "templates" / "istio.yaml", "kind: PeerAuthentication", "kind: PeerAuth")
    problems = charts.check(tree)
    assert reported(problems, "no CRD schema for PeerAuth in security.istio.io/v1"), problems


# -- the policies --------------------------------------------------------------------------------

HELPERS = "_helpers.tpl"


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        pytest.param(
            f"templates/{HELPERS}",
            "readOnlyRootFilesystem: true\n",
            "",
            "readOnlyRootFilesystem must be true",
            id="read-only-root-filesystem",
        ),
        pytest.param(
            f"templates/{HELPERS}",
            "runAsNonRoot: true\nrunAsUser:",
            "runAsUser:",
            "must run as a non-root user",
            id="non-root",
        ),
        pytest.param(
            f"templates/{HELPERS}",
            "allowPrivilegeEscalation: false",
            "allowPrivilegeEscalation: true",
            "allowPrivilegeEscalation must be false",
            id="privilege-escalation",
        ),
        pytest.param(
            f"templates/{HELPERS}",
            "  drop: [ALL]",
            "  drop: [NET_RAW]",
            "capabilities must drop ALL",
            id="capabilities",
        ),
        pytest.param(
            "templates/web.yaml",
            "          readinessProbe:\n"
            "            httpGet: {path: /readyz, port: http}\n"
            "            periodSeconds: 5\n            timeoutSeconds: 4\n"
            "            failureThreshold: 3\n",
            "",
            "no HTTP readinessProbe",
            id="readiness-probe-removed",
        ),
        pytest.param(
            "templates/web.yaml",
            "          startupProbe:\n            httpGet: {path: /healthz, port: http}\n"
            "            periodSeconds: 2\n            timeoutSeconds: 2\n"
            "            failureThreshold: 60\n",
            "",
            "no HTTP startupProbe",
            id="startup-probe-removed",
        ),
        pytest.param(
            "templates/web.yaml",
            "httpGet: {path: /healthz, port: http}\n            periodSeconds: 10",
            "httpGet: {path: /readyz, port: http}\n            periodSeconds: 10",
            "the liveness probe must ask /healthz",
            id="liveness-on-readyz",
        ),
        pytest.param(
            "templates/web.yaml",
            "apiVersion: policy/v1\nkind: PodDisruptionBudget",
            "apiVersion: v1\nkind: ConfigMap",
            "no PodDisruptionBudget selects its pods",
            id="pdb-removed",
        ),
        pytest.param(
            "templates/web.yaml",
            "            {{- toYaml $web.resources | nindent 12 }}",
            "            requests: {cpu: 100m, memory: 128Mi}",
            "resources.limits must set cpu and memory",
            id="limits-removed",
        ),
        pytest.param(
            "templates/web.yaml",
            "{{- if $web.autoscaling.enabled }}",
            "{{- if false }}",
            "no HorizontalPodAutoscaler",
            id="hpa-removed",
        ),
        pytest.param(
            "templates/web.yaml",
            "            preStop:\n              sleep:\n"
            "                seconds: {{ $web.preStopSeconds }}",
            "            postStart:\n              sleep:\n                seconds: 1",
            "no preStop pause",
            id="prestop-removed",
        ),
        pytest.param(
            "templates/worker.yaml",
            "terminationGracePeriodSeconds: {{ $worker.terminationGracePeriodSeconds }}",
            "terminationGracePeriodSeconds: 60",
            "is not above the worker's warm shutdown (300 s)",
            id="worker-grace",
        ),
        pytest.param(
            "templates/worker.yaml",
            "    type: Recreate",
            "    type: RollingUpdate",
            "beat must be one replica with the Recreate strategy",
            id="beat-rolling",
        ),
        pytest.param(
            "templates/worker.yaml",
            "command: [python, -m, service_kit.entrypoints, healthcheck, beat]",
            "command: [python, -m, service_kit.entrypoints, healthcheck]",
            "the liveness probe must run python -m service_kit.entrypoints healthcheck beat",
            id="beat-without-liveness",
        ),
        pytest.param(
            "templates/web.yaml",
            "httpGet: {path: /readyz, port: http}",
            "httpGet: {path: /healthz, port: http}",
            "the readiness probe must ask /readyz",
            id="readiness-on-healthz",
        ),
        pytest.param(
            "templates/migrate.yaml",
            '        sidecar.istio.io/inject: "false"\n      annotations:',
            '        sidecar.istio.io/inject: "true"\n      annotations:',
            "the mesh sidecar must be off",
            id="hook-job-with-sidecar",
        ),
        pytest.param(
            "templates/migrate.yaml",
            'helm.sh/hook-weight: "-10"',
            'helm.sh/hook-weight: "10"',
            "must be a hook created before the Job",
            id="hook-settings-after-the-job",
        ),
        pytest.param(
            "templates/migrate.yaml",
            '    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-weight: "0"',
            '    helm.sh/hook: post-install\n    helm.sh/hook-weight: "0"',
            "must be a pre-install and pre-upgrade hook",
            id="migration-not-before-the-rollout",
        ),
        pytest.param(
            "templates/istio.yaml",
            "  mtls:\n    mode: {{ $istio.mtlsMode }}",
            "  mtls:\n    mode: PERMISSIVE",
            "mutual TLS must be STRICT",
            id="mtls-permissive",
        ),
        pytest.param(
            "templates/istio.yaml",
            "{{- if .Values.istio.enabled }}",
            "{{- if false }}",
            "no PeerAuthentication with STRICT mutual TLS",
            id="mesh-off",
        ),
        pytest.param(
            f"templates/{HELPERS}",
            '  match:\n    - method:\n        regex: "GET|HEAD|OPTIONS"',
            '  match:\n    - method:\n        regex: "GET|POST"',
            "retries a method that is not idempotent",
            id="mesh-retries-post",
        ),
        pytest.param(
            f"templates/{HELPERS}",
            "  retries:\n    attempts: 0\n",
            "",
            "retries must be explicit",
            id="istio-default-retries",
        ),
        pytest.param(
            "templates/istio.yaml",
            "  action: ALLOW",
            "  action: AUDIT",
            "no AuthorizationPolicy says who may call it",
            id="authorization-policy-audit-only",
        ),
        pytest.param(
            "templates/externalsecrets.yaml",
            "{{- if .Values.externalSecrets.enabled }}",
            "{{- if false }}",
            "has no ExternalSecret",
            id="external-secrets-off",
        ),
    ],
)
def test_a_removed_policy_is_reported(tree, file, old, new, expected):
    edit(tree / CHART / file, old, new)
    problems = charts.check(tree)
    assert reported(problems, expected), problems


def test_a_secret_value_in_the_chart_is_reported(tree):
    (tree / CHART / "templates" / "leak.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leak\nstringData:\n  SECRET_KEY: x\n"
    )
    assert reported(charts.check(tree), "Secret leak: the chart must not carry secret values")


def test_a_missing_node_is_a_problem_not_a_pass(monkeypatch):
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda cmd: None if cmd == "node" else real(cmd))
    assert reported(charts.check(REPO_ROOT), "CRD validators unavailable", "node and npm")


# -- the observability files ---------------------------------------------------------------------


def test_the_chart_renders_without_the_observability_files(tree):
    shutil.rmtree(tree / CHART / "files")
    assert charts.check(tree) == []
    production = charts.rendered(_values("values-production.yaml"), root=tree)
    assert not [o for o in production if o["kind"] == "PrometheusRule"]


def test_alerts_and_dashboards_are_rendered_from_the_shared_files(tree):
    files = tree / CHART / "files"
    shutil.rmtree(files)
    (files / "prometheus").mkdir(parents=True)
    (files / "grafana" / "dashboards").mkdir(parents=True)
    (files / "prometheus" / "alerts.yml").write_text(
        "groups:\n  - name: platform.test\n    rules:\n      - alert: ServiceDown\n"
        "        expr: up == 0\n        for: 1m\n        labels: {severity: critical}\n"
        '        annotations: {summary: "{{ $labels.service }} is down"}\n'
    )
    (files / "grafana" / "dashboards" / "platform_http.json").write_text('{"title": "HTTP"}')
    production = charts.rendered(_values("values-production.yaml"), root=tree)
    [rule] = [o for o in production if o["kind"] == "PrometheusRule"]
    assert rule["spec"]["groups"][0]["rules"][0]["annotations"] == {
        "summary": "{{ $labels.service }} is down"
    }
    [dashboard] = [
        o for o in production if o["metadata"]["name"] == "platform-dashboard-platform-http"
    ]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["data"] == {"platform_http.json": '{"title": "HTTP"}'}
    assert charts.check(tree) == []


def test_broken_alert_rules_fail_the_prometheus_rule_schema(tree):
    (tree / CHART / "files" / "prometheus").mkdir(parents=True, exist_ok=True)
    (tree / CHART / "files" / "prometheus" / "alerts.yml").write_text(
        "groups:\n  - name: x\n    rulez: []\n"
    )
    problems = charts.check(tree)
    assert reported(problems, "PrometheusRule", "rulez: unknown field"), problems


# -- what the chart gives a service --------------------------------------------------------------


def _values(name: str) -> dict:
    import yaml

    return yaml.safe_load((REPO_ROOT / CHART / name).read_text())


def _by_name(objects: list[dict], kind: str, name: str) -> dict:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_a_service_gets_its_image_settings_and_secrets():
    objects = charts.rendered(
        {"global": {"image": {"registry": "registry.test/platform", "tag": "abc123"}}}
    )
    web = _by_name(objects, "Deployment", "platform-order-web")
    [container] = web["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.test/platform/order_service:abc123"
    assert container["args"] == ["web"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DATABASE_URL_FILE"] == "/var/run/secrets/platform/DATABASE_URL"
    assert env["ALLOWED_HOSTS"].startswith("shop.example.com,platform-order,")
    assert env["ALLOWED_HOSTS"].endswith(",$(POD_IP)")
    settings = _by_name(objects, "ConfigMap", "platform-order-settings")["data"]
    namespace = charts.NAMESPACE
    assert (
        settings["PRODUCT_SERVICE_URL"]
        == f"http://platform-product.{namespace}.svc.cluster.local:8000"
    )
    assert settings["JWT_JWKS_URL"] == (
        f"http://platform-auth.{namespace}.svc.cluster.local:8000/.well-known/jwks.json"
    )
    assert settings["PLATFORM_PROFILE"] == "real"
    worker = _by_name(objects, "Deployment", "platform-order-worker")
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"] == ["worker"]
    job = _by_name(objects, "Job", "platform-order-migrate")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    # The gateway: a web process only.
    names = {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}
    assert "platform-gateway-web" in names
    assert not {"platform-gateway-worker", "platform-gateway-beat"} & names


def test_the_mesh_allows_only_the_calls_the_architecture_makes():
    objects = charts.rendered(_values("values-production.yaml"))
    namespace = charts.NAMESPACE

    def callers(service: str) -> set[str]:
        policy = _by_name(objects, "AuthorizationPolicy", f"platform-{service}")
        principals = policy["spec"]["rules"][0]["from"][0]["source"]["principals"]
        return {p.rsplit("/", 1)[1].removeprefix("platform-") for p in principals}

    assert callers("product") == {"gateway", "order", "inventory"}
    assert callers("payment") == {"gateway", "order"}
    assert callers("order") == {"gateway"}
    assert callers("auth") == {"gateway", "user", "product", "inventory", "order", "payment"}
    assert callers("gateway") == {"istio-ingressgateway-service-account"}
    peer = _by_name(objects, "PeerAuthentication", "platform-mtls")
    assert peer["spec"]["mtls"] == {"mode": "STRICT"}
    route = _by_name(objects, "VirtualService", "platform-payment")["spec"]["http"]
    assert route[0]["match"] == [{"method": {"regex": "GET|HEAD|OPTIONS"}}]
    assert route[1]["retries"] == {"attempts": 0}
    assert route[1]["route"][0]["destination"]["host"] == (
        f"platform-payment.{namespace}.svc.cluster.local"
    )


def test_a_service_released_alone_runs_its_own_image_tag_beside_the_others():
    objects = charts.rendered(
        {
            "global": {"image": {"registry": "registry.test/platform", "tag": "v1"}},
            "services": {"order": {"imageTag": "v2"}},
        }
    )
    for name, tag in (("platform-order-web", "v2"), ("platform-payment-web", "v1")):
        template = _by_name(objects, "Deployment", name)["spec"]["template"]
        [container] = template["spec"]["containers"]
        assert container["image"].endswith(f":{tag}")
        assert template["metadata"]["labels"]["version"] == tag


TRACING = {"otlpEndpoint": "http://otel-collector.observability:4318", "environment": "staging"}


def test_tracing_is_off_until_its_endpoint_is_set():
    settings = _by_name(charts.rendered({}), "ConfigMap", "platform-order-settings")["data"]
    assert not [name for name in settings if name.startswith("OTEL_")]


def test_every_service_gets_the_collector_its_sampling_and_its_resource():
    values = {
        "global": {"image": {"tag": "abc123"}, "tracing": TRACING},
        "services": {"payment": {"imageTag": "def456"}},
    }
    objects = charts.rendered(values)
    for name in ("gateway", "auth", "user", "product", "inventory", "order", "payment"):
        settings = _by_name(objects, "ConfigMap", f"platform-{name}-settings")["data"]
        version = "def456" if name == "payment" else "abc123"
        assert settings["OTEL_EXPORTER_OTLP_ENDPOINT"] == TRACING["otlpEndpoint"]
        assert settings["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
        assert settings["OTEL_TRACES_SAMPLER_ARG"] == "0.1"
        assert settings["OTEL_SERVICE_NAME"] == name
        assert settings["OTEL_RESOURCE_ATTRIBUTES"] == (
            f"service.version={version},deployment.environment=staging,"
            f"k8s.namespace.name={charts.NAMESPACE}"
        )
    # every process of a service reads those settings: web, worker, beat and the migration
    for kind, name in [
        ("Deployment", "platform-order-web"),
        ("Deployment", "platform-order-worker"),
        ("Deployment", "platform-order-beat"),
        ("Job", "platform-order-migrate"),
    ]:
        [container] = _by_name(objects, kind, name)["spec"]["template"]["spec"]["containers"]
        env = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                configmap = _by_name(objects, "ConfigMap", source["configMapRef"]["name"])
                env |= configmap["data"]
        assert env.get("OTEL_SERVICE_NAME") == "order", (kind, name)
        assert env.get("OTEL_EXPORTER_OTLP_ENDPOINT") == TRACING["otlpEndpoint"], (kind, name)


@pytest.mark.parametrize(
    ("tracing", "expected"),
    [
        ({"otlpEndpoint": "http://collector:4318"}, "environment"),
        ({**TRACING, "samplerArg": 1.5}, "samplerArg"),
        ({**TRACING, "otlpEndpoint": "collector:4318"}, "otlpEndpoint"),
        ({**TRACING, "resourceAttributes": {"service.version": "x"}}, "'service.version'"),
    ],
)
def test_a_half_configured_tracing_is_refused_by_the_schema(tracing, expected):
    with pytest.raises(ValueError, match=expected):
        charts.rendered({"global": {"tracing": tracing}})


# -- the service clients -------------------------------------------------------------------------

CLIENTS_JOB = "platform-auth-service-clients"


def _clients_job(objects: list[dict]) -> dict:
    return _by_name(objects, "Job", CLIENTS_JOB)


@pytest.mark.parametrize("values_file", charts.VALUES_FILES)
def test_auth_registers_each_service_client_with_the_secret_its_service_reads(values_file):
    values = {} if values_file == "values.yaml" else _values(values_file)
    objects = charts.rendered(values)
    job = _clients_job(objects)
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "post-install,post-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"
    pod = job["spec"]["template"]["spec"]
    assert job["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"
    volumes = {v["name"]: v for v in pod["volumes"]}
    commands = {}
    for container in pod["containers"]:
        assert container["image"].rsplit(":", 1)[0].endswith("/auth_service")
        [settings] = container["envFrom"]
        assert settings == {"configMapRef": {"name": "platform-auth-settings"}}
        env = {e["name"] for e in container["env"]}
        assert {"DATABASE_URL_FILE", "EMAIL_URL_FILE"} <= env  # auth's settings, as migrate's
        client = container["args"][2]
        commands[client] = container["args"]
        mount = f"/var/run/secrets/service-clients/{client}"
        [own] = [m for m in container["volumeMounts"] if m["mountPath"] == mount]
        assert own["readOnly"] is True
        # The client service's own Secret (the release's, made by its ExternalSecret in an
        # environment: the migration's copies are hooks of their own), its one key.
        assert volumes[own["name"]]["secret"]["secretName"] == f"platform-{client}"
        assert volumes[own["name"]]["secret"]["items"] == [
            {"key": "SERVICE_CLIENT_SECRET", "path": "SERVICE_CLIENT_SECRET"}
        ]
        web = _by_name(objects, "Deployment", f"platform-{client}-web")
        [secrets] = [
            v for v in web["spec"]["template"]["spec"]["volumes"] if v["name"] == "secrets"
        ]
        assert secrets["secret"]["secretName"] == f"platform-{client}"
    assert commands == {
        name: [
            "manage",
            "create_service_client",
            name,
            "--secret-file",
            f"/var/run/secrets/service-clients/{name}/SERVICE_CLIENT_SECRET",
            "--scopes",
            *scopes,
        ]
        for name, scopes in SERVICE_CLIENTS.items()
    }
    if values.get("externalSecrets", {}).get("enabled"):
        made = {o["spec"]["target"]["name"] for o in objects if o["kind"] == "ExternalSecret"}
        assert {f"platform-{name}" for name in SERVICE_CLIENTS} | {"platform-auth"} <= made
    # The same Kubernetes 1.30 schema as every other object, and no policy broken.
    assert charts._validate_core(CLIENTS_JOB, job) == []
    assert charts.policy_problems(objects, environment=values_file in charts.ENVIRONMENTS) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "  user: [accounts:read]",
            "  user: [accounts:read, accounts:write]",
            [
                "values.yaml: serviceClients.user: scopes ['accounts:read', 'accounts:write'] "
                "differ from service_kit.platform.SERVICE_CLIENTS' ['accounts:read']",
                f"Job {CLIENTS_JOB}: client user gets scopes ['accounts:read', 'accounts:write'], "
                "SERVICE_CLIENTS ['accounts:read']",
            ],
            id="other-scopes",
        ),
        pytest.param(
            "  user: [accounts:read]",
            "",
            [
                "values.yaml: serviceClients: no client user "
                "(service_kit.platform.SERVICE_CLIENTS has it)",
                f"Job {CLIENTS_JOB}: service client user of SERVICE_CLIENTS is not registered",
            ],
            id="client-missing",
        ),
        pytest.param(
            "  user: [accounts:read]",
            "  user: [accounts:read]\n  product: [inventory:read]",
            [
                "values.yaml: serviceClients: client product is not in "
                "service_kit.platform.SERVICE_CLIENTS",
                f"Job {CLIENTS_JOB}: client product is not in SERVICE_CLIENTS",
            ],
            id="client-extra",
        ),
    ],
)
def test_service_clients_that_differ_from_SERVICE_CLIENTS_are_reported(tree, old, new, expected):
    edit(tree / CHART / "values.yaml", old, new)
    problems = charts.check(tree)
    for problem in expected[1:]:
        # the policy rule, on each values file's render
        for name in charts.VALUES_FILES:
            assert f"{name}: {problem}" in problems, problems
    assert expected[0] in problems
    assert len(problems) == 1 + len(charts.VALUES_FILES), problems


def test_a_client_secret_from_another_secret_is_reported():
    objects = charts.rendered({})
    job = _clients_job(objects)
    pod = job["spec"]["template"]["spec"]
    [order] = [v for v in pod["volumes"] if v["name"] == "client-order"]
    order["secret"]["secretName"] = "platform-payment"
    [gateway] = [c for c in pod["containers"] if c["name"] == "client-gateway"]
    [mount] = [m for m in gateway["volumeMounts"] if m["name"] == "client-gateway"]
    del mount["readOnly"]

    assert charts.policy_problems(objects, environment=False) == [
        f"Job {CLIENTS_JOB}: client gateway's --secret-file "
        "/var/run/secrets/service-clients/gateway/SERVICE_CLIENT_SECRET is not "
        "SERVICE_CLIENT_SECRET of the Secret its service reads (platform-gateway), "
        "mounted read-only",
        f"Job {CLIENTS_JOB}: client order's --secret-file "
        "/var/run/secrets/service-clients/order/SERVICE_CLIENT_SECRET is not "
        "SERVICE_CLIENT_SECRET of the Secret its service reads (platform-order), "
        "mounted read-only",
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "helm.sh/hook: post-install,post-upgrade",
            "helm.sh/hook: post-install",
            f"Job {CLIENTS_JOB}: must be a post-install and post-upgrade hook",
            id="not-on-upgrade",
        ),
        pytest.param(
            '        sidecar.istio.io/inject: "false"\n      annotations:',
            "      annotations:",
            f"Job {CLIENTS_JOB}: the mesh sidecar must be off",
            id="sidecar",
        ),
        pytest.param(
            "{{- if $clients }}",
            "{{- if false }}",
            "0 service-clients Jobs rendered: auth_service needs one",
            id="no-job",
        ),
        pytest.param(
            "      restartPolicy: Never",
            "      restartPolicy: Never\n      restartPolice: Always",
            "'restartPolice' was unexpected",
            id="unknown-field",
        ),
    ],
)
def test_a_broken_service_clients_job_is_reported(tree, old, new, expected):
    edit(tree / CHART / "templates" / "serviceclients.yaml", old, new)
    problems = charts.check(tree)
    assert reported(problems, "values-production.yaml", expected), problems


def test_a_client_of_an_absent_service_is_refused_clearly():
    with pytest.raises(ValueError, match=r"serviceClients.user: there is no service user"):
        charts.rendered({"services": {"user": None}})
    with pytest.raises(ValueError, match=r"services.user.secretKeys has no SERVICE_CLIENT_SECRET"):
        charts.rendered({"services": {"user": {"secretKeys": ["SECRET_KEY"]}}})
    # Without the client too, the chart renders and registers the others.
    objects = charts.rendered({"services": {"user": None}, "serviceClients": {"user": None}})
    names = [c["name"] for c in _clients_job(objects)["spec"]["template"]["spec"]["containers"]]
    assert names == ["client-gateway", "client-order"]


@pytest.mark.parametrize(
    ("clients", "expected"),
    [
        ({"order": ["Payments Read"]}, "/serviceClients/order/0"),
        ({"order": []}, "/serviceClients/order"),
        ({"Order": ["payments:read"]}, "invalid propertyName 'Order'"),
    ],
    ids=["bad-scope", "no-scopes", "bad-name"],
)
def test_wrong_service_clients_are_refused_by_the_schema(clients, expected):
    with pytest.raises(ValueError, match="schema") as refused:
        charts.rendered({"serviceClients": clients})
    assert expected in str(refused.value)

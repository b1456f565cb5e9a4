"""The Helm chart (``charts/platform``), checked by the tools that read it.

1. ``helm lint`` (helm-python-sdk, Helm's own library) with each values file.
2. Rendering with each of ``values.yaml``, ``values-staging.yaml`` and ``values-production.yaml``
   (Helm applies ``values.schema.json`` first), and wrong values that the schema must refuse.
3. Every rendered core object against the Kubernetes 1.30 schema (kubernetes-validate, strict:
   an unknown field fails).
4. Istio, Prometheus Operator and External Secrets objects against their CRDs' schemas, by the
   validators the ``@kubernetes-models`` npm packages generate from those CRDs (installed on
   first use under ``var/``). Those validators ignore unknown fields, so the Node script below
   also watches which fields a validator reads: one it never reads is not in the schema, and is
   refused as Kubernetes' strict field validation would.
5. The policies the chart promises, so that none can silently disappear: non-root, read-only
   root filesystem, no privilege escalation, every capability dropped, probes on web, requests
   and limits everywhere, a PDB per web Deployment, HPAs, graceful shutdown, migration hook Jobs
   without a mesh sidecar and with their settings created before them, no Secret values, STRICT
   mTLS and no mesh retry of a non-idempotent method, auth_service's SMTP server from its Secret,
   the service-client secret of each calling service from its own Secret, and a hook Job that
   registers exactly ``service_kit.platform.SERVICE_CLIENTS`` in auth_service with those secrets
   (and values.yaml's ``serviceClients`` are those clients and scopes).
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from platform_tools.testing.tools import npm_folder
from service_kit.conf import REPO_ROOT
from service_kit.platform import SERVICE_CLIENTS

CHART = Path("charts/platform")
VALUES_FILES = ("values.yaml", "values-staging.yaml", "values-production.yaml")
#: The values files that describe a real environment: the mesh, autoscaling and external
#: secrets must be on in them.
ENVIRONMENTS = ("values-staging.yaml", "values-production.yaml")
RELEASE, NAMESPACE = "platform", "platform-check"
KUBERNETES_VERSION = "1.30"

#: Values that values.schema.json must refuse (a typo'd key, a wrong type, a root uid).
WRONG_VALUES = (
    {"defaults": {"web": {"replica": 2}}},
    {"defaults": {"worker": {"replicas": "two"}}},
    {"podSecurity": {"runAsUser": 0}},
    {"istio": {"mtlsMode": "DISABLE"}},
    # auth_service without its SMTP server (the real profile refuses the console's mail)
    {"services": {"auth": {"folder": "auth_service", "secretKeys": ["SECRET_KEY"]}}},
    # the gateway without its service client (the staff front page's figures)
    {"services": {"gateway": {"folder": "gateway", "secretKeys": ["SECRET_KEY"]}}},
    # order_service without its service client (reconciliation)
    {"services": {"order": {"folder": "order_service", "secretKeys": ["SECRET_KEY"]}}},
    # a service client with a scope auth_service would refuse, or with none
    {"serviceClients": {"order": ["Payments Read"]}},
    {"serviceClients": {"order": []}},
    # tracing half configured: a collector but no deployment environment to tell traces apart
    {"global": {"tracing": {"otlpEndpoint": "http://otel-collector.observability:4318"}}},
    # a resource attribute the chart sets from its own value
    {"global": {"tracing": {"resourceAttributes": {"deployment.environment": "prod"}}}},
)

#: The kit's hard task time limit (service_kit.messaging.app, task_time_limit): the longest a
#: worker's warm shutdown can take.
WARM_SHUTDOWN_SECONDS = 300

IDEMPOTENT_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"}

#: CRD groups and the npm package whose validators know them (pinned).
CRD_PACKAGES = {
    "networking.istio.io": ("@kubernetes-models/istio", "3.0.1"),
    "security.istio.io": ("@kubernetes-models/istio", "3.0.1"),
    "monitoring.coreos.com": ("@kubernetes-models/prometheus-operator", "6.0.0"),
    "external-secrets.io": ("@kubernetes-models/external-secrets", "2.0.0"),
}
VALIDATORS_DIR = REPO_ROOT / "var" / "tools" / "crd-validators"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when there: renders are big

# Reads [{"label", "object"}] on stdin, prints one list of problems per object. A Proxy records
# the fields the generated validator reads, and whether it listed an object's keys (a map, or
# additionalProperties): a field of a non-listed object that was never read is unknown.
NODE_SCRIPT = r"""
import { readFileSync } from "node:fs";
const GROUPS = JSON.parse(process.argv[2]);

function watch(value, path, seen) {
  if (value === null || typeof value !== "object") return value;
  const record = { path, value, read: new Set(), listed: false };
  seen.push(record);
  const copy = Array.isArray(value)
    ? value.map((item, i) => watch(item, `${path}/${i}`, seen))
    : Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, watch(v, `${path}/${k}`, seen)]));
  return new Proxy(copy, {
    get(target, key, receiver) { record.read.add(key); return Reflect.get(target, key, receiver); },
    has(target, key) { record.read.add(key); return Reflect.has(target, key); },
    getOwnPropertyDescriptor(target, key) {
      record.read.add(key);
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
    ownKeys(target) { record.listed = true; return Reflect.ownKeys(target); },
  });
}

async function check(object) {
  const [group, version] = String(object.apiVersion).split("/");
  if (!GROUPS[group]) return [`no CRD schema known for ${object.apiVersion}`];
  let models;
  try { models = await import(`${GROUPS[group]}/${group}/${version}`); }
  catch { return [`no CRD schema for ${object.apiVersion}`]; }
  const Model = models[object.kind];
  if (!Model) return [`no CRD schema for ${object.kind} in ${object.apiVersion}`];
  const seen = [];
  const problems = [];
  try { Model.prototype.validate.call(watch(object, "", seen)); }
  catch (error) { problems.push(String(error.message)); }
  for (const record of seen) {
    if (Array.isArray(record.value) || record.listed) continue;
    for (const key of Object.keys(record.value)) {
      if (!record.read.has(key)) problems.push(`${record.path}/${key}: unknown field`);
    }
  }
  return problems;
}

const items = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const item of items) results.push(await check(item.object));
process.stdout.write(JSON.stringify(results));
"""


def check(root: Path = REPO_ROOT) -> list[str]:
    chart_dir = root / CHART
    if not (chart_dir / "Chart.yaml").is_file():
        return [f"charts: {CHART}/Chart.yaml is missing"]
    try:
        import helm_python  # noqa: F401 - the tools are test requirements
        import kubernetes_validate  # noqa: F401
    except ImportError as exc:
        return [f"charts: a validator is not installed ({exc.name}): make install-test"]

    problems: list[str] = []
    renders: dict[str, list[dict]] = {}
    for name in VALUES_FILES:
        values, trouble = _values(chart_dir, name)
        if trouble:
            problems.append(trouble)
            continue
        if name == "values.yaml":
            problems += default_clients_problems(chart_dir)
        problems += _lint(chart_dir, name, values)
        objects, trouble = _render(chart_dir, values)
        if trouble:
            problems.append(f"{name}: {trouble}")
            continue
        renders[name] = objects
    problems += _schema_refuses_wrong_values(chart_dir)

    custom: list[tuple[str, dict]] = []
    for name, objects in renders.items():
        for obj in objects:
            label = f"{name}: {obj.get('kind')} {obj.get('metadata', {}).get('name')}"
            group = str(obj.get("apiVersion", "")).rpartition("/")[0]
            if group in CRD_PACKAGES:
                custom.append((label, obj))
            else:
                problems += _validate_core(label, obj)
        problems += [
            f"{name}: {p}" for p in policy_problems(objects, environment=name in ENVIRONMENTS)
        ]
    problems += _validate_custom(custom)
    return problems


# -- Helm ----------------------------------------------------------------------------------------


def _values(chart_dir: Path, name: str) -> tuple[dict, str | None]:
    path = chart_dir / name
    if not path.is_file():
        return {}, f"{CHART}/{name} is missing"
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        return {}, f"{name}: not YAML: {exc}"
    # values.yaml is the chart's defaults: Helm reads it itself.
    return ({} if name == "values.yaml" else values), None


def _lint(chart_dir: Path, name: str, values: dict) -> list[str]:
    import helm_python

    report = helm_python.lint(chart_dir, values, kube_version=f"v{KUBERNETES_VERSION}.0")
    found = [f"{name}: helm lint: {error}" for error in report.get("errors") or ()]
    # Severity 2 is a warning, 3 an error (1, info, is advice such as "icon is recommended").
    found += [
        f"{name}: helm lint: {m['path']}: {m['error']}"
        for m in report.get("messages") or ()
        if m.get("severity", 0) >= 2
    ]
    return found


def _render(chart_dir: Path, values: dict) -> tuple[list[dict], str | None]:
    from helm_python import Chart, HelmError

    try:
        with Chart.load(chart_dir) as chart:
            manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    except HelmError as exc:
        return [], f"helm refused the chart: {exc}"
    objects = []
    for template, text in sorted(manifests.items()):
        if not template.endswith((".yaml", ".yml")):
            continue  # NOTES.txt
        try:
            documents = list(yaml.load_all(text, Loader=_Loader))
        except yaml.YAMLError as exc:
            return [], f"{template} does not render to YAML: {exc}"
        for doc in documents:
            if doc is None:
                continue
            if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
                return [], f"{template} renders something that is not a Kubernetes object"
            objects.append(doc)
    return objects, None


def _schema_refuses_wrong_values(chart_dir: Path) -> list[str]:
    from helm_python import Chart, HelmError, HelmValuesError

    found = []
    with Chart.load(chart_dir) as chart:
        if chart.schema is None:
            return [f"{CHART}/values.schema.json is missing"]
        for wrong in WRONG_VALUES:
            try:
                chart.render(wrong, name=RELEASE, namespace=NAMESPACE)
            except HelmValuesError:
                continue  # refused by the schema, as it must be
            except HelmError as exc:
                found.append(f"wrong values {json.dumps(wrong)} pass the schema (then: {exc})")
            else:
                found.append(f"values.schema.json accepts wrong values {json.dumps(wrong)}")
    return found


# -- schemas -------------------------------------------------------------------------------------


def _validate_core(label: str, obj: dict) -> list[str]:
    import jsonschema

    validator = _core_validator(obj["apiVersion"], obj["kind"])
    if validator is None:
        return [
            f"{label}: {obj['apiVersion']} {obj['kind']} is not in Kubernetes {KUBERNETES_VERSION}"
        ]
    error = jsonschema.exceptions.best_match(validator.iter_errors(obj))
    if error is None:
        return []
    where = ".".join(str(part) for part in error.absolute_path)
    return [f"{label}: Kubernetes {KUBERNETES_VERSION} schema: {where}: {error.message}"]


@functools.cache
def _core_validator(api_version: str, kind: str):
    """kubernetes-validate's strict schema of one kind, as its ``validate()`` builds it (which
    parses the 1.30 definitions, megabytes of JSON, again for every object: here once a kind)."""
    import jsonschema
    import referencing
    from kubernetes_validate.utils import schema_contents

    folder = f"kubernetes-json-schema/v{KUBERNETES_VERSION}.0-local-strict"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = schema_contents(
            f"{folder}/{kind.lower()}-{group_version}.json", KUBERNETES_VERSION
        )
    except FileNotFoundError:
        return None
    # Both documents carry their $id (/api/…): the registry resolves the references by it.
    registry = referencing.Registry()
    registry = referencing.Resource.from_contents(schema) @ registry
    registry = referencing.Resource.from_contents(_core_definitions()) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


@functools.cache
def _core_definitions() -> dict:
    from kubernetes_validate.utils import schema_contents

    folder = f"kubernetes-json-schema/v{KUBERNETES_VERSION}.0-local-strict"
    return schema_contents(f"{folder}/_definitions.json", KUBERNETES_VERSION)


def _validate_custom(items: list[tuple[str, dict]]) -> list[str]:
    if not items:
        return []
    folder, trouble = _crd_validators()
    if trouble:
        return [f"charts: CRD validators unavailable: {trouble}"]
    groups = {group: package for group, (package, _) in CRD_PACKAGES.items()}
    (folder / "validate.mjs").write_text(NODE_SCRIPT)
    payload = json.dumps([{"label": label, "object": obj} for label, obj in items])
    result = subprocess.run(  # noqa: S603 - node from PATH runs the kit's own script
        ["node", "validate.mjs", json.dumps(groups)],  # noqa: S607 - node from PATH runs the kit's own script
        cwd=folder,
        input=payload,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        return [f"charts: the CRD validator failed: {result.stderr.strip()[-2000:]}"]
    found = []
    for (label, _), problems in zip(items, json.loads(result.stdout), strict=True):
        found += [f"{label}: CRD schema: {problem}" for problem in problems]
    return found


def _crd_validators() -> tuple[Path, str | None]:
    """The npm packages, installed once (pinned) into a folder outside the source tree."""
    try:
        return npm_folder(
            VALIDATORS_DIR,
            dict(sorted(set(CRD_PACKAGES.values()))),
            "--ignore-scripts",
            "--engine-strict=false",
            module=True,
        ), None
    except RuntimeError as error:
        return VALIDATORS_DIR, str(error)


# -- policies ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Render:
    """One render of the chart, as the policy rules read it. ``environment``: a staging or
    production values file, where autoscaling, the mesh and external secrets must be on."""

    objects: list[dict]
    environment: bool

    def kind(self, kind: str) -> list[dict]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def deployments(self, component: str | None = None) -> list[dict]:
        return [d for d in self.kind("Deployment") if component in (None, _component(d))]

    @property
    def workloads(self) -> list[dict]:
        """The Deployments, then the Jobs: what runs pods."""
        return self.deployments() + self.kind("Job")


def policy_problems(objects: list[dict], *, environment: bool) -> list[str]:
    """What the chart promises, checked on one render. ``environment``: a staging or production
    values file, where autoscaling, the mesh and external secrets must be on."""
    render = Render(objects, environment)
    found: list[str] = []
    for rule in POLICY_RULES:
        found += rule(render)
    return found


def secret_rule(render: Render) -> list[str]:
    return [
        f"Secret {_name(obj)}: the chart must not carry secret values"
        for obj in render.kind("Secret")
    ]


def pod_security_rule(render: Render) -> list[str]:
    return [problem for obj in render.workloads for problem in _pod_problems(obj)]


def web_rule(render: Render) -> list[str]:
    """A web Deployment with its probes and preStop pause, a disruption budget and (in an
    environment) an autoscaler."""
    webs = render.deployments("web")
    found = [] if webs else ["no web Deployment rendered"]
    budgets = render.kind("PodDisruptionBudget")
    scaled = {h["spec"]["scaleTargetRef"]["name"] for h in render.kind("HorizontalPodAutoscaler")}
    for web in webs:
        found += _web_problems(web)
        if not _covering(web, budgets):
            found.append(f"Deployment {_name(web)}: no PodDisruptionBudget selects its pods")
        if render.environment and _name(web) not in scaled:
            found.append(f"Deployment {_name(web)}: no HorizontalPodAutoscaler")
    return found


def worker_rule(render: Render) -> list[str]:
    found = []
    for worker in render.deployments("worker"):
        grace = _pod(worker).get("terminationGracePeriodSeconds", 30)
        if grace <= WARM_SHUTDOWN_SECONDS:
            found.append(
                f"Deployment {_name(worker)}: terminationGracePeriodSeconds {grace} is not above "
                f"the worker's warm shutdown ({WARM_SHUTDOWN_SECONDS} s)"
            )
    return found


#: Beat's liveness: its schedule file recently written (compose's healthcheck too).
BEAT_LIVENESS = ["python", "-m", "service_kit.entrypoints", "healthcheck", "beat"]


def beat_rule(render: Render) -> list[str]:
    found = []
    for beat in render.deployments("beat"):
        if (
            beat["spec"].get("replicas") != 1
            or beat["spec"].get("strategy", {}).get("type") != "Recreate"
        ):
            found.append(
                f"Deployment {_name(beat)}: beat must be one replica with the Recreate strategy"
            )
        container = _pod(beat)["containers"][0]
        probe = (container.get("livenessProbe") or {}).get("exec", {}).get("command")
        if probe != BEAT_LIVENESS:
            found.append(
                f"Deployment {_name(beat)}: the liveness probe must run {' '.join(BEAT_LIVENESS)}"
            )
    return found


def migration_rule(render: Render) -> list[str]:
    return _migration_problems(render.deployments("web"), render.kind("Job"), render.objects)


def mail_rule(render: Render) -> list[str]:
    return _mail_problems(render.workloads)


def external_secret_rule(render: Render) -> list[str]:
    """In an environment, every Secret a web reads is made by an ExternalSecret."""
    if not render.environment:
        return []
    made = {e["spec"].get("target", {}).get("name") for e in render.kind("ExternalSecret")}
    return [
        f"Deployment {_name(web)}: Secret {name} has no ExternalSecret"
        for web in render.deployments("web")
        for name in _secret_names(web)
        if name not in made
    ]


def _mail_problems(objects: list[dict]) -> list[str]:
    """auth_service mails password resets: each of its processes (the migration Job runs the
    system checks, which refuse a real profile without a mail transport) reads EMAIL_URL from
    its Secret."""
    found = []
    for obj in objects:
        if obj["metadata"].get("labels", {}).get("app.kubernetes.io/name") != "auth":
            continue
        for container in _pod(obj)["containers"]:
            if "EMAIL_URL_FILE" not in {e["name"] for e in container.get("env", [])}:
                found.append(f"{obj['kind']} {_name(obj)}: no EMAIL_URL (SMTP) from its Secret")
    return found


#: The services that call others with a service token of their own (service_kit.platform's
#: SERVICE_CLIENTS): the gateway (the staff front page's figures), order (reconciliation), user.
CLIENT_SERVICES = tuple(SERVICE_CLIENTS)


def client_rule(render: Render) -> list[str]:
    """Every process of a calling service reads its service-client secret from its Secret (its
    client id, the service's name, is in its settings)."""
    return [
        f"Deployment {_name(obj)}: no SERVICE_CLIENT_SECRET from its Secret"
        for obj in render.deployments()
        if obj["metadata"].get("labels", {}).get("app.kubernetes.io/name") in CLIENT_SERVICES
        for container in _pod(obj)["containers"]
        if "SERVICE_CLIENT_SECRET_FILE" not in {e["name"] for e in container.get("env", [])}
    ]


def default_clients_problems(chart_dir: Path, expected: dict | None = None) -> list[str]:
    """values.yaml's ``serviceClients`` (what the chart registers by default) are the clients and
    scopes of ``service_kit.platform.SERVICE_CLIENTS`` (what make up and compose register)."""
    expected = SERVICE_CLIENTS if expected is None else expected
    try:
        values = yaml.safe_load((chart_dir / "values.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return []  # reported by the render
    clients = values.get("serviceClients") or {}
    where = "values.yaml: serviceClients"
    found = [
        f"{where}: no client {name} (service_kit.platform.SERVICE_CLIENTS has it)"
        for name in sorted(set(expected) - set(clients))
    ]
    found += [
        f"{where}: client {name} is not in service_kit.platform.SERVICE_CLIENTS"
        for name in sorted(set(clients) - set(expected))
    ]
    found += [
        f"{where}.{name}: scopes {sorted(clients[name] or [])} differ from "
        f"service_kit.platform.SERVICE_CLIENTS' {sorted(expected[name])}"
        for name in sorted(set(clients) & set(expected))
        if set(clients[name] or []) != set(expected[name])
    ]
    return found


#: The service-clients Job's command, by the image's entrypoint (then the client's id).
CLIENT_COMMAND = ["manage", "create_service_client"]


def service_clients_rule(render: Render) -> list[str]:
    """auth_service registers the service clients itself: one post-install/post-upgrade hook Job
    without a mesh sidecar, one ``create_service_client`` per client of SERVICE_CLIENTS with its
    scopes, the secret read from a file of the client service's own Secret (the one its pods
    read as SERVICE_CLIENT_SECRET), mounted read-only."""
    jobs = [j for j in render.kind("Job") if _component(j) == "service-clients"]
    if len(jobs) != 1:
        return [f"{len(jobs)} service-clients Jobs rendered: auth_service needs one"]
    [job] = jobs
    where = f"Job {_name(job)}"
    found = []
    hook = _hook(job)
    if not hook or not {"post-install", "post-upgrade"} <= hook[0]:
        found.append(f"{where}: must be a post-install and post-upgrade hook")
    template = job["spec"]["template"]["metadata"]
    if (template.get("labels") or {}).get("sidecar.istio.io/inject") != "false":
        found.append(f'{where}: the mesh sidecar must be off (sidecar.istio.io/inject: "false")')
    webs = {
        w["metadata"]["labels"].get("app.kubernetes.io/name"): w for w in render.deployments("web")
    }
    volumes = {v["name"]: v for v in _pod(job).get("volumes", [])}
    registered: dict[str, set[str]] = {}
    for container in _pod(job)["containers"]:
        args = [str(a) for a in container.get("args") or []]
        if args[:2] != CLIENT_COMMAND or len(args) < 3:
            found.append(
                f"{where}, container {container.get('name')}: not {' '.join(CLIENT_COMMAND)}"
            )
            continue
        client, options = args[2], _command_options(args[3:])
        if client in registered:
            found.append(f"{where}: client {client} registered twice")
        registered[client] = set(options.get("--scopes", []))
        [path] = options.get("--secret-file") or [""]
        source = _mounted_secret(container, volumes, path)
        own = _service_secret(webs[client]) if client in webs else None
        if not path:
            found.append(f"{where}: client {client} without --secret-file")
        elif source is None or source != (own, "SERVICE_CLIENT_SECRET"):
            found.append(
                f"{where}: client {client}'s --secret-file {path} is not SERVICE_CLIENT_SECRET of "
                f"the Secret its service reads ({own or 'no web Deployment'}), mounted read-only"
            )
    found += [
        f"{where}: service client {name} of SERVICE_CLIENTS is not registered"
        for name in sorted(set(SERVICE_CLIENTS) - set(registered))
    ]
    found += [
        f"{where}: client {name} is not in SERVICE_CLIENTS"
        for name in sorted(set(registered) - set(SERVICE_CLIENTS))
    ]
    found += [
        f"{where}: client {name} gets scopes {sorted(registered[name])}, SERVICE_CLIENTS "
        f"{sorted(SERVICE_CLIENTS[name])}"
        for name in sorted(set(registered) & set(SERVICE_CLIENTS))
        if registered[name] != set(SERVICE_CLIENTS[name])
    ]
    return found


def _command_options(args: list[str]) -> dict[str, list[str]]:
    """A command line's options and the values after each (``--scopes a b`` -> [a, b])."""
    options: dict[str, list[str]] = {}
    current: list[str] | None = None
    for arg in args:
        if arg.startswith("--"):
            current = options.setdefault(arg, [])
        elif current is not None:
            current.append(arg)
    return options


def _service_secret(obj: dict) -> str | None:
    """The Secret a workload reads its settings from (its volume ``secrets``)."""
    for volume in _pod(obj).get("volumes", []):
        if volume["name"] == "secrets" and "secret" in volume:
            return volume["secret"]["secretName"]
    return None


def _mounted_secret(container: dict, volumes: dict[str, dict], path: str) -> tuple[str, str] | None:
    """(Secret, key) of the file ``path`` in the container, when a read-only mount of a Secret
    volume holds it."""
    for mount in container.get("volumeMounts") or []:
        folder = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(folder) or mount.get("readOnly") is not True or mount.get("subPath"):
            continue
        secret = (volumes.get(mount["name"]) or {}).get("secret")
        if not secret:
            continue
        name = path.removeprefix(folder)
        for item in secret.get("items") or []:
            if item.get("path") == name:
                return secret["secretName"], item["key"]
        if not secret.get("items"):
            return secret["secretName"], name
    return None


def _name(obj: dict) -> str:
    return obj.get("metadata", {}).get("name", "?")


def _component(obj: dict) -> str | None:
    return obj.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/component")


def _pod(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def _pod_problems(obj: dict) -> list[str]:
    found = []
    label = f"{obj['kind']} {_name(obj)}"
    pod = _pod(obj)
    pod_context = pod.get("securityContext") or {}
    if pod_context.get("runAsNonRoot") is not True or pod_context.get("runAsUser") in (0, None):
        found.append(f"{label}: the pod must run as a non-root user (runAsNonRoot, runAsUser)")
    for container in pod.get("initContainers", []) + pod.get("containers", []):
        where = f"{label}, container {container.get('name')}"
        context = container.get("securityContext") or {}
        if context.get("readOnlyRootFilesystem") is not True:
            found.append(f"{where}: readOnlyRootFilesystem must be true")
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"{where}: allowPrivilegeEscalation must be false")
        if context.get("privileged"):
            found.append(f"{where}: must not be privileged")
        if "ALL" not in (context.get("capabilities") or {}).get("drop", []):
            found.append(f"{where}: capabilities must drop ALL")
        if context.get("runAsUser") == 0 or context.get("runAsNonRoot") is False:
            found.append(f"{where}: runs as root")
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            if not {"cpu", "memory"} <= set(resources.get(kind) or {}):
                found.append(f"{where}: resources.{kind} must set cpu and memory")
    return found


def _web_problems(web: dict) -> list[str]:
    found = []
    pod = _pod(web)
    container = next((c for c in pod["containers"] if c.get("name") == "web"), pod["containers"][0])
    where = f"Deployment {_name(web)}"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        if not (container.get(probe) or {}).get("httpGet"):
            found.append(f"{where}: no HTTP {probe}")
    if (container.get("livenessProbe") or {}).get("httpGet", {}).get("path") != "/healthz":
        found.append(f"{where}: the liveness probe must ask /healthz")
    if (container.get("readinessProbe") or {}).get("httpGet", {}).get("path") != "/readyz":
        found.append(f"{where}: the readiness probe must ask /readyz")
    pause = (
        ((container.get("lifecycle") or {}).get("preStop") or {}).get("sleep", {}).get("seconds")
    )
    if not pause:
        found.append(f"{where}: no preStop pause")
    elif pod.get("terminationGracePeriodSeconds", 30) <= pause:
        found.append(f"{where}: terminationGracePeriodSeconds must be above the preStop pause")
    return found


def _covering(deployment: dict, budgets: list[dict]) -> bool:
    labels = deployment["spec"]["template"]["metadata"].get("labels", {})
    for budget in budgets:
        wanted = budget["spec"].get("selector", {}).get("matchLabels", {})
        if wanted and all(labels.get(k) == v for k, v in wanted.items()):
            return True
    return False


def _secret_names(obj: dict) -> list[str]:
    return [v["secret"]["secretName"] for v in _pod(obj).get("volumes", []) if "secret" in v]


def _hook(obj: dict) -> tuple[set[str], int] | None:
    annotations = obj.get("metadata", {}).get("annotations") or {}
    if "helm.sh/hook" not in annotations:
        return None
    events = {e.strip() for e in annotations["helm.sh/hook"].split(",")}
    return events, int(annotations.get("helm.sh/hook-weight", "0"))


def _migration_problems(webs: list[dict], jobs: list[dict], objects: list[dict]) -> list[str]:
    """Each service with a web has a migration Job: a pre-install and pre-upgrade hook."""
    migrations = [j for j in jobs if _component(j) == "migrate"]
    services = {w["metadata"]["labels"].get("app.kubernetes.io/name") for w in webs}
    migrated = {j["metadata"]["labels"].get("app.kubernetes.io/name") for j in migrations}
    found = [f"service {service}: no migration Job" for service in sorted(services - migrated)]
    named = {(o["kind"], _name(o)): o for o in objects}
    made_by = {
        o["spec"].get("target", {}).get("name"): o for o in objects if o["kind"] == "ExternalSecret"
    }
    for job in migrations:
        found += _migration_job_problems(job, named, made_by)
    return found


def _migration_job_problems(
    job: dict, named: dict[tuple[str, str], dict], made_by: dict[str, dict]
) -> list[str]:
    """A migration Job: a hook, out of the mesh, after the hooks that make what it reads."""
    where = f"Job {_name(job)}"
    hook = _hook(job)
    if not hook or not {"pre-install", "pre-upgrade"} <= hook[0]:
        return [f"{where}: must be a pre-install and pre-upgrade hook"]
    found = []
    template = job["spec"]["template"]["metadata"]
    inject = {
        (template.get("labels") or {}).get("sidecar.istio.io/inject"),
        (template.get("annotations") or {}).get("sidecar.istio.io/inject"),
    }
    if "false" not in inject or "true" in inject:
        found.append(f'{where}: the mesh sidecar must be off (sidecar.istio.io/inject: "false")')
    # What the Job reads must exist before it: created by an earlier hook.
    needs = [
        ("ConfigMap", ref["configMapRef"]["name"])
        for c in _pod(job)["containers"]
        for ref in c.get("envFrom", [])
        if "configMapRef" in ref
    ]
    needs += [
        ("ExternalSecret", made_by[s]["metadata"]["name"])
        for s in _secret_names(job)
        if s in made_by
    ]
    for kind, name in needs:
        source = named.get((kind, name))
        source_hook = _hook(source) if source else None
        if not source_hook or not hook[0] <= source_hook[0] or source_hook[1] >= hook[1]:
            found.append(f"{where}: {kind} {name} must be a hook created before the Job")
    return found


def mtls_rule(render: Render) -> list[str]:
    """Mutual TLS is STRICT wherever it is set, and (in an environment) set."""
    peers = render.kind("PeerAuthentication")
    found = []
    if render.environment and not any(_mtls(p) == "STRICT" for p in peers):
        found.append("no PeerAuthentication with STRICT mutual TLS")
    found += [
        f"PeerAuthentication {_name(p)}: mutual TLS must be STRICT"
        for p in peers
        if _mtls(p) not in ("STRICT", None)
    ]
    return found


def _mtls(peer: dict) -> str | None:
    return peer["spec"].get("mtls", {}).get("mode")


def route_rule(render: Render) -> list[str]:
    """Every mesh route has a timeout and explicit retries, of idempotent methods only."""
    found = []
    for service in render.kind("VirtualService"):
        for index, route in enumerate(service["spec"].get("http", [])):
            where = f"VirtualService {_name(service)}, route {route.get('name', index)}"
            retries = route.get("retries")
            if retries is None:
                # Istio's default retries every method on connection failures.
                found.append(
                    f"{where}: retries must be explicit (attempts: 0 for non-idempotent methods)"
                )
            elif retries.get("attempts", 0) > 0 and not _idempotent_only(route):
                found.append(f"{where}: retries a method that is not idempotent (POST, PATCH)")
            if not route.get("timeout"):
                found.append(f"{where}: no timeout")
    return found


def authorization_rule(render: Render) -> list[str]:
    """In an environment, an AuthorizationPolicy allows calls to each web (by its labels)."""
    if not render.environment:
        return []
    policies = render.kind("AuthorizationPolicy")
    return [
        f"Deployment {_name(web)}: no AuthorizationPolicy says who may call it"
        for web in render.deployments("web")
        if not any(_allows(policy, web) for policy in policies)
    ]


def _allows(policy: dict, deployment: dict) -> bool:
    selector = policy["spec"].get("selector")
    labels = deployment["spec"]["template"]["metadata"].get("labels", {})
    return (
        bool(selector)
        and all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())
        and policy["spec"].get("action", "ALLOW") == "ALLOW"
    )


def traffic_policy_rule(render: Render) -> list[str]:
    if render.environment and not render.kind("DestinationRule"):
        return ["no DestinationRule (connection pools, outlier detection)"]
    return []


#: The chart's policies, each ``(render) -> problems``, in the order they are reported.
POLICY_RULES = (
    secret_rule,
    pod_security_rule,
    web_rule,
    worker_rule,
    beat_rule,
    migration_rule,
    mail_rule,
    client_rule,
    service_clients_rule,
    mtls_rule,
    route_rule,
    authorization_rule,
    traffic_policy_rule,
    external_secret_rule,
)


def _idempotent_only(route: dict) -> bool:
    """Whether every match of the route names idempotent methods only (no match: every method)."""
    matches = route.get("match") or []
    if not matches:
        return False
    for match in matches:
        method = match.get("method") or {}
        if "exact" in method:
            names = {method["exact"]}
        elif "regex" in method:
            names = set(method["regex"].strip("^$()").split("|"))
        else:
            return False
        if not names or not names <= IDEMPOTENT_METHODS:
            return False
    return True


def rendered(values: dict[str, Any] | None = None, root: Path = REPO_ROOT) -> list[dict]:
    """The chart's objects rendered with ``values`` (for tests and for looking at it)."""
    objects, trouble = _render(root / CHART, values or {})
    if trouble:
        raise ValueError(trouble)
    return objects

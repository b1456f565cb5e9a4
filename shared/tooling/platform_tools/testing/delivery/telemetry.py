"""The compose stack's logs and traces (profile ``observability``), for the compose validator:

- Logstash: its ``pipelines.yml`` names pipelines that compose mounts, each parsed with the
  grammar of :mod:`.logstash` (a syntax error is reported with its file and line); a ``beats``
  input on the port Filebeat's ``output.logstash`` sends to; the ``ruby`` redaction filter's
  script mounted from the repository and its patterns the kit's own (``service_kit.redaction``:
  the shapes in order, the secret field names, the name parts); every event's data stream set
  from ``service.name``; an ``elasticsearch`` output to the stack's Elasticsearch, data streams
  on; only plugins bundled with Logstash.
- Kibana's data view (``compose/kibana/data-view.json``, posted by the ``kibana-setup``
  one-shot): it reads the data streams Logstash writes, and renders ``trace.id`` as a link to
  the trace in Jaeger's UI, at the address compose publishes it on.
- The OpenTelemetry Collector's config: every pipeline's receivers, processors and exporters
  are defined, ``memory_limiter`` runs first and ``batch`` after it, the OTLP receiver listens
  where the services' endpoint points, and the traces go to a service of the stack.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import yaml

from service_kit.redaction import SECRET_FIELDS, SECRET_NAME_PARTS, SECRET_SHAPES

from . import logstash
from .compose_files import COMPOSE_DIR, bind_mounts

FILEBEAT_CONFIG = COMPOSE_DIR / "filebeat/filebeat.yml"
DATA_VIEW = COMPOSE_DIR / "kibana/data-view.json"
COLLECTOR_CONFIG = COMPOSE_DIR / "otel-collector/config.yaml"
PIPELINES = "/usr/share/logstash/config/pipelines.yml"
#: Logstash's data streams for the platform's logs, and the data view that reads them.
DATA_STREAMS = "logs-platform.*"
SERVICE_FIELD = "%{[service][name]}"
#: The plugins a Logstash 8 image bundles (those this stack could use): a typo'd name or one
#: that needs installing is refused at startup.
BUNDLED = {
    "input": {"beats", "elastic_agent", "http", "tcp", "udp", "pipeline", "generator", "stdin"},
    "filter": {
        *("mutate", "ruby", "drop", "date", "grok", "dissect", "json", "kv", "prune"),
        *("fingerprint", "translate", "useragent", "geoip", "urldecode", "truncate", "split"),
    },
    "output": {"elasticsearch", "pipeline", "stdout", "file", "http"},
    "codec": {"json", "json_lines", "plain", "line", "rubydebug", "multiline"},
}


def check(root: Path, services: dict) -> list[str]:
    """Every problem of the logs' and traces' part of the stack (``services`` as
    docker-compose resolves them, every profile on)."""
    return (
        check_logstash(root, services)
        + check_data_view(root, services)
        + check_collector(root, services)
    )


# -- Logstash -------------------------------------------------------------------------------------
def check_logstash(root: Path, services: dict) -> list[str]:
    spec = services.get("logstash")
    if not isinstance(spec, dict):
        return ["service logstash is missing (Filebeat -> Logstash -> Elasticsearch)"]
    mounts = bind_mounts(root, spec)
    listing = _mounted(mounts, PIPELINES)
    if listing is None or not listing.is_file():
        return [f"logstash does not mount its pipelines.yml at {PIPELINES}"]
    try:
        entries = yaml.safe_load(listing.read_text()) or []
    except yaml.YAMLError as exc:
        return [f"logstash pipelines.yml: not YAML: {exc}"]
    pipelines: list[logstash.Pipeline] = []
    problems: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        target = str((entry or {}).get("path.config", ""))
        source = _mounted(mounts, target)
        if source is None or not source.is_file():
            problems.append(f"logstash pipeline {target or '?'} is not a file compose mounts")
            continue
        where = source.relative_to(root.resolve())
        try:
            pipelines.append(logstash.parse(source.read_text()))
        except logstash.LogstashSyntaxError as exc:
            problems.append(f"{where}: Logstash syntax error at {exc}")
    if not pipelines:
        return problems or ["logstash pipelines.yml names no pipeline"]
    plugins = [
        (kind, p) for pipe in pipelines for kind, _ in pipe.sections for p in pipe.plugins(kind)
    ]
    problems += _plugin_problems(plugins)
    problems += _beats_problems(root, [p for kind, p in plugins if kind == "input"])
    filters = [p for kind, p in plugins if kind == "filter"]
    problems += _redaction_problems(root, mounts, filters)
    problems += _routing_problems(filters)
    problems += _output_problems(services, [p for kind, p in plugins if kind == "output"])
    return problems


def _mounted(mounts: dict[str, Path], target: str) -> Path | None:
    """The repository's file at a container path: mounted there, or inside a mounted folder."""
    path = PurePosixPath(target)
    for mounted, source in mounts.items():
        if path == PurePosixPath(mounted):
            return source
        if PurePosixPath(mounted) in path.parents:
            return source / path.relative_to(mounted)
    return None


def _plugin_problems(plugins: list[tuple[str, logstash.Plugin]]) -> list[str]:
    problems = []
    for kind, plugin in plugins:
        if plugin.name not in BUNDLED[kind]:
            problems.append(f"logstash: line {plugin.line}: no {kind} plugin {plugin.name}")
        codec = plugin.get("codec")
        name = codec.name if isinstance(codec, logstash.Plugin) else getattr(codec, "word", codec)
        if codec is not None and name not in BUNDLED["codec"]:
            problems.append(f"logstash: line {plugin.line}: no codec {name}")
    return problems


def _beats_problems(root: Path, inputs: list[logstash.Plugin]) -> list[str]:
    try:
        filebeat = yaml.safe_load((root / FILEBEAT_CONFIG).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        return [f"{FILEBEAT_CONFIG}: {exc}"]
    hosts = ((filebeat.get("output.logstash") or {}).get("hosts")) or []
    if not hosts:
        return [f"{FILEBEAT_CONFIG}: Filebeat must send to Logstash (output.logstash)"]
    ports = {int(p.get("port", 0)) for p in inputs if p.name == "beats"}
    problems = []
    for host in hosts:
        name, _, port = str(host).partition(":")
        if name != "logstash" or int(port or 5044) not in ports:
            problems.append(
                f"{FILEBEAT_CONFIG}: sends to {host}, where no Logstash beats input listens"
            )
    return problems


def _redaction_problems(root: Path, mounts: dict[str, Path], filters: list) -> list[str]:
    """The ruby filter that takes secrets out: its script is the repository's, its patterns the
    kit's, so that what the services redact and what Logstash redacts cannot drift apart."""
    ruby = [p for p in filters if p.name == "ruby" and p.get("script_params")]
    if len(ruby) != 1:
        return ["logstash: the pipeline needs one ruby filter that redacts secrets (redact.rb)"]
    problems = []
    script = _mounted(mounts, str(ruby[0].get("path", "")))
    if script is None or not script.is_file():
        problems.append(f"logstash: the redaction script {ruby[0].get('path')} is not mounted")
    params = ruby[0].get("script_params") or {}
    expected = {
        "shapes": [shape.pattern for shape in SECRET_SHAPES.values()],
        "fields": sorted(SECRET_FIELDS),
        "name_parts": SECRET_NAME_PARTS.pattern,
    }
    for key, value in expected.items():
        given = params.get(key)
        if key == "fields" and isinstance(given, list):
            given = sorted(given)
        if given != value:
            problems.append(
                f"logstash: line {ruby[0].line}: script_params {key} is not the kit's "
                f"(service_kit.redaction): {value!r}"
            )
    return problems


def _routing_problems(filters: list[logstash.Plugin]) -> list[str]:
    """Each service's lines to a data stream of their own, named from service.name."""
    datasets = [
        str(value)
        for plugin in filters
        if plugin.name == "mutate"
        for action in ("replace", "add_field")
        for key, value in (plugin.get(action) or {}).items()
        if key == "[data_stream][dataset]"
    ]
    if not any(SERVICE_FIELD in dataset for dataset in datasets):
        return [
            f"logstash: no filter routes by service.name ([data_stream][dataset] {SERVICE_FIELD})"
        ]
    if not all(dataset.startswith("platform.") for dataset in datasets):
        return [f"logstash: every dataset must be platform.* (Kibana's data view: {DATA_STREAMS})"]
    return []


def _output_problems(services: dict, outputs: list[logstash.Plugin]) -> list[str]:
    elastic = [p for p in outputs if p.name == "elasticsearch"]
    if not elastic:
        return ["logstash: no elasticsearch output"]
    problems = []
    for plugin in elastic:
        hosts = plugin.get("hosts") or []
        for host in hosts if isinstance(hosts, list) else [hosts]:
            if urlsplit(str(host)).hostname not in services:
                problems.append(
                    f"logstash: line {plugin.line}: {host} is not a service of the stack"
                )
        if str(plugin.get("data_stream")).lower() != "true":
            problems.append(f"logstash: line {plugin.line}: data_stream must be on")
    return problems


# -- Kibana ---------------------------------------------------------------------------------------
def check_data_view(root: Path, services: dict) -> list[str]:
    setup = services.get("kibana-setup")
    if not isinstance(setup, dict):
        return ["service kibana-setup is missing (it provisions Kibana's data view)"]
    try:
        view = json.loads((root / DATA_VIEW).read_text())["data_view"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{DATA_VIEW}: {exc}"]
    problems = []
    if view.get("title") != DATA_STREAMS:
        problems.append(f"{DATA_VIEW}: the data view must read {DATA_STREAMS}")
    if not view.get("timeFieldName"):
        problems.append(f"{DATA_VIEW}: the data view needs its time field (@timestamp)")
    trace = (view.get("fieldFormats") or {}).get("trace.id") or {}
    template = str((trace.get("params") or {}).get("urlTemplate", ""))
    if trace.get("id") != "url" or not template.endswith("/trace/{{value}}"):
        problems.append(f"{DATA_VIEW}: trace.id must be a url link to <Jaeger>/trace/{{{{value}}}}")
    environment = setup.get("environment") or {}
    jaeger = urlsplit(str(environment.get("JAEGER_URL", "")))
    published = {
        str(port.get("published")) if isinstance(port, dict) else str(port).split(":")[-2]
        for port in (services.get("jaeger") or {}).get("ports") or ()
    }
    if jaeger.hostname not in ("localhost", "127.0.0.1") or str(jaeger.port) not in published:
        problems.append("kibana-setup: JAEGER_URL must be where compose publishes Jaeger's UI")
    return problems


# -- the OpenTelemetry Collector ------------------------------------------------------------
def check_collector(root: Path, services: dict) -> list[str]:
    spec = services.get("otel-collector")
    if not isinstance(spec, dict):
        return ["service otel-collector is missing"]
    if (root / COLLECTOR_CONFIG).resolve() not in bind_mounts(root, spec).values():
        return [f"otel-collector does not mount {COLLECTOR_CONFIG}"]
    try:
        config = yaml.safe_load((root / COLLECTOR_CONFIG).read_text()) or {}
    except yaml.YAMLError as exc:
        return [f"{COLLECTOR_CONFIG}: not YAML: {exc}"]
    service = config.get("service") or {}
    pipelines = service.get("pipelines") or {}
    if "traces" not in pipelines:
        return [f"{COLLECTOR_CONFIG}: no traces pipeline"]
    problems = [
        f"{COLLECTOR_CONFIG}: extension {name} is not defined"
        for name in service.get("extensions") or ()
        if name not in (config.get("extensions") or {})
    ]
    for name, pipeline in pipelines.items():
        problems += _collector_pipeline(config, name, pipeline or {})
    problems += _collector_endpoints(config, pipelines["traces"] or {}, services)
    return problems


def _collector_pipeline(config: dict, name: str, pipeline: dict) -> list[str]:
    problems = []
    for part in ("receivers", "processors", "exporters"):
        used = pipeline.get(part) or []
        if not used and part != "processors":
            problems.append(f"{COLLECTOR_CONFIG}: pipeline {name} has no {part}")
        for component in used:
            if component not in (config.get(part) or {}):
                problems.append(
                    f"{COLLECTOR_CONFIG}: pipeline {name} uses {component}, not in {part}"
                )
    kinds = [str(p).split("/")[0] for p in pipeline.get("processors") or []]
    if kinds[:1] != ["memory_limiter"]:
        problems.append(f"{COLLECTOR_CONFIG}: pipeline {name} must run memory_limiter first")
    if "batch" not in kinds:
        problems.append(f"{COLLECTOR_CONFIG}: pipeline {name} must batch")
    return problems


def _collector_endpoints(config: dict, traces: dict, services: dict) -> list[str]:
    """OTLP/HTTP in on 4318 (http://otel-collector:4318, the services' endpoint); out to a
    service of the stack."""
    problems = []
    receivers = config.get("receivers") or {}
    http = [
        ((receivers.get(r) or {}).get("protocols") or {}).get("http") or {}
        for r in traces.get("receivers") or ()
    ]
    if not any(str(h.get("endpoint", "")).endswith(":4318") for h in http):
        problems.append(
            f"{COLLECTOR_CONFIG}: no OTLP/HTTP receiver on :4318 in the traces pipeline"
        )
    for name in traces.get("exporters") or ():
        endpoint = str(((config.get("exporters") or {}).get(name) or {}).get("endpoint", ""))
        host = re.sub(r"^[a-z]+://", "", endpoint).split(":")[0].split("/")[0]
        if host not in services:
            problems.append(
                f"{COLLECTOR_CONFIG}: exporter {name} sends to {host or '?'}, not a service"
            )
    return problems

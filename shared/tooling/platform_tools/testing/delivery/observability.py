"""The observability validator: alert rules, their unit tests and runbooks, Grafana dashboards.

Read with the real tool where there is one:

- ``charts/platform/files/prometheus/alerts.yml``: ``promtool check rules`` (duplicate rules are
  errors); every alert has a ``severity`` label, a ``summary`` and a ``description``, and a
  ``runbook_url`` ending in ``shared/runbooks/<AlertName>.md``, a file that exists. The runbooks'
  ``README.md`` links every runbook; a runbook with no alert is stale.
- ``*.test.yml`` beside it: ``promtool test rules``; every alert is tested both firing (an
  expected alert) and quiet (no alert expected at some evaluation time).
- ``charts/platform/files/grafana/dashboards/*.json``: JSON with a ``uid`` (unique across the
  files) and a ``title``; every panel but rows has targets, each with a PromQL ``expr`` that
  promtool parses (as a recording rule, Grafana's variables replaced by sample values); a
  quantile of a histogram shows its exemplars (``"exemplar": true``), so that a slow bucket
  links to its trace.
- Every metric name an alert or a panel reads is one the platform exports: declared with
  prometheus_client in the services and the kit, or by django-prometheus, or one of
  :data:`EXTERNAL_METRICS`. A renamed metric fails here, not silently on a dashboard.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from service_kit.conf import REPO_ROOT
from service_kit.platform import SERVICES

PROMETHEUS = Path("charts/platform/files/prometheus")
ALERTS = PROMETHEUS / "alerts.yml"
DASHBOARDS = Path("charts/platform/files/grafana/dashboards")
RUNBOOKS = Path("shared/runbooks")
#: Folders whose Python code declares the platform's metrics (tests excluded).
CODE = ("shared/service_kit", *(service.path.name for service in SERVICES))
SEVERITIES = ("critical", "warning", "info")
#: Series that Prometheus or another exporter makes: ``up`` for every target, and RabbitMQ's own
#: exporter (rabbitmq_prometheus with per-object metrics: one series per queue).
EXTERNAL_METRICS = frozenset(
    {
        "up",
        "rabbitmq_queue_messages",
        "rabbitmq_queue_messages_ready",
        "rabbitmq_queue_messages_unacked",
        "rabbitmq_queue_consumers",
    }
)
#: Sample values for Grafana's variables, so that a panel's query parses as PromQL.
GRAFANA_DURATIONS = {"__rate_interval", "__interval", "__range"}
TIMEOUT = 120
UNKNOWN = "a metric the platform does not export"

# prometheus_client's classes, and the sample names each gives a declared name.
_SUFFIXES = {
    "Counter": ("_total",),
    "CounterMetricFamily": ("_total",),
    "Gauge": ("",),
    "GaugeMetricFamily": ("",),
    "Histogram": ("_bucket", "_count", "_sum"),
    "HistogramMetricFamily": ("_bucket", "_count", "_sum"),
    "Summary": ("_count", "_sum"),
    "SummaryMetricFamily": ("_count", "_sum"),
    "Info": ("_info",),
    "Enum": ("",),
}
_PROMQL_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left"}
    | {"group_right", "offset", "inf", "nan"}
)


def check(root: Path = REPO_ROOT) -> list[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        return ["observability: promtool is not installed (make tools)"]
    known = known_metrics(root)
    problems: list[str] = []
    alerts = _check_alerts(root, promtool, known, problems)
    _check_unit_tests(root, promtool, alerts, problems)
    _check_runbooks(root, alerts, problems)
    _check_dashboards(root, promtool, known, problems)
    return problems


# -- alert rules -----------------------------------------------------------------------------------
def _check_alerts(root: Path, promtool: str, known: set[str], problems: list[str]) -> set[str]:
    """Checks alerts.yml; returns the alert names it defines."""
    path = root / ALERTS
    if not path.is_file():
        problems.append(f"{ALERTS}: missing")
        return set()
    result = _run([promtool, "check", "rules", "--lint-fatal", str(path)], root)
    if result.returncode:
        problems.append(f"{ALERTS}: promtool check rules failed:\n{_output(result, path)}")
    try:
        groups = (yaml.safe_load(path.read_text()) or {}).get("groups") or []
    except yaml.YAMLError as exc:
        problems.append(f"{ALERTS}: not YAML: {exc}")
        return set()
    names: set[str] = set()
    for group in groups:
        for rule in group.get("rules") or []:
            name = rule.get("alert")
            if name:
                names.add(name)
                problems += _alert_problems(root, name, rule, known)
    if not names:
        problems.append(f"{ALERTS}: defines no alert")
    return names


def _alert_problems(root: Path, name: str, rule: dict, known: set[str]) -> list[str]:
    """One alert: a known severity, its annotations, its runbook, metrics that exist."""
    where = f"{ALERTS}: alert {name}"
    problems = []
    severity = (rule.get("labels") or {}).get("severity")
    if severity not in SEVERITIES:
        problems.append(f"{where}: severity label is {severity!r}, not one of {SEVERITIES}")
    annotations = rule.get("annotations") or {}
    for key in ("summary", "description", "runbook_url"):
        if not str(annotations.get(key) or "").strip():
            problems.append(f"{where}: no {key} annotation")
    url = str(annotations.get("runbook_url") or "")
    expected = f"{RUNBOOKS.as_posix()}/{name}.md"
    if url and not url.endswith("/" + expected):
        problems.append(f"{where}: runbook_url {url!r} does not end in {expected}")
    elif url and not (root / expected).is_file():
        problems.append(f"{where}: its runbook {expected} does not exist")
    for metric in sorted(metric_names(str(rule.get("expr", ""))) - known):
        problems.append(f"{where}: reads {metric}, {UNKNOWN}")
    return problems


def _check_unit_tests(root: Path, promtool: str, alerts: set[str], problems: list[str]) -> None:
    tests = sorted((root / PROMETHEUS).glob("*.test.yml"))
    if not tests:
        problems.append(f"{PROMETHEUS}: no promtool unit tests (*.test.yml)")
        return
    result = _run([promtool, "test", "rules", *map(str, tests)], root)
    if result.returncode:
        problems.append(f"{PROMETHEUS}: promtool test rules failed:\n{_output(result, root)}")
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in tests:
        try:
            suite = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            continue  # promtool has said so
        for test in suite.get("tests") or []:
            for case in test.get("alert_rule_test") or []:
                (firing if case.get("exp_alerts") else quiet).add(case.get("alertname"))
    for name in sorted(alerts - firing):
        problems.append(f"{PROMETHEUS}: no unit test shows alert {name} firing")
    for name in sorted(alerts - quiet):
        problems.append(f"{PROMETHEUS}: no unit test shows alert {name} staying quiet")


def _check_runbooks(root: Path, alerts: set[str], problems: list[str]) -> None:
    folder = root / RUNBOOKS
    index = folder / "README.md"
    if not index.is_file():
        problems.append(f"{RUNBOOKS}/README.md: missing (the index of the runbooks)")
    else:
        text = index.read_text()
        for name in sorted(alerts):
            if f"({name}.md)" not in text:
                problems.append(f"{RUNBOOKS}/README.md: does not link {name}.md")
    for path in sorted(folder.glob("*.md")):
        if path.name != "README.md" and path.stem not in alerts:
            problems.append(f"{RUNBOOKS}/{path.name}: no alert named {path.stem} (stale runbook)")


# -- dashboards ------------------------------------------------------------------------------------
def _check_dashboards(root: Path, promtool: str, known: set[str], problems: list[str]) -> None:
    files = sorted((root / DASHBOARDS).glob("*.json"))
    if not files:
        problems.append(f"{DASHBOARDS}: no dashboards")
        return
    uids: dict[str, str] = {}  # uid: the file that has it
    queries: list[tuple[str, str]] = []  # (where, expr)
    for path in files:
        where = f"{DASHBOARDS}/{path.name}"
        try:
            board = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not JSON: {exc}")
            continue
        if not isinstance(board, dict):
            problems.append(f"{where}: not a dashboard object")
            continue
        problems += _identity_problems(board, where, path.name, uids)
        queries += _board_queries(board, where, problems)
    for name, expr in queries:
        for metric in sorted(metric_names(_sample(expr)) - known):
            problems.append(f"{name}: reads {metric}, {UNKNOWN}")
    _parse_queries(root, promtool, queries, problems)


def _identity_problems(board: dict, where: str, filename: str, uids: dict[str, str]) -> list[str]:
    """A dashboard's title and uid, the uid unique among the files (recorded in ``uids``)."""
    problems = []
    uid = board.get("uid")
    if not uid:
        problems.append(f"{where}: no uid")
    elif uid in uids:
        problems.append(f"{where}: uid {uid!r} is also {uids[uid]}'s")
    else:
        uids[uid] = filename
    if not board.get("title"):
        problems.append(f"{where}: no title")
    return problems


def _board_queries(board: dict, where: str, problems: list[str]) -> list[tuple[str, str]]:
    """The PromQL of a dashboard's panels and query variables, as ``(where, expr)``; a board
    without panels, a panel without targets or a target without expr is a problem."""
    panels = [panel for panel in _panels(board.get("panels") or []) if panel.get("type") != "row"]
    if not panels:
        problems.append(f"{where}: no panels")
    queries = []
    for panel in panels:
        name = f"{where}: panel {panel.get('title')!r}"
        targets = [t for t in panel.get("targets") or [] if not t.get("hide")]
        if not targets:
            problems.append(f"{name}: no targets")
        for target in targets:
            expr = str(target.get("expr") or "").strip()
            if expr:
                queries.append((f"{name} ({target.get('refId')})", expr))
            else:
                problems.append(f"{name}: target {target.get('refId')} has no expr")
            if "histogram_quantile" in expr and "_bucket" in expr and not target.get("exemplar"):
                problems.append(
                    f"{name}: target {target.get('refId')} is a latency quantile without its "
                    'exemplars ("exemplar": true: the link from a slow bucket to its trace)'
                )
    for variable in (board.get("templating") or {}).get("list") or []:
        expr = _variable_query(variable)
        if expr:
            queries.append((f"{where}: variable {variable.get('name')!r}", expr))
    return queries


def _variable_query(variable: dict) -> str | None:
    """The PromQL inside a query variable's ``label_values(<expr>, label)`` or
    ``query_result(<expr>)``; None for other variables."""
    if variable.get("type") != "query":
        return None
    query = variable.get("query")
    text = str(query.get("query") if isinstance(query, dict) else query or "").strip()
    match = re.fullmatch(r"label_values\((.+),\s*\w+\s*\)|query_result\((.+)\)", text, re.S)
    return (match.group(1) or match.group(2)).strip() if match else None


def _panels(panels: list):
    """Every panel, those inside collapsed rows included."""
    for panel in panels:
        if isinstance(panel, dict):
            yield panel
            yield from _panels(panel.get("panels") or [])


def _sample(expr: str) -> str:
    """``expr`` with Grafana's variables replaced: durations by 5m, the others by a plain value."""

    def value(match: re.Match) -> str:
        return "5m" if match.group(1) in GRAFANA_DURATIONS else "x"

    return re.sub(r"\$\{?(\w+)(?::\w+)?\}?", value, expr)


def _parse_queries(root, promtool: str, queries: list[tuple[str, str]], problems: list[str]):
    """Parses every panel query with promtool: one recording rule per query, in a group named
    after the panel, so that promtool's error names it."""
    if not queries:
        return
    groups = [
        {"name": where, "rules": [{"record": "dashboard:query", "expr": _sample(expr)}]}
        for where, expr in queries
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dashboard-queries.yml"
        path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        result = _run([promtool, "check", "rules", "--lint=none", str(path)], root)
        if result.returncode:
            problems.append(
                f"{DASHBOARDS}: queries promtool cannot parse:\n{_output(result, path)}"
            )


# -- metric names ----------------------------------------------------------------------------------
def metric_names(expr: str) -> set[str]:
    """The metric names a (valid) PromQL expression reads.

    Strings, label matchers, grouping labels and durations are dropped; what is left are
    identifiers, which are functions and aggregations (followed by ``(``), keywords, or metric
    names."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text, flags=re.I
    )
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", text, flags=re.I)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?", text):
        name, call = match.groups()
        if not call and name.lower() not in _PROMQL_KEYWORDS:
            names.add(name)
    return names


def known_metrics(root: Path) -> set[str]:
    """Every series name the platform exports: the metrics its code declares with
    prometheus_client, django-prometheus's, and :data:`EXTERNAL_METRICS`."""
    files = [
        path
        for folder in CODE
        for path in (root / folder).rglob("*.py")
        if "tests" not in path.relative_to(root).parts
    ]
    spec = importlib.util.find_spec("django_prometheus")
    if spec and spec.submodule_search_locations:
        files += Path(next(iter(spec.submodule_search_locations))).rglob("*.py")
    names = set(EXTERNAL_METRICS)
    for path in files:
        text = path.read_text(errors="replace")
        if "prometheus_client" not in text:
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for kind, name in _declarations(tree):
            base = name.removesuffix("_total") if kind.startswith("Counter") else name
            names.update(base + suffix for suffix in _SUFFIXES[kind])
    return names


def _declarations(tree: ast.AST):
    """(class, name) of each metric declared: ``Counter("name", ...)``, or the class passed along
    with the name (django-prometheus's ``register_metric(Counter, "name", ...)``)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        args = node.args
        func = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        if func in _SUFFIXES and args and _string(args[0]):
            yield func, args[0].value
            continue
        for first, second in itertools.pairwise(args):
            if isinstance(first, ast.Name) and first.id in _SUFFIXES and _string(second):
                yield first.id, second.value


def _string(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


# -- helpers ---------------------------------------------------------------------------------------
def _run(command: list[str], root: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=TIMEOUT)  # noqa: S603 - argv built by this module's callers, no shell
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(command, 1, "", f"timed out after {TIMEOUT} s")


def _output(result: subprocess.CompletedProcess, path: Path) -> str:
    """promtool's report, indented, without the lines that only say what it is checking."""
    lines = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and not line.startswith(("Checking ", "Unit Testing: "))
    ]
    return "\n".join("       " + line.replace(str(path), path.name) for line in lines)

"""The observability validator passes on the repository and fails on each breakage the issue
names; the metric names it knows are the ones a running service really exports."""

from __future__ import annotations

import json
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from copies import edit

from platform_tools.testing.delivery import observability
from platform_tools.testing.processes import wait_for
from service_kit.conf import REPO_ROOT
from service_kit.platform import BY_NAME

ALERTS = observability.ALERTS
UNIT_TESTS = observability.PROMETHEUS / "alerts.test.yml"
HTTP_BOARD = observability.DASHBOARDS / "platform-http.json"
RUNBOOKS = observability.RUNBOOKS


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """What the validator reads: the chart's observability files, the runbooks, and the Python
    code that declares the platform's metrics."""
    for folder in (observability.PROMETHEUS, observability.DASHBOARDS, RUNBOOKS):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    for folder in observability.CODE:
        for path in (REPO_ROOT / folder).rglob("*.py"):
            relative = path.relative_to(REPO_ROOT)
            if "tests" not in relative.parts:
                (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, tmp_path / relative)
    return tmp_path


def test_the_repository_passes():
    assert observability.check(REPO_ROOT) == []


def test_an_unbroken_copy_passes(tree):
    assert observability.check(tree) == []


SERVICE_DOWN_EXPR = 'max by (service, component) (up{service!="", component!=""} == 0)'
RUNBOOK_LINE = (
    "          runbook_url: https://github.com/commerce-platform/platform/blob/main/shared/"
    "runbooks/OutboxLag.md\n"
)


@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        pytest.param(
            ALERTS,
            SERVICE_DOWN_EXPR,
            'max by (service, component) (up{service!=""} == 0',
            "promtool check rules failed",
            id="alert-bad-promql",
        ),
        pytest.param(
            ALERTS,
            "max by (service) (outbox_oldest_pending_seconds) > 60",
            "max by (service) (outbox_oldest_pending_seconds) > 600",
            "promtool test rules failed",
            id="alert-unit-test-fails",
        ),
        pytest.param(
            ALERTS,
            RUNBOOK_LINE,
            "",
            "alert OutboxLag: no runbook_url annotation",
            id="alert-without-runbook",
        ),
        pytest.param(
            ALERTS,
            "shared/runbooks/OutboxLag.md",
            "docs/OutboxLag.md",
            "runbook_url 'https://github.com/commerce-platform/platform/blob/main/docs/"
            "OutboxLag.md' does not end in shared/runbooks/OutboxLag.md",
            id="runbook-url-elsewhere",
        ),
        pytest.param(
            ALERTS,
            "          severity: critical\n",
            "",
            "alert ServiceDown: severity label is None",
            id="alert-without-severity",
        ),
        pytest.param(
            ALERTS,
            'rate(celery_tasks_total{state="failure"}[10m])',
            "rate(celery_task_failures_total[10m])",
            "alert CeleryTaskFailures: reads celery_task_failures_total, a metric the platform "
            "does not export",
            id="alert-unknown-metric",
        ),
        pytest.param(
            UNIT_TESTS,
            "      - eval_time: 3m\n        alertname: ServiceDown\n        exp_alerts:\n",
            "      - eval_time: 1m\n        alertname: ServiceDown\n        exp_alerts:\n",
            "promtool test rules failed",
            id="unit-test-expects-too-early",
        ),
        pytest.param(
            RUNBOOKS / "README.md",
            "(DeadLetters.md)",
            "(dead-letters.md)",
            "README.md: does not link DeadLetters.md",
            id="runbook-not-indexed",
        ),
        pytest.param(
            HTTP_BOARD,
            '"uid": "platform-http"',
            '"uid": "platform-http",',
            "platform-http.json: not JSON",
            id="dashboard-invalid-json",
        ),
        pytest.param(
            HTTP_BOARD,
            '"uid": "platform-http"',
            '"uid": "platform-messaging"',
            "uid 'platform-messaging' is also",
            id="dashboard-duplicate-uid",
        ),
        pytest.param(
            HTTP_BOARD,
            '"uid": "platform-http"',
            '"uid": ""',
            "platform-http.json: no uid",
            id="dashboard-without-uid",
        ),
        pytest.param(
            HTTP_BOARD,
            "sum(rate(gateway_limits_errors_total[$__rate_interval]))",
            "sum(rate(gateway_limits_errors_total))",
            'panel \'Shared cache failures\' (A)", rule 1, "dashboard:query": could not parse',
            id="dashboard-bad-promql",
        ),
        pytest.param(
            HTTP_BOARD,
            "sum(rate(gateway_limits_errors_total[$__rate_interval]))",
            "sum(rate(gateway_limit_errors_total[$__rate_interval]))",
            "panel 'Shared cache failures' (A): reads gateway_limit_errors_total, a metric the "
            "platform does not export",
            id="dashboard-unknown-metric",
        ),
        pytest.param(
            Path("order_service/orders/metrics.py"),
            '"order_reconciliation_mismatches_total"',
            '"order_mismatches_total"',
            "alert ReconciliationMismatches: reads order_reconciliation_mismatches_total",
            id="metric-renamed-in-code",
        ),
    ],
)
def test_a_breakage_is_reported(tree, path, old, new, expected):
    edit(tree / path, old, new)
    problems = observability.check(tree)
    assert any(expected in problem for problem in problems), problems


def test_a_missing_runbook_is_reported(tree):
    (tree / RUNBOOKS / "DeadLetters.md").unlink()
    assert "alert DeadLetters: its runbook shared/runbooks/DeadLetters.md does not exist" in (
        "\n".join(observability.check(tree))
    )


def test_a_stale_runbook_is_reported(tree):
    (tree / RUNBOOKS / "DiskFull.md").write_text("# DiskFull\n")
    assert any("DiskFull.md: no alert named DiskFull" in p for p in observability.check(tree))


def test_an_alert_without_unit_tests_is_reported(tree):
    edit(
        tree / ALERTS,
        "  - name: platform.http\n    rules:\n",
        "  - name: platform.http\n    rules:\n"
        "      - alert: MetricsMissing\n"
        "        expr: absent(up)\n"
        "        labels: {severity: warning}\n"
        "        annotations:\n"
        "          summary: no target at all\n"
        "          description: Prometheus scrapes nothing.\n"
        "          runbook_url: https://example.org/shared/runbooks/ServiceDown.md\n",
    )
    problems = observability.check(tree)
    assert f"{observability.PROMETHEUS}: no unit test shows alert MetricsMissing firing" in problems
    assert f"{observability.PROMETHEUS}: no unit test shows alert MetricsMissing staying quiet" in (
        problems
    )
    assert any("alert MetricsMissing: runbook_url" in p for p in problems), problems


def test_a_latency_panel_without_exemplars_is_reported(tree):
    edit(tree / HTTP_BOARD, '"exemplar": true', '"exemplar": false')
    problems = observability.check(tree)
    assert any("is a latency quantile without its exemplars" in p for p in problems), problems


def test_a_panel_without_targets_is_reported(tree):
    board_path = tree / HTTP_BOARD
    board = json.loads(board_path.read_text())
    panel = next(p for p in board["panels"] if p["title"] == "Shared cache failures")
    panel["targets"] = []
    board_path.write_text(json.dumps(board))
    assert any("panel 'Shared cache failures': no targets" in p for p in observability.check(tree))


def test_a_variable_reading_an_unknown_metric_is_reported(tree):
    board_path = tree / HTTP_BOARD
    board_path.write_text(board_path.read_text().replace("label_values(up{", "label_values(upp{"))
    assert (
        f"{HTTP_BOARD}: variable 'service': reads upp, a metric the platform does not export"
        in observability.check(tree)
    )


def test_a_missing_promtool_is_a_problem(tree, monkeypatch):
    monkeypatch.setattr(observability.shutil, "which", lambda name: None)
    assert observability.check(tree) == ["observability: promtool is not installed (make tools)"]


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (service) (rate(a_total{status=~"5.."}[5m]))', {"a_total"}),
        ("histogram_quantile(0.99, sum by (le) (rate(b_bucket[5m]))) > 1", {"b_bucket"}),
        ('label_replace(q, "service", "$1", "queue", "([a-z]+)\\\\..*") > 500', {"q"}),
        ("x unless x offset 15m and on (service, component) (up offset 15m == 1)", {"x", "up"}),
        ("sum(rate(a[5m])) / sum(rate(b[5m])) and sum(c) >= 3", {"a", "b", "c"}),
        ("topk(10, max without (instance) (g)) * 60", {"g"}),
    ],
)
def test_metric_names_of_an_expression(expr, names):
    assert observability.metric_names(expr) == names


def scrape(url: str) -> set[str]:
    """The series names of one ``/metrics`` answer."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as response:
        body = response.read().decode()
    return set(re.findall(r"^([a-zA-Z_:][\w:]*)[{ ]", body, re.M))


def test_the_known_metrics_are_what_a_running_service_exports(harness_factory):
    """Scrape a real gateway and order_service (web and worker, multiprocess metrics as in
    production): every series they export is one the validator knows."""
    harness = harness_factory("embedded")
    gateway = harness.start_web(BY_NAME["gateway"], wait=False).wait_http("/healthz")
    order = harness.start_web(BY_NAME["order"])
    harness.start_worker(BY_NAME["order"])
    with pytest.raises(urllib.error.HTTPError):  # a routed request, its upstream not running
        urllib.request.urlopen(f"{gateway.url}/api/v1/products/", timeout=30)
    # The worker shares order's metrics folder: its task counts show on the web's /metrics once
    # beat's first outbox sweep has run.
    wait_for(
        lambda: "celery_tasks_total" in scrape(order.url),
        60,
        interval=0.5,
        what="the worker's task metrics",
    )
    scraped = scrape(gateway.url) | scrape(order.url)
    assert {
        "django_http_responses_total_by_status_total",
        "django_http_requests_latency_seconds_by_view_method_bucket",
        "gateway_requests_total",
        "celery_tasks_total",
        "celery_task_duration_seconds_bucket",
        "outbox_oldest_pending_seconds",
    } <= scraped
    assert scraped - observability.known_metrics(REPO_ROOT) == set()

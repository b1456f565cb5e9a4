"""Operations on real processes: /healthz, /readyz, /metrics, ECS logs and request ids."""

from __future__ import annotations

import json
import urllib.request

import pytest
from kit import kit_env, kit_service

from platform_tools.testing.client import post_json
from platform_tools.testing.processes import free_port, wait_for

NOTES, ALPHA = kit_service("notes"), kit_service("alpha")


def get(url: str, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def log_lines(proc) -> list[dict]:
    lines = []
    for line in proc.log.read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    from platform_tools.testing import backing
    from platform_tools.testing.processes import Harness

    backing.require("postgres", "rabbitmq", "redis")
    harness = Harness(
        tmp_path_factory.mktemp("ops"), profile="real", broker_url=backing.create_vhost()
    )
    try:
        web = harness.start_web(NOTES, **kit_env("notes", ""))
        harness.start_worker(NOTES, **kit_env("notes", ""))
        harness.migrate(ALPHA, **kit_env("alpha"))
        alpha = harness.start_worker(ALPHA, beat=False, **kit_env("alpha"))
        yield harness, web, alpha
    finally:
        harness.cleanup()


def test_health_and_readiness_on_the_real_profile(running):
    _, web, _ = running
    status, _, body = get(f"{web.url}/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok", "service": "notes"}
    status, _, body = get(f"{web.url}/readyz")
    ready = json.loads(body)
    assert status == 200 and ready["failed"] == []
    assert {name for name, check in ready["checks"].items() if check["ok"]} == {
        "database",
        "cache",
        "broker",
    }


def test_each_request_logs_one_ecs_line_with_its_request_id(running):
    _, web, _ = running
    status, headers, _ = get(f"{web.url}/api/v1/notes/", {"X-Request-ID": "ops-req-1"})
    assert status == 200 and headers["X-Request-ID"] == "ops-req-1"
    status, headers, _ = get(f"{web.url}/api/v1/notes/")
    made = headers["X-Request-ID"]
    assert len(made) == 32  # made when the caller sent none

    def access_lines(request_id):
        return [
            line
            for line in log_lines(web)
            if line.get("message") == "http.request"
            and line.get("http", {}).get("request", {}).get("id") == request_id
        ]

    line = wait_for(lambda: access_lines("ops-req-1"), what="the access log line")
    assert len(line) == 1
    assert line[0]["service"]["name"] == "notes"
    assert line[0]["url"]["path"] == "/api/v1/notes/"
    assert line[0]["http"]["response"]["status_code"] == 200
    assert line[0]["ecs.version"]
    assert len(wait_for(lambda: access_lines(made), what="the second line")) == 1


def test_request_id_travels_into_the_consumers_task(running):
    _, web, alpha = running
    status, _, _ = post_json(
        f"{web.url}/api/v1/notes/", {"text": "traced"}, {"X-Request-ID": "ops-trace-7"}
    )
    assert status == 201

    def traced():
        return [
            line
            for line in log_lines(alpha)
            if line.get("http", {}).get("request", {}).get("id") == "ops-trace-7"
            and line.get("service", {}).get("name") == "alpha"
        ]

    assert wait_for(traced, what="alpha's log lines with the request id")


def test_metrics_expose_http_and_celery_metrics(running):
    _, web, _ = running
    get(f"{web.url}/api/v1/notes/")

    def scrape():
        status, headers, body = get(f"{web.url}/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        text = body.decode()
        # the worker's sweep runs every second: its counts reach the web's /metrics
        return (
            text
            if 'celery_tasks_total{state="success",task="service_kit.outbox_sweep"}' in text
            else None
        )

    text = wait_for(scrape, what="celery task counts on /metrics")
    assert "django_http_requests_total_by_method_total" in text
    assert "celery_task_duration_seconds_bucket" in text
    assert "outbox_pending_messages" in text
    assert "outbox_oldest_pending_seconds" in text


def test_readiness_names_what_failed(harness_factory):
    harness = harness_factory("real")
    dead = free_port()
    web = harness.start_web(
        NOTES,
        wait=False,
        **kit_env(
            "notes",
            "",
            CACHE_URL=f"redis://127.0.0.1:{dead}/0",
            CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{dead}//",
        ),
    )
    web.wait_http("/healthz")
    status, _, body = get(f"{web.url}/readyz")
    ready = json.loads(body)
    assert status == 503
    assert ready["status"] == "unavailable"
    assert ready["failed"] == ["cache"]  # the broker is only "degraded" (next test)
    assert ready["degraded"] == ["broker"]
    assert ready["checks"]["database"]["ok"] is True


def test_a_broker_outage_leaves_the_service_ready_but_degraded(harness_factory):
    """The outbox buffers what the service publishes: taking it out of rotation would turn a
    broker blip into an outage. Liveness never asks the broker."""
    harness = harness_factory("real")
    dead = free_port()
    web = harness.start_web(
        NOTES,
        wait=False,
        **kit_env("notes", "", CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{dead}//"),
    )
    web.wait_http("/healthz")
    status, _, body = get(f"{web.url}/readyz")
    ready = json.loads(body)
    assert status == 200, ready
    assert ready["status"] == "degraded" and ready["failed"] == []
    assert ready["degraded"] == ["broker"]
    assert ready["checks"]["broker"]["ok"] is False
    assert ready["checks"]["database"]["ok"] and ready["checks"]["cache"]["ok"]
    status, _, body = get(f"{web.url}/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"

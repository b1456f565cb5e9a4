"""Prometheus watching the platform: every target scraped and up, and the platform's own
``ServiceDown`` rule firing for a service whose web process has stopped. (Runs last: it stops a
service.)"""

from __future__ import annotations

from conftest import wait_for

from service_kit.platform import SERVICES

#: The service stopped here: nothing after this test needs its web process.
STOPPED = "user"


def targets(stack) -> dict[tuple[str, str], dict]:
    return {
        (target["labels"]["service"], target["labels"]["component"]): target
        for target in stack.prometheus_api("targets", state="active")["activeTargets"]
    }


def services_with(stack, selector: str) -> set[str]:
    answer = stack.prometheus_api("query", query=f"count by (service) ({selector})")
    return {result["metric"]["service"] for result in answer["result"]}


def test_prometheus_scrapes_every_service_and_finds_it_up(stack):
    expected = {(service.name, "web") for service in SERVICES} | {
        (service.name, "worker") for service in SERVICES if service.worker
    }
    # Prometheus applies a new target list every few seconds; then each target's first scrape.
    found = wait_for(
        lambda: (
            (t := targets(stack)).keys() == expected
            and all(target["health"] == "up" for target in t.values())
            and t
        ),
        timeout=30,
        what="every target up",
    )
    for (service, component), target in found.items():
        proc = (stack.web if component == "web" else stack.workers)[service]
        assert target["scrapeUrl"] == f"{proc.url}/metrics"
    # and what they say arrives: each web process's requests, each worker's tasks
    assert services_with(stack, 'django_http_requests_total_by_method_total{component="web"}') == {
        s.name for s in SERVICES
    }
    assert services_with(stack, 'celery_tasks_total{component="worker"}') == {
        s.name for s in SERVICES if s.worker
    }
    # nothing is down while everything runs
    alerts = stack.prometheus_api("alerts")["alerts"]
    assert [a for a in alerts if a["labels"]["alertname"] == "ServiceDown"] == []


def test_a_stopped_service_fires_service_down(stack):
    stack.web[STOPPED].stop()

    def firing() -> list[dict] | None:
        """Every ServiceDown alert, once one of them fires (the others may be pending)."""
        alerts = stack.prometheus_api("alerts")["alerts"]
        down = [a for a in alerts if a["labels"]["alertname"] == "ServiceDown"]
        return down if any(a["state"] == "firing" for a in down) else None

    alerts = wait_for(
        firing,
        timeout=60,
        interval=1,
        what="ServiceDown to fire",
    )
    assert [(a["labels"]["service"], a["labels"]["component"], a["state"]) for a in alerts] == [
        (STOPPED, "web", "firing")
    ]
    assert alerts[0]["labels"]["severity"] == "critical"
    assert alerts[0]["annotations"]["runbook_url"].endswith("/ServiceDown.md")
    assert targets(stack)[(STOPPED, "web")]["health"] == "down"

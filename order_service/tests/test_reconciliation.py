"""The reconciliation against payment_service (a local HTTP stand-in for its list)."""

import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from orders.factories import OrderFactory
from orders.models import OrderStatus, ReconciliationMismatch
from orders.tasks import reconcile

from service_kit.http import breaker_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def payments(settings):
    captured: list[dict] = []
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            body = json.dumps(
                {"count": len(captured), "next": None, "previous": None, "results": captured}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.UPSTREAMS = {
        **settings.UPSTREAMS,
        "payment": f"http://127.0.0.1:{server.server_address[1]}",
    }
    breaker_for("payment", failures=5, reset_timeout=10).reset()
    yield captured, seen
    server.shutdown()
    server.server_close()


def payment(order, amount=None) -> dict:
    return {"order_id": str(order.pk), "amount": str(amount or order.total), "currency": "EUR"}


def test_every_disagreement_is_recorded_once(payments):
    captured, seen = payments
    fine = OrderFactory(status=OrderStatus.CONFIRMED)
    unpaid = OrderFactory(status=OrderStatus.CONFIRMED)
    wrong = OrderFactory(status=OrderStatus.CONFIRMED)
    cancelled = OrderFactory(status=OrderStatus.CANCELLED)
    refunding = OrderFactory(status=OrderStatus.FAILED, refund_requested_at=timezone.now())
    waiting = OrderFactory(status=OrderStatus.PAYMENT_PENDING)
    captured += [
        payment(fine),
        payment(wrong, Decimal("1.00")),
        payment(cancelled),
        payment(refunding),
        payment(waiting),
    ]

    assert reconcile.apply().get() == 3
    assert reconcile.apply().get() == 0

    assert seen[0] == "/api/v1/payments/?status=SUCCEEDED&page_size=100"
    assert sorted(ReconciliationMismatch.objects.values_list("order_id", "kind")) == sorted(
        [
            (unpaid.pk, "confirmed_not_captured"),
            (wrong.pk, "amount_differs"),
            (cancelled.pk, "captured_not_confirmed"),
        ]
    )


def test_nothing_to_report_when_they_agree(payments):
    captured, _ = payments
    captured.append(payment(OrderFactory(status=OrderStatus.CONFIRMED)))

    assert reconcile.apply().get() == 0
    assert not ReconciliationMismatch.objects.exists()

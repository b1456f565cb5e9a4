"""The payments admin: by state, by order id, the provider's raw answer, refunds through the
service."""

import re
from decimal import Decimal

import pytest
from payments.models import PaymentStatus, Refund

from service_kit.models import AuditEntry

from .factories import PaymentFactory
from .helpers import published

pytestmark = pytest.mark.django_db

PAYMENTS = "/admin/payments/payment/"


def listed(response) -> list:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_payments_by_state_and_by_order_id(admin_client):
    done = PaymentFactory(status=PaymentStatus.SUCCEEDED)
    failed = PaymentFactory(status=PaymentStatus.FAILED, failure_code="card_declined")

    assert listed(admin_client.get(PAYMENTS, {"status__exact": "FAILED"})) == [failed]
    assert listed(admin_client.get(PAYMENTS, {"q": str(done.order_id)})) == [done]


def test_the_providers_raw_answer_is_shown_read_only(admin_client):
    payment = PaymentFactory(raw_response={"id": "ch_sandbox_x", "status": "succeeded"})

    response = admin_client.get(f"{PAYMENTS}{payment.pk}/change/")

    assert response.status_code == 200
    assert b"ch_sandbox_x" in response.content
    assert b'name="raw_response"' not in response.content  # no input: read-only
    assert admin_client.get(f"{PAYMENTS}add/").status_code == 403


def test_the_refund_action_leads_to_the_refund_form(admin_client):
    payment = PaymentFactory()

    response = admin_client.post(
        PAYMENTS, {"action": "refund_selected", "_selected_action": [str(payment.pk)]}
    )

    assert response.status_code == 302
    assert response["Location"] == f"{PAYMENTS}{payment.pk}/refund/"


def test_a_refund_in_the_admin_goes_through_the_service(admin_client):
    payment = PaymentFactory(amount=Decimal("25.00"))

    response = admin_client.post(
        f"{PAYMENTS}{payment.pk}/refund/", {"amount": "4.00", "reason": "goodwill"}
    )

    assert response.status_code == 302
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == ("PARTIALLY_REFUNDED", Decimal("4.00"))
    refund = Refund.objects.get()
    assert (refund.source, refund.reason) == ("admin", "goodwill")
    assert [t for t, _ in published()] == ["payment.refunded"]
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.reason, entry.details["source"]) == ("refund", "goodwill", "admin")


def test_the_refund_form_sent_twice_refunds_once(admin_client):
    """A double click (or a resent POST) carries the form's one request key."""
    payment = PaymentFactory(amount=Decimal("25.00"))
    form = admin_client.get(f"{PAYMENTS}{payment.pk}/refund/").content.decode()
    key = re.search(r'name="request_key" value="([0-9a-f]{32})"', form).group(1)
    body = {"amount": "4.00", "reason": "goodwill", "request_key": key}

    first = admin_client.post(f"{PAYMENTS}{payment.pk}/refund/", body)
    second = admin_client.post(f"{PAYMENTS}{payment.pk}/refund/", body)

    assert (first.status_code, second.status_code) == (302, 302)
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("4.00")
    assert Refund.objects.count() == 1
    assert AuditEntry.objects.count() == 1


def test_an_over_refund_in_the_admin_is_refused_on_the_form(admin_client):
    payment = PaymentFactory(amount=Decimal("25.00"))

    response = admin_client.post(
        f"{PAYMENTS}{payment.pk}/refund/", {"amount": "30.00", "reason": "too much"}
    )

    assert response.status_code == 200
    assert b"At most 25.00 EUR can still be refunded." in response.content
    assert not Refund.objects.exists()


def test_a_payment_links_back_to_its_order_and_customer_and_shows_its_currency(admin_client):
    payment = PaymentFactory(amount=Decimal("25.00"), currency="EUR")

    page = admin_client.get(f"{PAYMENTS}{payment.pk}/change/").content.decode()

    assert f'href="/admin/orders/orders/order/{payment.order_id}/change/"' in page
    assert f'href="/admin/users/profiles/profile/{payment.customer_id}/change/"' in page
    assert "25.00 EUR" in page
    assert "<title>" in page and "Payments · Commerce platform</title>" in page

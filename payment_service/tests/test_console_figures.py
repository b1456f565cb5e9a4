"""The payment service's figure on the staff front page: payments failed today, counted as the
admin link it gives lists them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from payments.models import Payment, PaymentStatus

from .factories import PaymentFactory

pytestmark = pytest.mark.django_db


def test_payments_failed_today_as_their_admin_link_lists_them(client, mint, admin_client):
    failed = PaymentFactory(status=PaymentStatus.FAILED)
    yesterday = PaymentFactory(status=PaymentStatus.FAILED)
    Payment.objects.filter(pk=yesterday.pk).update(created_at=timezone.now() - timedelta(days=1))
    PaymentFactory(status=PaymentStatus.SUCCEEDED)

    answer = client.get(
        "/api/v1/console/figures/", **mint.headers(client_id="gateway", scopes=["console:read"])
    )

    assert answer.status_code == 200
    figures = {row["key"]: row for row in answer.json()["figures"]}
    assert figures["payments_failed_today"]["count"] == 1
    path = figures["payments_failed_today"]["url"].removeprefix("/admin/payments")
    listed = admin_client.get(f"/admin{path}").context["cl"].result_list
    assert [payment.pk for payment in listed] == [failed.pk]

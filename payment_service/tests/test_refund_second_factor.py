"""Refunds move money: a payment manager or an admin refunds only with a token that proves a
second factor (``"otp"`` in ``amr``), as in the admin, where they cannot even sign in without one.
"""

import uuid
from decimal import Decimal

import pytest
from payments.models import Refund

from platform_tools.testing.contract import assert_error

from .factories import PaymentFactory
from .helpers import Api

pytestmark = pytest.mark.django_db

REFUNDS = "/api/v1/payments/{}/refunds/"


def staff(client, mint, role: str, amr: list[str]) -> Api:
    headers = mint.headers(
        user_id=str(uuid.uuid4()), email="pay@example.com", roles=[role], is_staff=True, amr=amr
    )
    return Api(client, headers)


@pytest.mark.parametrize("role", ["payment_manager", "admin"])
def test_a_password_alone_does_not_refund(client, mint, role):
    payment = PaymentFactory(amount=Decimal("25.00"))

    response = staff(client, mint, role, ["pwd"]).post(
        REFUNDS.format(payment.pk), {"amount": "5.00", "reason": "goodwill"}
    )

    assert_error(response, 403, "permission_denied")
    assert not Refund.objects.exists()


@pytest.mark.parametrize("role", ["payment_manager", "admin"])
def test_the_same_person_with_a_one_time_code_refunds(client, mint, role):
    payment = PaymentFactory(amount=Decimal("25.00"))

    response = staff(client, mint, role, ["pwd", "otp"]).post(
        REFUNDS.format(payment.pk), {"amount": "5.00", "reason": "goodwill"}
    )

    assert response.status_code == 201, response.content
    assert Refund.objects.get().amount == Decimal("5.00")


@pytest.mark.parametrize("amr", [None, "otp", ["otp-but-not-really"]])
def test_a_token_without_a_proper_amr_list_has_no_second_factor(client, mint, amr):
    payment = PaymentFactory(amount=Decimal("25.00"))

    response = staff(client, mint, "payment_manager", amr).post(
        REFUNDS.format(payment.pk), {"amount": "5.00", "reason": "goodwill"}
    )

    assert_error(response, 403, "permission_denied")


def test_a_password_only_payment_manager_reads_only_their_own_payments(client, mint):
    PaymentFactory()

    response = staff(client, mint, "payment_manager", ["pwd"]).get("/api/v1/payments/")

    assert response.status_code == 200, response.content
    assert response.json()["count"] == 0

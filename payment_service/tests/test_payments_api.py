"""The payments API: who may charge, read and refund; Idempotency-Key; one charge under
concurrency (threads with their own connections on PostgreSQL)."""

import json
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from payments.models import Payment, PaymentStatus, Refund
from payments.providers.sandbox import SandboxProvider
from payments.services import charge_idempotency_key

from platform_tools.testing.api import at_once
from platform_tools.testing.backing import skip_unless
from platform_tools.testing.contract import (
    TOKEN_CASE_IDS,
    assert_error,
    token_cases,
    token_matrix_test,
)
from service_kit.messaging import relay
from service_kit.models import AuditEntry

from .factories import PaymentFactory
from .helpers import Api, published

pytestmark = pytest.mark.django_db

LIST = "/api/v1/payments/"


def charge_body(**overrides) -> dict:
    return {
        "order_id": str(uuid.uuid4()),
        "customer_id": str(uuid.uuid4()),
        "amount": "42.50",
        "currency": "EUR",
        "payment_token": "tok_visa",
        **overrides,
    }


def body_of(payment: Payment) -> dict:
    return {
        "id": str(payment.pk),
        "order_id": str(payment.order_id),
        "amount": f"{payment.amount:.2f}",
        "currency": payment.currency,
        "status": payment.status,
        "failure_code": payment.failure_code,
        "refunded_amount": f"{payment.refunded_amount:.2f}",
        "created_at": payment.created_at.isoformat().replace("+00:00", "Z"),
    }


# -- charging --------------------------------------------------------------------------------------


def test_order_service_charges_an_order(order_service):
    body = charge_body()

    response = order_service.post(LIST, body, HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 201, response.content
    payment = Payment.objects.get(order_id=body["order_id"])
    assert response.json() == body_of(payment)
    assert response["Location"] == f"{LIST}{payment.pk}/"
    assert payment.status == PaymentStatus.SUCCEEDED
    assert str(payment.customer_id) == body["customer_id"]
    assert [t for t, _ in published()] == ["payment.succeeded"]


def test_a_declined_card_is_a_created_payment_that_failed(order_service):
    body = charge_body(payment_token="tok_insufficientFunds")

    response = order_service.post(LIST, body, HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 201
    assert (response.json()["status"], response.json()["failure_code"]) == (
        "FAILED",
        "insufficient_funds",
    )


def test_the_idempotency_key_is_required(order_service):
    response = order_service.post(LIST, charge_body())

    body = assert_error(response, 400, "validation_error")
    assert set(body["error"]["details"]) == {"Idempotency-Key"}
    assert not Payment.objects.exists()


def test_the_same_key_and_body_replay_and_another_body_is_refused(order_service):
    body = charge_body()
    first = order_service.post(LIST, body, HTTP_IDEMPOTENCY_KEY="k-1")

    again = order_service.post(LIST, body, HTTP_IDEMPOTENCY_KEY="k-1")
    changed = order_service.post(LIST, {**body, "amount": "1.00"}, HTTP_IDEMPOTENCY_KEY="k-1")

    assert (again.status_code, again.json()) == (201, first.json())
    assert again["Idempotent-Replayed"] == "true"
    assert_error(changed, 422, "idempotency_key_reused")
    assert SandboxProvider.captures(charge_idempotency_key(body["order_id"])) == 1


def test_another_key_for_the_same_order_answers_the_payment_without_charging(order_service):
    body = charge_body()
    first = order_service.post(LIST, body, HTTP_IDEMPOTENCY_KEY="k-1")

    second = order_service.post(LIST, body, HTTP_IDEMPOTENCY_KEY="k-2")

    assert (second.status_code, second.json()) == (200, first.json())
    assert SandboxProvider.captures(charge_idempotency_key(body["order_id"])) == 1
    assert [t for t, _ in published()] == ["payment.succeeded"] * 2


@pytest.mark.parametrize("change", [{"amount": "42.49"}, {"currency": "USD"}])
def test_an_amount_other_than_the_recorded_one_is_a_conflict(order_service, change):
    body = charge_body()
    order_service.post(LIST, body, HTTP_IDEMPOTENCY_KEY="k-1")

    response = order_service.post(LIST, {**body, **change}, HTTP_IDEMPOTENCY_KEY="k-2")

    error = assert_error(response, 409, "conflict")
    assert error["error"]["details"]["recorded"] == {"amount": "42.50", "currency": "EUR"}
    assert SandboxProvider.captures(charge_idempotency_key(body["order_id"])) == 1


def test_a_provider_that_never_answers_is_a_504_that_may_be_retried(order_service):
    body = charge_body(payment_token="tok_timeout")

    response = order_service.post(LIST, body, HTTP_IDEMPOTENCY_KEY="k-1")

    error = assert_error(response, 504, "upstream_timeout")
    payment = Payment.objects.get(order_id=body["order_id"])
    assert payment.status == PaymentStatus.PENDING
    assert error["error"]["details"] == {"payment_id": str(payment.pk)}
    retried = order_service.post(LIST, body, HTTP_IDEMPOTENCY_KEY="k-1")  # the key was released
    assert_error(retried, 504, "upstream_timeout")


@pytest.mark.parametrize(
    "body",
    [
        charge_body(amount="0.00"),
        charge_body(amount="1.005"),
        charge_body(currency="eur"),
        charge_body(order_id="nope"),
        {k: v for k, v in charge_body().items() if k != "payment_token"},
    ],
)
def test_a_bad_charge_request_is_a_validation_error(order_service, body):
    assert_error(order_service.post(LIST, body, HTTP_IDEMPOTENCY_KEY="k"), 400, "validation_error")


@pytest.mark.parametrize("roles", [["customer"], ["payment_manager"], ["admin"]])
def test_people_cannot_create_a_payment(as_user, roles):
    response = as_user(*roles).post(LIST, charge_body(), HTTP_IDEMPOTENCY_KEY="k-1")

    assert_error(response, 403, "permission_denied")
    assert not Payment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_charges_of_one_order_charge_once(mint):
    skip_unless(connection.vendor == "postgresql", "threads with their own connections: PostgreSQL")
    body = charge_body()
    headers = mint.headers(client_id="order", scopes=["payments:charge"])
    # Half retry with one key (409 while in flight, or the replay), half with keys of their own.
    keys = ["same"] * 4 + [f"own-{n}" for n in range(4)]

    def charge(key: str) -> tuple[int, dict, bool]:
        response = Client().post(
            LIST,
            data=json.dumps(body),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=key,
            **headers,
        )
        return response.status_code, response.json(), response.get("Idempotent-Replayed") == "true"

    answers = at_once(charge, keys)
    relay.flush()

    assert len(answers) == len(keys)
    payment = Payment.objects.get(order_id=body["order_id"])
    assert payment.status == PaymentStatus.SUCCEEDED
    assert SandboxProvider.captures(charge_idempotency_key(body["order_id"])) == 1
    statuses = [status for status, _, _ in answers]
    assert statuses.count(201) >= 1 and set(statuses) <= {200, 201, 409}
    # Every answer is the one payment, or 409 for a retry while its first try was running.
    for status, answer, _ in answers:
        expected = {"error": answer.get("error")} if status == 409 else body_of(payment)
        assert answer == expected
        if status == 409:
            assert answer["error"]["code"] == "conflict"
    # Every request that reached the service (not a 409, not a replay) announced the outcome.
    reached = sum(1 for status, _, replayed in answers if status != 409 and not replayed)
    assert (
        published()
        == [
            (
                "payment.succeeded",
                {
                    "order_id": body["order_id"],
                    "payment_id": str(payment.pk),
                    "amount": "42.50",
                    "currency": "EUR",
                },
            )
        ]
        * reached
    )


# -- reading ---------------------------------------------------------------------------------------


def test_customers_list_their_own_payments(as_user):
    me = str(uuid.uuid4())
    mine = PaymentFactory(customer_id=me)
    PaymentFactory()  # someone else's

    response = as_user("customer", user_id=me).get(LIST)

    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert response.json()["results"] == [body_of(mine)]


@pytest.mark.parametrize("role", ["support", "payment_manager", "admin"])
def test_staff_list_every_payment_and_filter_by_status(as_user, role):
    PaymentFactory(status=PaymentStatus.SUCCEEDED)
    failed = PaymentFactory(status=PaymentStatus.FAILED, failure_code="card_declined")

    everything = as_user(role).get(LIST)
    only_failed = as_user(role).get(LIST, {"status": "FAILED"})

    assert everything.json()["count"] == 2
    assert only_failed.json()["results"] == [body_of(failed)]


def test_an_unknown_status_filter_is_a_validation_error(as_user):
    assert_error(as_user("support").get(LIST, {"status": "LOST"}), 400, "validation_error")


def test_a_customer_reads_their_payment_and_not_another_customers(as_user):
    me = str(uuid.uuid4())
    mine, theirs = PaymentFactory(customer_id=me), PaymentFactory()
    customer = as_user("customer", user_id=me)

    own = customer.get(f"{LIST}{mine.pk}/")
    other = customer.get(f"{LIST}{theirs.pk}/")

    assert (own.status_code, own.json()) == (200, body_of(mine))
    assert_error(other, 404, "not_found")


def test_a_service_token_without_payments_read_reads_no_payments(client, mint):
    response = client.get(LIST, **mint.headers(client_id="order", scopes=["payments:charge"]))

    assert_error(response, 403, "permission_denied")


def reader(client, mint) -> Api:
    """order_service's reconciliation: a service identity with ``payments:read``."""
    return Api(client, mint.headers(client_id="order", scopes=["payments:read"]))


def test_a_service_token_with_payments_read_lists_every_payment(client, mint):
    payments = [PaymentFactory(), PaymentFactory(status=PaymentStatus.FAILED)]

    response = reader(client, mint).get(LIST)

    assert response.status_code == 200, response.content
    assert response.json()["count"] == 2
    assert sorted(p["id"] for p in response.json()["results"]) == sorted(
        str(p.pk) for p in payments
    )


def test_a_service_token_reads_a_batch_of_orders_payments(client, mint):
    wanted = [PaymentFactory(), PaymentFactory(status=PaymentStatus.PARTIALLY_REFUNDED)]
    PaymentFactory()  # another order's
    ids = ",".join([*(str(p.order_id) for p in wanted), str(uuid.uuid4())])  # one has none

    response = reader(client, mint).get(LIST, {"order_ids": ids})
    succeeded = reader(client, mint).get(LIST, {"order_ids": ids, "status": "SUCCEEDED"})

    assert response.status_code == 200, response.content
    assert sorted(p["order_id"] for p in response.json()["results"]) == sorted(
        str(p.order_id) for p in wanted
    )
    assert [p["id"] for p in succeeded.json()["results"]] == [str(wanted[0].pk)]


def test_a_service_token_filters_by_one_order(client, mint):
    wanted = PaymentFactory()
    PaymentFactory()

    response = reader(client, mint).get(LIST, {"order_id": str(wanted.order_id)})

    assert response.json()["results"] == [body_of(wanted)]


def test_a_customers_batch_read_still_shows_only_their_own(as_user):
    me = str(uuid.uuid4())
    mine, theirs = PaymentFactory(customer_id=me), PaymentFactory()

    response = as_user("customer", user_id=me).get(
        LIST, {"order_ids": f"{mine.order_id},{theirs.order_id}"}
    )

    assert response.json()["results"] == [body_of(mine)]


@pytest.mark.parametrize(
    "order_ids",
    [
        ",".join(str(uuid.uuid4()) for _ in range(101)),
        "not-a-uuid",
        f"{uuid.uuid4()},42",
        ",",
    ],
    ids=["101-ids", "not-a-uuid", "one-bad", "empty"],
)
def test_a_bad_batch_of_order_ids_is_a_validation_error(client, mint, order_ids):
    response = reader(client, mint).get(LIST, {"order_ids": order_ids})

    error = assert_error(response, 400, "validation_error")
    assert "order_ids" in error["error"]["details"]


def test_a_hundred_order_ids_are_allowed(client, mint):
    payment = PaymentFactory()
    ids = [str(payment.order_id), *(str(uuid.uuid4()) for _ in range(99))]

    response = reader(client, mint).get(LIST, {"order_ids": ",".join(ids), "page_size": 100})

    assert response.status_code == 200, response.content
    assert response.json()["results"] == [body_of(payment)]


def test_a_service_token_with_payments_read_reads_no_single_payment(client, mint):
    payment = PaymentFactory()

    response = reader(client, mint).get(f"{LIST}{payment.pk}/")

    assert_error(response, 403, "permission_denied")


# -- refunding -------------------------------------------------------------------------------------


def test_a_payment_manager_refunds_part_of_a_payment(as_user):
    payment = PaymentFactory(amount=Decimal("25.00"))
    manager_id = str(uuid.uuid4())
    manager = as_user("payment_manager", user_id=manager_id, email="refunds@example.com")

    response = manager.post(
        f"{LIST}{payment.pk}/refunds/", {"amount": "5.00", "reason": "scratched"}
    )

    assert response.status_code == 201, response.content
    refund = Refund.objects.get()
    payment.refresh_from_db()
    assert response.json() == {
        "id": str(refund.pk),
        "amount": "5.00",
        "currency": "EUR",
        "reason": "scratched",
        "source": "api",
        "actor_id": manager_id,
        "actor_email": "refunds@example.com",
        "created_at": refund.created_at.isoformat().replace("+00:00", "Z"),
        "payment": body_of(payment),
    }
    assert (payment.status, payment.refunded_amount) == ("PARTIALLY_REFUNDED", Decimal("5.00"))
    # the audit trail: who, when, what and why
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.reason) == (
        "refunds@example.com",
        "refund",
        "scratched",
    )
    assert entry.target_url == f"/admin/payments/payments/payment/{payment.pk}/change/"
    assert entry.details == {
        "amount": "5.00",
        "currency": "EUR",
        "source": "api",
        "order_id": str(payment.order_id),
    }


def test_a_refund_without_a_reason_is_refused_before_any_money_moves(as_user):
    payment = PaymentFactory(amount=Decimal("25.00"))
    manager = as_user("payment_manager", email="refunds@example.com")

    response = manager.post(f"{LIST}{payment.pk}/refunds/", {"amount": "5.00", "reason": "  "})

    assert response.status_code == 400
    assert "reason" in response.json()["error"]["details"]
    assert not Refund.objects.exists() and not AuditEntry.objects.exists()


def test_an_over_refund_is_a_conflict(as_user):
    payment = PaymentFactory(amount=Decimal("25.00"))

    response = as_user("admin").post(
        f"{LIST}{payment.pk}/refunds/", {"amount": "25.01", "reason": "too much"}
    )

    error = assert_error(response, 409, "conflict")
    assert error["error"]["details"] == {"refundable": "25.00", "currency": "EUR"}
    assert not Refund.objects.exists()


@pytest.mark.parametrize("roles", [["customer"], ["support"], ["order_manager"]])
def test_only_payment_managers_refund(as_user, roles):
    payment = PaymentFactory()

    response = as_user(*roles).post(
        f"{LIST}{payment.pk}/refunds/", {"amount": "1.00", "reason": "x"}
    )

    assert_error(response, 403, "permission_denied")


def test_refunding_an_unknown_payment_is_not_found(as_user):
    response = as_user("payment_manager").post(
        f"{LIST}{uuid.uuid4()}/refunds/", {"amount": "1.00", "reason": "x"}
    )

    assert_error(response, 404, "not_found")


# -- the token matrix ------------------------------------------------------------------------------

test_token_matrix_list = token_matrix_test(LIST)


def test_token_matrix_list_valid_service_token(client, mint):
    """The list's matrix with a service identity as the good token (a scope, not a role)."""
    response = reader(client, mint).get(LIST)

    assert response.status_code == 200, response.content[:300]


test_token_matrix_detail = token_matrix_test(f"{LIST}{uuid.uuid4()}/")
test_token_matrix_refunds = token_matrix_test(
    f"{LIST}{uuid.uuid4()}/refunds/",
    method="post",
    body={"amount": "1.00", "reason": "matrix"},
    roles=("payment_manager",),
)


@pytest.mark.parametrize("case_id", TOKEN_CASE_IDS)
def test_token_matrix_charge(client, mint, case_id):
    """The charge is for a service identity with the scope: every bad token is refused with its
    code (a service token without the scope: 403), and the good one is not."""
    cases = {case[0]: case for case in token_cases(mint)}
    case, header, status, code = cases[case_id]
    extra = {"HTTP_AUTHORIZATION": header} if header else {}

    response = client.post(
        LIST,
        data=json.dumps(charge_body()),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=f"matrix-{case}",
        **extra,
    )

    assert_error(response, status, code)
    if case == "service-token-without-scope":
        assert status == 403


def test_token_matrix_charge_valid_service_token(order_service):
    response = order_service.post(LIST, charge_body(), HTTP_IDEMPOTENCY_KEY="matrix-valid")

    assert response.status_code == 201

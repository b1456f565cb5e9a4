"""A price change is a staff action the audit trail keeps: the API and the admin both ask why,
and record who, when, what and why in this service (service_kit.audit)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from service_kit.models import AuditEntry

from .factories import ProductFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/products/"


def detail(product) -> str:
    return f"{LIST}{product.pk}/"


@pytest.mark.parametrize("body", [{"price": "9.00"}, {"currency": "GBP", "reason": "  "}])
def test_a_price_change_without_a_reason_is_refused_and_changes_nothing(manager, body):
    mug = ProductFactory(price=Decimal("12.50"), currency="EUR")

    response = manager.patch(detail(mug), body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and "reason" in error["details"]
    mug.refresh_from_db()
    assert (mug.price, mug.currency) == (Decimal("12.50"), "EUR")
    assert not AuditEntry.objects.exists()


def test_a_price_change_is_recorded_with_who_and_why(manager):
    mug = ProductFactory(sku="MUG-1", price=Decimal("12.50"), currency="EUR")

    response = manager.patch(detail(mug), {"price": "9.00", "reason": "summer sale"})

    assert response.status_code == 200, response.content
    assert "reason" not in response.json()
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.target, entry.reason) == (
        "catalogue_manager@example.com",
        "price_change",
        "product MUG-1",
        "summer sale",
    )
    assert entry.details == {"price_before": "12.50 EUR", "price": "9.00 EUR"}
    assert entry.target_url == f"/admin/products/catalogue/product/{mug.pk}/change/"


def test_other_changes_need_no_reason_and_are_not_audited(manager):
    mug = ProductFactory(name="Mug")

    assert manager.patch(detail(mug), {"name": "Blue mug"}).status_code == 200
    assert not AuditEntry.objects.exists()


def change_form(mug, **changes) -> dict:
    return {
        "name": mug.name,
        "slug": mug.slug,
        "category": str(mug.category_id) if mug.category_id else "",
        "price": str(mug.price),
        "currency": mug.currency,
        "is_active": "on",
        "description": "",
        "attributes": "{}",
        "images-TOTAL_FORMS": "0",
        "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
        **changes,
    }


def test_the_admin_asks_why_before_a_price_changes(admin_client, admin_user):
    mug = ProductFactory(price=Decimal("12.50"))
    url = f"/admin/catalogue/product/{mug.pk}/change/"

    refused = admin_client.post(url, change_form(mug, price="7.25"))

    assert refused.status_code == 200
    assert "Say why" in refused.content.decode()
    mug.refresh_from_db()
    assert mug.price == Decimal("12.50")

    saved = admin_client.post(url, change_form(mug, price="7.25", reason="damaged boxes"))

    assert saved.status_code == 302
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.reason) == ("price_change", "damaged boxes")
    assert entry.actor == (admin_user.email or admin_user.username)


def test_the_price_is_not_list_editable(admin_client):
    ProductFactory()
    page = admin_client.get("/admin/catalogue/product/").content.decode()
    assert 'name="form-0-price"' not in page and 'name="form-0-is_active"' in page

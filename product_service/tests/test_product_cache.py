"""Cached reads: a hit costs no query, answers carry an ETag (304 on If-None-Match), and every
write, through the API or the admin, is visible on the very next read."""

from decimal import Decimal

import pytest
from catalogue import services
from catalogue.models import Product

from .factories import ProductFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/products/"


def detail(product) -> str:
    return f"{LIST}{product.pk}/"


@pytest.fixture
def mug():
    return ProductFactory(sku="MUG-1", name="Blue Mug", slug="blue-mug", price=Decimal("12.50"))


def prime(api, path, django_assert_max_num_queries, django_assert_num_queries):
    """Read ``path`` twice: the first read fills the cache, the second is a hit (no query)."""
    with django_assert_max_num_queries(10):
        first = api.get(path)
    with django_assert_num_queries(0):
        second = api.get(path)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second["ETag"] == first["ETag"]
    return second


@pytest.fixture
def primed(django_assert_max_num_queries, django_assert_num_queries):
    def read(api, path):
        return prime(api, path, django_assert_max_num_queries, django_assert_num_queries)

    return read


# -- hits and ETags -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["detail", "slug", "list", "categories"])
def test_a_second_read_is_served_from_the_cache(anonymous, mug, primed, path):
    url = {
        "detail": detail(mug),
        "slug": f"{LIST}blue-mug/",
        "list": f"{LIST}?ordering=price&page_size=5",
        "categories": "/api/v1/categories/",
    }[path]

    response = primed(anonymous, url)

    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-cache"


def test_a_change_behind_the_services_back_is_not_seen_which_proves_the_cache(
    anonymous, mug, primed
):
    primed(anonymous, detail(mug))
    Product.objects.filter(pk=mug.pk).update(price=Decimal("1.00"))  # no service, no invalidation

    assert anonymous.get(detail(mug)).json()["price"] == "12.50"


def test_the_detail_carries_an_etag_and_if_none_match_gets_304(anonymous, mug):
    first = anonymous.get(detail(mug))
    etag = first["ETag"]

    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 34
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = anonymous.get(detail(mug), HTTP_IF_NONE_MATCH=header)
        assert again.status_code == 304, header
        assert again.content == b""
        assert again["ETag"] == etag
    assert anonymous.get(detail(mug), HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_the_etag_is_the_same_by_id_and_by_slug_and_for_every_reader(anonymous, customer, mug):
    etags = {
        anonymous.get(detail(mug))["ETag"],
        anonymous.get(f"{LIST}blue-mug/")["ETag"],
        customer.get(detail(mug))["ETag"],
    }

    assert len(etags) == 1


def test_the_list_carries_an_etag_too(anonymous, mug):
    etag = anonymous.get(LIST)["ETag"]

    assert anonymous.get(LIST, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_after_a_change_the_old_etag_gets_the_new_product(
    anonymous, manager, mug, django_capture_on_commit_callbacks
):
    etag = anonymous.get(detail(mug))["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        manager.patch(detail(mug), {"price": "10.00", "reason": "new price list"})

    response = anonymous.get(detail(mug), HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 200
    assert response.json()["price"] == "10.00"
    assert response["ETag"] != etag


def test_an_inactive_product_is_not_found_for_customers_even_once_staff_read_it(
    anonymous, manager, primed
):
    product = ProductFactory(is_active=False)

    primed(manager, detail(product))

    assert anonymous.get(detail(product)).status_code == 404


def test_a_staff_list_is_never_served_to_customers(anonymous, manager, primed):
    ProductFactory(sku="ON", is_active=True)
    ProductFactory(sku="OFF", is_active=False)

    primed(manager, LIST)

    assert [p["sku"] for p in anonymous.get(LIST).json()["results"]] == ["ON"]


def test_bad_filter_values_are_never_cached(anonymous, mug):
    for _ in range(2):
        assert anonymous.get(LIST, {"min_price": "cheap"}).status_code == 400


def test_lists_with_unknown_parameters_are_answered_but_not_cached(
    anonymous, mug, django_assert_max_num_queries
):
    anonymous.get(LIST, {"utm_source": "x"})
    with django_assert_max_num_queries(10) as queries:
        anonymous.get(LIST, {"utm_source": "x"})
    assert len(queries) > 0


# -- every write is visible on the next read ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_price_change_through_the_api_is_on_the_next_read(anonymous, manager, primed):
    # Real commits here (no test transaction around): the invalidation runs on commit, as in
    # production, before the PATCH returns.
    mug = ProductFactory(sku="MUG-1", name="Blue Mug", slug="blue-mug", price=Decimal("12.50"))
    for path in (detail(mug), f"{LIST}blue-mug/", LIST):
        primed(anonymous, path)

    assert manager.patch(detail(mug), {"price": "9.99", "reason": "sale"}).status_code == 200

    assert anonymous.get(detail(mug)).json()["price"] == "9.99"
    assert anonymous.get(f"{LIST}blue-mug/").json()["price"] == "9.99"
    assert anonymous.get(LIST).json()["results"][0]["price"] == "9.99"


@pytest.mark.parametrize(
    ("write", "seen"),
    [
        (lambda api, mug: api.post(LIST, {"sku": "NEW", "name": "New", "price": "1"}), 2),
        (lambda api, mug: api.patch(detail(mug), {"is_active": False}), 0),
        (lambda api, mug: api.delete(detail(mug)), 0),
    ],
    ids=["create", "deactivate", "delete"],
)
def test_every_write_is_on_the_next_list_read(
    anonymous, manager, mug, primed, django_capture_on_commit_callbacks, write, seen
):
    primed(anonymous, LIST)

    with django_capture_on_commit_callbacks(execute=True):
        assert write(manager, mug).status_code in (200, 201, 204)

    assert anonymous.get(LIST).json()["count"] == seen


def test_a_switch_in_the_admins_list_editing_is_on_the_next_read(
    anonymous, admin_client, mug, primed, django_capture_on_commit_callbacks
):
    primed(anonymous, detail(mug))
    primed(anonymous, LIST)
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "form-0-id": str(mug.pk),
        "_save": "Save",
    }  # is_active left out: switched off

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/catalogue/product/", data)

    assert response.status_code == 302, response.content[:2000]
    assert anonymous.get(detail(mug)).status_code == 404
    assert anonymous.get(LIST).json()["results"] == []


def test_a_price_change_in_the_admins_change_form_is_on_the_next_read(
    anonymous, admin_client, mug, primed, django_capture_on_commit_callbacks
):
    primed(anonymous, detail(mug))
    data = {
        "name": "Blue Mug",
        "slug": "blue-mug",
        "category": str(mug.category_id),
        "price": "7.25",
        "currency": "EUR",
        "reason": "sale",
        "is_active": "on",
        "description": "",
        "attributes": "{}",
        "images-TOTAL_FORMS": "0",
        "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/catalogue/product/{mug.pk}/change/", data)

    assert response.status_code == 302, response.content[:3000]
    assert anonymous.get(detail(mug)).json()["price"] == "7.25"


# -- the cache is a help, never a dependency ------------------------------------------------------


def test_reads_and_writes_work_while_the_cache_is_unreachable(
    anonymous, mug, settings, django_capture_on_commit_callbacks
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }

    assert anonymous.get(detail(mug)).json()["price"] == "12.50"
    assert anonymous.get(LIST).json()["count"] == 1
    # (A token needs the cache: the kit checks revocations there. Services write here.)
    with django_capture_on_commit_callbacks(execute=True):
        services.product_update(
            product_id=mug.pk, changes={"price": Decimal("3.00")}, actor="a@x.io", reason="sale"
        )
    assert anonymous.get(detail(mug)).json()["price"] == "3.00"

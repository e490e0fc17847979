"""/api/orders/: list, detail with items, manual orders; and the Etsy sync placeholder."""

import pytest

from j3d.tests.factories import make_order, make_profile
from orders.models import Order, OrderItem

pytestmark = pytest.mark.django_db

MANUAL_ORDER = {
    "order_number": "M-100",
    "buyer_name": "Ada",
    "buyer_email": "ada@example.com",
    "total_amount": 42.5,
    "currency": "eur",
    "due_by": "2030-03-01T12:00:00Z",
    "items": [
        {"title": "Dragon", "sku": "DRG-1", "quantity": 2, "unit_price": 15},
        {"title": "Keychain", "quantity": 1, "unit_price": 12.5, "variations": ["Red"]},
    ],
}


def test_manual_order_is_created_with_items(api, owner):
    response = api.post("/api/orders/", MANUAL_ORDER, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["source"] == "manual"
    assert body["currency"] == "EUR"
    assert body["total_amount"] == 42.5
    assert [(i["title"], i["quantity"]) for i in body["items"]] == [("Dragon", 2), ("Keychain", 1)]
    order = Order.objects.get(pk=body["id"])
    assert order.user == owner
    assert order.items.count() == 2


def test_item_may_link_an_own_product_profile(api, owner):
    profile = make_profile(owner)
    body = {**MANUAL_ORDER, "items": [{"title": "Dragon", "product_profile_id": profile.id}]}

    response = api.post("/api/orders/", body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["items"][0]["product_profile_id"] == profile.id


def test_item_linking_other_users_profile_is_400(api, other_owner):
    profile = make_profile(other_owner)
    body = {**MANUAL_ORDER, "items": [{"title": "Dragon", "product_profile_id": profile.id}]}

    response = api.post("/api/orders/", body, format="json")

    assert response.status_code == 400
    assert "items" in response.json()
    assert not Order.objects.exists()


def test_list_shows_own_orders_newest_first(api, owner, other_owner):
    older = make_order(owner, order_number="1")
    newer = make_order(owner, order_number="2")
    make_order(other_owner, order_number="3")

    response = api.get("/api/orders")

    assert response.status_code == 200
    assert [o["id"] for o in response.json()] == [newer.id, older.id]


def test_list_filters_by_status(api, owner):
    make_order(owner, status=Order.Status.PAID)
    shipped = make_order(owner, status=Order.Status.SHIPPED)

    response = api.get("/api/orders/?status=shipped")

    assert [o["id"] for o in response.json()] == [shipped.id]


def test_unknown_status_filter_is_400(api):
    response = api.get("/api/orders/?status=lost")

    assert response.status_code == 400
    assert "status" in response.json()


def test_detail_includes_items(api, owner):
    order = make_order(owner, items=[{"title": "A", "quantity": 3}])

    response = api.get(f"/api/orders/{order.id}/")

    assert response.status_code == 200
    assert [(i["title"], i["quantity"]) for i in response.json()["items"]] == [("A", 3)]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("items", []),
        ("items", [{"title": "A", "quantity": 0}]),
        ("items", [{"title": "A", "unit_price": -1}]),
        ("items", [{"title": "A", "variations": "red"}]),
        ("items", {"title": "A"}),
        ("total_amount", -1),
        ("currency", "EURO"),
        ("buyer_email", "not-an-email"),
        ("due_by", "next tuesday"),
        ("status", "lost"),
        ("order_number", None),
    ],
)
def test_bad_order_field_is_400_naming_it(api, field, value):
    response = api.post("/api/orders/", {**MANUAL_ORDER, field: value}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Order.objects.exists()
    assert not OrderItem.objects.exists()


def test_other_users_order_is_404(api, other_owner):
    order = make_order(other_owner)

    assert api.get(f"/api/orders/{order.id}").status_code == 404
    assert api.get(f"/api/orders/{order.id}/").status_code == 404


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_orders_cannot_be_changed_through_the_api(api, owner, method):
    order = make_order(owner, buyer_name="Ada")

    response = getattr(api, method)(
        f"/api/orders/{order.id}/", {"buyer_name": "Eve"}, format="json"
    )

    assert response.status_code == 405
    order.refresh_from_db()
    assert order.buyer_name == "Ada"


@pytest.mark.parametrize("path", ["/api/etsy/sync-orders", "/api/etsy/sync-orders/"])
def test_etsy_sync_without_a_connection_is_400(api, path):
    response = api.post(path)

    assert response.status_code == 400
    assert "Etsy is not connected" in response.json()["detail"]


@pytest.mark.parametrize("variations", [["Red\u0000"], {"colour\u0000": "Red"}])
def test_null_character_in_variations_is_400(api, variations):
    body = {**MANUAL_ORDER, "items": [{"title": "A", "variations": variations}]}

    response = api.post("/api/orders/", body, format="json")

    assert response.status_code == 400
    assert "variations" in str(response.json()["items"])

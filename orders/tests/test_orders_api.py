"""/api/orders/: list, detail with items, manual orders; and the Etsy sync placeholder."""

from itertools import pairwise

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

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


@pytest.mark.parametrize("method", ["put", "delete"])
def test_orders_cannot_be_replaced_or_deleted_through_the_api(api, owner, method):
    order = make_order(owner, buyer_name="Ada")

    response = getattr(api, method)(
        f"/api/orders/{order.id}/", {"buyer_name": "Eve"}, format="json"
    )

    assert response.status_code == 405
    order.refresh_from_db()
    assert order.buyer_name == "Ada"


def test_patch_changes_only_the_ship_by_date_and_notes(api, owner):
    order = make_order(owner, buyer_name="Ada")

    response = api.patch(
        f"/api/orders/{order.id}/", {"buyer_name": "Eve", "notes": "Gift"}, format="json"
    )

    assert response.status_code == 200
    order.refresh_from_db()
    assert (order.buyer_name, order.notes) == ("Ada", "Gift")


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


def test_manual_order_number_is_unique_per_owner(api, other_api, owner):
    first = api.post("/api/orders/", MANUAL_ORDER, format="json")
    again = api.post("/api/orders/", MANUAL_ORDER, format="json")
    theirs = other_api.post("/api/orders/", MANUAL_ORDER, format="json")

    assert first.status_code == 201 and theirs.status_code == 201
    assert again.status_code == 400
    assert again.json() == {"order_number": ["You already have an order with this number."]}
    assert Order.objects.filter(user=owner).count() == 1


# The constraint comes with 0006_etsy; 0007 and 0008 follow it in the orders app.
BEFORE_THE_CONSTRAINT = "0005_order_rules_on_the_model"
LATER_ORDERS_MIGRATIONS = ["0006_etsy", "0007_order_shipment", "0008_productprofile_color_and_more"]


@pytest.mark.django_db(transaction=True)
def test_migration_renumbers_existing_duplicate_manual_orders(owner, other_owner):
    # The orders migrations alone, back and forth, on states of the orders app and what it
    # depends on: executor.migrate() to 0005 would also take back every later migration that
    # depends on orders (scheduling's) and render the whole project's state at each step (~7 s).
    executor = MigrationExecutor(connection)
    loader = executor.loader
    names = [BEFORE_THE_CONSTRAINT, *LATER_ORDERS_MIGRATIONS]
    for previous, name in reversed(list(pairwise(names))):
        state_before = loader.project_state(("orders", previous))
        executor.unapply_migration(state_before, loader.get_migration("orders", name))
    state = loader.project_state(("orders", BEFORE_THE_CONSTRAINT))
    old = state.apps.get_model("orders", "Order")
    for number in ["7", "7", "7", "7-2"]:
        old.objects.create(user_id=owner.id, order_number=number)
    old.objects.create(user_id=other_owner.id, order_number="7")
    old.objects.create(user_id=owner.id, order_number="7", source="etsy", external_id="7")

    for name in LATER_ORDERS_MIGRATIONS:
        state = executor.apply_migration(state, loader.get_migration("orders", name))

    mine = Order.objects.filter(user=owner, source="manual").order_by("id")
    assert list(mine.values_list("order_number", flat=True)) == ["7", "7-3", "7-4", "7-2"]
    assert Order.objects.get(user=other_owner).order_number == "7"
    assert Order.objects.get(source="etsy").order_number == "7"
    fresh = MigrationExecutor(connection)
    assert fresh.migration_plan(fresh.loader.graph.leaf_nodes()) == []  # all applied again


def test_list_is_paginated_in_headers_and_filtered(api, owner, other_owner):
    for n in range(7):
        make_order(owner, order_number=f"A-{n}", buyer_name="Ada" if n % 2 else "Bob")
    make_order(owner, order_number="E-1", source="etsy", external_id="55", status="shipped")
    make_order(other_owner, order_number="A-99", buyer_name="Ada")

    page = api.get("/api/orders/?page_size=3&page=2")
    ada = api.get("/api/orders/?search=ada")
    etsy = api.get("/api/orders/?source=etsy&status=shipped")
    number = api.get("/api/orders/?search=E-1")

    assert page.status_code == 200 and len(page.json()) == 3
    assert page["X-Total-Count"] == "8"
    assert (
        'rel="next"' in page["Link"] and "page=3" in page["Link"] and 'rel="prev"' in page["Link"]
    )
    assert sorted(o["order_number"] for o in ada.json()) == ["A-1", "A-3", "A-5"]
    assert [o["order_number"] for o in etsy.json()] == ["E-1"]
    assert [o["order_number"] for o in number.json()] == ["E-1"]


def test_list_filters_by_due_date(api, owner):
    make_order(owner, order_number="soon", due_by="2030-01-01T00:00:00Z")
    make_order(owner, order_number="later", due_by="2030-06-01T00:00:00Z")
    make_order(owner, order_number="none")

    response = api.get("/api/orders/?due_before=2030-03-01T00:00:00Z")

    assert [o["order_number"] for o in response.json()] == ["soon"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=x", "page"),
        ("page_size=501", "page_size"),
        ("source=shopify", "source"),
        ("due_before=tomorrow", "due_before"),
        ("search=" + "x" * 101, "search"),
    ],
)
def test_bad_list_parameters_are_400_naming_them(api, query, field):
    response = api.get(f"/api/orders/?{query}")

    assert response.status_code == 400
    assert field in response.json()


def test_list_takes_the_same_queries_for_many_orders(api, owner, django_assert_max_num_queries):
    for n in range(60):
        make_order(owner, order_number=str(n), items=[{"title": "A"}, {"title": "B"}])

    with django_assert_max_num_queries(5):
        response = api.get("/api/orders/?page_size=50")

    assert len(response.json()) == 50
    assert all(len(o["items"]) == 2 for o in response.json())

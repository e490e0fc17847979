"""insert_new writes what the ORM would, and each object gets the key of its own row."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from j3d.lib.bulk import insert_new
from orders.models import Order, OrderItem

pytestmark = pytest.mark.django_db


def test_rows_read_back_as_written_with_their_own_keys():
    user = get_user_model().objects.create(username="bulk")
    due = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    orders = [
        Order(
            user=user,
            source=Order.Source.ETSY,
            external_id=str(9000 + n),
            order_number=str(9000 + n),
            total_amount=Decimal("12.34") + n,
            due_by=due if n % 2 else None,
        )
        for n in range(250)  # more than one batch on SQLite (999 parameters)
    ]
    insert_new(orders)
    assert len({o.pk for o in orders}) == 250
    for order in orders:
        row = Order.objects.get(pk=order.pk)
        assert row.external_id == order.external_id
        assert row.total_amount == order.total_amount
        assert row.due_by == order.due_by
        assert row.created_at is not None and row.created_at == order.created_at
    items = [
        OrderItem(
            order=order,
            title=f"Thing {order.external_id}",
            quantity=2,
            unit_price=Decimal("1.50"),
            variations=[{"formatted_name": "Color", "formatted_value": "Sage"}],
        )
        for order in orders[:3]
    ]
    insert_new(items)
    row = OrderItem.objects.get(pk=items[1].pk)
    assert row.order_id == orders[1].pk and row.title == f"Thing {orders[1].external_id}"
    assert row.variations == [{"formatted_name": "Color", "formatted_value": "Sage"}]
    assert row.unit_price == Decimal("1.50")


def test_an_object_that_has_a_key_is_refused():
    user = get_user_model().objects.create(username="bulk2")
    order = Order.objects.create(user=user, order_number="1")
    with pytest.raises(ValueError):
        insert_new([order])

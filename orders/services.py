"""Order rules: manual orders and product profiles (the Etsy sync comes with the Etsy issue)."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from j3d.lib import limits
from orders.models import Order, OrderItem, ProductProfile


@transaction.atomic
def order_create_manual(*, user: Any, items: list[dict[str, Any]], **fields: Any) -> Order:
    """A typed-in order with its items, saved together or not at all."""
    if not 1 <= len(items) <= limits.MAX_ORDER_ITEMS:
        raise ValidationError({"items": f"An order has 1 to {limits.MAX_ORDER_ITEMS} items."})
    order = Order(user=user, source=Order.Source.MANUAL, **fields)
    order.full_clean()
    order.save()
    rows = [OrderItem(order=order, **item) for item in items]
    for row in rows:
        row.full_clean(exclude=["order"])
    OrderItem.objects.bulk_create(rows)
    return order


def product_profile_save(*, profile: ProductProfile, **fields: Any) -> ProductProfile:
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.full_clean()
    profile.save()
    return profile

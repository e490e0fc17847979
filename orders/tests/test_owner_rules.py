"""Tenant consistency below the API: an order's items use its owner's product profiles."""

import pytest
from django.core.exceptions import ValidationError

from j3d.tests.factories import make_profile
from orders.models import Order
from orders.services import order_create_manual

pytestmark = pytest.mark.django_db


def test_an_item_with_another_owners_profile_is_refused(owner, other_owner):
    theirs = make_profile(other_owner)

    with pytest.raises(ValidationError) as error:
        order_create_manual(
            user=owner, order_number="7", items=[{"title": "Dragon", "product_profile": theirs}]
        )

    assert "product_profile" in error.value.message_dict
    assert not Order.objects.exists()


def test_an_item_with_the_owners_profile_is_accepted(owner):
    mine = make_profile(owner)

    order = order_create_manual(
        user=owner, order_number="8", items=[{"title": "Dragon", "product_profile": mine}]
    )

    assert order.items.get().product_profile == mine

"""Order rules live on the models and the service: every door (the API, the Etsy sync, the admin)
gets the same answer."""

import pytest
from django.core.exceptions import ValidationError

from orders.models import Order
from orders.services import order_create_manual

pytestmark = pytest.mark.django_db


def create(owner, items=None, **fields):
    items = [{"title": "Dragon"}] if items is None else items
    return order_create_manual(user=owner, order_number="5", items=items, **fields)


def test_currency_is_stored_upper_case(owner):
    assert create(owner, currency="eur").currency == "EUR"


@pytest.mark.parametrize("currency", ["US1", "ÄÖÜ", "US"])
def test_a_currency_that_is_not_three_letters_is_refused(owner, currency):
    with pytest.raises(ValidationError) as error:
        create(owner, currency=currency)

    assert "currency" in error.value.message_dict
    assert not Order.objects.exists()


@pytest.mark.parametrize("variations", ["red", 5, ["nul \x00 inside"]])
def test_bad_variations_are_refused(owner, variations):
    with pytest.raises(ValidationError) as error:
        create(owner, items=[{"title": "Dragon", "variations": variations}])

    assert "variations" in error.value.message_dict
    assert not Order.objects.exists()


def test_an_order_without_items_is_refused(owner):
    with pytest.raises(ValidationError) as error:
        create(owner, items=[])

    assert "items" in error.value.message_dict

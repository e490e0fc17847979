"""The owner sets the farm's rates, Etsy fees and reorder lead time through the API, and the
figures follow: the analytics orders use the fees of the settings."""

import pytest

from scheduling.tests.test_analytics import RANGE, build_farm

pytestmark = pytest.mark.django_db
URL = "/api/farm-settings"


def test_the_defaults_are_etsys_public_fees(api):
    body = api.get(URL).json()

    assert (
        body["etsy_transaction_fee_pct"],
        body["etsy_payment_fee_pct"],
        body["etsy_payment_fee_fixed"],
        body["etsy_listing_fee"],
    ) == (6.5, 3.0, 0.25, 0.2)  # JSON numbers, as every model field
    assert (body["currency"], body["reorder_lead_days"]) == ("USD", 7)


def test_changed_fees_change_the_orders_margin(api, owner):
    build_farm(owner)
    before = {o["order_number"]: o for o in api.get(f"/api/analytics/orders{RANGE}").json()}
    assert (before["1001"]["fees"], before["1001"]["margin"]) == ("3.50", "23.46")

    changed = api.patch(URL, {"etsy_transaction_fee_pct": 10, "etsy_listing_fee": 0}, format="json")

    assert changed.status_code == 200, changed.content
    assert changed.json()["etsy_payment_fee_pct"] == 3.0  # untouched fields stay
    after = {o["order_number"]: o for o in api.get(f"/api/analytics/orders{RANGE}").json()}
    # 30.00 x 13 % + 0.25 = 4.15; the margin drops by the 0.65 more in fees.
    assert (after["1001"]["fees"], after["1001"]["margin"]) == ("4.15", "22.81")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"etsy_transaction_fee_pct": 101}, "etsy_transaction_fee_pct"),
        ({"machine_hourly_rate": -1}, "machine_hourly_rate"),
        ({"reorder_lead_days": 0}, "reorder_lead_days"),
        ({"currency": "usd"}, "currency"),
    ],
)
def test_a_bad_value_is_a_400_naming_the_field(api, body, field):
    response = api.patch(URL, body, format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_each_owner_has_their_own_settings(api, other_api):
    assert api.patch(URL, {"reorder_lead_days": 21}, format="json").status_code == 200

    assert other_api.get(URL).json()["reorder_lead_days"] == 7


def test_anonymous_is_401(anonymous_api):
    assert anonymous_api.get(URL).status_code == 401

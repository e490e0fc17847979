"""Every number J3D stores is bounded (j3d/lib/limits.py) by a validator and a named constraint.

The validator makes every door (API, admin, services) answer with the field and the reason; the
constraint makes a raw write past the validators fail on SQLite and PostgreSQL alike.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction

from j3d.lib import limits
from j3d.tests.factories import make_job, make_material, make_order, make_printer, make_profile
from orders.models import OrderItem
from orders.services import order_create_manual
from scheduling.services import jobs as jobs_service
from scheduling.services.jobs import schedule_order_prints

pytestmark = pytest.mark.django_db

HUGE = 2**63 - 1


# (what, build a row with the fields, field, a value past the bound, the largest allowed value)
BOUNDED: list[tuple[str, Callable[..., Any], str, Any, Any]] = [
    ("profile", lambda u, **f: make_profile(u, **f), "estimated_duration_minutes", HUGE,
     limits.MAX_PLATE_MINUTES),
    ("profile", lambda u, **f: make_profile(u, **f), "estimated_duration_minutes", 0, 1),
    ("profile", lambda u, **f: make_profile(u, **f), "nozzle_temp", 351, 350),
    ("profile", lambda u, **f: make_profile(u, **f), "bed_temp", 121, 120),
    ("profile", lambda u, **f: make_profile(u, **f), "print_speed", 1001, 1000),
    ("profile", lambda u, **f: make_profile(u, **f), "grams_per_unit", Decimal("10000.1"),
     Decimal(10000)),
    ("profile", lambda u, **f: make_profile(u, **f), "units_per_plate", 1001, 1000),
    ("job", lambda u, **f: make_job(u, make_printer(u), **f), "estimated_duration_minutes",
     limits.MAX_PLATE_MINUTES + 1, limits.MAX_PLATE_MINUTES),
    ("job", lambda u, **f: make_job(u, make_printer(u), **f), "nozzle_temp", 351, 350),
    ("job", lambda u, **f: make_job(u, make_printer(u), **f), "bed_temp", 121, 120),
    ("job", lambda u, **f: make_job(u, make_printer(u), **f), "print_speed", 1001, 1000),
    ("job", lambda u, **f: make_job(u, make_printer(u), **f), "priority", 2**40, 1000),
    ("job", lambda u, **f: make_job(u, make_printer(u), **f), "priority", -1001, -1000),
    ("material", lambda u, **f: make_material(make_printer(u), **f), "weight_grams",
     Decimal("10000.1"), Decimal(10000)),
    ("material", lambda u, **f: make_material(make_printer(u), **f), "cost_per_kg",
     Decimal("100000000.00"), limits.MAX_MONEY),
    ("order", lambda u, **f: make_order(u, **f), "total_amount", Decimal("100000000.00"),
     limits.MAX_MONEY),
    ("item", lambda u, **f: OrderItem.objects.create(order=make_order(u, items=[]), title="D",
     **f), "quantity", 1001, 1000),
    ("item", lambda u, **f: OrderItem.objects.create(order=make_order(u, items=[]), title="D",
     **f), "unit_price", Decimal("100000000.00"), limits.MAX_MONEY),
    ("printer", lambda u, **f: make_printer(u, **f), "ftps_port", 65536, 65535),
]  # fmt: skip

IDS = [f"{what}-{field}-{bad}" for what, _, field, bad, _ in BOUNDED]


@pytest.mark.parametrize(("what", "build", "field", "bad", "good"), BOUNDED, ids=IDS)
def test_a_value_past_its_bound_is_refused_by_the_database(owner, what, build, field, bad, good):
    # PostgreSQL refuses a value past its column's own range before the check (a DataError).
    with pytest.raises((IntegrityError, DataError)) as error, transaction.atomic():
        build(owner, **{field: bad})

    assert "check" in str(error.value).lower() or isinstance(error.value, DataError)


@pytest.mark.parametrize(("what", "build", "field", "bad", "good"), BOUNDED, ids=IDS)
def test_the_bound_itself_is_stored(owner, what, build, field, bad, good):
    row = build(owner, **{field: good})

    row.refresh_from_db()
    assert getattr(row, field) == good


@pytest.mark.parametrize(("what", "build", "field", "bad", "good"), BOUNDED, ids=IDS)
def test_a_value_past_its_bound_is_a_validation_error_naming_the_field(
    owner, what, build, field, bad, good
):
    row = build(owner)
    setattr(row, field, bad)

    with pytest.raises(ValidationError) as error:
        row.full_clean()

    assert field in error.value.message_dict


@pytest.fixture
def frozen_now(monkeypatch) -> datetime:
    now = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)
    monkeypatch.setattr(jobs_service, "timezone", SimpleNamespace(now=lambda: now))
    return now


def test_scheduling_the_longest_order_of_the_longest_plates_a_year_ahead_fits(owner, frozen_now):
    """Regression: a profile of 2**63-1 minutes made schedule-prints overflow (a 500)."""
    printer = make_printer(owner)
    make_profile(owner, name="Dragon", estimated_duration_minutes=limits.MAX_PLATE_MINUTES)
    order = order_create_manual(
        user=owner, order_number="1", items=[{"title": "Dragon"}] * limits.MAX_ORDER_ITEMS
    )

    jobs = schedule_order_prints(
        user_id=owner.id,
        order_id=order.id,
        printer_id=printer.id,
        start_offset_minutes=limits.MAX_START_OFFSET_MINUTES,
    )

    assert len(jobs) == limits.MAX_ORDER_ITEMS
    assert jobs[-1].scheduled_start.year < 2050


def test_a_start_offset_beyond_a_year_is_refused_below_the_api(owner):
    printer = make_printer(owner)
    order = make_order(owner)

    with pytest.raises(ValidationError) as error:
        schedule_order_prints(
            user_id=owner.id, order_id=order.id, printer_id=printer.id, start_offset_minutes=HUGE
        )

    assert "start_offset_minutes" in error.value.message_dict


def test_an_order_with_more_items_than_a_shop_sells_at_once_is_refused(owner):
    with pytest.raises(ValidationError) as error:
        order_create_manual(
            user=owner, order_number="1", items=[{"title": "A"}] * (limits.MAX_ORDER_ITEMS + 1)
        )

    assert "items" in error.value.message_dict


def test_a_huge_profile_duration_through_the_api_is_400_naming_the_field(api):
    response = api.post(
        "/api/product-profiles/",
        {"name": "Dragon", "estimated_duration_minutes": HUGE},
        format="json",
    )

    assert response.status_code == 400
    assert "estimated_duration_minutes" in response.json()


def test_the_schema_documents_the_bounds(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    profile = schema["components"]["schemas"]["ProductProfileRequest"]["properties"]

    assert profile["estimated_duration_minutes"]["maximum"] == limits.MAX_PLATE_MINUTES
    assert profile["nozzle_temp"]["maximum"] == limits.MAX_NOZZLE_TEMP

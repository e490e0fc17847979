"""The analytics API on a small farm whose figures were worked out by hand, to the cent.

Farm: printer A (150 W, farm rate 0.50/h), printer B (own rate 1.00/h); energy 0.30/kWh.
Dragon (50 g PLA at 20.00/kg, 2 units a plate) for Etsy order 1001 (2 x 15.00): a failed attempt
on A (1 h, 40 %: 20 g) and its reprint (2 h). Vase (100 g PETG at 25.00/kg) for manual order 1002
(1 x 40.00) on B, 22:00 to 02:00 across two days.
"""

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from j3d.tests.factories import make_job, make_material, make_order, make_printer, make_profile
from orders.models import Order
from printers.models import PrinterStatus
from scheduling.models import FarmSettings, ScheduledPrint
from scheduling.services.costs import print_record_finish

pytestmark = pytest.mark.django_db
Status = ScheduledPrint.Status
RANGE = "?from=2026-01-10&to=2026-01-11"


def at(day: int, hour: int) -> datetime:
    return timezone.make_aware(datetime(2026, 1, day, 0, 0)) + timedelta(hours=hour)


def attempt(owner, printer, profile, order, status, start, end, **fields):
    job = make_job(
        owner,
        printer,
        product_profile=profile,
        order=order,
        status=status,
        material_slot=0,
        started_at=start,
        completed_at=end,
        **fields,
    )
    print_record_finish(job_id=job.pk)
    return job


def build_farm(owner, serial_prefix="A"):
    FarmSettings.objects.create(user=owner, energy_price_per_kwh=Decimal("0.30"))
    a = make_printer(owner, name="A", serial=f"{serial_prefix}1", power_watts=150)
    b = make_printer(owner, name="B", serial=f"{serial_prefix}2", hourly_rate=Decimal("1.00"))
    make_material(a, slot=0, color_hex="#000000", cost_per_kg=Decimal("20.00"))
    make_material(
        b, slot=0, material_type="PETG", color_hex="#FFFFFF", cost_per_kg=Decimal("25.00")
    )
    dragon = make_profile(
        owner,
        name="Dragon",
        units_per_plate=2,
        estimated_duration_minutes=120,
        filaments=[{"type": "PLA", "color": "#000000", "grams": 50}],
    )
    vase = make_profile(
        owner,
        name="Vase",
        estimated_duration_minutes=240,
        filaments=[{"type": "PETG", "color": "#FFFFFF", "grams": 100}],
    )
    etsy = make_order(
        owner,
        [{"title": "Dragon", "quantity": 2, "unit_price": "15.00", "product_profile": dragon}],
        order_number="1001",
        source=Order.Source.ETSY,
        external_id=f"{serial_prefix}-r1",
    )
    manual = make_order(
        owner,
        [{"title": "Vase", "quantity": 1, "unit_price": "40.00", "product_profile": vase}],
        order_number="1002",
    )
    Order.objects.filter(pk__in=[etsy.pk, manual.pk]).update(created_at=at(10, 7))
    PrinterStatus.objects.filter(printer=a).update(
        snapshot={"subtask_id": "77", "progress_pct": 40}
    )
    job = attempt(
        owner,
        a,
        dragon,
        etsy,
        Status.FAILED,
        at(10, 8),
        at(10, 9),
        printer_subtask_id="77",
        failed_reason="Spaghetti",
    )
    ScheduledPrint.objects.filter(pk=job.pk).update(
        status=Status.COMPLETED, started_at=at(10, 10), completed_at=at(10, 12)
    )
    print_record_finish(job_id=job.pk)
    attempt(owner, b, vase, manual, Status.COMPLETED, at(10, 22), at(11, 2))
    return a, b, dragon, vase, etsy, manual


@pytest.fixture
def farm(owner):
    return build_farm(owner)


def test_summary_matches_the_hand_figures(api, farm):
    body = api.get(f"/api/analytics/summary{RANGE}").json()

    assert body == {
        "from": "2026-01-10",
        "to": "2026-01-11",
        "currency": "USD",
        "jobs_completed": 2,
        "jobs_failed": 1,
        "jobs_cancelled": 0,
        "failure_rate_pct": "33.33",
        "print_hours": "7.00",
        "material_cost": "3.90",  # 0.40 + 1.00 + 2.50
        "machine_cost": "5.50",  # 0.50 + 1.00 + 4.00
        "energy_cost": "0.14",  # 0.045 + 0.090
        "total_cost": "9.54",  # 9.535
        "material_grams": "170.00",
        "printers": 2,
        "utilisation_pct": "7.29",  # 7 of 2 printers x 48 h
        "orders": 2,
        "revenue": "70.00",
        "fees": "3.50",
        "orders_cost": "9.54",
        "margin": "56.96",
        "margin_pct": "81.37",
    }


def test_each_order_counts_its_failed_attempt_and_etsy_fees(api, farm):
    rows = {row["order_number"]: row for row in api.get(f"/api/analytics/orders{RANGE}").json()}

    etsy, manual = rows["1001"], rows["1002"]
    # 30.00 x 9.5 % + 0.25 + 2 x 0.20
    assert (etsy["revenue"], etsy["fees"], etsy["cost"]) == ("30.00", "3.50", "3.04")
    assert (etsy["attempts"], etsy["failed_attempts"]) == (2, 1)
    assert (etsy["margin"], etsy["margin_pct"]) == ("23.46", "78.20")
    assert (manual["fees"], manual["cost"], manual["margin"]) == ("0.00", "6.50", "33.50")
    assert manual["margin_pct"] == "83.75"


def test_products_give_cost_failure_rate_and_margin_per_unit(api, farm):
    rows = {row["name"]: row for row in api.get(f"/api/analytics/products{RANGE}").json()}

    dragon = rows["Dragon"]
    assert (dragon["failure_rate_pct"], dragon["units_made"]) == ("50.00", 2)
    assert dragon["material_cost_per_unit"] == "0.70"  # 1.40 / 2
    assert dragon["machine_cost_per_unit"] == "0.75"  # 1.50 / 2
    assert dragon["cost_per_unit"] == "1.52"  # 3.035 / 2
    # 15.00 - (30.00 x 9.5 % + 2 x 0.20) / 2 - 1.5175
    assert (dragon["fees"], dragon["margin_per_unit"]) == ("3.25", "11.86")
    assert dragon["top_failure_reasons"] == [{"reason": "Spaghetti", "count": 1}]
    assert (rows["Vase"]["cost_per_unit"], rows["Vase"]["margin_per_unit"]) == ("6.50", "33.50")


def test_printers_give_failure_rate_and_utilisation_per_day(api, farm):
    rows = {row["name"]: row for row in api.get(f"/api/analytics/printers{RANGE}").json()}

    a, b = rows["A"], rows["B"]
    assert (a["failure_rate_pct"], a["total_cost"], a["utilisation_pct"]) == (
        "50.00",
        "3.04",
        "6.25",
    )
    assert [(d["date"], d["printing_hours"]) for d in a["daily"]] == [
        ("2026-01-10", "3.00"),
        ("2026-01-11", "0.00"),
    ]
    # The vase ran 22:00-02:00: two hours on each day.
    assert [(d["printing_hours"], d["utilisation_pct"]) for d in b["daily"]] == [
        ("2.00", "8.33"),
        ("2.00", "8.33"),
    ]
    assert (b["machine_cost"], b["energy_cost"], b["failure_rate_pct"]) == ("4.00", "0.00", "0.00")


def test_materials_by_type_and_by_order(api, farm):
    by_type = api.get(f"/api/analytics/materials{RANGE}").json()
    by_order = api.get(f"/api/analytics/materials{RANGE}&by=order").json()

    assert [(r["material_type"], r["color_hex"], r["grams"], r["cost"]) for r in by_type] == [
        ("PETG", "#FFFFFF", "100.00", "2.50"),
        ("PLA", "#000000", "70.00", "1.40"),
    ]
    assert [(r["order_number"], r["grams"], r["cost"], r["attempts"]) for r in by_order] == [
        ("1001", "70.00", "1.40", 2),
        ("1002", "100.00", "2.50", 1),
    ]


def test_csv_export_has_a_header_and_the_same_figures(api, farm):
    response = api.get(f"/api/analytics/orders{RANGE}&format=csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {row["order_number"]: row["margin"] for row in rows} == {
        "1001": "23.46",
        "1002": "33.50",
    }


def test_printers_csv_has_a_row_per_printer_and_day(api, farm):
    text = api.get(f"/api/analytics/printers{RANGE}&format=csv").content.decode()

    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["name"], r["date"], r["day_printing_hours"]) for r in rows] == [
        ("A", "2026-01-10", "3.00"),
        ("A", "2026-01-11", "0.00"),
        ("B", "2026-01-10", "2.00"),
        ("B", "2026-01-11", "2.00"),
    ]
    assert rows[0]["top_failure_reasons"] == "Spaghetti (1)"


def test_a_cell_that_looks_like_a_formula_is_quoted_in_csv(api, owner, farm):
    a = farm[0]
    attempt(
        owner, a, farm[2], None, Status.FAILED, at(11, 1), at(11, 2), failed_reason="=HYPERLINK(1)"
    )

    text = api.get(f"/api/analytics/products{RANGE}&format=csv").content.decode()

    assert "'=HYPERLINK(1) (1)" in text


@pytest.mark.parametrize("kind", ["summary", "printers", "products", "orders", "materials"])
def test_another_owners_figures_are_never_shown(api, other_api, other_owner, farm, kind):
    build_farm(other_owner, serial_prefix="Z")

    mine = api.get(f"/api/analytics/{kind}{RANGE}").json()
    theirs = other_api.get(f"/api/analytics/{kind}{RANGE}").json()

    # The same farm built twice: each owner sees exactly one copy, with their own ids.
    assert without_ids(mine) == without_ids(theirs)
    if kind in ("printers", "products", "orders"):
        assert mine and mine != theirs


def without_ids(data):
    if isinstance(data, list):
        return [without_ids(item) for item in data]
    if isinstance(data, dict):
        return {k: without_ids(v) for k, v in data.items() if k not in ("id", "order_id")}
    return data


@pytest.mark.parametrize("kind", ["summary", "printers", "products", "orders", "materials"])
def test_query_count_does_not_grow_with_the_range(api, farm, kind):
    with CaptureQueriesContext(connection) as short:
        api.get(f"/api/analytics/{kind}?from=2026-01-10&to=2026-01-10")
    with CaptureQueriesContext(connection) as long:
        api.get(f"/api/analytics/{kind}?from=2025-01-01&to=2026-12-31")

    assert len(long) == len(short)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?from=2026-02-01&to=2026-01-01", "from"),
        ("?from=yesterday", "from"),
        ("?to=2026-13-01", "to"),
        ("?to=9999-12-31", "to"),
        ("?to=", "to"),
        ("?format=xml", "format"),
        ("?format=", "format"),
        ("?from=0001-01-01", "from"),
        ("?from=1990-01-01&to=2026-01-01", "from"),
        ("?by=colour", "by"),
    ],
)
def test_a_bad_range_is_a_400_naming_the_field(api, query, field):
    response = api.get(f"/api/analytics/materials{query}")

    assert response.status_code == 400
    assert field in response.json()


def test_anonymous_is_401(anonymous_api):
    assert anonymous_api.get("/api/analytics/summary").status_code == 401


def test_an_error_is_json_even_when_csv_was_asked_for(api):
    response = api.get("/api/analytics/orders?from=2026-02-01&to=2026-01-01&format=csv")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "from" in response.json()


def test_whole_cent_rounding_is_decimal_half_up():
    from decimal import ROUND_HALF_UP

    from scheduling.services.analytics import _half_up, _money

    for per in (100, 333, 10_000):
        for units in range(-30_000, 30_001, 7):
            expected = (Decimal(units) / per).quantize(Decimal(1), ROUND_HALF_UP)
            assert _half_up(units, per) == expected, (units, per)
    assert [_money(c) for c in (0, 5, -5, 123456, -100)] == [
        "0.00",
        "0.05",
        "-0.05",
        "1234.56",
        "-1.00",
    ]

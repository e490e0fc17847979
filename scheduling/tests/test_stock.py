"""Stock across the farm and the reorder list, figured by hand."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from j3d.models import Event
from j3d.tests.factories import make_job, make_material, make_printer, make_profile
from printers.models import SpareSpool
from scheduling.models import FarmSettings, MaterialUse, PrintRecord, ScheduledPrint
from scheduling.services.costs import print_record_finish

pytestmark = pytest.mark.django_db


@pytest.fixture
def farm(owner):
    FarmSettings.objects.create(user=owner, reorder_lead_days=7, spool_grams=1000)
    printer = make_printer(owner)
    # 1000 g at 30 % = 300 g of black PLA in a slot, plus one spare 1 kg spool on the shelf.
    make_material(printer, slot=0, color_hex="#000000", remaining_pct=30)
    SpareSpool.objects.create(user=owner, material_type="PLA", color_hex="#000000", quantity=1)
    # White PETG: 800 g in a slot, used little.
    make_material(printer, slot=1, material_type="PETG", color_hex="#FFFFFF", remaining_pct=80)
    profile = make_profile(owner, filaments=[{"type": "PLA", "color": "#000000", "grams": 200}])
    # Two planned plates: 400 g of black PLA.
    make_job(owner, printer, product_profile=profile)
    make_job(owner, printer, product_profile=profile, status=ScheduledPrint.Status.SCHEDULED)
    # 30 days of use: 1500 g black PLA (50 g/day), 30 g PETG (1 g/day).
    record = PrintRecord.objects.create(
        user=owner,
        printer=printer,
        outcome="completed",
        started_at=timezone.now() - timedelta(days=3),
        ended_at=timezone.now() - timedelta(days=2),
    )
    for kind, colour, grams in [("PLA", "#000000", 1500), ("PETG", "#FFFFFF", 30)]:
        MaterialUse.objects.create(
            user=owner,
            record=record,
            material_type=kind,
            color_hex=colour,
            grams=grams,
            slicer_grams=grams,
        )
    return printer


def test_stock_per_type_and_colour(api, farm):
    rows = {(r["material_type"], r["color_hex"]): r for r in api.get("/api/materials/stock").json()}

    pla = rows[("PLA", "#000000")]
    assert (pla["on_hand_grams"], pla["planned_grams"]) == ("1300.00", "400.00")
    assert (pla["use_per_day_grams"], pla["days_left"]) == ("50.00", "18.0")  # 900 g / 50
    assert pla["spools_to_order"] == 0  # 400 + 7 x 50 = 750 < 1300
    petg = rows[("PETG", "#FFFFFF")]
    assert (petg["on_hand_grams"], petg["days_left"], petg["spools_to_order"]) == (
        "800.00",
        "800.0",
        0,
    )


def test_reorder_lists_what_runs_out_within_the_lead_time(api, owner, farm):
    FarmSettings.objects.filter(user=owner).update(reorder_lead_days=30)

    rows = api.get("/api/materials/reorder").json()

    # Black PLA: 400 planned + 30 x 50 = 1900 g needed, 1300 on hand: 600 g short, one spool.
    assert [(r["material_type"], r["spools_to_order"]) for r in rows] == [("PLA", 1)]


def test_spare_spools_api_is_owner_scoped(api, other_api, owner):
    created = api.post(
        "/api/spare-spools/",
        {"material_type": "PLA", "color_hex": "#ff8800", "quantity": 3},
        format="json",
    )

    assert created.status_code == 201, created.content
    assert created.json()["color_hex"] == "#FF8800"
    spool_id = created.json()["id"]
    assert other_api.get(f"/api/spare-spools/{spool_id}/").status_code == 404
    assert other_api.get("/api/spare-spools/").json() == []
    assert (
        api.patch(f"/api/spare-spools/{spool_id}/", {"quantity": -1}, format="json").status_code
        == 400
    )


def test_another_owners_stock_is_not_counted(other_api, farm):
    assert other_api.get("/api/materials/stock").json() == []


def test_a_spool_taken_below_the_low_mark_raises_material_low(owner):
    printer = make_printer(owner, serial="LOW1")
    make_material(printer, slot=254, remaining_pct=12, cost_per_kg=Decimal(20))
    profile = make_profile(owner, filaments=[{"type": "PLA", "color": "", "grams": 50}])
    start = timezone.now() - timedelta(hours=1)
    job = make_job(
        owner,
        printer,
        product_profile=profile,
        material_slot=254,
        status="completed",
        started_at=start,
        completed_at=start + timedelta(minutes=30),
    )

    print_record_finish(job_id=job.pk)

    # 12 % of 1000 g less 50 g is 7 %: below the 10 % mark, announced as the AMS would.
    row = Event.objects.get(type="material.low")
    assert (row.payload["slot"], row.payload["remaining_pct"]) == (254, 7)

"""POST /api/orders/<order_id>/schedule-prints and schedule_order_prints(): order -> jobs."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from j3d.lib.errors import Conflict, NotFound
from j3d.tests.factories import make_material, make_order, make_printer, make_profile
from scheduling.models import ScheduledPrint
from scheduling.services import jobs as jobs_service
from scheduling.services.jobs import schedule_order_prints

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
def frozen_now(monkeypatch) -> datetime:
    """The service's clock stops at NOW (only the service's: tokens and rows keep real time)."""
    monkeypatch.setattr(jobs_service, "timezone", SimpleNamespace(now=lambda: NOW))
    return NOW


@pytest.fixture
def printer(owner):
    return make_printer(owner)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def schedule(api, order, **body):
    return api.post(f"/api/orders/{order.id}/schedule-prints", body, format="json")


def test_guide_example_two_items_chained_after_a_120_minute_job(api, owner, printer, frozen_now):
    make_profile(owner, name="Dragon", estimated_duration_minutes=120, nozzle_temp=215)
    make_material(printer, slot=3, material_type="PLA")
    order = make_order(
        owner,
        order_number="2045",
        items=[{"title": "Dragon", "quantity": 2}, {"title": "Keychain", "quantity": 5}],
    )

    response = schedule(api, order, printer_id=printer.id)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["message"] == "Scheduled 2 print jobs"
    first, second = body["prints"]
    assert first["job_name"] == "Order #2045 - Dragon"
    assert first["notes"] == "Quantity: 2"
    assert (first["nozzle_temp"], first["estimated_duration_minutes"]) == (215, 120)
    assert first["scheduled_start"] is None
    assert first["priority"] == 10 and second["priority"] == 9
    assert first["status"] == second["status"] == "queued"
    assert first["printer_id"] == second["printer_id"] == printer.id
    assert first["order_id"] == order.id
    assert first["material_slot"] == second["material_slot"] == 3
    # Guide: a 120-minute first job puts the second one 2 h 15 min after now.
    assert second["scheduled_start"] == iso(frozen_now + timedelta(hours=2, minutes=15))
    assert second["notes"] == "Quantity: 5"


def test_start_offset_moves_the_first_start_and_the_chain(api, owner, printer, frozen_now):
    order = make_order(owner, items=[{"title": "A"}, {"title": "B"}, {"title": "C"}])

    prints = schedule(api, order, printer_id=printer.id, start_offset_minutes=30).json()["prints"]

    starts = [job["scheduled_start"] for job in prints]
    assert starts == [
        iso(frozen_now + timedelta(minutes=30)),
        iso(frozen_now + timedelta(minutes=30 + 60 + 15)),
        iso(frozen_now + timedelta(minutes=30 + 2 * (60 + 15))),
    ]


def test_defaults_without_a_matching_profile(api, owner, printer):
    order = make_order(owner, items=[{"title": "Unknown thing"}])

    (job,) = schedule(api, order, printer_id=printer.id).json()["prints"]

    assert (job["nozzle_temp"], job["bed_temp"], job["print_speed"]) == (200, 60, 50)
    assert job["estimated_duration_minutes"] == 60
    assert job["material_type"] == "PLA"
    assert job["material_slot"] is None


def test_material_type_override_picks_lowest_loaded_slot_of_that_type(api, owner, printer):
    make_material(printer, slot=7, material_type="PETG")
    make_material(printer, slot=2, material_type="PETG")
    make_material(printer, slot=1, material_type="PLA")
    make_material(printer, slot=0, material_type="PETG", is_empty=True)
    order = make_order(owner)

    (job,) = schedule(api, order, printer_id=printer.id, material_type="PETG").json()["prints"]

    assert (job["material_type"], job["material_slot"]) == ("PETG", 2)


ITEM = {"title": "Dragon", "sku": "DRG-1", "listing_id": "1234567"}


@pytest.mark.parametrize(
    ("profiles", "expected"),
    [
        # Each case: the profiles that exist (name -> fields) and which one the item must get.
        ({"by name": {"name": "Dragon"}}, "by name"),
        ({"by name": {"name": "dragon"}, "by sku": {"sku": "drg-1"}}, "by sku"),
        (
            {
                "by name": {"name": "Dragon"},
                "by sku": {"sku": "DRG-1"},
                "by listing": {"etsy_listing_id": "1234567"},
            },
            "by listing",
        ),
    ],
)
def test_profile_matching_precedence(api, owner, printer, profiles, expected):
    for label, fields in profiles.items():
        make_profile(owner, **{"name": label, **fields, "file_name": f"{label}.3mf"})
    order = make_order(owner, items=[ITEM])

    (job,) = schedule(api, order, printer_id=printer.id).json()["prints"]

    assert job["file_name"] == f"{expected}.3mf"


def test_items_own_profile_link_wins_over_every_match(api, owner, printer):
    make_profile(owner, name="by listing", etsy_listing_id="1234567", file_name="listing.3mf")
    linked = make_profile(owner, name="linked", file_name="linked.3mf", bed_temp=70)
    order = make_order(owner, items=[{**ITEM, "product_profile": linked}])

    (job,) = schedule(api, order, printer_id=printer.id).json()["prints"]

    assert (job["file_name"], job["bed_temp"]) == ("linked.3mf", 70)


def test_other_users_profiles_never_match(api, owner, printer, other_owner):
    make_profile(other_owner, name="Dragon", nozzle_temp=300, file_name="theirs.3mf")
    order = make_order(owner, items=[{"title": "Dragon"}])

    (job,) = schedule(api, order, printer_id=printer.id).json()["prints"]

    assert (job["nozzle_temp"], job["file_name"]) == (200, "")


def test_priorities_count_down_and_never_go_below_one(api, owner, printer):
    order = make_order(owner, items=[{"title": f"Item {n}"} for n in range(12)])

    response = schedule(api, order, printer_id=printer.id)

    assert response.json()["message"] == "Scheduled 12 print jobs"
    assert [job["priority"] for job in response.json()["prints"]] == [
        10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1, 1,
    ]  # fmt: skip


def test_scheduling_twice_is_409(api, owner, printer):
    order = make_order(owner)
    assert schedule(api, order, printer_id=printer.id).status_code == 201

    response = schedule(api, order, printer_id=printer.id)

    assert response.status_code == 409
    assert response.json()["detail"]
    assert ScheduledPrint.objects.filter(order=order).count() == 1


def test_rescheduling_after_cancelling_is_allowed(api, owner, printer):
    order = make_order(owner)
    schedule(api, order, printer_id=printer.id)
    ScheduledPrint.objects.filter(order=order).update(status=ScheduledPrint.Status.CANCELLED)

    response = schedule(api, order, printer_id=printer.id)

    assert response.status_code == 201


def test_other_users_printer_is_404(api, owner, other_owner):
    order = make_order(owner)

    response = schedule(api, order, printer_id=make_printer(other_owner).id)

    assert response.status_code == 404
    assert not ScheduledPrint.objects.exists()


def test_other_users_order_is_404(api, printer, other_owner):
    response = schedule(api, make_order(other_owner), printer_id=printer.id)

    assert response.status_code == 404
    assert not ScheduledPrint.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    # No printer (null, "auto" or absent) is the farm pool now: test_farm_plan.py.
    [("printer_id", "abc"), ("start_offset_minutes", -5)],
)
def test_bad_body_is_400_naming_the_field(api, owner, printer, field, value):
    response = schedule(api, make_order(owner), **{"printer_id": printer.id, field: value})

    assert response.status_code == 400
    assert field in response.json()


def test_all_or_nothing_when_saving_fails_midway(owner, printer, monkeypatch):
    order = make_order(owner, items=[{"title": "A"}, {"title": "B"}, {"title": "C"}])
    manager = type(ScheduledPrint.objects)

    def save_two_then_fail(self, jobs, *args, **kwargs):
        for job in jobs[:2]:
            job.save()
        raise IntegrityError("disk full")

    monkeypatch.setattr(manager, "bulk_create", save_two_then_fail)

    with pytest.raises(IntegrityError):
        schedule_order_prints(owner.id, order.id, printer.id)

    assert not ScheduledPrint.objects.exists()


def test_all_or_nothing_when_the_third_item_is_invalid(owner, printer, monkeypatch):
    order = make_order(owner, items=[{"title": "A"}, {"title": "B"}, {"title": "C"}])
    build = jobs_service._job_for_item

    def third_one_too_hot(*args, **kwargs):
        job = build(*args, **kwargs)
        if job.job_name.endswith(" - C"):
            job.nozzle_temp = 999
        return job

    monkeypatch.setattr(jobs_service, "_job_for_item", third_one_too_hot)

    with pytest.raises(ValidationError):
        schedule_order_prints(owner.id, order.id, printer.id)

    assert not ScheduledPrint.objects.exists()


def test_plain_function_returns_jobs(owner, printer, frozen_now):
    order = make_order(owner, items=[{"title": "A"}, {"title": "B"}])

    jobs = schedule_order_prints(owner.id, order.id, printer.id, "PETG", 10)

    assert [job.material_type for job in jobs] == ["PETG", "PETG"]
    assert jobs[0].scheduled_start == frozen_now + timedelta(minutes=10)
    assert ScheduledPrint.objects.filter(order=order).count() == 2


def test_plain_function_refuses_other_users_order(owner, printer, other_owner):
    with pytest.raises(NotFound):
        schedule_order_prints(owner.id, make_order(other_owner).id, printer.id)


def test_plain_function_refuses_double_scheduling(owner, printer):
    order = make_order(owner)
    schedule_order_prints(owner.id, order.id, printer.id)

    with pytest.raises(Conflict):
        schedule_order_prints(owner.id, order.id, printer.id)

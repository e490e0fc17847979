"""The stored farm plan: jobs in the farm pool, re-planning after events, GET /api/plan, the queue's
expected times, and a person clearing a plate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from j3d import events
from j3d.tests.factories import make_job, make_material, make_order, make_printer, make_profile
from printers.models import PrinterStatus
from scheduling.models import FarmPlan, PrinterPlanning, ScheduledPrint
from scheduling.services.planning import farm_replan, farm_replan_after

pytestmark = pytest.mark.django_db


def online(printer) -> None:
    PrinterStatus.objects.filter(printer=printer).update(online=True, state="idle")


@pytest.fixture
def farm(owner):
    a = make_printer(owner, name="A", serial="A1", model="P1S")
    b = make_printer(owner, name="B", serial="B1", model="X1C")
    for p in (a, b):
        online(p)
    make_material(a, slot=0, material_type="PLA", color_hex="#FFFFFF")
    make_material(b, slot=0, material_type="PETG", color_hex="#000000")
    return a, b


def test_a_job_posted_without_a_printer_lands_in_the_pool_and_gets_planned(api, owner, farm):
    a, b = farm
    response = api.post(
        "/api/bambu/scheduled-prints",
        {"job_name": "Vase", "material_type": "PETG", "estimated_duration_minutes": 90},
        format="json",
    )
    assert response.status_code == 201, response.data
    assert response.data["printer_id"] is None
    farm_replan(user_id=owner.pk)
    job = ScheduledPrint.objects.get(pk=response.data["id"])
    assert job.printer is None
    assert job.planned_printer == b  # B holds PETG: no swap
    assert job.expected_end - job.expected_start == timedelta(minutes=90)


def test_printer_id_auto_is_the_pool_too(api, farm):
    response = api.post(
        "/api/bambu/scheduled-prints", {"job_name": "Cup", "printer_id": "auto"}, format="json"
    )
    assert response.status_code == 201
    assert response.data["printer_id"] is None


def test_printer_id_that_is_neither_an_id_nor_auto_is_a_400(api, farm):
    response = api.post(
        "/api/bambu/scheduled-prints", {"job_name": "Cup", "printer_id": "best"}, format="json"
    )
    assert response.status_code == 400
    assert "printer_id" in response.data


def test_the_plan_lists_printers_in_order_and_unplaced_jobs_with_the_reason(api, owner, farm):
    a, b = farm
    profile = make_profile(owner, compatible_models=["H2D"])
    make_job(owner, None, job_name="Big", product_profile=profile, estimated_duration_minutes=60)
    first = make_job(
        owner, None, job_name="One", material_type="PLA", estimated_duration_minutes=30
    )
    second = make_job(
        owner, None, job_name="Two", material_type="PLA", estimated_duration_minutes=30
    )
    farm_replan(user_id=owner.pk)
    body = api.get("/api/plan").json()
    assert body["computed_at"]
    plan_a = next(p for p in body["printers"] if p["printer_id"] == a.pk)
    # Both on A, which holds PLA: CP-SAT looked at the farm (the live re-plan lets it) and kept
    # the wait, as the aims price it: B would save 20 minutes but need a spool swap.
    assert [j["job_id"] for j in plan_a["jobs"]] == [first.pk, second.pk]
    assert plan_a["jobs"][0]["swap"] is None
    assert "cp: " in FarmPlan.objects.get(user=owner).notes
    assert body["unplaced"] == [
        {
            "job_id": body["unplaced"][0]["job_id"],
            "job_name": "Big",
            "reason": "no H2D is in the farm",
        }
    ]


def test_the_plan_is_read_in_constant_queries(api, owner, farm):
    for n in range(3):
        make_job(owner, None, job_name=f"J{n}", estimated_duration_minutes=20)
    farm_replan(user_id=owner.pk)
    with CaptureQueriesContext(connection) as few:
        api.get("/api/plan")
    for n in range(20):
        make_job(owner, None, job_name=f"K{n}", estimated_duration_minutes=20)
    farm_replan(user_id=owner.pk)
    with CaptureQueriesContext(connection) as many:
        api.get("/api/plan")
    assert len(many) == len(few)


def test_another_owners_plan_is_not_shown(api, other_owner, farm):
    theirs = make_printer(other_owner, name="Theirs", serial="T1")
    online(theirs)
    make_job(other_owner, None, job_name="Secret")
    farm_replan(user_id=other_owner.pk)
    body = api.get("/api/plan").json()
    assert theirs.pk not in [p["printer_id"] for p in body["printers"]]
    assert body["unplaced"] == []


def test_the_queue_shows_expected_times_and_the_pool_jobs_planned_there(api, owner, farm):
    a, _ = farm
    pinned = make_job(
        owner, a, job_name="Pinned", material_type="PLA", estimated_duration_minutes=30
    )
    pooled = make_job(owner, None, job_name="Pooled", material_type="PLA", priority=-1)
    farm_replan(user_id=owner.pk)
    rows = api.get(f"/api/bambu/scheduled-prints/{a.pk}/queue").json()
    assert [r["id"] for r in rows] == [pinned.pk, pooled.pk]
    assert rows[0]["expected_start"] and rows[0]["expected_end"]
    # Nobody has said A's plate is clear: its next job says so; the one after it waits in line.
    assert rows[0]["waiting_reason"] == "Waiting for someone to clear the plate of A."
    assert rows[1]["waiting_reason"] == ""


def test_a_next_job_says_what_a_person_must_do_and_nothing_once_the_printer_is_ready(
    api, owner, farm
):
    a, _ = farm
    job = make_job(owner, a, job_name="Next", material_type="PLA", estimated_duration_minutes=30)
    PrinterPlanning.objects.create(user=owner, printer=a, auto_dispatch=False, plate_clear=True)
    farm_replan(user_id=owner.pk)
    off = api.get(f"/api/bambu/scheduled-prints/{a.pk}/queue").json()[0]["waiting_reason"]

    PrinterPlanning.objects.filter(printer=a).update(auto_dispatch=True)
    farm_replan(user_id=owner.pk, now=timezone.now() + timedelta(seconds=1))
    job.refresh_from_db()

    assert off == "Auto-dispatch is off: start it yourself."
    assert job.waiting_reason == "" and job.expected_start is not None


def test_a_job_on_an_offline_printer_is_planned_onto_the_other_after_the_event(
    owner, farm, django_capture_on_commit_callbacks
):
    a, b = farm
    job = make_job(owner, None, job_name="Any", estimated_duration_minutes=30)
    farm_replan(user_id=owner.pk, now=timezone.now() - timedelta(minutes=5))
    home = ScheduledPrint.objects.get(pk=job.pk).planned_printer
    other = b if home == a else a
    PrinterStatus.objects.filter(printer=home).update(online=False, state="offline")
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(events.PrinterOffline(user_id=owner.pk, printer_id=home.pk))
    assert ScheduledPrint.objects.get(pk=job.pk).planned_printer == other


def test_a_plan_newer_than_the_event_is_kept(owner, farm):
    plan = farm_replan(user_id=owner.pk)
    assert (
        farm_replan_after(user_id=owner.pk, since=plan.computed_at - timedelta(minutes=1)) is None
    )
    assert farm_replan_after(user_id=owner.pk, since=plan.computed_at) is not None


def test_clearing_the_plate_marks_it_and_announces_it(
    api, owner, farm, django_capture_on_commit_callbacks
):
    a, _ = farm
    PrinterPlanning.objects.create(user=owner, printer=a, plate_clear=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/printers/{a.pk}/plate-cleared")
    assert response.status_code == 200
    assert response.data == {"printer_id": a.pk, "plate_clear": True}
    assert PrinterPlanning.objects.get(printer=a).plate_clear
    assert FarmPlan.objects.filter(user=owner).exists()  # plate.cleared re-planned the farm


def test_another_owners_printer_plate_is_a_404(api, other_owner):
    theirs = make_printer(other_owner, serial="T2")
    assert api.post(f"/api/printers/{theirs.pk}/plate-cleared").status_code == 404


def test_a_due_date_comes_from_the_order(owner, farm):
    order = make_order(owner, due_by=timezone.now() + timedelta(hours=1))
    late = make_job(owner, None, job_name="Late", order=order, estimated_duration_minutes=600)
    farm_replan(user_id=owner.pk)
    job = ScheduledPrint.objects.get(pk=late.pk)
    assert job.expected_end > order.due_by


def test_working_hours_must_be_clock_pairs(owner, farm):
    from django.core.exceptions import ValidationError

    a, _ = farm
    planning = PrinterPlanning(user=owner, printer=a, working_hours=[["8", "20:00"]])
    with pytest.raises(ValidationError):
        planning.full_clean()
    PrinterPlanning(user=owner, printer=a, working_hours=[["22:00", "06:00"]]).full_clean()


def test_an_order_scheduled_without_a_printer_becomes_one_pool_job_per_plate(api, owner, farm):
    make_profile(owner, name="Earring", units_per_plate=4, estimated_duration_minutes=45)
    order = make_order(owner, items=[{"title": "Earring", "quantity": 10}, {"title": "Other"}])
    response = api.post(f"/api/orders/{order.pk}/schedule-prints", {}, format="json")
    assert response.status_code == 201, response.data
    names = [p["job_name"] for p in response.data["prints"]]
    assert names == [
        "Order #1001 - Earring (1/3)",
        "Order #1001 - Earring (2/3)",
        "Order #1001 - Earring (3/3)",
        "Order #1001 - Other",
    ]
    assert {p["printer_id"] for p in response.data["prints"]} == {None}


def test_an_order_scheduled_on_a_printer_keeps_the_guides_behaviour(api, owner, farm):
    a, _ = farm
    order = make_order(owner, items=[{"title": "Dragon", "quantity": 3}])
    response = api.post(
        f"/api/orders/{order.pk}/schedule-prints", {"printer_id": a.pk}, format="json"
    )
    assert response.status_code == 201
    assert [p["printer_id"] for p in response.data["prints"]] == [a.pk]

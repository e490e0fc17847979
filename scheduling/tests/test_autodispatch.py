"""Auto-dispatch: a ready printer with a clear plate starts its next planned job, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from j3d.models import Event
from j3d.tests.factories import make_job, make_material, make_printer, make_profile
from printers.models import PrinterStatus
from scheduling.models import FarmSettings, PrinterPlanning, ScheduledPrint
from scheduling.services import uploads
from scheduling.services.autodispatch import (
    farm_announce_swaps,
    farm_dispatch,
    farm_dispatch_timeouts,
    job_dispatch_undo,
    printer_plate_used,
    printer_take_plate,
)
from scheduling.services.dispatch import job_dispatch
from scheduling.services.planning import farm_replan

pytestmark = pytest.mark.django_db


@pytest.fixture
def printer(owner):
    p = make_printer(owner, name="A", serial="A1", model="P1S")
    PrinterStatus.objects.filter(printer=p).update(online=True, state="idle")
    make_material(p, slot=0, material_type="PLA", color_hex="#FFFFFF")
    PrinterPlanning.objects.create(user=owner, printer=p, plate_clear=True)
    return p


@pytest.fixture
def profile(owner):
    profile = make_profile(owner, name="Cube")
    profile.print_file.save("cube.3mf", ContentFile(b"PK\x03\x04 sliced"), save=True)
    return profile


def pool_job(owner, profile, **kw):
    kw.setdefault("material_type", "PLA")
    kw.setdefault("estimated_duration_minutes", 30)
    return make_job(owner, None, job_name=kw.pop("name", "Cube"), product_profile=profile, **kw)


def test_an_idle_printer_with_a_clear_plate_starts_its_next_planned_job(owner, printer, profile):
    job = pool_job(owner, profile)
    farm_replan(user_id=owner.pk)
    assert farm_dispatch(user_id=owner.pk) == [job.pk]
    job.refresh_from_db()
    assert job.printer == printer and job.dispatched_at and job.printer_subtask_id
    assert not PrinterPlanning.objects.get(printer=printer).plate_clear


def test_nothing_starts_until_a_person_clears_the_plate(owner, printer, profile):
    first, second = pool_job(owner, profile, name="One"), pool_job(owner, profile, name="Two")
    farm_replan(user_id=owner.pk)
    assert farm_dispatch(user_id=owner.pk) == [first.pk]
    ScheduledPrint.objects.filter(pk=first.pk).update(status="completed")
    printer_plate_used(printer_id=printer.pk)
    farm_replan(user_id=owner.pk)
    assert farm_dispatch(user_id=owner.pk) == []
    PrinterPlanning.objects.filter(printer=printer).update(plate_clear=True)
    assert farm_dispatch(user_id=owner.pk) == [second.pk]


def test_a_plate_swapping_printer_does_not_wait_for_a_person(owner, printer, profile):
    PrinterPlanning.objects.filter(printer=printer).update(plate_swapper=True)
    printer_plate_used(printer_id=printer.pk)
    assert PrinterPlanning.objects.get(printer=printer).plate_clear


@pytest.mark.parametrize("state", ["prepare", "running", "pause"])
def test_a_busy_printer_gets_nothing(owner, printer, profile, state):
    pool_job(owner, profile)
    farm_replan(user_id=owner.pk)
    PrinterStatus.objects.filter(printer=printer).update(state=state)
    assert farm_dispatch(user_id=owner.pk) == []


def test_a_printer_that_needs_developer_mode_gets_nothing(owner, printer, profile):
    pool_job(owner, profile)
    farm_replan(user_id=owner.pk)
    PrinterStatus.objects.filter(printer=printer).update(
        snapshot={"hms": [{"full_code": "0500050000010007"}]}
    )
    assert farm_dispatch(user_id=owner.pk) == []


def test_auto_dispatch_switched_off_for_the_printer_or_the_owner(owner, printer, profile):
    pool_job(owner, profile)
    farm_replan(user_id=owner.pk)
    PrinterPlanning.objects.filter(printer=printer).update(auto_dispatch=False)
    assert farm_dispatch(user_id=owner.pk) == []
    PrinterPlanning.objects.filter(printer=printer).update(auto_dispatch=True)
    FarmSettings.objects.create(user=owner, auto_dispatch=False)
    assert farm_dispatch(user_id=owner.pk) == []


def test_a_job_that_needs_a_swap_waits_and_people_are_told_once(owner, printer, profile):
    job = pool_job(owner, profile, material_type="PETG")
    farm_replan(user_id=owner.pk)
    assert ScheduledPrint.objects.get(pk=job.pk).planned_swap["material_type"] == "PETG"
    assert farm_dispatch(user_id=owner.pk) == []
    assert farm_dispatch(user_id=owner.pk) == []
    told = Event.objects.filter(type="material.change_needed", job_id=job.pk)
    assert told.count() == 1
    assert told.get().printer_id == printer.pk


def test_only_one_of_two_dispatchers_takes_the_plate(printer):
    assert printer_take_plate(printer=printer) is True
    assert printer_take_plate(printer=printer) is False


def test_two_dispatch_rounds_send_a_job_once(owner, printer, profile):
    pool_job(owner, profile)
    farm_replan(user_id=owner.pk)
    sent = farm_dispatch(user_id=owner.pk) + farm_dispatch(user_id=owner.pk)
    assert len(sent) == 1


def test_a_dispatch_never_started_goes_back_to_the_pool_with_the_reason(owner, printer, profile):
    job = pool_job(owner, profile)
    farm_replan(user_id=owner.pk)
    farm_dispatch(user_id=owner.pk)
    later = timezone.now() + timedelta(minutes=11)
    assert farm_dispatch_timeouts(now=later) == [job.pk]
    job.refresh_from_db()
    assert job.printer is None and job.dispatched_at is None and job.status == "queued"
    assert "did not start it within 10 minutes" in job.dispatch_error
    assert job.dispatch_failed_at is not None
    assert PrinterPlanning.objects.get(printer=printer).plate_clear
    assert Event.objects.filter(type="job.dispatch_failed", job_id=job.pk).exists()


def test_a_person_pinned_job_stays_on_its_printer_after_a_failed_dispatch(owner, printer, profile):
    job = make_job(owner, printer, job_name="Pinned", product_profile=profile)
    farm_replan(user_id=owner.pk)
    assert farm_dispatch(user_id=owner.pk) == [job.pk]
    farm_dispatch_timeouts(now=timezone.now() + timedelta(minutes=11))
    job.refresh_from_db()
    assert job.printer == printer


def test_a_printer_nobody_said_is_clear_waits(owner, printer, profile):
    PrinterPlanning.objects.filter(printer=printer).delete()
    pool_job(owner, profile)
    farm_replan(user_id=owner.pk)
    assert farm_dispatch(user_id=owner.pk) == []


def test_a_planned_swap_is_announced_ahead_of_time_once_however_often_the_farm_re_plans(
    owner, printer, profile
):
    first = pool_job(owner, profile, name="White PLA")
    later = pool_job(owner, profile, name="Black PETG", material_type="PETG")
    farm_replan(user_id=owner.pk)
    assert ScheduledPrint.objects.get(pk=later.pk).planned_swap["material_type"] == "PETG"
    assert farm_dispatch(user_id=owner.pk) == [first.pk]  # PETG is not the next job yet...
    told = Event.objects.filter(type="material.change_needed", job_id=later.pk)
    assert told.count() == 1  # ...but it starts within the hour: people are told now
    assert told.get().printer_id == printer.pk and told.get().payload["material_type"] == "PETG"
    for _ in range(2):
        farm_replan(user_id=owner.pk)
        farm_dispatch(user_id=owner.pk)
    assert told.count() == 1


def test_a_swap_far_ahead_waits_for_its_notice_and_a_changed_swap_is_announced_again(
    owner, printer, profile
):
    long = pool_job(owner, profile, name="Long PLA", estimated_duration_minutes=600)
    swap = pool_job(owner, profile, name="PETG", material_type="PETG")
    farm_replan(user_id=owner.pk)
    farm_dispatch(user_id=owner.pk)
    told = Event.objects.filter(type="material.change_needed", job_id=swap.pk)
    assert not told.exists()  # ten hours away
    assert farm_announce_swaps(user_id=owner.pk, now=timezone.now() + timedelta(hours=9.5)) == 1
    assert farm_announce_swaps(user_id=owner.pk, now=timezone.now() + timedelta(hours=9.5)) == 0
    ScheduledPrint.objects.filter(pk=swap.pk).update(material_type="ABS")
    farm_replan(user_id=owner.pk)
    assert farm_announce_swaps(user_id=owner.pk, now=timezone.now() + timedelta(hours=9.5)) == 1
    assert [e.payload["material_type"] for e in told.order_by("id")] == ["PETG", "ABS"]
    assert long.pk


def test_a_failed_dispatch_is_shown_on_the_job_in_the_api_and_the_plan(
    api, owner, printer, profile
):
    job = pool_job(owner, profile)
    farm_replan(user_id=owner.pk)
    assert farm_dispatch(user_id=owner.pk) == [job.pk]
    reason = "The upload failed: FTPS login refused"
    assert job_dispatch_undo(job_id=job.pk, reason=reason)
    job.refresh_from_db()
    assert job.printer is None and job.dispatched_at is None and job.status == "queued"
    assert job.dispatch_error == reason and job.dispatch_failed_at is not None
    assert PrinterPlanning.objects.get(printer=printer).plate_clear
    failed = Event.objects.get(type="job.dispatch_failed", job_id=job.pk)
    assert failed.payload["reason"] == reason
    shown = api.patch(f"/api/bambu/scheduled-prints/{job.pk}", {}, format="json").json()
    assert shown["dispatch_error"] == reason and shown["dispatch_failed_at"]
    farm_replan(user_id=owner.pk)
    planned = [j for p in api.get("/api/plan").json()["printers"] for j in p["jobs"]]
    assert [j["dispatch_error"] for j in planned] == [reason]
    # The same failure reported twice undoes nothing more.
    assert not job_dispatch_undo(job_id=job.pk, reason="again")


def _four_dispatched_eleven_minutes_ago(owner, profile):
    """Four printers each sent a job 11 minutes ago; three uploads were taken by the three
    workers of the uploads cluster 10.5 minutes ago, and the fourth still waits in its queue."""
    jobs = []
    for n in range(4):
        p = make_printer(owner, name=f"P{n}", serial=f"P{n}")
        jobs.append(job_dispatch(job=pool_job(owner, profile, name=f"Cube {n}"), printer=p))
    ScheduledPrint.objects.filter(pk__in=[j.pk for j in jobs]).update(
        dispatched_at=timezone.now() - timedelta(minutes=11)
    )
    tokens = [uploads._claim(j.pk, j.printer_subtask_id) for j in jobs[:3]]
    ScheduledPrint.objects.filter(pk__in=[j.pk for j in jobs[:3]]).update(
        upload_started_at=timezone.now() - timedelta(minutes=10, seconds=30)
    )
    return jobs, tokens


def test_an_upload_waiting_behind_running_uploads_is_not_timed_out(owner, profile):
    jobs, tokens = _four_dispatched_eleven_minutes_ago(owner, profile)
    for job, token in zip(jobs[:3], tokens, strict=True):
        assert uploads._Heartbeat(job.pk, token).beat()  # the three uploads are alive

    assert farm_dispatch_timeouts() == []

    waiting = ScheduledPrint.objects.get(pk=jobs[3].pk)
    assert waiting.upload_state == "queued" and waiting.dispatched_at is not None
    assert not Event.objects.filter(type="job.dispatch_failed").exists()


def test_a_queued_upload_is_timed_out_when_the_uploads_cluster_shows_no_life(owner, profile):
    jobs, _ = _four_dispatched_eleven_minutes_ago(owner, profile)
    # The workers died: their claims ran out (the uploads sweep restarts those).
    ScheduledPrint.objects.filter(upload_state="uploading").update(
        upload_expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert farm_dispatch_timeouts() == [jobs[3].pk]

    undone = ScheduledPrint.objects.get(pk=jobs[3].pk)
    assert undone.dispatched_at is None and undone.upload_state == "failed"
    assert ScheduledPrint.objects.filter(upload_state="uploading").count() == 3


def test_the_printer_has_the_timeout_from_the_end_of_its_upload(owner, profile):
    jobs, _ = _four_dispatched_eleven_minutes_ago(owner, profile)
    ScheduledPrint.objects.filter(pk=jobs[0].pk).update(
        upload_state="uploaded", upload_finished_at=timezone.now() - timedelta(minutes=9)
    )
    assert farm_dispatch_timeouts() == []
    later = timezone.now() + timedelta(minutes=2)
    # Two minutes on, the other two uploads still run (their heartbeat renewed the claims).
    ScheduledPrint.objects.filter(upload_state="uploading").update(
        upload_expires_at=later + timedelta(seconds=90)
    )
    assert farm_dispatch_timeouts(now=later) == [jobs[0].pk]

"""One job state machine: job_move and its table, for a person (API, admin) and the printer."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from j3d.lib.errors import Conflict
from j3d.models import Event
from j3d.tests.factories import make_job, make_printer
from scheduling.models import ScheduledPrint
from scheduling.services import jobs as jobs_service
from scheduling.services.dispatch import job_follow_failed, job_follow_finished
from scheduling.services.jobs import job_cancel, job_move, job_update

pytestmark = pytest.mark.django_db

S = ScheduledPrint.Status
PERSON, PRINTER = ScheduledPrint.Actor.PERSON, ScheduledPrint.Actor.PRINTER


@pytest.fixture
def printer(owner):
    return make_printer(owner)


@pytest.mark.parametrize("source", [S.QUEUED, S.SCHEDULED])
def test_the_printer_fails_a_job_whose_dispatch_never_started(owner, printer, source):
    job = make_job(owner, printer, status=source)

    assert job_move(job=job, to=S.FAILED, by=PRINTER, reason="upload refused") is True

    assert (job.status, job.failed_reason) == (S.FAILED, "upload refused")
    assert job.completed_at is not None and job.started_at is None


@pytest.mark.parametrize("source", [S.QUEUED, S.SCHEDULED])
def test_a_person_cannot_fail_a_job_that_never_started(owner, printer, source):
    job = make_job(owner, printer, status=source)

    with pytest.raises(Conflict, match=f"A {source} job cannot become failed"):
        job_move(job=job, to=S.FAILED, by=PERSON)

    job.refresh_from_db()
    assert job.status == source


@pytest.mark.parametrize(("source", "target"), [(S.FAILED, S.QUEUED), (S.QUEUED, S.SCHEDULED)])
def test_the_printer_never_requeues_or_plans_a_job(owner, printer, source, target):
    job = make_job(owner, printer, status=source)

    with pytest.raises(Conflict):
        job_move(job=job, to=target, by=PRINTER)


def test_every_move_of_the_table_is_made_and_nothing_else(owner, printer):
    for source in S.values:
        for target in S.values:
            if source == target:
                continue
            for actor in (PERSON, PRINTER):
                job = make_job(owner, printer, status=source)
                allowed = actor in ScheduledPrint.MOVES.get((source, target), ())
                try:
                    job_move(job=job, to=target, by=actor)
                except Conflict:
                    assert not allowed, (source, target, actor)
                else:
                    assert allowed, (source, target, actor)
                job.refresh_from_db()
                assert job.status == (target if allowed else source)


def test_moving_to_the_current_status_changes_nothing(owner, printer):
    started = timezone.now() - timedelta(minutes=5)
    job = make_job(owner, printer, status=S.STARTED, started_at=started)

    assert job_move(job=job, to=S.STARTED, by=PRINTER) is False

    job.refresh_from_db()
    assert job.started_at == started


def test_unknown_status_is_a_validation_error(owner, printer):
    with pytest.raises(ValidationError) as error:
        job_move(job=make_job(owner, printer), to="paused")

    assert "status" in error.value.message_dict


def test_a_person_and_the_printer_stamp_a_cancel_the_same_way(owner, printer):
    by_person = make_job(owner, printer, status=S.STARTED, started_at=timezone.now())
    by_printer = make_job(
        owner, printer, status=S.STARTED, started_at=timezone.now(), printer_subtask_id="91"
    )

    job_update(job=by_person, status=S.CANCELLED, failed_reason="wrong colour")
    job_follow_failed(
        printer_id=printer.pk, subtask_id="91", reason="cancelled on the printer", cancelled=True
    )

    for job, reason in ((by_person, "wrong colour"), (by_printer, "cancelled on the printer")):
        job.refresh_from_db()
        assert job.status == S.CANCELLED
        assert job.completed_at is not None
        assert job.failed_reason == reason


def test_delete_stamps_the_cancel_like_every_other_door(owner, printer):
    job = make_job(owner, printer)

    job_cancel(job=job)

    job.refresh_from_db()
    assert job.status == S.CANCELLED and job.completed_at is not None


def test_a_finish_whose_start_was_missed_fills_in_started_at(owner, printer):
    job = make_job(owner, printer, printer_subtask_id="77")

    assert job_follow_finished(printer_id=printer.pk, subtask_id="77") == 1

    job.refresh_from_db()
    assert job.status == S.COMPLETED
    assert job.started_at is not None and job.started_at == job.completed_at


def test_a_finish_keeps_the_start_it_saw(owner, printer):
    started = timezone.now() - timedelta(hours=1)
    job = make_job(owner, printer, status=S.STARTED, started_at=started, printer_subtask_id="78")

    job_follow_finished(printer_id=printer.pk, subtask_id="78")

    job.refresh_from_db()
    assert job.started_at == started and job.completed_at > started


def test_a_reprint_forgets_the_previous_attempt_so_its_late_reports_are_ignored(owner, printer):
    job = make_job(owner, printer, status=S.STARTED, started_at=timezone.now())
    job.printer_task_id, job.printer_subtask_id = "500", "501"
    job.dispatched_at = timezone.now()
    job.save()
    job_follow_failed(printer_id=printer.pk, subtask_id="501", reason="spaghetti")

    job_update(job=job, status=S.QUEUED)
    late = job_follow_finished(printer_id=printer.pk, subtask_id="501")

    job.refresh_from_db()
    assert late == 0
    assert job.status == S.QUEUED
    assert (job.printer_subtask_id, job.dispatched_at, job.failed_reason) == ("", None, "")
    assert job.started_at is None and job.completed_at is None


def test_a_late_printer_report_after_a_person_ended_the_job_changes_nothing(owner, printer):
    job = make_job(owner, printer, status=S.STARTED, started_at=timezone.now())
    job.printer_subtask_id = "600"
    job.save()
    job_update(job=job, status=S.COMPLETED)

    assert job_follow_failed(printer_id=printer.pk, subtask_id="600", reason="late") == 0

    job.refresh_from_db()
    assert (job.status, job.failed_reason) == (S.COMPLETED, "")


def test_a_move_decided_from_a_status_changed_meanwhile_is_decided_again(
    owner, printer, monkeypatch
):
    """Another process cancels the job between job_move's read and its UPDATE: the conditional
    UPDATE misses, and the move is judged again from 'cancelled' (refused)."""
    job = make_job(owner, printer, printer_subtask_id="700")
    stamps = jobs_service._stamps

    def cancel_first(*args, **kwargs):
        ScheduledPrint.objects.filter(pk=job.pk).update(status=S.CANCELLED)
        monkeypatch.setattr(jobs_service, "_stamps", stamps)
        return stamps(*args, **kwargs)

    monkeypatch.setattr(jobs_service, "_stamps", cancel_first)

    with pytest.raises(Conflict, match="A cancelled job cannot become started"):
        job_move(job=job, to=S.STARTED, by=PRINTER)

    job.refresh_from_db()
    assert job.status == S.CANCELLED and job.started_at is None


def test_a_refused_move_in_an_update_keeps_the_other_fields(owner, printer):
    job = make_job(owner, printer, status=S.COMPLETED, priority=1)

    with pytest.raises(Conflict):
        job_update(job=job, status=S.STARTED, priority=9)

    job.refresh_from_db()
    assert (job.status, job.priority) == (S.COMPLETED, 1)


def test_a_move_announces_itself_once_in_its_transaction(owner, printer):
    job = make_job(owner, printer, status=S.STARTED, started_at=timezone.now())
    job.printer_subtask_id = "800"
    job.save()

    job_follow_failed(printer_id=printer.pk, subtask_id="800", reason="clogged")
    job_follow_failed(printer_id=printer.pk, subtask_id="800", reason="clogged")  # a replay
    with pytest.raises(Conflict):
        job_move(job=job, to=S.STARTED)  # refused: announces nothing

    [row] = Event.objects.filter(type="job.status_changed")
    assert (row.user_id, row.printer_id, row.job_id) == (owner.pk, printer.pk, job.pk)
    assert row.payload["from_status"] == S.STARTED and row.payload["to_status"] == S.FAILED
    assert (row.payload["by"], row.payload["reason"]) == (PRINTER, "clogged")
    assert row.payload["subtask_id"] == "800"

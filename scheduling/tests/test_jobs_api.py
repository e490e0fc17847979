"""/api/bambu/scheduled-prints: create, status moves, cancel semantics, the queue and ?status."""

from datetime import timedelta

import pytest
from django.utils import timezone

from j3d.tests.factories import make_job, make_order, make_printer
from scheduling.models import ScheduledPrint

pytestmark = pytest.mark.django_db

S = ScheduledPrint.Status


@pytest.fixture
def printer(owner):
    return make_printer(owner)


def put_status(api, job, status, **extra):
    return api.put(
        f"/api/bambu/scheduled-prints/{job.id}", {"status": status, **extra}, format="json"
    )


def test_create_job_returns_201_queued(api, owner, printer):
    order = make_order(owner)
    body = {
        "printer_id": printer.id,
        "order_id": order.id,
        "job_name": "Benchy x4",
        "file_name": "benchy.3mf",
        "scheduled_start": "2030-01-02T09:00:00Z",
        "estimated_duration_minutes": 90,
        "material_type": "PLA",
        "material_slot": 2,
        "nozzle_temp": 220,
        "bed_temp": 65,
        "print_speed": 100,
        "priority": 5,
    }

    response = api.post("/api/bambu/scheduled-prints", body, format="json")

    assert response.status_code == 201, response.content
    job = response.json()
    assert job["status"] == "queued"
    assert job["printer_id"] == printer.id
    assert job["order_id"] == order.id
    assert job["scheduled_start"] == "2030-01-02T09:00:00Z"
    assert job["started_at"] is None and job["completed_at"] is None
    assert ScheduledPrint.objects.get(pk=job["id"]).user == owner


def test_create_job_with_other_users_printer_is_404(api, other_owner):
    foreign = make_printer(other_owner)

    response = api.post(
        "/api/bambu/scheduled-prints/",
        {"printer_id": foreign.id, "job_name": "Sneaky"},
        format="json",
    )

    assert response.status_code == 404
    assert not ScheduledPrint.objects.exists()


def test_create_job_with_missing_printer_is_404(api):
    response = api.post(
        "/api/bambu/scheduled-prints", {"printer_id": 987654, "job_name": "Ghost"}, format="json"
    )

    assert response.status_code == 404


def test_create_job_with_other_users_order_is_404(api, printer, other_owner):
    response = api.post(
        "/api/bambu/scheduled-prints",
        {"printer_id": printer.id, "order_id": make_order(other_owner).id, "job_name": "X"},
        format="json",
    )

    assert response.status_code == 404
    assert not ScheduledPrint.objects.exists()


@pytest.mark.parametrize("status", ["started", "completed", "failed", "cancelled"])
def test_a_new_job_cannot_start_past_waiting(api, printer, status):
    response = api.post(
        "/api/bambu/scheduled-prints",
        {"printer_id": printer.id, "job_name": "X", "status": status},
        format="json",
    )

    assert response.status_code == 400
    assert "status" in response.json()


ALLOWED_MOVES = [
    (S.QUEUED, S.SCHEDULED),
    (S.QUEUED, S.STARTED),
    (S.QUEUED, S.CANCELLED),
    (S.SCHEDULED, S.QUEUED),
    (S.SCHEDULED, S.STARTED),
    (S.SCHEDULED, S.CANCELLED),
    (S.STARTED, S.COMPLETED),
    (S.STARTED, S.FAILED),
    (S.STARTED, S.CANCELLED),
    (S.FAILED, S.QUEUED),
    (S.CANCELLED, S.QUEUED),
]


@pytest.mark.parametrize(("before", "after"), ALLOWED_MOVES)
def test_allowed_status_move(api, owner, printer, before, after):
    job = make_job(owner, printer, status=before)

    response = put_status(api, job, after)

    assert response.status_code == 200, response.content
    assert response.json()["status"] == after
    job.refresh_from_db()
    assert job.status == after


REFUSED_MOVES = [
    (S.QUEUED, S.COMPLETED),
    (S.QUEUED, S.FAILED),
    (S.SCHEDULED, S.COMPLETED),
    (S.STARTED, S.QUEUED),
    (S.STARTED, S.SCHEDULED),
    (S.COMPLETED, S.QUEUED),
    (S.COMPLETED, S.STARTED),
    (S.COMPLETED, S.CANCELLED),
    (S.FAILED, S.STARTED),
    (S.FAILED, S.COMPLETED),
    (S.CANCELLED, S.STARTED),
    (S.CANCELLED, S.SCHEDULED),
]


@pytest.mark.parametrize(("before", "after"), REFUSED_MOVES)
def test_refused_status_move_is_409_naming_the_move(api, owner, printer, before, after):
    job = make_job(owner, printer, status=before)

    response = put_status(api, job, after)

    assert response.status_code == 409
    message = response.json()["detail"]
    assert before in message and after in message
    job.refresh_from_db()
    assert job.status == before


def test_unknown_status_is_400(api, owner, printer):
    job = make_job(owner, printer)

    response = put_status(api, job, "paused")

    assert response.status_code == 400
    assert "status" in response.json()


def test_started_sets_started_at(api, owner, printer):
    job = make_job(owner, printer)
    before = timezone.now()

    body = put_status(api, job, "started").json()

    assert body["started_at"] is not None
    job.refresh_from_db()
    assert job.started_at >= before
    assert job.completed_at is None


def test_completed_sets_completed_at(api, owner, printer):
    job = make_job(owner, printer, status=S.STARTED, started_at=timezone.now())

    body = put_status(api, job, "completed").json()

    assert body["completed_at"] is not None
    assert body["started_at"] is not None


def test_failed_sets_completed_at_and_reason(api, owner, printer):
    job = make_job(owner, printer, status=S.STARTED, started_at=timezone.now())

    body = put_status(api, job, "failed", failed_reason="Spaghetti").json()

    assert body["status"] == "failed"
    assert body["completed_at"] is not None
    assert body["failed_reason"] == "Spaghetti"


def test_reprint_of_failed_job_clears_timestamps_and_reason(api, owner, printer):
    now = timezone.now()
    job = make_job(
        owner,
        printer,
        status=S.FAILED,
        started_at=now - timedelta(hours=1),
        completed_at=now,
        failed_reason="Clogged nozzle",
    )

    body = put_status(api, job, "queued").json()

    assert body["status"] == "queued"
    assert (body["started_at"], body["completed_at"], body["failed_reason"]) == (None, None, "")


def test_partial_update_of_other_fields_keeps_status(api, owner, printer):
    job = make_job(owner, printer, status=S.SCHEDULED, priority=1)

    response = api.patch(
        f"/api/bambu/scheduled-prints/{job.id}/", {"priority": 7, "notes": "Rush"}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["priority"], response.json()["status"]) == (7, "scheduled")


@pytest.mark.parametrize("before", [S.QUEUED, S.SCHEDULED, S.CANCELLED])
def test_delete_cancels_and_keeps_history(api, owner, printer, before):
    job = make_job(owner, printer, status=before)

    response = api.delete(f"/api/bambu/scheduled-prints/{job.id}")

    assert response.status_code == 200
    assert response.json()["message"]
    assert response.json()["status"] == "cancelled"
    job.refresh_from_db()
    assert job.status == S.CANCELLED


@pytest.mark.parametrize("before", [S.STARTED, S.COMPLETED, S.FAILED])
def test_delete_of_started_or_ended_job_is_409(api, owner, printer, before):
    job = make_job(owner, printer, status=before)

    response = api.delete(f"/api/bambu/scheduled-prints/{job.id}/")

    assert response.status_code == 409
    assert response.json()["detail"]
    job.refresh_from_db()
    assert job.status == before


def test_queue_lists_waiting_jobs_in_run_order(api, owner, printer):
    now = timezone.now()
    low = make_job(owner, printer, job_name="low", priority=1)
    later = make_job(
        owner, printer, job_name="later", priority=5, scheduled_start=now + timedelta(hours=2)
    )
    sooner = make_job(owner, printer, job_name="sooner", priority=5, scheduled_start=now)
    asap_old = make_job(owner, printer, job_name="asap old", priority=5)
    asap_new = make_job(owner, printer, job_name="asap new", priority=5)
    top = make_job(owner, printer, job_name="top", priority=9, status=S.SCHEDULED)
    for status in (S.STARTED, S.COMPLETED, S.FAILED, S.CANCELLED):
        make_job(owner, printer, job_name=status, priority=100, status=status)
    make_job(owner, make_printer(owner, serial="OTHERPRINTER"), job_name="elsewhere", priority=50)

    response = api.get(f"/api/bambu/scheduled-prints/{printer.id}/queue")

    assert response.status_code == 200
    expected = [top, asap_old, asap_new, sooner, later, low]
    assert [job["id"] for job in response.json()] == [job.id for job in expected]


def test_queue_of_other_users_printer_is_404(api, other_owner):
    printer = make_printer(other_owner)
    make_job(other_owner, printer)

    assert api.get(f"/api/bambu/scheduled-prints/{printer.id}/queue/").status_code == 404


def test_list_jobs_of_printer_with_status_filter(api, owner, printer):
    queued = make_job(owner, printer, status=S.QUEUED)
    done = make_job(owner, printer, status=S.COMPLETED)

    everything = api.get(f"/api/bambu/scheduled-prints/{printer.id}")
    completed = api.get(f"/api/bambu/scheduled-prints/{printer.id}?status=completed")

    assert {job["id"] for job in everything.json()} == {queued.id, done.id}
    assert [job["id"] for job in completed.json()] == [done.id]


def test_unknown_status_filter_is_400(api, printer):
    response = api.get(f"/api/bambu/scheduled-prints/{printer.id}?status=lost")

    assert response.status_code == 400
    assert "status" in response.json()


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_other_users_job_is_404(api, other_owner, method):
    printer = make_printer(other_owner)
    job = make_job(other_owner, printer)
    # GET takes a printer id, PUT/PATCH/DELETE a job id: both belong to the other owner.
    target = printer.id if method == "get" else job.id

    response = getattr(api, method)(
        f"/api/bambu/scheduled-prints/{target}", {"status": "cancelled"}, format="json"
    )

    assert response.status_code == 404
    job.refresh_from_db()
    assert job.status == S.QUEUED


def test_moving_a_job_to_other_users_printer_is_404(api, owner, printer, other_owner):
    job = make_job(owner, printer)

    response = api.patch(
        f"/api/bambu/scheduled-prints/{job.id}",
        {"printer_id": make_printer(other_owner).id},
        format="json",
    )

    assert response.status_code == 404
    job.refresh_from_db()
    assert job.printer == printer

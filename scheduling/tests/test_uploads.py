"""Uploads at printer speed: their own q2 cluster, progress on the job, one upload at a time,
a crashed worker's upload restarted once, errors recorded; against the FTPS test server."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db import DatabaseError
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from j3d.models import Event
from j3d.tests import processes
from j3d.tests.factories import make_job, make_printer, make_profile
from printers.bambu import ftps
from printers.bambu.ftps_server import FtpsServer
from printers.models import PrinterCommand
from scheduling.models import ScheduledPrint
from scheduling.services import uploads
from scheduling.services.dispatch import job_dispatch
from scheduling.services.uploads import job_upload_and_start, job_uploads_recover

pytestmark = pytest.mark.django_db(transaction=True)

CODE = "Zq7-secret-code-91"  # j3d.tests.factories.ACCESS_CODE
SPEED = 100_000  # bytes/s: a printer's FTPS speed


def _wait(condition: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return result


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    ftps.forget_protection()


@pytest.fixture
def server() -> Iterator[FtpsServer]:
    with FtpsServer(CODE) as srv:
        yield srv


@pytest.fixture
def slow_server() -> Iterator[FtpsServer]:
    with FtpsServer(CODE, bytes_per_second=SPEED) as srv:
        yield srv


def _dispatched(owner: Any, srv: FtpsServer, size: int) -> tuple[ScheduledPrint, bytes]:
    """A job with a sliced file of ``size`` bytes, dispatched to a printer served by ``srv``
    (its upload queued, not run: q2 is not in sync mode here, and no cluster runs)."""
    data = bytes(range(256)) * (size // 256) + b"\x00" * (size % 256)
    profile = make_profile(owner, name="Dragon")
    profile.print_file.save("dragon.gcode.3mf", ContentFile(data))
    printer = make_printer(owner, host="127.0.0.1", ftps_port=srv.port)
    job = make_job(owner, None, job_name="Dragon", product_profile=profile, material_slot=0)
    job = job_dispatch(job=job, printer=printer)
    return job, data


def _job(job: ScheduledPrint) -> ScheduledPrint:
    return ScheduledPrint.objects.get(pk=job.pk)


def _starts(job: ScheduledPrint) -> list[PrinterCommand]:
    return list(
        PrinterCommand.objects.filter(
            action="project_file", params__subtask_id=job.printer_subtask_id
        )
    )


def _stored(srv: FtpsServer) -> list[str]:
    return [t.path for t in srv.transfers if t.command == "STOR" and t.completed]


def test_an_upload_longer_than_the_default_timeout_completes_once_on_the_uploads_cluster(
    owner, settings, tmp_path, slow_server, api
):
    # The default cluster's timeout is 1 s here; the file takes ~2.5 s at 100 KB/s. The uploads
    # cluster gives the task a timeout sized to the file (1 s + 3 x size at 75 KB/s = 11 s).
    settings.UPLOAD_TIMEOUT_MIN_SECONDS = 1
    default_timeout = 1
    job, data = _dispatched(owner, slow_server, size=int(SPEED * (default_timeout + 1.5)))
    assert (_job(job).upload_state, _job(job).upload_bytes_total) == ("queued", len(data))
    [queued] = OrmQ.objects.all()
    assert queued.key == "uploads" and queued.task["timeout"] == 1 + 3 * len(data) // 75_000

    cluster = processes.manage(
        ["qcluster"],
        tmp_path / "uploads.log",
        Q_CLUSTER_NAME="uploads",
        Q_TIMEOUT=str(default_timeout),
        Q_RETRY=str(default_timeout + 1),
        Q_UPLOAD_WORKERS="1",
        UPLOAD_TIMEOUT_MAX_SECONDS="60",
        UPLOAD_PROGRESS_SECONDS="0.3",
    )
    try:
        # Progress shows on the job while the file goes out...
        sending = _wait(lambda: 0 < _job(job).upload_bytes_sent < len(data), timeout=60)
        assert sending, (tmp_path / "uploads.log").read_text()
        assert _job(job).upload_state == "uploading"
        # ...and the upload ends well past the default timeout, complete, in one attempt.
        assert _wait(lambda: _job(job).upload_state != "uploading", timeout=60)
        done = _job(job)
        assert (done.upload_state, done.upload_attempts, done.upload_error) == ("uploaded", 1, "")
        assert done.upload_finished_at - done.upload_started_at > timedelta(seconds=default_timeout)
        assert _wait(lambda: not OrmQ.objects.filter(key="uploads").exists(), timeout=10)
    finally:
        processes.stop(cluster)
    assert slow_server.read(f"/j3d-{job.pk}-dragon.gcode.3mf") == data
    assert _stored(slow_server) == [f"/j3d-{job.pk}-dragon.gcode.3mf"]
    assert len(_starts(job)) == 1
    assert Event.objects.filter(type="job.dispatched", job_id=job.pk).count() == 1
    shown = api.get(f"/api/bambu/scheduled-prints/{job.printer_id}").json()
    [row] = [r for r in shown if r["id"] == job.pk]
    assert row["upload"] == {
        "state": "uploaded",
        "bytes_sent": len(data),
        "bytes_total": len(data),
        "started_at": row["upload"]["started_at"],
        "finished_at": row["upload"]["finished_at"],
        "attempts": 1,
        "last_error": "",
    }
    assert row["upload"]["started_at"] and row["upload"]["finished_at"]


def test_progress_is_written_by_the_heartbeat_not_once_per_block(
    owner, settings, server, monkeypatch
):
    settings.UPLOAD_PROGRESS_SECONDS = 3600  # no heartbeat falls due during this upload
    beats: list[int] = []
    real_beat = uploads._Heartbeat.beat
    monkeypatch.setattr(
        uploads._Heartbeat, "beat", lambda hb: beats.append(hb.sent) or real_beat(hb)
    )
    job, data = _dispatched(owner, server, size=40 * ftps.BLOCK)  # 40 blocks

    command = job_upload_and_start(job_id=job.pk, subtask_id=job.printer_subtask_id)

    assert command is not None and command.params["url"] == f"ftp:///j3d-{job.pk}-dragon.gcode.3mf"
    assert beats == []  # 40 blocks sent, no progress write until the final one
    done = _job(job)
    assert (done.upload_state, done.upload_bytes_sent) == ("uploaded", len(data))


def test_a_second_worker_never_uploads_a_claimed_job(owner, settings, slow_server):
    settings.UPLOAD_PROGRESS_SECONDS = 0.2
    job, data = _dispatched(owner, slow_server, size=SPEED)  # ~1 s
    first: list[Any] = []
    worker = threading.Thread(
        target=lambda: first.append(
            job_upload_and_start(job_id=job.pk, subtask_id=job.printer_subtask_id)
        )
    )
    worker.start()
    try:
        assert _wait(lambda: _job(job).upload_state == "uploading")
        # The same task handed out again (or queued twice) while the first one sends:
        assert job_upload_and_start(job_id=job.pk, subtask_id=job.printer_subtask_id) is None
    finally:
        worker.join(30)
    assert first[0] is not None and _job(job).upload_attempts == 1
    assert len(_stored(slow_server)) == 1 and len(_starts(job)) == 1
    # Run again after it finished: nothing more happens.
    assert job_upload_and_start(job_id=job.pk, subtask_id=job.printer_subtask_id) is None
    assert len(_stored(slow_server)) == 1 and len(_starts(job)) == 1


def test_a_crashed_workers_upload_is_restarted_once_and_never_started_from_a_partial_file(
    owner, settings, tmp_path, slow_server, monkeypatch
):
    settings.UPLOAD_PROGRESS_SECONDS = 0.2
    job, data = _dispatched(owner, slow_server, size=3 * SPEED)  # ~3 s
    task = (
        "from scheduling.tasks import job_upload_and_start as upload; "
        f"upload({job.pk}, '{job.printer_subtask_id}')"
    )
    worker = processes.manage(
        ["shell", "-c", task],
        tmp_path / "worker.log",
        UPLOAD_PROGRESS_SECONDS="0.2",
        UPLOAD_CLAIM_SECONDS="1",
    )
    try:
        partly = _wait(lambda: _job(job).upload_bytes_sent > 0, timeout=60)
        assert partly, (tmp_path / "worker.log").read_text()
    finally:
        worker.send_signal(signal.SIGKILL)  # the worker dies mid-upload
        worker.wait(10)
    crashed = _job(job)
    assert crashed.upload_state == "uploading" and crashed.upload_bytes_sent < len(data)
    assert _starts(job) == []  # a partial file is never started
    # While its claim has not expired, the upload is not restarted...
    assert job_uploads_recover(now=crashed.upload_expires_at - timedelta(seconds=0.5)) == []
    # ...once it has (the heartbeat stopped), the sweep queues it again, and it runs from the
    # start (q2's sync mode stands in for the uploads cluster; the printer now takes it at full
    # speed, as nothing here needs it slow).
    monkeypatch.setattr(Conf, "SYNC", True)
    slow_server.bytes_per_second = None
    assert job_uploads_recover(now=crashed.upload_expires_at + timedelta(seconds=1)) == [job.pk]

    done = _job(job)
    assert (done.upload_state, done.upload_attempts) == ("uploaded", 2)
    assert done.upload_bytes_sent == len(data)
    assert slow_server.read(f"/j3d-{job.pk}-dragon.gcode.3mf") == data
    assert len(_starts(job)) == 1


def test_an_upload_stopped_twice_is_given_up_and_its_dispatch_undone(owner, server):
    job, _ = _dispatched(owner, server, size=1000)
    past = timezone.now() - timedelta(seconds=1)
    ScheduledPrint.objects.filter(pk=job.pk).update(
        upload_state="uploading",
        upload_attempts=2,
        upload_claim="dead-worker",
        upload_expires_at=past,
        upload_bytes_sent=400,
    )

    assert job_uploads_recover() == [job.pk]

    failed = _job(job)
    assert failed.upload_state == "failed" and failed.upload_attempts == 2
    assert "attempt 2 of 2, at 400 of 1000 bytes" in failed.upload_error
    assert failed.dispatched_at is None and failed.printer_subtask_id == ""
    assert "upload to the printer failed" in failed.failed_reason
    assert Event.objects.filter(type="job.dispatch_failed", job_id=job.pk).count() == 1
    assert job_uploads_recover() == []  # once


def test_a_worker_that_lost_its_claim_stops_and_starts_nothing(owner, settings, slow_server):
    settings.UPLOAD_PROGRESS_SECONDS = 0.1
    job, _ = _dispatched(owner, slow_server, size=3 * SPEED)
    result: list[Any] = []
    worker = threading.Thread(
        target=lambda: result.append(
            job_upload_and_start(job_id=job.pk, subtask_id=job.printer_subtask_id)
        )
    )
    worker.start()
    assert _wait(lambda: _job(job).upload_bytes_sent > 0)
    # The sweep judged it dead and another worker took it over:
    ScheduledPrint.objects.filter(pk=job.pk).update(upload_claim="the-other-worker")
    worker.join(30)
    assert result == [None]
    assert _starts(job) == []
    assert _job(job).upload_claim == "the-other-worker"  # the new holder's row, untouched


def test_an_upload_error_is_recorded_with_its_attempts_and_the_dispatch_undone(owner, api):
    with FtpsServer("another-code") as refusing:  # the printer's access code changed
        job, _ = _dispatched(owner, refusing, size=1000)
        assert job_upload_and_start(job_id=job.pk, subtask_id=job.printer_subtask_id) is None

    failed = _job(job)
    assert (failed.upload_state, failed.upload_attempts) == ("failed", 1)
    assert "530" in failed.upload_error and CODE not in failed.upload_error
    assert failed.upload_finished_at is not None
    assert failed.dispatched_at is None and "530" in failed.failed_reason
    event = Event.objects.get(type="job.dispatch_failed", job_id=job.pk)
    assert event.payload["attempts"] == 1
    assert PrinterCommand.objects.filter(action="project_file").count() == 0
    shown = api.get(f"/api/bambu/scheduled-prints/{failed.printer_id}").json()
    [row] = [r for r in shown if r["id"] == job.pk]
    assert row["upload"]["state"] == "failed" and "530" in row["upload"]["last_error"]


def test_a_lost_upload_task_is_queued_again(owner, server, monkeypatch):
    job, data = _dispatched(owner, server, size=5000)
    queued = _job(job)
    assert job_uploads_recover() == []  # not overdue yet
    OrmQ.objects.filter(key="uploads").delete()  # the task is lost (e.g. a broker restored)
    monkeypatch.setattr(Conf, "SYNC", True)

    assert job_uploads_recover(now=queued.upload_expires_at + timedelta(seconds=1)) == [job.pk]

    assert _job(job).upload_state == "uploaded" and server.read(_stored(server)[0]) == data


def test_an_upload_whose_task_still_waits_in_the_queue_is_not_queued_again(owner, server):
    # Uploads take minutes each, so a queued one may wait its turn far past
    # UPLOAD_QUEUED_SECONDS: the sweep must not add a task for it every time it runs.
    job, _ = _dispatched(owner, server, size=5000)
    queued = _job(job)
    [task] = OrmQ.objects.filter(key="uploads")
    later = queued.upload_expires_at + timedelta(seconds=1)

    assert job_uploads_recover(now=later) == []
    assert job_uploads_recover(now=later + timedelta(hours=1)) == []

    assert list(OrmQ.objects.filter(key="uploads")) == [task]
    assert _job(job).upload_state == "queued"


def test_the_print_request_answers_with_the_queued_upload(owner, api, server):
    profile = make_profile(owner, name="Dragon")
    profile.print_file.save("dragon.gcode.3mf", ContentFile(b"x" * 777))
    printer = make_printer(owner, host="127.0.0.1", ftps_port=server.port)
    job = make_job(owner, None, product_profile=profile)

    answer = api.post(
        f"/api/printers/{printer.pk}/print", {"scheduled_print_id": job.pk}, format="json"
    )

    assert answer.status_code == 202
    assert answer.json()["upload"] == {
        "state": "queued",
        "bytes_sent": 0,
        "bytes_total": 777,
        "started_at": None,
        "finished_at": None,
        "attempts": 0,
        "last_error": "",
    }
    # A second dispatch to that printer waits while the upload is pending, however long.
    ScheduledPrint.objects.filter(pk=job.pk).update(
        dispatched_at=timezone.now() - timedelta(hours=1)
    )
    other = make_job(owner, None, product_profile=profile)
    again = api.post(
        f"/api/printers/{printer.pk}/print", {"scheduled_print_id": other.pk}, format="json"
    )
    assert again.status_code == 409


def test_a_worker_that_cannot_renew_its_claim_stops_before_it_could_be_restarted(
    owner, settings, slow_server, monkeypatch
):
    # The database is unreachable from the heartbeat: the claim will expire and the sweep may
    # restart the upload elsewhere, so this worker stops sending first (3/4 of the claim's life).
    settings.UPLOAD_PROGRESS_SECONDS = 0.1
    settings.UPLOAD_CLAIM_SECONDS = 1

    def database_down(heartbeat: Any) -> bool:
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr(uploads._Heartbeat, "_renew", database_down)
    job, data = _dispatched(owner, slow_server, size=3 * SPEED)  # ~3 s, the claim 1 s

    assert job_upload_and_start(job_id=job.pk, subtask_id=job.printer_subtask_id) is None

    stopped = _job(job)
    assert stopped.upload_state == "uploading" and stopped.upload_bytes_sent == 0
    assert _starts(job) == []
    assert stopped.upload_expires_at < timezone.now() + timedelta(seconds=1)  # left to expire

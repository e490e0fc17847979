"""Uploading a dispatched job's file to its printer at printer speed, once, then starting it.

Printers take FTPS at 75-150 KB/s (bambu-protocol.md §6): a 50 MB ``.3mf`` takes 5-10 minutes.
So the upload runs on its own django-q2 cluster (``settings.UPLOADS_CLUSTER``; see ``Q_CLUSTER``
in j3d/settings.py), with a timeout sized to the file, and its state is a set of durable fields
on the job (``ScheduledPrint.upload_*``) that the API and the admin show.

- Claim. A worker takes the upload with a conditional UPDATE (queued -> uploading, a fresh token,
  ``upload_expires_at`` = now + UPLOAD_CLAIM_SECONDS; row count checked), so two workers never
  upload one dispatch at the same time, however often its task was queued.
- Heartbeat. While the file goes out, a thread of the worker renews the claim every
  UPLOAD_PROGRESS_SECONDS and writes ``upload_bytes_sent`` with it: one write per interval, not
  per block, and a claim that stops being renewed means the worker process died (a blocked
  socket does not stop the heartbeat; the FTPS step timeouts and q2's task timeout bound that).
  A heartbeat that finds its token gone (the claim was taken over), or that could not renew it
  for 3/4 of its life (the database unreachable), ends the upload before a restart can overlap.
- Finish. Only after the printer reported the whole file (``SIZE`` equals the bytes sent) does
  the holder mark it uploaded and queue ``project_file``, in one transaction: a job never
  starts from a partial file.
- Crash. ``job_uploads_recover`` (the ``uploads-sweep`` schedule) finds claims past their expiry:
  the upload is queued again from the start (the file is deleted and stored anew; printers'
  vsftpd REST/APPE support is undocumented, so resuming is not relied on) while attempts are
  below UPLOAD_MAX_ATTEMPTS, else marked failed. It also queues again a queued upload whose task
  is overdue and lost (a process died between the commit and queueing the task): not one whose
  task still waits in the uploads cluster's queue, however long (uploads take minutes each).
- Errors. An upload that fails (refused login, timeout, size mismatch, no file) is recorded
  (``upload_error``, ``upload_attempts``) and its dispatch undone at once, as a dispatch the
  printer never started is: ``job.dispatch_failed`` tells people, the plate is free again.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from j3d import events
from printers.bambu.ftps import FtpsError, upload_file
from printers.models import PrinterCommand
from printers.services.commands import command_enqueue
from scheduling.models import ScheduledPrint

logger = logging.getLogger(__name__)

Upload = ScheduledPrint.Upload


class UploadClaimLost(Exception):
    """Another worker took this upload over: this one stops sending and writes nothing."""


def remote_name(job: ScheduledPrint) -> str:
    """The file's name on the printer: unique per job, spaces kept out of the url."""
    original = PurePosixPath(job.product_profile.print_file.name).name
    return f"j3d-{job.pk}-{original}".replace(" ", "_")


def upload_task_timeout(size: int) -> int:
    """Seconds the uploads cluster gives one upload task of ``size`` bytes: three times the
    worst-case transfer (an A1's protected channel may hang a whole step before the clear
    retry) plus the fixed steps, within UPLOAD_TIMEOUT_MAX_SECONDS (the cluster's own timeout;
    its ``retry`` is above it, so q2 never hands a running upload out twice)."""
    transfer = 3 * size / settings.UPLOAD_WORST_CASE_BYTES_PER_SECOND
    wanted = int(settings.UPLOAD_TIMEOUT_MIN_SECONDS + transfer)
    return min(wanted, settings.UPLOAD_TIMEOUT_MAX_SECONDS)


def upload_queue_fields(*, size: int, now: datetime) -> dict[str, object]:
    """The upload fields of a freshly dispatched job (job_dispatch saves them with the job)."""
    return {
        "upload_state": Upload.QUEUED,
        "upload_bytes_sent": 0,
        "upload_bytes_total": size,
        "upload_started_at": None,
        "upload_finished_at": None,
        "upload_attempts": 0,
        "upload_error": "",
        "upload_claim": "",
        "upload_expires_at": now + timedelta(seconds=settings.UPLOAD_QUEUED_SECONDS),
    }


UPLOAD_TASK = "scheduling.tasks.job_upload_and_start"


def upload_enqueue(*, job_id: int, subtask_id: str, size: int) -> None:
    """Queue the upload task on the uploads cluster (call it on commit)."""
    from django_q.tasks import async_task

    async_task(
        UPLOAD_TASK,
        job_id,
        subtask_id,
        cluster=settings.UPLOADS_CLUSTER,
        timeout=upload_task_timeout(size),
        task_name=f"upload job {job_id}",
    )


def _claim(job_id: int, subtask_id: str) -> str | None:
    """Take a queued upload of this dispatch; the token, or None when it is not ours to do."""
    token = secrets.token_hex(16)
    now = timezone.now()
    taken = ScheduledPrint.objects.filter(
        pk=job_id,
        printer_subtask_id=subtask_id,
        status__in=ScheduledPrint.WAITING,
        upload_state=Upload.QUEUED,
        upload_attempts__lt=settings.UPLOAD_MAX_ATTEMPTS,
    ).update(
        upload_state=Upload.UPLOADING,
        upload_claim=token,
        upload_expires_at=now + timedelta(seconds=settings.UPLOAD_CLAIM_SECONDS),
        upload_attempts=F("upload_attempts") + 1,
        upload_started_at=now,
        upload_finished_at=None,
        upload_bytes_sent=0,
    )
    return token if taken else None


class _Heartbeat:
    """Renews the claim and writes the progress every UPLOAD_PROGRESS_SECONDS, on its own thread
    (and database connection) while the upload runs in the caller's."""

    def __init__(self, job_id: int, token: str) -> None:
        self.job_id = job_id
        self.token = token
        self.sent = 0
        # When the claim was last known to be ours (it was taken just before this began).
        self.renewed = time.monotonic()
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"upload-{job_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def progress(self, sent: int) -> None:
        """The FTPS client's callback, after each block: remember, never write."""
        self.sent = sent
        if self.lost.is_set():
            raise UploadClaimLost(f"job {self.job_id}: the upload was taken over")
        if time.monotonic() - self.renewed > 0.75 * settings.UPLOAD_CLAIM_SECONDS:
            # Not renewed for most of the claim's life (database unreachable, process frozen):
            # it may expire and be restarted elsewhere, so stop before two uploads overlap.
            raise UploadClaimLost(f"job {self.job_id}: the claim could not be renewed")

    def _run(self) -> None:
        try:
            while not self._stop.wait(settings.UPLOAD_PROGRESS_SECONDS):
                if not self.beat():
                    self.lost.set()
                    return
        finally:
            connection.close()  # this thread's own connection

    def beat(self) -> bool:
        """One renewal; False when the claim is no longer ours. A database hiccup is not a lost
        claim: the next beat tries again (``progress`` stops the upload if none succeeds for
        most of the claim's life)."""
        try:
            ours = self._renew()
        except DatabaseError as error:
            logger.warning("upload of job %s: heartbeat not written: %s", self.job_id, error)
            close_old_connections()
            return True
        if ours:
            self.renewed = time.monotonic()
        return ours

    def _renew(self) -> bool:
        expires = timezone.now() + timedelta(seconds=settings.UPLOAD_CLAIM_SECONDS)
        return bool(
            ScheduledPrint.objects.filter(
                pk=self.job_id, upload_claim=self.token, upload_state=Upload.UPLOADING
            ).update(upload_bytes_sent=self.sent, upload_expires_at=expires)
        )


def job_upload_and_start(*, job_id: int, subtask_id: str) -> PrinterCommand | None:
    """Upload the dispatched job's file to its printer, then queue ``project_file``.

    Safe to run twice and concurrently: only the worker holding the claim uploads, and a job
    dispatched again since (new subtask id), no longer waiting, or already uploaded is left
    alone. Returns the queued command, or None when there was nothing (more) to do.
    """
    token = _claim(job_id, subtask_id)
    if token is None:
        return None
    job = ScheduledPrint.objects.select_related("printer", "product_profile").get(pk=job_id)
    try:
        source = _source(job)
        size = len(source) if isinstance(source, bytes) else source.stat().st_size
        ScheduledPrint.objects.filter(pk=job_id, upload_claim=token).update(upload_bytes_total=size)
        with _Heartbeat(job_id, token) as heartbeat:
            _send(job, source, heartbeat)
    except UploadClaimLost:
        logger.warning("upload of job %s: taken over by another worker; stopped", job_id)
        return None
    except (FtpsError, OSError, ValueError) as error:
        _record_failure(job, token, _describe(error, job))
        return None
    return _finish(job, token, subtask_id, size)


def _source(job: ScheduledPrint) -> Path | bytes:
    """The sliced file: its path when the storage has one (not read into memory), else bytes."""
    profile = job.product_profile
    if profile is None or not profile.print_file:
        raise ValueError("the job's product profile has no sliced print file any more")
    try:
        return Path(profile.print_file.path)
    except NotImplementedError:  # a remote storage
        with profile.print_file.open("rb") as handle:
            return handle.read()


def _send(job: ScheduledPrint, source: Path | bytes, heartbeat: _Heartbeat) -> None:
    printer = job.printer
    upload_file(
        host=printer.host,
        port=printer.ftps_port,
        access_code=printer.access_code,
        source=source,
        remote_path=f"/{remote_name(job)}",
        verify=printer.tls_verify,
        ca_pem=printer.ca_cert or None,
        serial=printer.serial,
        progress=heartbeat.progress,
    )


def _describe(error: Exception, job: ScheduledPrint) -> str:
    text = str(error) or type(error).__name__
    code = job.printer.access_code if job.printer else ""
    return text.replace(code, "***") if code else text  # FtpsError never has it; others might


@transaction.atomic
def _finish(job: ScheduledPrint, token: str, subtask_id: str, size: int) -> PrinterCommand | None:
    """The printer holds the whole file (SIZE checked): mark it uploaded and queue the start,
    only while this worker still holds the claim and the dispatch is still current."""
    done = ScheduledPrint.objects.filter(
        pk=job.pk,
        upload_claim=token,
        upload_state=Upload.UPLOADING,
        printer_subtask_id=subtask_id,
        status__in=ScheduledPrint.WAITING,
    ).update(
        upload_state=Upload.UPLOADED,
        upload_bytes_sent=size,
        upload_finished_at=timezone.now(),
        upload_expires_at=None,
        upload_claim="",
        upload_error="",
    )
    if not done:
        # Cancelled or sent again while the file went out: it is not started, and the upload
        # is closed so the sweep leaves it alone.
        ScheduledPrint.objects.filter(pk=job.pk, upload_claim=token).update(
            upload_state=Upload.FAILED,
            upload_error="The job was cancelled or sent again during the upload; not started.",
            upload_finished_at=timezone.now(),
            upload_expires_at=None,
            upload_claim="",
        )
        return None
    events.publish(
        events.JobDispatched(
            user_id=job.user_id, printer_id=job.printer_id, job_id=job.pk, job_name=job.job_name
        )
    )
    slot = job.material_slot
    name = remote_name(job)
    return command_enqueue(
        printer=job.printer,
        action=PrinterCommand.Action.PROJECT_FILE,
        user=job.user,
        params={
            "url": f"ftp:///{name}",
            "subtask_name": job.job_name[:100],
            "use_ams": slot is not None and 0 <= slot <= 135,
            "ams_mapping": [slot] if slot is not None else [-1],
            "task_id": job.printer_task_id,
            "subtask_id": subtask_id,
        },
    )


def _record_failure(job: ScheduledPrint, token: str, reason: str) -> None:
    from scheduling.services.autodispatch import job_dispatch_undo

    logger.warning("upload of job %s failed: %s", job.pk, reason)
    with transaction.atomic():
        recorded = ScheduledPrint.objects.filter(pk=job.pk, upload_claim=token).update(
            upload_state=Upload.FAILED,
            upload_error=reason,
            upload_finished_at=timezone.now(),
            upload_expires_at=None,
            upload_claim="",
        )
        if recorded:
            job_dispatch_undo(job_id=job.pk, reason=f"The upload to the printer failed: {reason}")


def _upload_tasks_waiting() -> set[tuple[int, str]] | None:
    """(job id, subtask id) of the upload tasks waiting in the uploads cluster's queue, not yet
    taken by a cluster; None when the broker is not the ORM (Redis's queue is not read here).

    A task a cluster has taken (locked) is left out: its cluster may have died holding it, and
    q2 would hand it out again only after the uploads cluster's ``retry`` (hours). Its upload is
    queued again as before; that duplicate finds nothing to claim if the first one runs.
    """
    from django_q.conf import Conf
    from django_q.models import OrmQ

    if not Conf.ORM or Conf.BROKER_CLASS or Conf.IRON_MQ or isinstance(Conf.SQS, dict):
        return None
    waiting = OrmQ.objects.using(Conf.ORM).filter(
        key=settings.UPLOADS_CLUSTER, lock__lte=timezone.now()
    )
    found = set()
    for row in waiting:
        task = row.task  # decoded; an unreadable payload is {"id": "*<error>"}
        args = task.get("args") or ()
        if task.get("func") == UPLOAD_TASK and len(args) == 2:
            found.add((args[0], args[1]))
    return found


def job_uploads_recover(*, now: datetime | None = None) -> list[int]:
    """Restart the uploads whose worker died (claim expired) while attempts remain, fail the
    rest, and queue again the queued uploads whose task is overdue and no longer waits in the
    queue (lost); returns the job ids."""
    from scheduling.services.autodispatch import job_dispatch_undo

    now = now or timezone.now()
    touched = []
    waiting: set[tuple[int, str]] | None = None  # read once, when a queued upload is overdue
    due = ScheduledPrint.objects.filter(
        upload_state__in=[Upload.QUEUED, Upload.UPLOADING], upload_expires_at__lt=now
    ).order_by("id")
    for job in due:
        current = ScheduledPrint.objects.filter(
            pk=job.pk,
            upload_state=job.upload_state,
            upload_claim=job.upload_claim,
            upload_expires_at=job.upload_expires_at,
        )
        with transaction.atomic():
            if job.status not in ScheduledPrint.WAITING or not job.printer_subtask_id:
                # The job ended or its dispatch was undone: nothing to upload any more.
                if current.update(
                    upload_state=Upload.FAILED,
                    upload_error="The job was cancelled or moved before its upload ended.",
                    upload_claim="",
                    upload_expires_at=None,
                ):
                    touched.append(job.pk)
                continue
            if job.upload_state == Upload.QUEUED:
                if waiting is None:
                    waiting = _upload_tasks_waiting() or set()
                if (job.pk, job.printer_subtask_id) in waiting:
                    continue  # its task waits its turn: not lost
            if (
                job.upload_state == Upload.QUEUED
                or job.upload_attempts < settings.UPLOAD_MAX_ATTEMPTS
            ):
                requeue = {
                    "upload_state": Upload.QUEUED,
                    "upload_claim": "",
                    "upload_expires_at": now + timedelta(seconds=settings.UPLOAD_QUEUED_SECONDS),
                }
                if job.upload_state == Upload.UPLOADING:
                    requeue["upload_error"] = (
                        f"The worker stopped during attempt {job.upload_attempts}, at "
                        f"{job.upload_bytes_sent} of {job.upload_bytes_total} bytes; restarted."
                    )
                if not current.update(**requeue):
                    continue  # renewed or taken meanwhile
                args = {"job_id": job.pk, "subtask_id": job.printer_subtask_id}
                size = job.upload_bytes_total
                transaction.on_commit(lambda a=args, s=size: upload_enqueue(**a, size=s))
            else:
                reason = (
                    f"The worker stopped during attempt {job.upload_attempts} of "
                    f"{settings.UPLOAD_MAX_ATTEMPTS}, at {job.upload_bytes_sent} of "
                    f"{job.upload_bytes_total} bytes; given up."
                )
                failed = current.update(
                    upload_state=Upload.FAILED,
                    upload_error=reason,
                    upload_claim="",
                    upload_expires_at=None,
                    upload_finished_at=now,
                )
                if not failed:
                    continue
                job_dispatch_undo(
                    job_id=job.pk, reason=f"The upload to the printer failed: {reason}"
                )
        touched.append(job.pk)
    return touched

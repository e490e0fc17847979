"""Sending a job to a printer, and the job following what the printer then does.

``job_dispatch`` checks the request and mints the task/subtask ids the printer will echo; the upload
and the ``project_file`` command run in a django-q2 task on the uploads cluster
(``scheduling/services/uploads.py``) because an FTPS upload takes minutes at printer speeds
(~75-150 KB/s, §6), which neither a web request nor the printer link's loop can wait for. The
``job_follow_*`` functions are called by the event receivers (scheduling/receivers.py) and move
the job through ``job_move`` as the printer (scheduling.models.ScheduledPrint.MOVES says what it
may do); a replayed event changes nothing.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from j3d.lib.errors import Conflict
from orders.models import ProductProfile
from printers.models import Printer, PrinterStatus
from scheduling.models import ScheduledPrint
from scheduling.services.jobs import job_move
from scheduling.services.uploads import upload_enqueue, upload_queue_fields

logger = logging.getLogger(__name__)

_ID_MODULUS = 2**31 - 1  # the printer may read ids as int32 (§5.4, BDY #1042)
# A dispatched job that has not started within this long (upload failed, printer refused) no
# longer blocks the printer for the next dispatch.
DISPATCH_GRACE_MINUTES = 15


def _mint_ids() -> tuple[str, str]:
    """Fresh task and subtask ids, so the printer never takes a reprint for the previous job."""
    base = int(time.time() * 1000) % _ID_MODULUS or 1
    return str(base), str(base % (_ID_MODULUS - 1) + 1)


@transaction.atomic
def job_dispatch(*, job: ScheduledPrint, printer: Printer) -> ScheduledPrint:
    """Reserve ``job`` for ``printer`` and queue its upload + start; raises Conflict (409) when the
    printer is busy or the job cannot start, ValidationError (400) when it has no sliced file."""
    # Lock the printer row first: two dispatches to one printer are decided one after the other.
    printer = Printer.objects.select_for_update().get(pk=printer.pk)
    job = (
        ScheduledPrint.objects.select_for_update(of=("self",))
        .select_related("product_profile")
        .get(pk=job.pk)
    )
    profile = job.product_profile
    if profile is None or not profile.print_file:
        raise ValidationError(
            {"scheduled_print_id": ["This job's product profile has no sliced print file."]}
        )
    if job.printer_id is not None and job.printer_id != printer.pk:
        raise Conflict("This job is planned for another printer.")
    if job.status not in ScheduledPrint.WAITING:
        raise Conflict(f"A {job.status} job cannot be sent to a printer.")
    if not printer.enabled:
        raise Conflict("This printer is disabled.")
    recent = timezone.now() - timedelta(minutes=DISPATCH_GRACE_MINUTES)
    # A job being sent: dispatched lately, or its upload still queued or running (a big file
    # takes longer than the grace at printer speed).
    in_flight = ScheduledPrint.objects.filter(
        printer=printer, status__in=ScheduledPrint.WAITING, dispatched_at__isnull=False
    ).filter(
        Q(dispatched_at__gte=recent)
        | Q(upload_state__in=[ScheduledPrint.Upload.QUEUED, ScheduledPrint.Upload.UPLOADING])
    )
    if in_flight.exists():
        raise Conflict("A job is already being sent to this printer; wait until it starts.")
    state = PrinterStatus.objects.filter(printer=printer).values_list("state", flat=True).first()
    if state in PrinterStatus.BUSY_STATES:
        raise Conflict(f"The printer is busy ({state}); wait until it is idle or finished.")
    task_id, subtask_id = _mint_ids()
    now = timezone.now()
    job.printer = printer
    job.printer_task_id, job.printer_subtask_id = task_id, subtask_id
    job.dispatched_at = now
    size = _file_size(profile)
    upload = upload_queue_fields(size=size, now=now)
    for field, value in upload.items():
        setattr(job, field, value)
    job.full_clean()  # the printer must be the job's owner's (ScheduledPrint.clean)
    job.save(
        update_fields=[
            "printer",
            "printer_task_id",
            "printer_subtask_id",
            "dispatched_at",
            *upload,
        ]
    )
    transaction.on_commit(lambda: upload_enqueue(job_id=job.pk, subtask_id=subtask_id, size=size))
    return job


def _file_size(profile: ProductProfile) -> int:
    try:
        return profile.print_file.size
    except OSError:
        raise ValidationError(
            {"scheduled_print_id": ["This job's sliced print file is missing from storage."]}
        ) from None


def _jobs_for(printer_id: int, subtask_id: str) -> Any:
    if not subtask_id or subtask_id == "0":
        return ScheduledPrint.objects.none()
    return ScheduledPrint.objects.filter(printer_id=printer_id, printer_subtask_id=subtask_id)


def _follow(printer_id: int, subtask_id: str, to: str, reason: str = "") -> int:
    """Move the job(s) the printer reports about through job_move, as the printer."""
    moved = 0
    for job in _jobs_for(printer_id, subtask_id):
        try:
            moved += job_move(job=job, to=to, by=ScheduledPrint.Actor.PRINTER, reason=reason)
        except Conflict as refused:  # a late replay, or a person ended the job first
            logger.info("job %s does not follow printer %s: %s", job.pk, printer_id, refused)
    return moved


def job_follow_started(*, printer_id: int, subtask_id: str) -> int:
    """The printer runs a job J3D sent: -> started (once)."""
    return _follow(printer_id, subtask_id, ScheduledPrint.Status.STARTED)


def job_follow_finished(*, printer_id: int, subtask_id: str) -> int:
    """The printer finished it: -> completed (a missed start is filled in)."""
    return _follow(printer_id, subtask_id, ScheduledPrint.Status.COMPLETED)


def job_follow_failed(
    *, printer_id: int, subtask_id: str, reason: str, cancelled: bool = False
) -> int:
    """The printer's job ended in FAILED: -> failed with the decoded reason, or cancelled when a
    person stopped it."""
    Status = ScheduledPrint.Status
    return _follow(printer_id, subtask_id, Status.CANCELLED if cancelled else Status.FAILED, reason)

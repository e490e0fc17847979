"""Auto-dispatch: a ready printer starts its next planned job by itself.

Ready: enabled, online, not preparing/printing/paused, no Developer Mode refusal from the link,
auto-dispatch on for the printer and its owner, and its plate clear (a person said so, or it has
plate-swapping hardware). A printer nobody has said that of yet waits: J3D cannot see whether
the last print is still on the plate. The next job is the stored plan's first waiting job for
it; when the plan puts a swap before that job, people are told (``material.change_needed``, once
per planned swap, ``SWAP_NOTICE_MINUTES`` before the job's expected start and at the latest when it
is the printer's next job) and the job waits until the spool is changed (the material event
re-plans, and the swap disappears).

At most once, with any number of processes: a dispatcher first takes the printer's plate with a
conditional UPDATE (plate_clear true -> false, row count checked), so two racing dispatchers never
both send a job to one printer; the job itself goes through ``job_dispatch``, the same path as a
person's POST /api/printers/<id>/print (upload over FTPS in a q2 task, then ``project_file``).

A dispatch the printer does not act on within ``DISPATCH_TIMEOUT_MINUTES`` of its file being there
(no prepare/running, so the job never became ``started``; an upload still queued or running is
not the printer's delay) is undone by ``farm_dispatch_timeouts``: the job goes back to the pool
with the reason, the plate is free again, and ``job.dispatch_failed`` is recorded (the
notifications app tells people).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from j3d import events
from j3d.lib.errors import DomainError
from j3d.models import Event
from printers.bambu.errors import HMS_DEVELOPER_MODE_REQUIRED
from printers.models import Printer, PrinterStatus
from scheduling.models import FarmSettings, PrinterPlanning, ScheduledPrint
from scheduling.services.dispatch import job_dispatch

logger = logging.getLogger(__name__)

DISPATCH_TIMEOUT_MINUTES = 10
# A planned swap is announced this long before the job is expected to start (and whenever the job
# is the printer's next one): time to fetch the spool.
SWAP_NOTICE_MINUTES = 60


def _needs_developer_mode(status: PrinterStatus) -> bool:
    hms = (status.snapshot or {}).get("hms") or ()
    return any(
        isinstance(e, dict) and e.get("full_code") == HMS_DEVELOPER_MODE_REQUIRED for e in hms
    )


def printer_waits_for(*, printer: Printer, owner_auto_dispatch: bool = True) -> str:
    """What a person must do before this idle printer starts its next planned job by itself
    ("" when nothing): the dispatcher skips the printer for it, the plan shows it on the job."""
    planning = getattr(printer, "planning", None)
    status = getattr(printer, "status", None)
    if not owner_auto_dispatch or (planning is not None and not planning.auto_dispatch):
        return "Auto-dispatch is off: start it yourself."
    if status is not None and _needs_developer_mode(status):
        return f"{printer.name} refuses remote control: turn on its Developer Mode."
    if planning is None or not planning.plate_clear:
        return f"Waiting for someone to clear the plate of {printer.name}."
    return ""


def _next_job(printer: Printer) -> ScheduledPrint | None:
    return (
        ScheduledPrint.objects.filter(user_id=printer.user_id)
        .waiting()
        .filter(Q(printer=printer) | Q(printer=None, planned_printer=printer))
        .filter(dispatched_at=None)
        .exclude(expected_start=None)
        .order_by("expected_start", "id")
        .first()
    )


def _swap_of(job: ScheduledPrint, printer_id: int) -> tuple[int, int | None, str, str]:
    """What an announcement of the job's planned swap says: printer, slot, material, colour."""
    swap = job.planned_swap or {}
    color = swap.get("color")
    return (
        printer_id,
        swap.get("slot"),
        swap.get("material_type") or "",
        f"#{color}" if color else "",
    )


def _announced(job_ids: list[int]) -> set[tuple[int, tuple]]:
    """The swaps already announced for these jobs, as (job id, _swap_of(...))."""
    rows = Event.objects.filter(type=events.MaterialChangeNeeded.type, job_id__in=job_ids)
    return {
        (
            row["job_id"],
            (
                row["printer_id"],
                row["payload"].get("slot"),
                row["payload"].get("material_type") or "",
                row["payload"].get("color_hex") or "",
            ),
        )
        for row in rows.values("job_id", "printer_id", "payload")
    }


def _announce_swaps(jobs: list[ScheduledPrint]) -> int:
    """Tell people of each job's planned swap, once per swap: the same swap planned again by the
    next re-plan is not announced twice; a different one (another printer, slot or spool) is."""
    jobs = [j for j in jobs if j.planned_swap and (j.printer_id or j.planned_printer_id)]
    done = _announced([j.pk for j in jobs])
    told = 0
    for job in jobs:
        printer_id, slot, material, color = _swap_of(job, job.printer_id or job.planned_printer_id)
        if (job.pk, (printer_id, slot, material, color)) in done:
            continue
        events.publish(
            events.MaterialChangeNeeded(
                user_id=job.user_id,
                printer_id=printer_id,
                job_id=job.pk,
                slot=slot,
                material_type=material,
                color_hex=color,
                reason=f"{job.job_name} needs {material} in slot {slot}"
                + (
                    f" by {job.expected_start:%Y-%m-%d %H:%M} UTC"
                    if job.expected_start is not None
                    else ""
                ),
            )
        )
        told += 1
    return told


def farm_announce_swaps(*, user_id: int | None = None, now: datetime | None = None) -> int:
    """Announce the planned swaps of jobs expected to start within SWAP_NOTICE_MINUTES, so a
    person has the spool ready ahead of time (material.change_needed, once per planned swap)."""
    now = now or timezone.now()
    jobs = (
        ScheduledPrint.objects.waiting()
        .filter(
            dispatched_at=None, expected_start__lte=now + timedelta(minutes=SWAP_NOTICE_MINUTES)
        )
        .exclude(planned_swap=None)
        .order_by("expected_start", "id")
    )
    if user_id is not None:
        jobs = jobs.filter(user_id=user_id)
    return _announce_swaps(list(jobs))


def printer_take_plate(*, printer: Printer) -> bool:
    """Claim the printer's clear plate for one dispatch: True for exactly one caller."""
    PrinterPlanning.objects.get_or_create(printer=printer, defaults={"user_id": printer.user_id})
    return bool(
        PrinterPlanning.objects.filter(printer=printer, plate_clear=True).update(
            plate_clear=False, updated_at=timezone.now()
        )
    )


def _give_back_plate(printer_id: int) -> None:
    PrinterPlanning.objects.filter(printer_id=printer_id).update(
        plate_clear=True, updated_at=timezone.now()
    )


def farm_dispatch(*, user_id: int | None = None) -> list[int]:
    """Start the next planned job on every ready printer (of one owner, or all); returns the ids
    of the jobs sent."""
    printers = (
        Printer.objects.filter(enabled=True).select_related("status", "planning").order_by("id")
    )
    if user_id is not None:
        printers = printers.filter(user_id=user_id)
    owners_off = set(
        FarmSettings.objects.filter(auto_dispatch=False).values_list("user_id", flat=True)
    )
    farm_announce_swaps(user_id=user_id)
    sent = []
    for printer in printers:
        status = getattr(printer, "status", None)
        planning = getattr(printer, "planning", None)
        if printer.user_id in owners_off or (planning and not planning.auto_dispatch):
            continue
        job = _next_job(printer)
        if job is None:
            continue
        if job.planned_swap:
            _announce_swaps([job])
            continue
        if status is None or not status.online or status.state in PrinterStatus.BUSY_STATES:
            continue
        if printer_waits_for(printer=printer):
            continue
        if _dispatch(job, printer):
            sent.append(job.pk)
    return sent


def _dispatch(job: ScheduledPrint, printer: Printer) -> bool:
    if not printer_take_plate(printer=printer):
        return False  # another dispatcher took it, or the plate is not clear
    try:
        with transaction.atomic():
            # A pool job remembers it was placed by the dispatcher; a pinned one stays pinned.
            claimed = ScheduledPrint.objects.filter(
                pk=job.pk, status__in=ScheduledPrint.WAITING, dispatched_at=None
            ).update(auto_dispatched=job.printer_id is None)
            if not claimed:
                raise DomainError("the job was taken or moved meanwhile")
            job_dispatch(job=job, printer=printer)
    except (DomainError, ValidationError) as error:
        _give_back_plate(printer.pk)
        logger.info("Auto-dispatch of job %s to printer %s refused: %s", job.pk, printer.pk, error)
        return False
    return True


def farm_dispatch_timeouts(*, now: datetime | None = None) -> list[int]:
    """Undo the dispatches the printer never started (see the module docstring). The clock
    measures the printer, not the uploads: for an uploaded file it runs from the upload's end
    (when ``project_file`` was queued); a running upload is never late (a dead one is found by
    its stale heartbeat in ``job_uploads_recover``); and a queued upload waits its turn for as
    long as the uploads cluster works its queue, which takes one upload per worker at a time, so
    more dispatches at once than workers wait for minutes. A queued upload is late only when
    the cluster shows no life for the whole timeout (down, or no worker at all)."""
    now = now or timezone.now()
    limit = now - timedelta(minutes=DISPATCH_TIMEOUT_MINUTES)
    Upload = ScheduledPrint.Upload
    stale = (
        ScheduledPrint.objects.waiting()
        .filter(dispatched_at__lt=limit)
        .exclude(upload_state=Upload.UPLOADING)
        .exclude(upload_state=Upload.UPLOADED, upload_finished_at__gte=limit)
    )
    if _uploads_moving(now=now, since=limit):
        stale = stale.exclude(upload_state=Upload.QUEUED)
    stale = list(stale.select_related("printer").order_by("id"))
    undone = []
    for job in stale:
        reason = (
            f"{job.printer.name if job.printer else 'The printer'} did not start it within "
            f"{DISPATCH_TIMEOUT_MINUTES} minutes of the dispatch"
        )
        if job_dispatch_undo(job_id=job.pk, reason=reason, dispatched_at=job.dispatched_at):
            undone.append(job.pk)
    return undone


def _uploads_moving(*, now: datetime, since: datetime) -> bool:
    """Whether the uploads cluster works its queue: an upload holds a claim its heartbeat keeps
    renewing, or a worker took one since ``since`` (any owner's: the cluster is shared)."""
    Upload = ScheduledPrint.Upload
    return ScheduledPrint.objects.filter(
        Q(upload_state=Upload.UPLOADING, upload_expires_at__gte=now)
        | Q(upload_started_at__gte=since)
    ).exists()


@transaction.atomic
def job_dispatch_undo(*, job_id: int, reason: str, dispatched_at: datetime | None = None) -> bool:
    """Undo a dispatch that will not start (never started in time, or its upload failed): the
    job forgets the printer's ids (an auto-dispatched one goes back to the pool), the plate is
    free again, and ``job.dispatch_failed`` is recorded. False when there was nothing to undo
    (the job started or moved meanwhile; ``dispatched_at``, when given, must still match)."""
    job = (
        ScheduledPrint.objects.select_for_update(of=("self",))
        .select_related("printer")
        .filter(pk=job_id, status__in=ScheduledPrint.WAITING, dispatched_at__isnull=False)
        .first()
    )
    if job is None or (dispatched_at is not None and job.dispatched_at != dispatched_at):
        return False
    printer = job.printer
    now = timezone.now()
    changes = {
        "dispatched_at": None,
        "printer_task_id": "",
        "printer_subtask_id": "",
        "failed_reason": reason,
        "auto_dispatched": False,
        # Kept on the job for the API, the plan and the admin (failed_reason is the print's).
        "dispatch_error": reason[:500],
        "dispatch_failed_at": now,
        "updated_at": now,
    }
    if job.auto_dispatched:
        changes["printer"] = None  # back to the pool
    if job.upload_state == ScheduledPrint.Upload.QUEUED:  # its task, if it ever runs, is void
        changes.update(upload_state=ScheduledPrint.Upload.FAILED, upload_error=reason)
    ScheduledPrint.objects.filter(pk=job.pk).update(**changes)
    if printer is not None:
        _give_back_plate(printer.pk)
    events.publish(
        events.JobDispatchFailed(
            user_id=job.user_id,
            printer_id=printer.pk if printer else None,
            job_id=job.pk,
            order_id=job.order_id,
            job_name=job.job_name,
            reason=reason,
            attempts=max(job.upload_attempts, 1),
        )
    )
    return True


def printer_plate_used(*, printer_id: int) -> None:
    """A print ended on the printer: its plate holds the print until a person clears it, unless
    the printer swaps plates itself."""
    PrinterPlanning.objects.filter(printer_id=printer_id).update(
        plate_clear=F("plate_swapper"), updated_at=timezone.now()
    )

"""Maintenance a person schedules per printer ("lubricate rods every 200 printing hours", "clean
the nozzle every 2 weeks"): counting printing hours, announcing what is due, resetting on "done".

Printing hours come from the event log: a print's hours are the time between its print.started
event and the print.completed / print.failed event that ended it, so prints started outside J3D
count too. Each end event is counted once per task (``last_counted_event_id``), so an event
handled twice adds its hours once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from j3d import events
from j3d.lib.validation import save_validated
from j3d.models import Event as EventRow
from notifications.models import MaintenanceTask

# A print longer than this between its start and end events is a lost end event, not a print.
MAX_PRINT_HOURS = Decimal(14 * 24)


def maintenance_count_print(*, event: events.PrintFinished | events.PrintFailed) -> int:
    """Add the print that ``event`` ended to its printer's hour counters; returns tasks updated."""
    if event.printer_id is None or event.event_id is None:
        return 0
    hours = _print_hours(event)
    if hours <= 0:
        return 0
    tasks = MaintenanceTask.objects.filter(printer_id=event.printer_id).filter(
        Q(last_counted_event_id__isnull=True) | Q(last_counted_event_id__lt=event.event_id)
    )
    updated = 0
    for task in tasks:
        with transaction.atomic():
            # Conditional: of two workers handling the same event, one adds the hours.
            won = (
                MaintenanceTask.objects.filter(pk=task.pk)
                .filter(
                    Q(last_counted_event_id__isnull=True)
                    | Q(last_counted_event_id__lt=event.event_id)
                )
                .update(
                    print_hours_since_done=F("print_hours_since_done") + hours,
                    last_counted_event_id=event.event_id,
                    updated_at=timezone.now(),
                )
            )
            if won:
                updated += 1
                task.refresh_from_db()
                _announce_if_due(task, timezone.now())
    return updated


def _print_hours(event: events.Event) -> Decimal:
    ended = event.occurred_at or timezone.now()
    starts = EventRow.objects.filter(
        type=events.PrintStarted.type, printer_id=event.printer_id, occurred_at__lte=ended
    )
    if event.subtask_id:
        starts = starts.filter(payload__subtask_id=event.subtask_id)
    started = starts.order_by("-occurred_at", "-id").values_list("occurred_at", flat=True).first()
    if started is None:
        return Decimal(0)
    hours = Decimal((ended - started).total_seconds()) / Decimal(3600)
    return hours.quantize(Decimal("0.01")) if hours <= MAX_PRINT_HOURS else Decimal(0)


def maintenance_check_due(*, now: datetime | None = None) -> int:
    """Announce every task that has come due (by days or hours) and was not announced yet."""
    now = now or timezone.now()
    announced = 0
    for task in MaintenanceTask.objects.filter(due_announced_at__isnull=True):
        with transaction.atomic():
            announced += _announce_if_due(task, now)
    return announced


def _announce_if_due(task: MaintenanceTask, now: datetime) -> int:
    reason = task.due_reason(now)
    if not reason:
        return 0
    won = MaintenanceTask.objects.filter(pk=task.pk, due_announced_at__isnull=True).update(
        due_announced_at=now, updated_at=now
    )
    if won:
        events.publish(
            events.MaintenanceDue(
                user_id=task.user_id, printer_id=task.printer_id, item=task.name, reason=reason
            )
        )
    return won


@transaction.atomic
def maintenance_mark_done(*, task: MaintenanceTask) -> MaintenanceTask:
    """The chore was done: its counters start again from now."""
    now = timezone.now()
    MaintenanceTask.objects.filter(pk=task.pk).update(
        last_done_at=now, print_hours_since_done=0, due_announced_at=None, updated_at=now
    )
    task.refresh_from_db()
    return task


@transaction.atomic
def maintenance_task_create(*, user_id: int, **fields: object) -> MaintenanceTask:
    return save_validated(MaintenanceTask(user_id=user_id), **fields)


@transaction.atomic
def maintenance_task_update(*, task: MaintenanceTask, **fields: object) -> MaintenanceTask:
    return save_validated(task, **fields)

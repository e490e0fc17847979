"""Event handlers: jobs follow the printer, and the farm plan follows the farm. Registered in
SchedulingConfig.ready()."""

from __future__ import annotations

from j3d import events
from scheduling.models import ScheduledPrint
from scheduling.services.autodispatch import farm_dispatch, printer_plate_used
from scheduling.services.costs import print_record_finish, print_record_start
from scheduling.services.dispatch import (
    job_follow_failed,
    job_follow_finished,
    job_follow_started,
)
from scheduling.services.orders import order_jobs_cancel, order_paid_to_pool
from scheduling.services.planning import farm_replan_after
from scheduling.services.stock import stock_alerts_check


def on_print_started(event: events.PrintStarted) -> None:
    job_follow_started(printer_id=event.printer_id, subtask_id=event.subtask_id)


def on_print_finished(event: events.PrintFinished) -> None:
    job_follow_finished(printer_id=event.printer_id, subtask_id=event.subtask_id)


def on_print_failed(event: events.PrintFailed) -> None:
    job_follow_failed(
        printer_id=event.printer_id,
        subtask_id=event.subtask_id,
        reason=event.reason,
        cancelled=event.cancelled,
    )


def on_order_cancelled(event: events.OrderCancelled) -> None:
    if event.order_id is not None:
        order_jobs_cancel(order_id=event.order_id, reason=event.reason or "Order cancelled")


def on_order_paid(event: events.OrderPaid) -> None:
    if event.order_id is not None:
        order_paid_to_pool(order_id=event.order_id)


def on_print_ended(event: events.Event) -> None:
    if event.printer_id is not None:
        printer_plate_used(printer_id=event.printer_id)


def on_farm_changed(event: events.Event) -> None:
    """Something the plan depends on changed: plan again, once per burst (see planning.py), and
    start what is ready."""
    farm_replan_after(user_id=event.user_id, since=event.occurred_at)
    farm_dispatch(user_id=event.user_id)


# The events after which the plan may be wrong: a job started, ended or moved, a printer came or
# went, a spool changed, a plate was cleared, a person changed a job's priority (or any field the
# plan reads) or an order's ship-by date, an order was paid or cancelled, a dispatch failed.
REPLAN_ON = (
    events.PrintStarted,
    events.PrintFinished,
    events.PrintFailed,
    events.PrinterOnline,
    events.PrinterOffline,
    events.MaterialChanged,
    events.PlateCleared,
    events.JobStatusChanged,
    events.JobChanged,
    events.JobDispatchFailed,
    events.OrderChanged,
    events.OrderPaid,
    events.OrderCancelled,
)


def on_job_status_changed(event: events.JobStatusChanged) -> None:
    """An attempt starts or ends: open or close its cost record (both idempotent)."""
    if event.job_id is None:
        return
    if event.to_status == ScheduledPrint.Status.STARTED:
        print_record_start(job_id=event.job_id)
    elif event.to_status in ScheduledPrint.ENDED:
        print_record_finish(job_id=event.job_id)


# The events after which farm-wide stock may have crossed the reorder line: an attempt ended (its
# grams came off the spools), a spool changed or ran low, an order was paid (jobs planned).
STOCK_ON = (
    events.JobStatusChanged,
    events.MaterialChanged,
    events.MaterialLow,
    events.OrderPaid,
)


def on_stock_moved(event: events.Event) -> None:
    if isinstance(event, events.JobStatusChanged) and {event.from_status, event.to_status} <= set(
        ScheduledPrint.WAITING
    ):
        return  # queued <-> scheduled: the same jobs still need the same filament
    stock_alerts_check(user_id=event.user_id)


def register() -> None:
    events.subscribe(events.PrintStarted, on_print_started)
    events.subscribe(events.PrintFinished, on_print_finished)
    events.subscribe(events.PrintFailed, on_print_failed)
    events.subscribe(events.OrderCancelled, on_order_cancelled)
    events.subscribe(events.OrderPaid, on_order_paid)
    events.subscribe(events.PrintFinished, on_print_ended)
    events.subscribe(events.PrintFailed, on_print_ended)
    # After the job moves above, so the plan sees them.
    for event_type in REPLAN_ON:
        events.subscribe(event_type, on_farm_changed)
    events.subscribe(events.JobStatusChanged, on_job_status_changed)
    # After the cost record, which takes the grams off the spools.
    for event_type in STOCK_ON:
        events.subscribe(event_type, on_stock_moved)

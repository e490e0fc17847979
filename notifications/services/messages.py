"""The one place a notification's words come from: an event becomes a channel-neutral Message.

Every transport renders this Message (an email's subject and body, a chat line, a webhook's JSON
`data`), so what people read is decided here once. The webhook `data` is documented in
docs/notifications.md; add fields freely, but never change or drop one without a new version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from j3d import events
from notifications.transports import Message
from orders.models import Order
from printers.models import Printer, PrinterStatus
from scheduling.models import ScheduledPrint

FAILURE, WARNING, INFO = "failure", "warning", "info"
SEVERITY = {
    events.PrintFailed: FAILURE,
    events.JobDispatchFailed: FAILURE,
    events.PrinterOffline: FAILURE,
    events.PrintPaused: WARNING,
    events.HmsRaised: WARNING,
    events.MaterialLow: WARNING,
    events.MaterialChangeNeeded: WARNING,
    events.MaterialStockLow: WARNING,
    events.MaintenanceDue: WARNING,
    events.EtsyReconnectNeeded: WARNING,
    events.OrderCancelled: INFO,
    events.PrintStarted: INFO,
    events.PrintFinished: INFO,
}
# Fields of an event that say nothing to a reader (ids are in `data` as objects).
_PLUMBING = {"user_id", "printer_id", "job_id", "order_id", "task_id", "subtask_id"}


def message_for_event(*, event: events.Event) -> Message:
    """The Message announcing ``event`` (its printer, job and order read once from the database)."""
    printer = _printer(event.printer_id)
    job = _job(event.job_id, event.printer_id, event.subtask_id)
    order = _order(event.order_id or (job.order_id if job else None))
    where = printer.name if printer else "J3D"
    job_name = getattr(event, "job_name", "") or (job.job_name if job else "")
    title, lines = _words(event, where=where, job_name=job_name, printer=printer)
    if job_name and not any(job_name in line for line in lines):
        lines.append(f"Job: {job_name}")
    if order is not None:
        lines.append(f"Order: #{order.order_number}")
    occurred = event.occurred_at or timezone.now()
    payload = {k: v for k, v in event.to_payload().items() if k not in _PLUMBING}
    data = {
        "event_id": event.event_id,
        "printer": _printer_data(printer),
        "job": _job_data(job),
        "order": _order_data(order),
        **payload,
    }
    if isinstance(event, events.PrintFailed):
        data["hms"] = _hms_entries(printer)
    return Message(
        type=event.type,
        title=title,
        body="\n".join(lines),
        severity=SEVERITY.get(type(event), INFO),
        occurred_at=occurred.isoformat(),
        data=data,
    )


def message_for_test(*, printer: Printer) -> Message:
    now = timezone.now()
    return Message(
        type="test",
        title=f"{printer.name}: test notification",
        body="This is a test from J3D. If you can read it, this channel works.",
        severity=INFO,
        occurred_at=now.isoformat(),
        data={"event_id": None, "printer": _printer_data(printer), "job": None, "order": None},
    )


def _words(
    event: events.Event, *, where: str, job_name: str, printer: Printer | None
) -> tuple[str, list[str]]:
    """Title and body lines for each kind of event."""
    match event:
        case events.PrintStarted():
            return f"{where}: print started", [f"Started: {job_name or 'a print'}"]
        case events.PrintFinished():
            return f"{where}: print completed", [f"Completed: {job_name or 'a print'}"]
        case events.PrintFailed():
            lines = [f"Reason: {event.reason or 'the printer reported a failure'}"]
            if event.error_hex:
                lines.append(f"Error code: {event.error_hex}")
            lines += [f"HMS {text}" for text in _hms_texts(printer)]
            return f"{where}: print failed: {event.reason or 'failed'}", lines
        case events.PrintPaused():
            reason = event.reason or "paused on the printer"
            return f"{where}: print paused: {reason}", [f"Reason: {reason}"]
        case events.JobDispatchFailed():
            return f"{where}: could not start {job_name or 'a job'}", [f"Reason: {event.reason}"]
        case events.PrinterOffline():
            since = _local(event.occurred_at)
            return f"{where} is offline", [f"Offline since {since}: {event.reason or 'no reports'}"]
        case events.HmsRaised():
            texts = [_hms_line(entry) for entry in event.entries]
            return f"{where}: {texts[0] if texts else 'printer warning'}", texts
        case events.MaterialLow():
            what = " ".join(filter(None, [event.material_type, event.color_hex])) or "filament"
            if event.remaining_pct == 0:
                return f"{where}: slot {event.slot} is empty", [
                    f"Slot {event.slot}: {what} ran out"
                ]
            title = f"{where}: slot {event.slot} running low ({event.remaining_pct}% left)"
            return title, [f"Slot {event.slot}: {what}, {event.remaining_pct}% left"]
        case events.MaterialChangeNeeded():
            what = " ".join(filter(None, [event.material_type, event.color_hex])) or "filament"
            return f"{where}: load {what}", [event.reason or f"The next job needs {what}."]
        case events.MaterialStockLow():
            what = " ".join(filter(None, [event.material_type, event.color_hex])) or "filament"
            left = (
                f"about {event.days_left} days left"
                if event.days_left is not None
                else "less than the planned jobs need"
            )
            lines = [
                f"{what} across the farm: {event.on_hand_grams} g on hand,"
                f" {event.planned_grams} g planned, {left}.",
                f"Order {event.spools_to_order} spool(s) now: delivery takes"
                f" {event.lead_days} days.",
            ]
            return f"Reorder {what}: it runs out within {event.lead_days} days", lines
        case events.MaintenanceDue():
            return f"{where}: maintenance due: {event.item}", [event.reason or "due now"]
        case events.OrderCancelled():
            lines = [
                "Its print jobs that had not started are cancelled; a print already running"
                " goes on until you stop it."
            ]
            if event.reason:
                lines.insert(0, f"Reason: {event.reason}")
            return f"Order #{event.order_number} was cancelled", lines
        case events.EtsyReconnectNeeded():
            shop = event.shop_name or event.shop_id or "your shop"
            lines = [
                f"Etsy no longer accepts J3D's access to {shop}"
                f" ({event.reason or 'the grant was revoked'}), so new orders are not coming in.",
                "Use “Connect Etsy shop” in J3D to connect it again.",
            ]
            return "Connect your Etsy shop to J3D again", lines
    return f"{where}: {event.type}", []


def _hms_line(entry: dict[str, Any]) -> str:
    text = entry.get("text") or "unknown HMS code"
    return f"{entry.get('code') or entry.get('full_code') or ''}: {text}".strip(": ")


def _hms_entries(printer: Printer | None) -> list[dict[str, Any]]:
    """The HMS entries the printer shows now (what it says about a failure), at most five."""
    if printer is None:
        return []
    status = PrinterStatus.objects.filter(printer=printer).values_list("snapshot", flat=True)
    snapshot = status.first() or {}
    entries = snapshot.get("hms") if isinstance(snapshot, dict) else None
    keep = ("code", "severity", "module", "text")
    return [{k: e.get(k) for k in keep} for e in entries or () if isinstance(e, dict)][:5]


def _hms_texts(printer: Printer | None) -> list[str]:
    return [_hms_line(entry) for entry in _hms_entries(printer)]


def _local(moment: datetime | None) -> str:
    return (moment or timezone.now()).strftime("%Y-%m-%d %H:%M UTC")


def _printer(printer_id: int | None) -> Printer | None:
    return Printer.objects.filter(pk=printer_id).first() if printer_id else None


def _job(job_id: int | None, printer_id: int | None, subtask_id: str) -> ScheduledPrint | None:
    if job_id:
        return ScheduledPrint.objects.filter(pk=job_id).first()
    if printer_id and subtask_id and subtask_id != "0":
        jobs = ScheduledPrint.objects.filter(printer_id=printer_id, printer_subtask_id=subtask_id)
        return jobs.order_by("-id").first()
    return None


def _order(order_id: int | None) -> Order | None:
    return Order.objects.filter(pk=order_id).first() if order_id else None


def _printer_data(printer: Printer | None) -> dict[str, Any] | None:
    if printer is None:
        return None
    return {"id": printer.pk, "name": printer.name, "model": printer.model}


def _job_data(job: ScheduledPrint | None) -> dict[str, Any] | None:
    if job is None:
        return None
    return {"id": job.pk, "name": job.job_name, "status": job.status}


def _order_data(order: Order | None) -> dict[str, Any] | None:
    if order is None:
        return None
    return {"id": order.pk, "number": order.order_number, "source": order.source}

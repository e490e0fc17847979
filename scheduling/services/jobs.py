"""Print jobs: creation, the status moves a job may make, and turning an order into jobs."""

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from j3d import events
from j3d.lib import limits
from j3d.lib.errors import Conflict, NotFound
from j3d.lib.validation import save_validated
from orders.models import Order, OrderItem, ProductProfile
from printers.models import BambuMaterial, Printer
from scheduling.models import ScheduledPrint
from scheduling.services.progress import order_progress_refresh

Status = ScheduledPrint.Status
Actor = ScheduledPrint.Actor
# A move decided from a status that changed before its UPDATE is decided again, this often.
MOVE_ATTEMPTS = 5

# Defaults when no product profile matches an ordered item (the integration guide's values).
DEFAULT_NOZZLE_TEMP = 200
DEFAULT_BED_TEMP = 60
DEFAULT_PRINT_SPEED = 50
DEFAULT_DURATION_MINUTES = 60
DEFAULT_MATERIAL = "PLA"
# Time between two chained jobs on one printer: clear the plate, swap filament.
CHANGEOVER_MINUTES = 15
FIRST_ORDER_PRIORITY = 10


def job_create(*, user: Any, printer: Printer | None, **fields: Any) -> ScheduledPrint:
    status = fields.get("status", Status.QUEUED)
    if status not in ScheduledPrint.WAITING:
        raise ValidationError({"status": "A new job starts as 'queued' or 'scheduled'."})
    with transaction.atomic():
        job = save_validated(ScheduledPrint(user=user, printer=printer), **fields)
        order_progress_refresh(order_id=job.order_id)
        job_announce_changed(job=job, fields=("created",))
    return job


@transaction.atomic
def job_update(*, job: ScheduledPrint, **fields: Any) -> ScheduledPrint:
    """Change a job's fields; a new `status` goes through job_move (a refused move is a Conflict
    and changes nothing)."""
    job = ScheduledPrint.objects.select_for_update().get(pk=job.pk)
    target = fields.pop("status", None)
    changed = tuple(sorted(name for name, value in fields.items() if getattr(job, name) != value))
    save_validated(job, **fields)
    if target is not None:
        job_move(job=job, to=target, reason=fields.get("failed_reason") or "")
    if changed:
        job_announce_changed(job=job, fields=changed)
    return job


def job_announce_changed(*, job: ScheduledPrint, fields: tuple[str, ...]) -> None:
    """job.changed: the plan listens (scheduling/receivers.py) and re-plans, debounced."""
    events.publish(
        events.JobChanged(
            user_id=job.user_id,
            printer_id=job.printer_id,
            job_id=job.pk,
            order_id=job.order_id,
            job_name=job.job_name,
            fields=fields,
        )
    )


def job_move(*, job: ScheduledPrint, to: str, by: str = Actor.PERSON, reason: str = "") -> bool:
    """Move `job` to status `to` if ScheduledPrint.MOVES lets `by` make that move; True when this
    call moved it, False when the job already was in `to` (so a replayed event changes nothing).

    A move publishes events.JobStatusChanged in its transaction; a refused move is a Conflict
    naming it. Race-safe on every database: the UPDATE is conditional on the status the decision
    was made from and its row count is checked, so of two concurrent moves one wins and the other
    is decided again from the new status. `job` is left holding the stored status and stamps.
    """
    if to not in Status.values:
        raise ValidationError({"status": f"'{to}' is not a job status."})
    for _attempt in range(MOVE_ATTEMPTS):
        row = ScheduledPrint.objects.filter(pk=job.pk).values(*_MOVE_READS).first()
        if row is None:
            raise NotFound(f"No print job with id {job.pk}.")
        source = row["status"]
        if source == to:
            job.refresh_from_db()
            return False
        if not ScheduledPrint.may_move(source, to, by):
            raise Conflict(_refusal(source, to, by))
        fields = _stamps(source, to, started_at=row["started_at"], reason=reason)
        with transaction.atomic():
            moved = ScheduledPrint.objects.filter(pk=job.pk, status=source).update(
                status=to, **fields
            )
            if moved:
                events.publish(_status_changed(job.pk, row, to=to, by=by, reason=reason))
        if moved:
            job.refresh_from_db()
            order_progress_refresh(order_id=job.order_id)
            return True
    raise Conflict("This job's status keeps changing; try again.")


_MOVE_READS = (
    "status",
    "started_at",
    "user_id",
    "printer_id",
    "order_id",
    "printer_task_id",
    "printer_subtask_id",
)


def _status_changed(job_id: int, row: dict[str, Any], **move: str) -> events.JobStatusChanged:
    """The event of a move, written in its transaction; the printer's ids are those of the
    attempt the job was on (a reprint clears them)."""
    return events.JobStatusChanged(
        user_id=row["user_id"],
        printer_id=row["printer_id"],
        job_id=job_id,
        order_id=row["order_id"],
        task_id=row["printer_task_id"],
        subtask_id=row["printer_subtask_id"],
        from_status=row["status"],
        to_status=move["to"],
        by=move["by"],
        reason=move["reason"],
    )


def _refusal(source: str, target: str, by: str) -> str:
    allowed = ScheduledPrint.moves_from(source, by)
    hint = f"; from {source} it may become: {', '.join(allowed)}" if allowed else ""
    return f"A {source} job cannot become {target}{hint}."


def _stamps(source: str, target: str, *, started_at: Any, reason: str) -> dict[str, Any]:
    """What every move to `target` writes besides the status (the same for every door)."""
    now = timezone.now()
    fields: dict[str, Any] = {"updated_at": now}
    if target == Status.STARTED:
        fields["started_at"] = now
    elif target in ScheduledPrint.ENDED:
        fields["completed_at"] = now
        if target == Status.COMPLETED and started_at is None:
            fields["started_at"] = now  # the printer finished a job whose start J3D missed
    elif source in ScheduledPrint.ENDED:
        # A reprint starts over; clearing the printer's ids keeps a late report about the
        # previous attempt from moving the new one.
        fields.update(
            started_at=None,
            completed_at=None,
            failed_reason="",
            printer_task_id="",
            printer_subtask_id="",
            dispatched_at=None,
        )
    if reason and target in (Status.FAILED, Status.CANCELLED):
        fields["failed_reason"] = reason
    return fields


@transaction.atomic
def job_cancel(*, job: ScheduledPrint) -> ScheduledPrint:
    """Cancel a job that has not started; it stays as history. A printing job is a Conflict
    (DELETE never stops a print: that takes an explicit status change)."""
    job = ScheduledPrint.objects.select_for_update().get(pk=job.pk)
    if job.status == Status.STARTED:
        raise Conflict(
            "This job is printing. Stop it on the printer first (POST /api/printers/<id>/commands"
            ' {"action": "stop"}) or set its status to "cancelled" explicitly.'
        )
    if job.status in (Status.COMPLETED, Status.FAILED):
        raise Conflict(f"This job has already {job.status}; it is kept as history.")
    job_move(job=job, to=Status.CANCELLED)
    return job


def order_schedule_prints(
    *,
    order: Order,
    printer: Printer | None,
    material_type: str | None = None,
    start_offset_minutes: int = 0,
) -> list[ScheduledPrint]:
    """One queued job per item of the order on the printer, chained in time, all or nothing.

    Settings come from the item's product profile (its own link, else by Etsy listing id, SKU,
    then name) or the defaults. Priorities run 10, 9, 8... (never below 1). The first job starts
    at now + offset (no fixed start when the offset is 0); each next one after the previous one's
    duration plus a changeover. An order that still has unfinished jobs is a Conflict; a printer
    of another owner is refused by ScheduledPrint.clean(). Without a printer the jobs go to the
    farm pool instead, one per plate (see _order_to_pool), and the planner places them.
    """
    if isinstance(start_offset_minutes, bool) or not isinstance(start_offset_minutes, int):
        raise ValidationError({"start_offset_minutes": "A whole number of minutes."})
    if not 0 <= start_offset_minutes <= limits.MAX_START_OFFSET_MINUTES:
        raise ValidationError(
            {"start_offset_minutes": f"From 0 to {limits.MAX_START_OFFSET_MINUTES} (a year)."}
        )
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status == Order.Status.CANCELLED:
            raise Conflict(f"Order #{order.order_number} is cancelled.")
        if ScheduledPrint.objects.filter(order=order).unfinished().exists():
            raise Conflict(
                f"Order #{order.order_number} already has print jobs waiting or printing;"
                " cancel them first to schedule it again."
            )
        items = list(order.items.select_related("product_profile"))
        if not items:
            raise ValidationError({"order_id": f"Order #{order.order_number} has no items."})
        match = _profile_matcher(order.user_id)
        if printer is None:
            return _order_to_pool(order, items, match, material_type)
        slots = _loaded_slots(printer)
        now = timezone.now()
        cursor = now + timedelta(minutes=start_offset_minutes)
        jobs = []
        for index, item in enumerate(items):
            profile = item.product_profile or match(item)
            job = _job_for_item(order, item, profile, printer, material_type, index)
            job.material_slot = slots.get(job.material_type.lower())
            job.scheduled_start = cursor if (index or start_offset_minutes) else None
            jobs.append(job)
            cursor += timedelta(minutes=job.estimated_duration_minutes + CHANGEOVER_MINUTES)
        for job in jobs:
            job.full_clean()
        created = ScheduledPrint.objects.bulk_create(jobs)
        order_progress_refresh(order_id=order.pk)
        return created


def schedule_order_prints(
    user_id: int,
    order_id: int,
    printer_id: int,
    material_type: str | None = None,
    start_offset_minutes: int = 0,
) -> list[ScheduledPrint]:
    """The integration guide's name and signature for order_schedule_prints (kept because the
    guide tells integrators to call it): ids of `user_id`'s own order and printer, another
    owner's or a missing one is NotFound."""
    return order_schedule_prints(
        order=_owned(Order.objects.all(), user_id, order_id, "order"),
        printer=_owned(Printer.objects.all(), user_id, printer_id, "printer"),
        material_type=material_type,
        start_offset_minutes=start_offset_minutes,
    )


def _owned(queryset: Any, user_id: int, pk: Any, noun: str) -> Any:
    try:
        return queryset.get(user_id=user_id, pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"No {noun} with id {pk}.") from None


def _profile_matcher(user_id: int) -> Any:
    """A function item -> ProductProfile | None over the owner's profiles, loaded once."""
    profiles = list(ProductProfile.objects.filter(user_id=user_id).order_by("id"))
    by_listing = {p.etsy_listing_id: p for p in reversed(profiles) if p.etsy_listing_id}
    by_sku = {p.sku.lower(): p for p in reversed(profiles) if p.sku}
    by_name = {p.name.lower(): p for p in reversed(profiles)}

    def match(item: OrderItem) -> ProductProfile | None:
        return (
            (item.listing_id and by_listing.get(item.listing_id))
            or (item.sku and by_sku.get(item.sku.lower()))
            or by_name.get(item.title.lower())
            or None
        )

    return match


def _order_to_pool(
    order: Order, items: list[OrderItem], match: Any, material_type: str | None
) -> list[ScheduledPrint]:
    """One pool job per plate: an item's quantity is ceil(quantity / units per plate) plates."""
    jobs = []
    for index, item in enumerate(items):
        profile = item.product_profile or match(item)
        per_plate = profile.units_per_plate if profile else 1
        plates = -(-item.quantity // per_plate)
        for plate in range(plates):
            job = _job_for_item(order, item, profile, None, material_type, index)
            if plates > 1:
                job.job_name = f"{job.job_name} ({plate + 1}/{plates})"[:255]
            jobs.append(job)
    for job in jobs:
        job.full_clean()
    created = ScheduledPrint.objects.bulk_create(jobs)
    # One event for the order's new jobs (a job_id would name only one of them).
    events.publish(
        events.JobChanged(
            user_id=order.user_id, order_id=order.pk, job_name=str(order), fields=("created",)
        )
    )
    return created


def _job_for_item(
    order: Order,
    item: OrderItem,
    profile: ProductProfile | None,
    printer: Printer | None,
    material_type: str | None,
    index: int,
) -> ScheduledPrint:
    material = material_type or (profile.material_type if profile else DEFAULT_MATERIAL)
    return ScheduledPrint(
        user_id=order.user_id,
        printer=printer,
        order=order,
        order_item=item,
        product_profile=profile,
        job_name=f"Order #{order.order_number} - {item.title}"[:255],
        file_name=_file_name(profile),
        status=Status.QUEUED,
        estimated_duration_minutes=(
            profile.estimated_duration_minutes if profile else DEFAULT_DURATION_MINUTES
        ),
        material_type=material,
        nozzle_temp=profile.nozzle_temp if profile else DEFAULT_NOZZLE_TEMP,
        bed_temp=profile.bed_temp if profile else DEFAULT_BED_TEMP,
        print_speed=profile.print_speed if profile else DEFAULT_PRINT_SPEED,
        priority=max(FIRST_ORDER_PRIORITY - index, 1),
        notes=f"Quantity: {item.quantity}",
    )


def _file_name(profile: ProductProfile | None) -> str:
    if profile is None:
        return ""
    if profile.file_name:
        return profile.file_name
    return profile.print_file.name.rsplit("/", 1)[-1] if profile.print_file else ""


def _loaded_slots(printer: Printer) -> dict[str, int]:
    """Material type (lower case) -> the lowest loaded slot of the printer holding it."""
    slots: dict[str, int] = {}
    for material in BambuMaterial.objects.filter(printer=printer, is_empty=False).order_by("slot"):
        slots.setdefault(material.material_type.lower(), material.slot)
    return slots

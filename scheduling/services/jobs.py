"""Print jobs: creation, the status moves a job may make, and turning an order into jobs."""

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from j3d.lib import limits
from j3d.lib.errors import Conflict, NotFound
from orders.models import Order, OrderItem, ProductProfile
from printers.models import BambuMaterial, Printer
from scheduling.models import ScheduledPrint

Status = ScheduledPrint.Status

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
    job = ScheduledPrint(user=user, printer=printer, **fields)
    job.full_clean()
    job.save()
    return job


@transaction.atomic
def job_update(*, job: ScheduledPrint, **fields: Any) -> ScheduledPrint:
    """Change a job; a new `status` must be an allowed move (else Conflict) and stamps times."""
    job = ScheduledPrint.objects.select_for_update().get(pk=job.pk)
    new_status = fields.pop("status", None)
    for name, value in fields.items():
        setattr(job, name, value)
    if new_status is not None and new_status != job.status:
        _move(job, new_status, failed_reason=fields.get("failed_reason"))
    job.full_clean()
    job.save()
    return job


def _move(job: ScheduledPrint, new_status: str, *, failed_reason: str | None) -> None:
    if not job.can_move_to(new_status):
        allowed = sorted(ScheduledPrint.ALLOWED_MOVES[job.status])
        hint = f"; from {job.status} it may become: {', '.join(allowed)}" if allowed else ""
        raise Conflict(f"A {job.status} job cannot become {new_status}{hint}.")
    now = timezone.now()
    if new_status == Status.STARTED:
        job.started_at = now
    elif new_status == Status.COMPLETED:
        job.completed_at = now
    elif new_status == Status.FAILED:
        job.completed_at = now
        job.failed_reason = failed_reason or job.failed_reason
    elif new_status == Status.QUEUED and job.status in ScheduledPrint.ENDED:
        # A reprint: the job starts over.
        job.started_at = job.completed_at = None
        job.failed_reason = ""
    job.status = new_status


@transaction.atomic
def job_cancel(*, job: ScheduledPrint) -> ScheduledPrint:
    """Cancel a job that has not started; it stays as history. A printing job is a Conflict."""
    job = ScheduledPrint.objects.select_for_update().get(pk=job.pk)
    if job.status == Status.STARTED:
        raise Conflict(
            "This job is printing. Stop it on the printer first (POST /api/printers/<id>/commands"
            ' {"action": "stop"}) or set its status to "cancelled" explicitly.'
        )
    if job.status in (Status.COMPLETED, Status.FAILED):
        raise Conflict(f"This job has already {job.status}; it is kept as history.")
    if job.status != Status.CANCELLED:
        job.status = Status.CANCELLED
        job.save(update_fields=["status", "updated_at"])
    return job


def schedule_order_prints(
    user_id: int,
    order_id: int,
    printer_id: int,
    material_type: str | None = None,
    start_offset_minutes: int = 0,
) -> list[ScheduledPrint]:
    """One queued job per item of the order on the printer, chained in time, all or nothing.

    Settings come from the item's product profile (its own link, else by Etsy listing id, SKU,
    then name) or the defaults. Priorities run 10, 9, 8... (never below 1). The first job starts
    at now + offset (no fixed start when the offset is 0); each next one after the previous one's
    duration plus a changeover. An order that still has unfinished jobs is a Conflict.
    """
    if isinstance(start_offset_minutes, bool) or not isinstance(start_offset_minutes, int):
        raise ValidationError({"start_offset_minutes": "A whole number of minutes."})
    if not 0 <= start_offset_minutes <= limits.MAX_START_OFFSET_MINUTES:
        raise ValidationError(
            {"start_offset_minutes": f"From 0 to {limits.MAX_START_OFFSET_MINUTES} (a year)."}
        )
    with transaction.atomic():
        order = _owned(Order.objects.select_for_update(), user_id, order_id, "order")
        printer = _owned(Printer.objects.all(), user_id, printer_id, "printer")
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
        match = _profile_matcher(user_id)
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
        return ScheduledPrint.objects.bulk_create(jobs)


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


def _job_for_item(
    order: Order,
    item: OrderItem,
    profile: ProductProfile | None,
    printer: Printer,
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

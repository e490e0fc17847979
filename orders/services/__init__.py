"""Order rules: manual orders and product profiles (the Etsy sync comes with the Etsy issue)."""

from collections.abc import Collection
from decimal import ROUND_CEILING, Decimal
from pathlib import PurePosixPath
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from j3d import events
from j3d.lib import limits
from j3d.lib.errors import Conflict, NotFound
from j3d.lib.slicefile import SlicedFile, SliceFileError, read_sliced_file
from orders.models import Order, OrderItem, ProductProfile
from orders.services.matching import ProfileMatcher


@transaction.atomic
def order_create_manual(*, user: Any, items: list[dict[str, Any]], **fields: Any) -> Order:
    """A typed-in order with its items, saved together or not at all."""
    if not 1 <= len(items) <= limits.MAX_ORDER_ITEMS:
        raise ValidationError({"items": f"An order has 1 to {limits.MAX_ORDER_ITEMS} items."})
    order = Order(user=user, source=Order.Source.MANUAL, **fields)
    _order_save(order)
    rows = [OrderItem(order=order, **item) for item in items]
    for row in rows:
        row.full_clean(exclude=["order"])
    OrderItem.objects.bulk_create(rows)
    return order


TAKEN = "You already have an order with this number."


def _order_save(order: Order) -> None:
    """Validate and save ``order``; its number taken by another request meanwhile is the same
    400 as one taken before."""
    try:
        order.full_clean()
        with transaction.atomic():
            order.save()
    except IntegrityError:
        raise ValidationError({"order_number": TAKEN}) from None


# The order fields the farm plan reads: a change to one of them is announced as order.changed.
PLANNED_FIELDS = ("due_by",)


@transaction.atomic
def order_update(*, order: Order, **fields: Any) -> Order:
    """Change a person-editable field of ``order`` (validated by the model); a new ship-by date is
    announced (order.changed) so the farm plan follows it."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    changed = [name for name, value in fields.items() if getattr(order, name) != value]
    for name, value in fields.items():
        setattr(order, name, value)
    _order_save(order)
    order_announce_changed(order=order, fields=changed)
    return order


def order_announce_changed(*, order: Order, fields: Collection[str]) -> None:
    """order.changed when one of ``fields`` is one the farm plan reads (PLANNED_FIELDS)."""
    planned = tuple(sorted(set(fields) & set(PLANNED_FIELDS)))
    if planned:
        events.publish(
            events.OrderChanged(
                user_id=order.user_id,
                order_id=order.pk,
                order_number=order.order_number,
                fields=planned,
            )
        )


@transaction.atomic
def product_profile_save(
    *, profile: ProductProfile, typed: Collection[str] | None = None, **fields: Any
) -> ProductProfile:
    """Save ``fields`` on ``profile``; a newly uploaded print file fills the slicer's estimates.

    ``typed`` names the fields a person entered; by default every field of a new profile in
    ``fields``, and for an existing one those whose value changes. Typed FILLED_FROM_FILE fields
    are remembered in ``set_by_person`` and a print file never overwrites them. Sending
    ``set_by_person`` itself replaces that list (``[]`` lets the file fill everything again).
    """
    if typed is None:
        typed = [
            name
            for name, value in fields.items()
            if profile.pk is None or getattr(profile, name) != value
        ]
    explicit = fields.pop("set_by_person", None)
    for name, value in fields.items():
        setattr(profile, name, value)
    person = list(profile.set_by_person) if explicit is None else list(explicit)
    person += [
        name for name in typed if name in ProductProfile.FILLED_FROM_FILE and name not in person
    ]
    profile.set_by_person = person
    upload = profile.print_file
    if upload and not upload._committed:
        _fill_from_file(profile, _read(upload))
    profile.full_clean()
    profile.save()
    return profile


def _read(upload: Any) -> SlicedFile:
    name = PurePosixPath(upload.name).name
    try:
        return read_sliced_file(upload.file, name=name)
    except SliceFileError as error:  # the same message validate_print_file gives
        raise ValidationError({"print_file": [str(error)]}) from None


def _fill_from_file(profile: ProductProfile, sliced: SlicedFile) -> None:
    """Per plate figures are the file's totals over its plate count (exact for one plate)."""
    plates = sliced.plate_count
    filaments = [
        {
            "slot": item.slot,
            "type": item.type,
            "color": item.color,
            "grams": float((item.grams / plates).quantize(Decimal("0.01"))),
        }
        for item in sliced.filaments()
    ]
    found: dict[str, Any] = {"plate_count": plates, "filaments": filaments}
    if sliced.seconds is not None:
        minutes = (Decimal(sliced.seconds) / 60 / plates).to_integral_value(ROUND_CEILING)
        found["estimated_duration_minutes"] = max(int(minutes), 1)
    if sliced.grams is not None:
        found["grams_per_plate"] = (sliced.grams / plates).quantize(Decimal("0.01"))
    if filaments:
        found["material_type"] = max(filaments, key=lambda item: item["grams"])["type"]
    for name, value in found.items():
        if name not in profile.set_by_person:
            setattr(profile, name, value)


@transaction.atomic
def product_profile_create_from_item(
    *, user: Any, item_id: Any, name: str | None = None, match_variation: bool = False
) -> ProductProfile:
    """A product profile made from an ordered item that had none (its title, SKU, Etsy listing and
    optionally variation), linked at once to every unmatched item of the owner it matches."""
    item = OrderItem.objects.filter(order__user=user, pk=item_id).first()
    if item is None:
        raise NotFound(f"No order item with id {item_id}.")
    taken = set(ProductProfile.objects.filter(user=user).values_list("name", flat=True))
    if name is None:
        base = name = item.title[:200]
        suffix = 2
        while name in taken:
            name = f"{base[:190]} ({suffix})"
            suffix += 1
    elif name in taken:
        raise ValidationError({"name": "You already have a product profile with this name."})
    profile = ProductProfile(
        user=user,
        name=name,
        sku=item.sku,
        etsy_listing_id=item.listing_id,
        etsy_variation=item.variation_label if match_variation else "",
    )
    profile.full_clean()
    profile.save()
    matcher = ProfileMatcher([profile])
    linked = [item]
    for other in OrderItem.objects.filter(order__user=user, product_profile__isnull=True):
        if other.pk != item.pk and matcher.match(
            listing_id=other.listing_id, variation=other.variation_label, sku=other.sku
        ):
            linked.append(other)
    OrderItem.objects.filter(pk__in=[i.pk for i in linked]).update(product_profile=profile)
    return profile


def order_progress_record(
    *, order_id: int, jobs_total: int, jobs_done: int, jobs_started: int, failure: str
) -> None:
    """Move an order along production from its jobs' counts (the scheduling app reports them):
    paid -> printing (a job started) -> printed (every job completed); a failed job puts it back
    to printing with the failure in ``production_note``. Pending, shipped, completed and cancelled
    orders only get the counts. Idempotent."""
    S = Order.Status
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            return
        status = order.status
        if status in (S.PAID, S.IN_PRODUCTION, S.READY):
            if jobs_total and jobs_done == jobs_total and not failure:
                status = S.READY
            elif jobs_started or jobs_done or failure:
                status = S.IN_PRODUCTION
            else:
                status = S.PAID
        new = (status, jobs_total, jobs_done, failure[:500])
        if new == (order.status, order.jobs_total, order.jobs_done, order.production_note):
            return
        order.status, order.jobs_total, order.jobs_done, order.production_note = new
        order.save(
            update_fields=["status", "jobs_total", "jobs_done", "production_note", "updated_at"]
        )


def order_ship_check(*, order: Order) -> None:
    """An order may be marked shipped once every one of its jobs is done (status printed)."""
    if order.status != Order.Status.READY:
        raise Conflict(
            f"Order #{order.order_number} is {order.get_status_display().lower()}; it can be"
            " marked shipped once every print job of it completed."
        )


@transaction.atomic
def order_mark_shipped(
    *, order_id: int, carrier_name: str, tracking_code: str, etsy_receipt: Any = None
) -> Order:
    """Record the shipment (after Etsy accepted it, for an Etsy order whose owner lets J3D tell
    Etsy: ``etsy_receipt`` is Etsy's answer)."""
    order = Order.objects.select_for_update().get(pk=order_id)
    order_ship_check(order=order)
    order.status, order.is_shipped = Order.Status.SHIPPED, True
    order.shipped_at = timezone.now()
    order.carrier_name, order.tracking_code = carrier_name, tracking_code
    if etsy_receipt is not None and isinstance(etsy_receipt.get("status"), str):
        order.etsy_status = etsy_receipt["status"].lower()[:32]
    order.full_clean()
    order.save()
    return order

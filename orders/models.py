"""Orders (from Etsy or typed in), their items, and the product profiles that say how to print."""

import json
import re
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import FileExtensionValidator, RegexValidator
from django.db import models
from django.db.models import Q

from j3d.lib import limits
from j3d.lib.constraints import ChecksInOneQuery, FieldUniqueConstraint
from j3d.lib.crypto import EncryptedTextField
from j3d.lib.limits import between, between_q
from j3d.lib.ownership import OwnedQuerySet, linked, validate_same_owner
from j3d.lib.slicefile import SliceFileError, read_sliced_file
from printers.models import Printer, hex_colour_validator

# A filament's colour as the slicer gives it (j3d.lib.slicefile writes it so), or empty.
FILAMENT_COLOUR = re.compile(r"#[0-9A-F]{6}")
FILAMENT_TYPE_MAX_LENGTH = 32


def validate_filaments(value: Any) -> None:
    """A profile's filaments: [{"type": "PLA", "color": "#RRGGBB" or "", "grams": 12.5}, ...]
    (the bounds are j3d.lib.limits'; ProfileFilamentSerializer states them in the schema)."""
    if not isinstance(value, list):
        raise ValidationError("Filaments are a JSON list.")
    if len(value) > limits.MAX_FILAMENTS:
        raise ValidationError(f"At most {limits.MAX_FILAMENTS} filaments.")
    for number, item in enumerate(value, start=1):
        if not isinstance(item, dict) or set(item) - {"slot", "type", "color", "grams"}:
            raise ValidationError(
                f"Filament {number}: an object with type, color, grams (and optionally slot)."
            )
        kind, colour, grams = item.get("type"), item.get("color", ""), item.get("grams")
        if not isinstance(kind, str) or not kind.strip() or len(kind) > FILAMENT_TYPE_MAX_LENGTH:
            raise ValidationError(
                f"Filament {number}: type is 1-{FILAMENT_TYPE_MAX_LENGTH} characters, like PLA."
            )
        if not isinstance(colour, str) or (colour and not FILAMENT_COLOUR.fullmatch(colour)):
            raise ValidationError(f"Filament {number}: color is upper-case #RRGGBB or empty.")
        if (
            isinstance(grams, bool)
            or not isinstance(grams, int | float)
            or not 0 <= grams <= limits.MAX_UNIT_GRAMS
        ):
            raise ValidationError(
                f"Filament {number}: grams is a number from 0 to {limits.MAX_UNIT_GRAMS}."
            )
        slot = item.get("slot", number)
        if (
            isinstance(slot, bool)
            or not isinstance(slot, int)
            or not 1 <= slot <= limits.MAX_FILAMENT_SLOT
        ):
            raise ValidationError(
                f"Filament {number}: slot is the slicer's filament number, "
                f"1 to {limits.MAX_FILAMENT_SLOT}."
            )


def validate_print_file(value: Any) -> None:
    """A new upload must be a sliced Bambu Studio / OrcaSlicer file (stored files were checked)."""
    name = PurePosixPath(value.name or "").name
    if getattr(value, "_committed", True) or not name.lower().endswith((".3mf", ".gcode")):
        return  # stored earlier, or the extension check already refuses it
    try:
        read_sliced_file(value.file, name=name)
    except SliceFileError as error:
        raise ValidationError(str(error), code="invalid_print_file") from None


currency_validator = RegexValidator(
    r"^[A-Za-z]{3}\Z", "Use a 3-letter ISO currency code like USD.", code="invalid_currency"
)


def validate_variations(value: object) -> None:
    if not isinstance(value, list | dict):
        raise ValidationError("Variations are a JSON list or object.")
    # PostgreSQL's jsonb cannot hold a NUL character (text fields refuse it already).
    if "\\u0000" in json.dumps(value):
        raise ValidationError("Null characters are not allowed.")


def validate_printer_models(value: Any) -> None:
    if not isinstance(value, list) or any(m not in Printer.Model.values for m in value):
        raise ValidationError(
            f"A list of printer models, each one of: {', '.join(Printer.Model.values)}."
        )


class ProductProfile(ChecksInOneQuery, models.Model):
    """How one product is printed: its sliced file, material, temperatures and time.

    Uploading a sliced file fills the FILLED_FROM_FILE fields from the slicer's estimates, except
    those a person set (``set_by_person``), which keep the person's value.
    """

    FILLED_FROM_FILE = (
        "estimated_duration_minutes",
        "grams_per_plate",
        "filaments",
        "plate_count",
        "material_type",
    )

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="product_profiles"
    )
    name = models.CharField(max_length=200)
    sku = models.CharField(max_length=64, blank=True)
    etsy_listing_id = models.CharField(max_length=32, blank=True)
    etsy_variation = models.CharField(
        max_length=255,
        blank=True,
        help_text="Only Etsy items with this variation (e.g. 'Sage Green / Medium'); blank: any",
    )
    file_name = models.CharField(max_length=255, blank=True)
    print_file = models.FileField(
        upload_to="print-files/%Y/%m/",
        blank=True,
        validators=[FileExtensionValidator(["3mf", "gcode"]), validate_print_file],
        help_text="Sliced .3mf (or .gcode) from Bambu Studio or OrcaSlicer, ready for the printer",
    )
    material_type = models.CharField(max_length=32, default="PLA")
    nozzle_temp = models.PositiveSmallIntegerField(
        default=200, validators=between(0, limits.MAX_NOZZLE_TEMP)
    )
    bed_temp = models.PositiveSmallIntegerField(
        default=60, validators=between(0, limits.MAX_BED_TEMP)
    )
    print_speed = models.PositiveSmallIntegerField(
        default=50, validators=between(1, limits.MAX_PRINT_SPEED)
    )
    estimated_duration_minutes = models.PositiveIntegerField(
        default=60, validators=between(1, limits.MAX_PLATE_MINUTES)
    )
    grams_per_unit = models.DecimalField(
        max_digits=8,
        decimal_places=1,
        null=True,
        blank=True,
        validators=between(Decimal(0), limits.MAX_UNIT_GRAMS),
    )
    units_per_plate = models.PositiveSmallIntegerField(
        default=1, validators=between(1, limits.MAX_UNITS_PER_PLATE)
    )
    grams_per_plate = models.DecimalField(
        max_digits=9,
        decimal_places=2,
        null=True,
        blank=True,
        validators=between(Decimal(0), limits.MAX_UNIT_GRAMS),
        help_text="Filament one plate uses, all filaments together (the slicer's estimate)",
    )
    filaments = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_filaments],
        help_text='Per plate, in the slicer\'s order: [{"type", "color", "grams"}]',
    )
    plate_count = models.PositiveSmallIntegerField(
        default=1,
        validators=between(1, 100),
        help_text="Sliced plates in the print file",
    )
    # Which FILLED_FROM_FILE fields a person typed: a new print file leaves those alone.
    # What the farm planner needs to know (scheduling/services/planning.py).
    compatible_models = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_printer_models],
        help_text='Printer models that can print it, e.g. ["P1S", "X1C"]; empty for any',
    )
    color = models.CharField(
        max_length=7,
        blank=True,
        validators=[hex_colour_validator],
        help_text="The filament colour it needs (#RRGGBB); empty for any colour",
    )
    set_by_person = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            FieldUniqueConstraint(
                fields=["user", "name"],
                name="orders_productprofile_name_per_user",
                violation_error_message="You already have a product profile with this name.",
            ),
            models.CheckConstraint(
                condition=between_q("nozzle_temp", 0, limits.MAX_NOZZLE_TEMP),
                name="orders_productprofile_nozzle_temp_range",
            ),
            models.CheckConstraint(
                condition=between_q("bed_temp", 0, limits.MAX_BED_TEMP),
                name="orders_productprofile_bed_temp_range",
            ),
            models.CheckConstraint(
                condition=between_q("print_speed", 1, limits.MAX_PRINT_SPEED),
                name="orders_productprofile_speed_range",
            ),
            models.CheckConstraint(
                condition=between_q("estimated_duration_minutes", 1, limits.MAX_PLATE_MINUTES),
                name="orders_productprofile_duration_range",
            ),
            models.CheckConstraint(
                condition=between_q("grams_per_unit", 0, limits.MAX_UNIT_GRAMS, null=True),
                name="orders_productprofile_grams_range",
            ),
            models.CheckConstraint(
                condition=between_q("units_per_plate", 1, limits.MAX_UNITS_PER_PLATE),
                name="orders_productprofile_units_per_plate_range",
            ),
            models.CheckConstraint(
                condition=Q(plate_count__gte=1, plate_count__lte=100),
                name="orders_productprofile_plate_count_range",
            ),
            models.CheckConstraint(
                condition=between_q("grams_per_plate", 0, limits.MAX_UNIT_GRAMS, null=True),
                name="orders_productprofile_grams_per_plate_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        names = self.set_by_person
        if not isinstance(names, list) or not set(map(str, names)) <= set(self.FILLED_FROM_FILE):
            allowed = ", ".join(self.FILLED_FROM_FILE)
            raise ValidationError({"set_by_person": f"A list of field names among {allowed}."})


class OrderQuerySet(OwnedQuerySet):
    def matching(
        self,
        *,
        status: str | None = None,
        source: str | None = None,
        due_before: Any = None,
        search: str = "",
    ) -> "OrderQuerySet":
        """The order list's filters; each is skipped when not given."""
        orders = self
        if status:
            orders = orders.filter(status=status)
        if source:
            orders = orders.filter(source=source)
        if due_before is not None:
            orders = orders.filter(due_by__lt=due_before)
        if search.strip():
            term = search.strip()
            orders = orders.filter(
                Q(order_number__icontains=term)
                | Q(buyer_name__icontains=term)
                | Q(external_id=term)
            )
        return orders


class Order(models.Model):
    class Source(models.TextChoices):
        ETSY = "etsy", "Etsy"
        MANUAL = "manual", "Manual"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending payment"
        PAID = "paid", "Paid"
        IN_PRODUCTION = "in_production", "Printing"
        READY = "ready", "Printed, ready to ship"
        SHIPPED = "shipped", "Shipped"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders"
    )
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.MANUAL)
    external_id = models.CharField(
        max_length=64, blank=True, help_text="Etsy receipt id for Etsy orders"
    )
    order_number = models.CharField(max_length=64)
    buyer_name = models.CharField(max_length=200, blank=True)
    buyer_email = models.EmailField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PAID)
    is_paid = models.BooleanField(default=True)
    is_shipped = models.BooleanField(default=False)
    total_amount = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal(0),
        validators=between(Decimal(0), limits.MAX_MONEY),
    )
    currency = models.CharField(max_length=3, default="USD", validators=[currency_validator])
    due_by = models.DateTimeField(null=True, blank=True, help_text="Ship-by date")
    notes = models.TextField(blank=True)
    buyer_message = models.TextField(blank=True, help_text="The buyer's note at checkout (Etsy)")
    # Etsy's own view of the order: its status string and Money, exactly as sent.
    etsy_status = models.CharField(max_length=32, blank=True)
    total_minor = models.BigIntegerField(
        null=True, blank=True, help_text="Etsy grandtotal amount, in 1/total_divisor units"
    )
    total_divisor = models.PositiveIntegerField(null=True, blank=True)
    # The receipt as last imported: its updated_timestamp and a digest of its content (refunds
    # change the content without the timestamp, so the digest decides whether to write).
    external_updated = models.BigIntegerField(null=True, blank=True)
    external_digest = models.CharField(max_length=64, blank=True)
    # Production progress, kept by the scheduling app through order_progress_record.
    jobs_total = models.PositiveIntegerField(default=0)
    jobs_done = models.PositiveIntegerField(default=0)
    production_note = models.CharField(max_length=500, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    carrier_name = models.CharField(max_length=50, blank=True)
    tracking_code = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # An Etsy receipt is imported once per shop owner, however often the sync runs.
            models.UniqueConstraint(
                fields=["user", "source", "external_id"],
                condition=~Q(external_id=""),
                name="orders_order_external_id_once",
            ),
            # A typed-in order number names one order of its owner (Etsy's are receipt ids).
            FieldUniqueConstraint(
                fields=["user", "order_number"],
                condition=Q(source="manual"),
                name="orders_order_number_per_user",
                violation_error_message="You already have an order with this number.",
            ),
            models.CheckConstraint(
                condition=between_q("total_amount", 0, limits.MAX_MONEY),
                name="orders_order_total_range",
            ),
        ]
        indexes = [
            # The order list: one owner's orders, newest first, optionally by status.
            models.Index(
                fields=["user", "status", "-created_at"], name="orders_order_owner_status"
            ),
            # The order list without a status filter: one owner's orders, newest first.
            models.Index(fields=["user", "-created_at", "-id"], name="orders_order_owner_new"),
        ]

    def __str__(self) -> str:
        return f"Order #{self.order_number}"

    def clean(self) -> None:
        self.currency = self.currency.upper()


class OrderItem(ChecksInOneQuery, models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    title = models.CharField(max_length=255)
    sku = models.CharField(max_length=64, blank=True)
    listing_id = models.CharField(max_length=32, blank=True)
    quantity = models.PositiveIntegerField(default=1, validators=between(1, limits.MAX_QUANTITY))
    unit_price = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal(0),
        validators=between(Decimal(0), limits.MAX_MONEY),
    )
    variations = models.JSONField(default=list, blank=True, validators=[validate_variations])
    personalization = models.TextField(blank=True)
    product_profile = models.ForeignKey(
        ProductProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="order_items"
    )
    # Etsy's transaction: its id (the idempotency key of the import), inventory product, the
    # buyer's variation as one line (what a profile matches on), and the exact unit price.
    external_id = models.CharField(max_length=32, blank=True)
    product_id = models.CharField(max_length=32, blank=True)
    variation_label = models.CharField(max_length=255, blank=True)
    unit_price_minor = models.BigIntegerField(null=True, blank=True)
    price_divisor = models.PositiveIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=between_q("quantity", 1, limits.MAX_QUANTITY),
                name="orders_orderitem_quantity_range",
            ),
            models.CheckConstraint(
                condition=between_q("unit_price", 0, limits.MAX_MONEY),
                name="orders_orderitem_price_range",
            ),
            # An Etsy transaction is one item of its order, however often the sync runs.
            models.UniqueConstraint(
                fields=["order", "external_id"],
                condition=~Q(external_id=""),
                name="orders_orderitem_external_id_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.title}"

    def clean(self) -> None:
        """The item's product profile is its order's owner's (an item has no owner column of its
        own: it reaches its owner through the order)."""
        order = linked(self, "order")
        validate_same_owner(self, order.user_id if order else None, "product_profile")


class EtsyConnection(models.Model):
    """One owner's Etsy shop: its OAuth tokens (encrypted), the sync's progress and health."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="etsy_connection"
    )
    etsy_user_id = models.BigIntegerField()
    shop_id = models.BigIntegerField()
    shop_name = models.CharField(max_length=200, blank=True)
    scopes = models.CharField(max_length=200)
    access_token = EncryptedTextField()
    refresh_token = EncryptedTextField()
    access_expires_at = models.DateTimeField()
    # Bumped by every refresh: a refresh is saved only over the version it started from, and the
    # claim keeps a second process from refreshing (and so rotating) the same token meanwhile.
    token_version = models.PositiveIntegerField(default=0)
    refresh_claimed_until = models.DateTimeField(null=True, blank=True)
    reconnect_needed = models.BooleanField(default=False)
    connected_at = models.DateTimeField()
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # Etsy updated_timestamp up to which both passes (open and canceled receipts) are imported;
    # and where an unfinished first pass goes on from.
    sync_high_water = models.BigIntegerField(null=True, blank=True)
    sync_resume_from = models.BigIntegerField(null=True, blank=True)
    sync_claimed_until = models.DateTimeField(null=True, blank=True)
    sync_claim = models.CharField(max_length=32, blank=True)
    schedule_paid_orders = models.BooleanField(
        default=False, help_text="Put a paid order's jobs in the farm pool as soon as it is paid"
    )
    mark_shipped = models.BooleanField(
        default=False, help_text="Tell Etsy an order shipped (needs the transactions_w scope)"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop_id"], name="orders_etsyconnection_shop_once"),
        ]

    def __str__(self) -> str:
        return f"Etsy shop {self.shop_name or self.shop_id}"


class EtsyAuthorization(models.Model):
    """A pending "Connect Etsy shop": the OAuth state, bound to who asked, used once, short-lived.

    The callback needs nothing but ``state`` to know whose shop it is; the PKCE verifier waits here
    (encrypted) for the code.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="etsy_authorizations"
    )
    state = models.CharField(max_length=64)
    code_verifier = EncryptedTextField()
    scopes = models.CharField(max_length=200)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["state"], name="orders_etsyauthorization_state_once"),
        ]

    def __str__(self) -> str:
        return f"Etsy authorization for {self.user_id}"

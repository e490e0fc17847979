"""Print jobs: what to print, where, when, and how far it got."""

import re
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q

from j3d.lib import limits
from j3d.lib.constraints import ChecksInOneQuery
from j3d.lib.limits import between, between_q
from j3d.lib.ownership import OwnedQuerySet, linked, validate_same_owner
from printers.models import valid_slot_q, validate_slot


class ScheduledPrintQuerySet(OwnedQuerySet):
    def waiting(self) -> "ScheduledPrintQuerySet":
        return self.filter(status__in=ScheduledPrint.WAITING)

    def unfinished(self) -> "ScheduledPrintQuerySet":
        return self.filter(status__in=ScheduledPrint.UNFINISHED)

    def in_queue_order(self) -> "ScheduledPrintQuerySet":
        """Highest priority first, then earliest start (none = as soon as possible), then oldest."""
        return self.order_by(
            F("priority").desc(), F("scheduled_start").asc(nulls_first=True), "created_at", "id"
        )


class ScheduledPrint(ChecksInOneQuery, models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        SCHEDULED = "scheduled"
        STARTED = "started"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Upload(models.TextChoices):
        """Where the upload of a dispatch's file to its printer stands."""

        NONE = "none"  # never dispatched (or dispatched before uploads were recorded)
        QUEUED = "queued"  # waiting for a worker of the uploads cluster
        UPLOADING = "uploading"  # a worker holds the claim and sends
        UPLOADED = "uploaded"  # the printer holds the whole file; project_file is queued
        FAILED = "failed"  # gave up: upload_error says why

    class Actor(models.TextChoices):
        """Who asks for a status move."""

        PERSON = "person"  # a shop owner or staff: the API, the admin
        # What happened on the machine: the printer's reports (the link's events), and the
        # dispatcher when a job it sent never started there.
        PRINTER = "printer"

    WAITING = (Status.QUEUED, Status.SCHEDULED)
    UNFINISHED = (Status.QUEUED, Status.SCHEDULED, Status.STARTED)
    ENDED = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)
    # THE table of status moves, (from, to) -> who may make it; scheduling.services.jobs.job_move
    # is the one function that applies it, for the API, the admin and the printer alike. A move
    # missing here is refused (409 naming the move).
    MOVES: dict[tuple[str, str], frozenset[str]] = {
        (Status.QUEUED, Status.SCHEDULED): frozenset({Actor.PERSON}),
        (Status.SCHEDULED, Status.QUEUED): frozenset({Actor.PERSON}),
        (Status.QUEUED, Status.STARTED): frozenset({Actor.PERSON, Actor.PRINTER}),
        (Status.SCHEDULED, Status.STARTED): frozenset({Actor.PERSON, Actor.PRINTER}),
        # The printer: stopped on its screen before J3D saw it start.
        (Status.QUEUED, Status.CANCELLED): frozenset({Actor.PERSON, Actor.PRINTER}),
        (Status.SCHEDULED, Status.CANCELLED): frozenset({Actor.PERSON, Actor.PRINTER}),
        # The printer only: a finish whose start report was missed (started_at is filled in)...
        (Status.QUEUED, Status.COMPLETED): frozenset({Actor.PRINTER}),
        (Status.SCHEDULED, Status.COMPLETED): frozenset({Actor.PRINTER}),
        # ...and a dispatch that never started: the upload failed, or the printer refused the file
        # or failed while preparing it. A person fails only a job that started.
        (Status.QUEUED, Status.FAILED): frozenset({Actor.PRINTER}),
        (Status.SCHEDULED, Status.FAILED): frozenset({Actor.PRINTER}),
        (Status.STARTED, Status.COMPLETED): frozenset({Actor.PERSON, Actor.PRINTER}),
        (Status.STARTED, Status.FAILED): frozenset({Actor.PERSON, Actor.PRINTER}),
        (Status.STARTED, Status.CANCELLED): frozenset({Actor.PERSON, Actor.PRINTER}),
        # A reprint: the job starts over (its times, reason and printer ids are cleared).
        (Status.FAILED, Status.QUEUED): frozenset({Actor.PERSON}),
        (Status.CANCELLED, Status.QUEUED): frozenset({Actor.PERSON}),
    }

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scheduled_prints"
    )
    # Null leaves the job in the farm pool for the planner to place (see ROADMAP).
    printer = models.ForeignKey(
        "printers.Printer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="scheduled_prints",
    )
    order = models.ForeignKey(
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="scheduled_prints",
    )
    order_item = models.ForeignKey(
        "orders.OrderItem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="scheduled_prints",
    )
    product_profile = models.ForeignKey(
        "orders.ProductProfile",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="scheduled_prints",
    )
    job_name = models.CharField(max_length=255)
    file_name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    scheduled_start = models.DateTimeField(null=True, blank=True)
    estimated_duration_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=between(1, limits.MAX_PLATE_MINUTES)
    )
    material_type = models.CharField(max_length=32, blank=True)
    material_slot = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[validate_slot]
    )
    nozzle_temp = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=between(0, limits.MAX_NOZZLE_TEMP)
    )
    bed_temp = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=between(0, limits.MAX_BED_TEMP)
    )
    print_speed = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=between(1, limits.MAX_PRINT_SPEED)
    )
    # Stamped by job_move only: when it started, when it ended (completed, failed or cancelled),
    # and why it failed or was cancelled (when anyone said).
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    failed_reason = models.TextField(blank=True)
    priority = models.IntegerField(
        default=0, validators=between(limits.MIN_PRIORITY, limits.MAX_PRIORITY)
    )
    notes = models.TextField(blank=True)
    # The ids J3D minted when it sent this job to the printer (project_file); the printer echoes
    # them in its reports, which is how the job follows the printer (scheduling/receivers.py).
    printer_task_id = models.CharField(max_length=16, blank=True)
    printer_subtask_id = models.CharField(max_length=16, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # The farm plan (scheduling/services/planning.py writes these; nothing else does): where and
    # when the planner expects the job to print, the swap it needs first, or why it waits.
    planned_printer = models.ForeignKey(
        "printers.Printer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="planned_prints",
    )
    expected_start = models.DateTimeField(null=True, blank=True)
    expected_end = models.DateTimeField(null=True, blank=True)
    planned_swap = models.JSONField(null=True, blank=True)
    planned_slot = models.PositiveSmallIntegerField(null=True, blank=True)
    waiting_reason = models.CharField(max_length=255, blank=True)
    # Sent by the auto-dispatcher (not by a person): a dispatch that never starts goes back to
    # the pool instead of staying on that printer.
    auto_dispatched = models.BooleanField(default=False)
    # The upload of the dispatch's file (scheduling/services/uploads.py writes these; nothing
    # else does). Progress is written with the heartbeat, every UPLOAD_PROGRESS_SECONDS, not per
    # block. upload_expires_at: while uploading, the claim's expiry, renewed by the heartbeat
    # (past it, the worker is dead); while queued, when its task counts as lost and is queued
    # again. upload_claim is the holder's token, never shown.
    upload_state = models.CharField(max_length=16, choices=Upload.choices, default=Upload.NONE)
    upload_bytes_sent = models.PositiveBigIntegerField(default=0)
    upload_bytes_total = models.PositiveBigIntegerField(default=0)
    upload_started_at = models.DateTimeField(null=True, blank=True)
    upload_finished_at = models.DateTimeField(null=True, blank=True)
    upload_attempts = models.PositiveSmallIntegerField(default=0)
    upload_error = models.TextField(blank=True)
    upload_claim = models.CharField(max_length=32, blank=True)
    upload_expires_at = models.DateTimeField(null=True, blank=True)
    # The last dispatch that failed (upload refused, or the printer never started it): why, when.
    dispatch_error = models.CharField(max_length=500, blank=True)
    dispatch_failed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScheduledPrintQuerySet.as_manager()

    class Meta:
        ordering = ["-priority", "scheduled_start", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "queued",
                        "scheduled",
                        "started",
                        "completed",
                        "failed",
                        "cancelled",
                    ]
                ),
                name="scheduling_scheduledprint_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(material_slot__isnull=True) | valid_slot_q("material_slot"),
                name="scheduling_scheduledprint_slot_valid",
            ),
            models.CheckConstraint(
                condition=between_q("nozzle_temp", 0, limits.MAX_NOZZLE_TEMP, null=True),
                name="scheduling_scheduledprint_nozzle_temp_range",
            ),
            models.CheckConstraint(
                condition=between_q("bed_temp", 0, limits.MAX_BED_TEMP, null=True),
                name="scheduling_scheduledprint_bed_temp_range",
            ),
            models.CheckConstraint(
                condition=between_q("print_speed", 1, limits.MAX_PRINT_SPEED, null=True),
                name="scheduling_scheduledprint_speed_range",
            ),
            models.CheckConstraint(
                condition=between_q(
                    "estimated_duration_minutes", 1, limits.MAX_PLATE_MINUTES, null=True
                ),
                name="scheduling_scheduledprint_duration_range",
            ),
            models.CheckConstraint(
                condition=between_q("priority", limits.MIN_PRIORITY, limits.MAX_PRIORITY),
                name="scheduling_scheduledprint_priority_range",
            ),
            models.CheckConstraint(
                condition=Q(upload_state__in=["none", "queued", "uploading", "uploaded", "failed"]),
                name="scheduling_scheduledprint_upload_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(upload_bytes_sent__lte=F("upload_bytes_total")),
                name="scheduling_scheduledprint_upload_bytes_within_total",
            ),
        ]
        indexes = [
            # The per-printer queue (GET .../<printer_id>/queue, the dispatcher): waiting jobs only.
            models.Index(
                F("printer"),
                F("priority").desc(),
                F("scheduled_start"),
                name="scheduling_sp_queue",
                condition=Q(status__in=["queued", "scheduled"]),
            ),
            # Receivers of printer events: "the job this printer's subtask id belongs to".
            models.Index(
                fields=["printer", "printer_subtask_id"],
                name="scheduling_sp_printer_subtask",
                condition=~Q(printer_subtask_id=""),
            ),
            # The uploads sweep: "queued or running uploads whose claim or task is overdue".
            models.Index(
                fields=["upload_expires_at"],
                name="scheduling_sp_upload_due",
                condition=Q(upload_state__in=["queued", "uploading"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job_name} [{self.status}]"

    def clean(self) -> None:
        """A job's printer, order, order item and product profile all belong to its owner, and its
        order item to its order."""
        validate_same_owner(self, self.user_id, "printer", "order", "product_profile")
        item = linked(self, "order_item")
        if item is None or self.user_id is None:
            return
        if item.order.user_id != self.user_id:
            raise ValidationError({"order_item": "This order item belongs to another shop owner."})
        if self.order_id is not None and item.order_id != self.order_id:
            raise ValidationError({"order_item": "This item is not part of the job's order."})

    @classmethod
    def may_move(cls, source: str, target: str, actor: str) -> bool:
        return actor in cls.MOVES.get((source, target), frozenset())

    @classmethod
    def moves_from(cls, source: str, actor: str) -> list[str]:
        """The statuses `actor` may move a job in `source` to, in the order of Status."""
        return [target for target in cls.Status if cls.may_move(source, target, actor)]


class FarmSettings(ChecksInOneQuery, models.Model):
    """One shop owner's farm-wide settings: defaults for costs, fees, reorders, the planner."""

    DEFAULT_SWAP_MINUTES = 10

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="farm_settings"
    )
    currency = models.CharField(
        max_length=3,
        default="USD",
        validators=[RegexValidator(r"^[A-Z]{3}$", "An ISO 4217 code in capitals, like USD.")],
        help_text="Currency of costs (spool prices, rates), ISO 4217",
    )
    machine_hourly_rate = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("0.50"),
        validators=between(Decimal(0), limits.MAX_MONEY),
        help_text="Machine cost per printing hour of a printer without its own rate",
    )
    energy_price_per_kwh = models.DecimalField(
        max_digits=8,
        decimal_places=4,
        null=True,
        blank=True,
        validators=between(Decimal(0), Decimal(1000)),
        help_text="Blank leaves energy out of costs",
    )
    # Etsy's public fees (etsy.com/legal/fees, US shops): 6.5% transaction fee on the sale,
    # payment processing 3% + 0.25 per order, 0.20 listing fee per item sold (auto-renewal).
    etsy_transaction_fee_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("6.50"), validators=between(0, 100)
    )
    etsy_payment_fee_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("3.00"), validators=between(0, 100)
    )
    etsy_payment_fee_fixed = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("0.25"),
        validators=between(Decimal(0), Decimal(1000)),
    )
    etsy_listing_fee = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("0.20"),
        validators=between(Decimal(0), Decimal(1000)),
        help_text="Per item sold",
    )
    reorder_lead_days = models.PositiveSmallIntegerField(
        default=7, validators=between(1, 365), help_text="Days a spool order takes to arrive"
    )
    spool_grams = models.PositiveIntegerField(
        default=1000,
        validators=between(1, 10_000),
        help_text="Filament in one spool you order (reorder counts)",
    )
    swap_minutes = models.PositiveSmallIntegerField(
        default=DEFAULT_SWAP_MINUTES,
        validators=between(0, 1440),
        help_text="Minutes a person needs to change a spool; the plan keeps them before such a job",
    )
    auto_dispatch = models.BooleanField(
        default=True,
        help_text="Start planned jobs by themselves when a printer is idle and its plate is clear",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "farm settings"
        constraints = [
            models.CheckConstraint(
                condition=between_q("machine_hourly_rate", 0, limits.MAX_MONEY),
                name="scheduling_farmsettings_hourly_rate_range",
            ),
            models.CheckConstraint(
                condition=between_q("reorder_lead_days", 1, 365),
                name="scheduling_farmsettings_lead_days_range",
            ),
            models.CheckConstraint(
                condition=between_q("spool_grams", 1, 10_000),
                name="scheduling_farmsettings_spool_grams_range",
            ),
            models.CheckConstraint(
                condition=between_q("swap_minutes", 0, 1440),
                name="scheduling_farmsettings_swap_minutes_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Farm settings of {self.user_id}"


class StockAlert(models.Model):
    """A material type and colour whose farm-wide stock was announced as running out within the
    lead time (events.MaterialStockLow). While the row exists the kind is not announced again;
    it is deleted when the kind leaves the reorder list (restocked), which re-arms the alert."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stock_alerts"
    )
    material_type = models.CharField(max_length=32)  # upper case, as the stock rows
    color_hex = models.CharField(max_length=7, blank=True)
    event_id = models.BigIntegerField(null=True, blank=True, help_text="The event announcing it")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One latch per kind: two workers checking at once announce it once.
            models.UniqueConstraint(
                fields=["user", "material_type", "color_hex"],
                name="scheduling_stockalert_one_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.material_type} {self.color_hex} low".strip()


class PrintRecordQuerySet(OwnedQuerySet):
    def ended_between(self, start: Any, end: Any) -> "PrintRecordQuerySet":
        return self.filter(ended_at__gte=start, ended_at__lt=end)


class PrintRecord(ChecksInOneQuery, models.Model):
    """One attempt at a job on a printer, from its start to its end: what it used and cost.

    A job that fails and is reprinted has one record per attempt, so an order's cost counts its
    failed attempts. The costs are fixed when the attempt ends, at that moment's spool prices and
    rates. Created when the attempt starts (with the AMS readings to cross-check against) or, when
    the start was missed, when it ends.
    """

    class Outcome(models.TextChoices):
        PRINTING = "printing"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="print_records"
    )
    job = models.ForeignKey(
        ScheduledPrint, null=True, on_delete=models.SET_NULL, related_name="print_records"
    )
    printer = models.ForeignKey(
        "printers.Printer", null=True, on_delete=models.SET_NULL, related_name="print_records"
    )
    order = models.ForeignKey(
        "orders.Order", null=True, on_delete=models.SET_NULL, related_name="print_records"
    )
    product_profile = models.ForeignKey(
        "orders.ProductProfile",
        null=True,
        on_delete=models.SET_NULL,
        related_name="print_records",
    )
    job_name = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PRINTING)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    progress_pct = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal(0))
    print_hours = models.DecimalField(max_digits=8, decimal_places=4, default=Decimal(0))
    units = models.PositiveIntegerField(default=0, help_text="Units made (0 unless completed)")
    failure_reason = models.CharField(max_length=255, blank=True)
    # AMS remain (%) per measured slot when the attempt started: {"0": 83, "5": 40}.
    ams_at_start = models.JSONField(default=dict, blank=True)
    material_cost = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal(0))
    machine_cost = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal(0))
    energy_cost = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal(0))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PrintRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # An attempt is its job and its start: a replayed event finds the same record.
            models.UniqueConstraint(
                fields=["job", "started_at"], name="scheduling_printrecord_one_per_attempt"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=["printing", "completed", "failed", "cancelled"]),
                name="scheduling_printrecord_outcome_valid",
            ),
            models.CheckConstraint(
                condition=between_q("progress_pct", 0, 100),
                name="scheduling_printrecord_progress_range",
            ),
        ]
        indexes = [
            # Analytics: one owner's attempts that ended in a date range, with every column the
            # grouped sums read (summary, printers, products, the days split), so the database
            # answers from the index alone (SQLite has no INCLUDE, hence key columns).
            models.Index(
                fields=[
                    "user",
                    "ended_at",
                    "outcome",
                    "printer",
                    "product_profile",
                    "started_at",
                    "units",
                    "print_hours",
                    "material_cost",
                    "machine_cost",
                    "energy_cost",
                ],
                name="scheduling_record_ended",
            ),
            # Analytics orders: the attempts of the orders created in a range, and their cost.
            models.Index(
                fields=["order", "outcome", "material_cost", "machine_cost", "energy_cost"],
                name="scheduling_record_order_cost",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job_name} {self.outcome} @ {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def total_cost(self) -> Decimal:
        return self.material_cost + self.machine_cost + self.energy_cost


class MaterialUse(models.Model):
    """Filament one attempt used from one spool, at that spool's price then."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="material_uses"
    )
    record = models.ForeignKey(PrintRecord, on_delete=models.CASCADE, related_name="materials")
    material = models.ForeignKey(
        "printers.BambuMaterial",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="uses",
    )
    slot = models.PositiveSmallIntegerField(null=True, blank=True)
    material_type = models.CharField(max_length=32, blank=True)
    color_hex = models.CharField(max_length=7, blank=True)
    grams = models.DecimalField(max_digits=9, decimal_places=2)
    slicer_grams = models.DecimalField(
        max_digits=9, decimal_places=2, help_text="The slicer's grams for the whole plate"
    )
    ams_grams = models.DecimalField(
        max_digits=9,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="What the AMS remain change says was used, where it measures the spool",
    )
    cost_per_kg = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    cost = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal(0))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["record_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(grams__gte=0), name="scheduling_materialuse_grams_not_negative"
            ),
        ]
        indexes = [
            # Analytics materials: the uses of a range's attempts, summed by type and colour
            # from the index alone.
            models.Index(
                fields=["record", "material_type", "color_hex", "grams", "cost"],
                name="scheduling_use_record_sums",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.grams} g {self.material_type} {self.color_hex}".strip()


def validate_working_hours(value: Any) -> None:
    """``[["08:00", "20:00"], ...]``: start 00:00-23:59, end 00:00-24:00 (an end at or before the
    start runs past midnight); null means always."""
    if value is None:
        return
    if not isinstance(value, list) or len(value) > 7:
        raise ValidationError('A list of up to 7 ["HH:MM", "HH:MM"] windows, or null for always.')
    for window in value:
        if not isinstance(window, list) or len(window) != 2:
            raise ValidationError('Each window is a pair ["HH:MM", "HH:MM"].')
        for n, text in enumerate(window):
            match = isinstance(text, str) and _CLOCK.fullmatch(text)
            if not match or int(match[1]) * 60 + int(match[2]) > (1440 if n else 1439):
                raise ValidationError(f"{text!r} is not a time from 00:00 to 23:59 (24:00 to end).")


_CLOCK = re.compile(r"([0-2][0-9]):([0-5][0-9])")


class PrinterPlanning(models.Model):
    """How the planner and the dispatcher treat one printer (absent: the defaults below)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="printer_plannings"
    )
    printer = models.OneToOneField(
        "printers.Printer", on_delete=models.CASCADE, related_name="planning"
    )
    working_hours = models.JSONField(
        null=True,
        blank=True,
        validators=[validate_working_hours],
        help_text='When jobs may start, in UTC: [["08:00", "20:00"]]; empty for always',
    )
    auto_dispatch = models.BooleanField(
        default=True, help_text="Start its next planned job by itself when it is ready"
    )
    plate_swapper = models.BooleanField(
        default=False, help_text="It clears its own plate (plate-swapping hardware): no wait"
    )
    # Unknown until a person says so: a printer J3D has not watched may have a print on its plate.
    plate_clear = models.BooleanField(
        default=False, help_text="Its build plate is empty, so it can take the next job"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "printer planning"

    def __str__(self) -> str:
        return f"Planning of printer {self.printer_id}"

    def clean(self) -> None:
        validate_same_owner(self, self.user_id, "printer")


class FarmPlan(models.Model):
    """When the owner's farm was last planned (the plan itself is on the jobs)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="farm_plan"
    )
    computed_at = models.DateTimeField()
    planned_jobs = models.PositiveIntegerField(default=0)
    unplaced_jobs = models.PositiveIntegerField(default=0)
    notes = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Farm plan of {self.user_id} at {self.computed_at:%Y-%m-%d %H:%M}"

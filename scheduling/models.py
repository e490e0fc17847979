"""Print jobs: what to print, where, when, and how far it got."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from j3d.lib import limits
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


class ScheduledPrint(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        SCHEDULED = "scheduled"
        STARTED = "started"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

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

"""The event log: one row per published event, handled by q2 workers (see j3d/events.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from j3d import events
from j3d.lib.constraints import ChecksInOneQuery
from j3d.lib.ownership import OwnedQuerySet


class EventQuerySet(OwnedQuerySet):
    def create_for(self, event: events.Event) -> Event:
        """The row for a published event (its columns, and its fields as the payload)."""
        fields = {
            "type": event.type,
            "user_id": event.user_id,
            "printer_id": event.printer_id,
            "job_id": event.job_id,
            "order_id": event.order_id,
            "payload": event.to_payload(),
        }
        if event.occurred_at is not None:
            fields["occurred_at"] = event.occurred_at
        return self.create(**fields)

    def due(self, now: datetime) -> Self:
        """Rows a worker may claim now: pending, due, and not held by a live claim."""
        return self.filter(status=Event.Status.PENDING, next_attempt_at__lte=now).filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        )


class Event(ChecksInOneQuery, models.Model):
    """Something that happened on the farm, kept as history and handed to the subscribers.

    ``job_id``/``order_id`` are plain columns, not foreign keys: j3d sits below the apps that own
    jobs and orders, and the history outlives a deleted job. A deleted printer leaves its events
    with ``printer`` NULL (the payload still names it).
    """

    class Status(models.TextChoices):
        PENDING = "pending"  # subscribers still to run (or to retry)
        HANDLED = "handled"  # every subscriber succeeded
        FAILED = "failed"  # given up after EVENTS_MAX_ATTEMPTS; last_error says why

    type = models.CharField(max_length=64)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    printer = models.ForeignKey(
        "printers.Printer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # j3d_event_printer_history leads with it
    )
    job_id = models.PositiveBigIntegerField(null=True, blank=True)
    order_id = models.PositiveBigIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    handled_at = models.DateTimeField(null=True, blank=True)
    # A worker's claim: the row is its own until claimed_until; claim_token makes the worker's
    # final update conditional on still holding the claim.
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    # Names of the subscribers that succeeded (j3d.events.handler_name); a retry skips them.
    handled_by = models.JSONField(default=list, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "handled", "failed"]),
                name="j3d_event_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status="pending", handled_at__isnull=True)
                | Q(status__in=["handled", "failed"], handled_at__isnull=False),
                name="j3d_event_handled_at_iff_finished",
            ),
            models.CheckConstraint(condition=~Q(type=""), name="j3d_event_type_not_empty"),
        ]
        indexes = [
            # The handle step and the sweep: pending rows by when they are due (a queue).
            models.Index(
                fields=["next_attempt_at", "id"],
                name="j3d_event_due",
                condition=Q(status="pending"),
            ),
            # GET /api/events: an owner's events, newest first (optionally of one type).
            models.Index(fields=["user", "-occurred_at", "-id"], name="j3d_event_owner_history"),
            # GET /api/events?printer=: one printer's events, newest first.
            models.Index(
                fields=["printer", "-occurred_at", "-id"], name="j3d_event_printer_history"
            ),
            # The retention prune: finished rows older than EVENTS_RETENTION_DAYS.
            models.Index(fields=["occurred_at"], name="j3d_event_occurred_at"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk} [{self.status}]"

    def to_event(self) -> events.Event:
        """The published dataclass, with ``event_id`` and ``occurred_at`` filled from this row.

        Raises LookupError for a type no event class has any more.
        """
        cls = events.EVENT_TYPES.get(self.type)
        if cls is None:
            raise LookupError(f"No event class has the type {self.type!r}.")
        return cls.from_payload(self.payload, event_id=self.pk, occurred_at=self.occurred_at)

"""Who is told what, how, and the log of every attempt to tell them."""

import base64
import functools
import secrets
import uuid
import zoneinfo
from datetime import datetime, time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, URLValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from j3d.lib import netguard
from j3d.lib.constraints import ChecksInOneQuery
from j3d.lib.crypto import EncryptedTextField
from j3d.lib.limits import between
from j3d.lib.ownership import OwnedQuerySet
from printers.models import claim_for_printer_owner

webhook_url_validator = URLValidator(
    schemes=["http", "https"], message="A webhook URL must be an http:// or https:// address."
)


def validate_public_url(url: str) -> None:
    """Refuse a URL whose host is (or resolves to) the farm's own network (j3d.lib.netguard)."""
    if not url:
        return
    try:
        netguard.check_url(url, must_resolve=False)
    except netguard.TargetRefused as exc:
        raise ValidationError(str(exc), code="private_target") from None


def validate_apprise_url(url: str) -> None:
    """An Apprise URL Apprise understands, whose host is not on the farm's own network."""
    from notifications.transports import apprise_target

    try:
        host, port = apprise_target(url)
    except ValueError as exc:
        raise ValidationError(str(exc), code="invalid_apprise_url") from None
    if host:
        try:
            netguard.check_host(host, port, must_resolve=False)
        except netguard.TargetRefused as exc:
            raise ValidationError(str(exc), code="private_target") from None


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(name: str) -> None:
    # Looked up in the list, never opened: ZoneInfo(name) reads a file named after the input.
    if name not in _time_zones():
        raise ValidationError("Unknown time zone; use an IANA name like Europe/Berlin.")


class PrintNotification(models.Model):
    """One printer's notification settings (the integration guide's flags); one row per printer."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="print_notifications"
    )
    printer = models.ForeignKey(
        "printers.Printer", on_delete=models.CASCADE, related_name="notification_settings"
    )
    notify_print_start = models.BooleanField(default=True)
    notify_print_complete = models.BooleanField(default=True)
    notify_print_failed = models.BooleanField(default=True)
    notify_material_change = models.BooleanField(default=False)
    notify_maintenance = models.BooleanField(default=True)
    # Not in the integration guide: a printer silent for longer than the owner's threshold.
    notify_offline = models.BooleanField(default=True)
    email_enabled = models.BooleanField(default=True)
    webhook_url = models.URLField(
        max_length=500, blank=True, validators=[webhook_url_validator, validate_public_url]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "printer"], name="notifications_printnotification_one_per_printer"
            ),
        ]

    def __str__(self) -> str:
        return f"Notifications for printer {self.printer_id}"

    def clean(self) -> None:
        claim_for_printer_owner(self)


class NotificationPreferences(ChecksInOneQuery, models.Model):
    """One owner's delivery settings that hold for every printer (one row per owner)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    # Events that belong to no printer (an order cancelled, Etsy needs reconnecting).
    email_enabled = models.BooleanField(default=True, help_text="Email shop-wide events")
    webhook_url = models.URLField(
        max_length=500,
        blank=True,
        validators=[webhook_url_validator, validate_public_url],
        help_text="Receives shop-wide events (orders, Etsy); printers have their own URL",
    )
    # The Standard Webhooks signing secret ("whsec_" + base64); shown once when (re)created.
    webhook_secret = EncryptedTextField(blank=True)
    webhook_secret_created_at = models.DateTimeField(null=True, blank=True)
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    offline_after_minutes = models.PositiveIntegerField(
        default=10,
        validators=between(1, 7 * 24 * 60),
        help_text="Tell me when a printer has been offline this long",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "notification preferences"
        constraints = [
            models.CheckConstraint(
                condition=Q(offline_after_minutes__gte=1, offline_after_minutes__lte=7 * 24 * 60),
                name="notifications_preferences_offline_after_range",
            ),
            models.CheckConstraint(
                condition=Q(quiet_hours_start__isnull=True, quiet_hours_end__isnull=True)
                | Q(quiet_hours_start__isnull=False, quiet_hours_end__isnull=False),
                name="notifications_preferences_quiet_hours_both_or_none",
            ),
        ]

    def __str__(self) -> str:
        return f"Notification preferences of {self.user_id}"

    def clean(self) -> None:
        if (self.quiet_hours_start is None) != (self.quiet_hours_end is None):
            missing = "quiet_hours_end" if self.quiet_hours_end is None else "quiet_hours_start"
            raise ValidationError({missing: "Quiet hours need both a start and an end."})
        if self.quiet_hours_start is not None and self.quiet_hours_start == self.quiet_hours_end:
            raise ValidationError(
                {"quiet_hours_end": "Quiet hours must not start and end at once."}
            )

    def in_quiet_hours(self, moment: datetime) -> bool:
        """Whether ``moment`` falls in the quiet hours (which may run over midnight)."""
        start, end = self.quiet_hours_start, self.quiet_hours_end
        if start is None or end is None:
            return False
        local: time = moment.astimezone(zoneinfo.ZoneInfo(self.time_zone)).time()
        if start < end:
            return start <= local < end
        return local >= start or local < end

    @staticmethod
    def new_webhook_secret() -> str:
        return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class AppriseChannel(models.Model):
    """A chat or push channel (Discord, Slack, Telegram, ntfy, Pushover, ...) as an Apprise URL.

    The URL holds the service's token, so it is encrypted at rest and never shown again.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="apprise_channels"
    )
    name = models.CharField(max_length=100)
    url = EncryptedTextField(validators=[validate_apprise_url], help_text="An Apprise URL")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"], name="notifications_apprisechannel_name_per_user"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # Named for the field a person can fix (the constraint alone would say "user and name").
        others = AppriseChannel.objects.filter(user_id=self.user_id, name=self.name)
        if self.user_id is not None and others.exclude(pk=self.pk).exists():
            raise ValidationError({"name": "You already have a channel with this name."})


class MaintenanceTask(ChecksInOneQuery, models.Model):
    """A recurring chore on one printer: "lubricate rods every 200 printing hours"."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="maintenance_tasks"
    )
    printer = models.ForeignKey(
        "printers.Printer", on_delete=models.CASCADE, related_name="maintenance_tasks"
    )
    name = models.CharField(max_length=100)
    every_print_hours = models.PositiveIntegerField(
        null=True, blank=True, validators=between(1, 100_000)
    )
    every_days = models.PositiveIntegerField(null=True, blank=True, validators=between(1, 3650))
    # The counters since the chore was last done ("done" resets them).
    last_done_at = models.DateTimeField(default=timezone.now)
    print_hours_since_done = models.DecimalField(
        max_digits=9, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )
    # The newest print-end event already counted (an event handled twice counts once).
    last_counted_event_id = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    # The due announcement is made once per cycle; "done" clears it.
    due_announced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["printer_id", "name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(every_print_hours__isnull=False) | Q(every_days__isnull=False),
                name="notifications_maintenancetask_has_interval",
            ),
            models.CheckConstraint(
                condition=Q(every_print_hours__isnull=True)
                | Q(every_print_hours__gte=1, every_print_hours__lte=100_000),
                name="notifications_maintenancetask_hours_range",
            ),
            models.CheckConstraint(
                condition=Q(every_days__isnull=True) | Q(every_days__gte=1, every_days__lte=3650),
                name="notifications_maintenancetask_days_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (printer {self.printer_id})"

    def clean(self) -> None:
        claim_for_printer_owner(self)
        if self.every_print_hours is None and self.every_days is None:
            raise ValidationError(
                {"every_print_hours": "Give an interval: printing hours, days, or both."}
            )

    def due_reason(self, now: datetime) -> str:
        """Why the chore is due now ("" when it is not)."""
        hours = self.every_print_hours
        if hours is not None and self.print_hours_since_done >= hours:
            return f"{self.print_hours_since_done:.0f} printing hours since it was last done"
        if self.every_days is not None and (now - self.last_done_at).days >= self.every_days:
            return f"{(now - self.last_done_at).days} days since it was last done"
        return ""


def new_delivery_id() -> str:
    """A Standard Webhooks message id: the receiver's idempotency key."""
    return f"msg_{uuid.uuid4().hex}"


class DeliveryQuerySet(OwnedQuerySet):
    def due(self, now: datetime) -> "DeliveryQuerySet":
        """Deliveries a worker may claim now: waiting and due, or sending under a dead claim."""
        return self.filter(
            Q(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            | Q(status=Delivery.Status.SENDING, claimed_until__lt=now)
        )


class Delivery(ChecksInOneQuery, models.Model):
    """One message to one channel, and how sending it went (the delivery log).

    Created once per (event, channel): an event handled twice finds its rows and sends nothing
    new. ``message`` is the channel-neutral message built from the event when the row was made,
    so a retry sends the same thing, and a webhook retry the same ``delivery_id``.
    """

    class Channel(models.TextChoices):
        EMAIL = "email"
        WEBHOOK = "webhook"
        APPRISE = "apprise"

    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for its (next) attempt
        SENDING = "sending"  # claimed by a worker
        DELIVERED = "delivered"
        FAILED = "failed"  # permanent error, or out of attempts
        SUPPRESSED = "suppressed"  # not sent on purpose (quiet hours, printer back online)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_deliveries"
    )
    # Null for a test message (POST /api/bambu/notifications/<printer_id>/test).
    event = models.ForeignKey(
        "j3d.Event", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    event_type = models.CharField(max_length=64)
    printer = models.ForeignKey(
        "printers.Printer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # Which of the owner's channels: "email", "webhook", "apprise:<channel id>" (one per event).
    channel_key = models.CharField(max_length=40)
    # The address shown in the log, with any secret part masked.
    target = models.CharField(max_length=255, blank=True)
    delivery_id = models.CharField(
        max_length=40, unique=True, editable=False, default=new_delivery_id
    )
    message = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["event", "channel_key"],
                condition=Q(event__isnull=False),
                name="notifications_delivery_once_per_event_channel",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sending", "delivered", "failed", "suppressed"]),
                name="notifications_delivery_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["email", "webhook", "apprise"]),
                name="notifications_delivery_channel_valid",
            ),
        ]
        indexes = [
            # The sweep: deliveries still waiting, by when they are due.
            models.Index(
                fields=["next_attempt_at", "id"],
                name="notifications_delivery_due",
                condition=Q(status__in=["pending", "sending"]),
            ),
            # GET /api/notifications/deliveries: an owner's log, newest first.
            models.Index(fields=["user", "-created_at", "-id"], name="notifications_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.channel} [{self.status}]"

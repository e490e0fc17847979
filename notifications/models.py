"""Who is told what about each printer."""

from django.conf import settings
from django.core.validators import URLValidator
from django.db import models

from j3d.lib.ownership import OwnedQuerySet
from printers.models import claim_for_printer_owner

webhook_url_validator = URLValidator(
    schemes=["http", "https"], message="A webhook URL must be an http:// or https:// address."
)


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
    email_enabled = models.BooleanField(default=True)
    webhook_url = models.URLField(max_length=500, blank=True, validators=[webhook_url_validator])
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

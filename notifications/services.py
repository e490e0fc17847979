"""Notification settings per printer (delivery itself comes with the notifications issue)."""

from typing import Any

from django.db import IntegrityError, transaction

from j3d.lib.validation import save_validated
from notifications.models import PrintNotification
from printers.models import Printer


def notification_settings_get(*, printer: Printer) -> PrintNotification:
    """The printer's settings, created with the defaults on first read."""
    try:
        with transaction.atomic():
            settings, _ = PrintNotification.objects.get_or_create(
                user_id=printer.user_id, printer=printer
            )
    except IntegrityError:  # two first reads at once: the other one created the row
        settings = PrintNotification.objects.get(user_id=printer.user_id, printer=printer)
    return settings


@transaction.atomic
def notification_settings_update(*, printer: Printer, **fields: Any) -> PrintNotification:
    return save_validated(notification_settings_get(printer=printer), **fields)

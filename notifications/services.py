"""Notification settings per printer (delivery itself comes with the notifications issue)."""

import logging
import smtplib
from typing import Any

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from j3d.lib.validation import save_validated
from notifications.models import PrintNotification
from printers.models import Printer

logger = logging.getLogger(__name__)


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


def owner_tell(*, user_id: int, subject: str, body: str) -> bool:
    """Email the shop owner (the notifications issue brings channels, retries and a log; until
    then an owner with no email address is only told in the log). True when a mail was sent."""
    owner = get_user_model().objects.filter(pk=user_id).first()
    if owner is None or not owner.email:
        logger.warning("owner %s has no email address; not told: %s", user_id, subject)
        return False
    try:
        send_mail(subject, body, None, [owner.email])
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("could not email owner %s (%s): %s", user_id, subject, exc)
        return False
    return True

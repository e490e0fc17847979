"""What each owner wants to be told, and how: per-printer settings (the integration guide's
flags), the owner's preferences (quiet hours, the webhook signing secret) and chat channels."""

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from j3d.lib.validation import save_validated
from notifications.models import AppriseChannel, NotificationPreferences, PrintNotification
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


def preferences_get(*, user_id: int) -> NotificationPreferences:
    """The owner's preferences, created with the defaults on first use."""
    try:
        with transaction.atomic():
            preferences, _ = NotificationPreferences.objects.get_or_create(user_id=user_id)
    except IntegrityError:  # created by a concurrent first use
        preferences = NotificationPreferences.objects.get(user_id=user_id)
    return preferences


@transaction.atomic
def preferences_update(*, user_id: int, **fields: Any) -> NotificationPreferences:
    return save_validated(preferences_get(user_id=user_id), **fields)


@transaction.atomic
def webhook_secret_rotate(*, user_id: int) -> str:
    """A new signing secret for the owner's webhooks; returned once, stored encrypted.

    Receivers verifying with the old secret start failing at once: rotate, then update them.
    """
    preferences = NotificationPreferences.objects.select_for_update().get(
        pk=preferences_get(user_id=user_id).pk
    )
    preferences.webhook_secret = NotificationPreferences.new_webhook_secret()
    preferences.webhook_secret_created_at = timezone.now()
    preferences.save(update_fields=["webhook_secret", "webhook_secret_created_at", "updated_at"])
    return preferences.webhook_secret


def webhook_secret_get(*, user_id: int) -> str:
    """The secret webhooks are signed with; made on first need (rotate to see one)."""
    preferences = preferences_get(user_id=user_id)
    if preferences.webhook_secret:
        return preferences.webhook_secret
    with transaction.atomic():
        locked = NotificationPreferences.objects.select_for_update().get(pk=preferences.pk)
        if not locked.webhook_secret:
            locked.webhook_secret = NotificationPreferences.new_webhook_secret()
            locked.webhook_secret_created_at = timezone.now()
            locked.save(update_fields=["webhook_secret", "webhook_secret_created_at", "updated_at"])
        return locked.webhook_secret


@transaction.atomic
def channel_create(*, user: Any, **fields: Any) -> AppriseChannel:
    return save_validated(AppriseChannel(user=user), **fields)


@transaction.atomic
def channel_update(*, channel: AppriseChannel, **fields: Any) -> AppriseChannel:
    return save_validated(channel, **fields)

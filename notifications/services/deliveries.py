"""Telling people: which events reach whom, the delivery rows, sending them, retrying.

The path of one event (see docs/notifications.md):

1. ``deliveries_plan`` (an event subscriber, in a q2 worker) checks the printer's flags and the
   owner's quiet hours, builds the Message once, and writes one Delivery row per channel. The rows
   are unique per (event, channel), so an event handled twice sends nothing new.
2. On commit it queues ``notifications.tasks.deliveries_send`` with the rows' ids; the minute sweep
   (``deliveries_send_due``) takes whatever is due later: retries, a printer's offline notice
   (due only once the printer has been offline for the owner's threshold), rows whose queueing was
   lost in a crash.
3. ``deliveries_send`` claims each row with a conditional UPDATE (two workers never send the same
   row at once), then sends the claimed rows side by side in threads (a receiver that hangs holds
   only its own thread, for at most its timeout) and records each outcome: delivered; a permanent
   failure; or a transient one retried with exponential backoff up to a bounded number of attempts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from j3d import events
from j3d.models import Event as EventRow
from notifications.models import (
    AppriseChannel,
    Delivery,
    NotificationPreferences,
    PrintNotification,
)
from notifications.services.messages import message_for_event, message_for_test
from notifications.services.preferences import preferences_get, webhook_secret_get
from notifications.transports import (
    AppriseTransport,
    EmailTransport,
    Message,
    Transport,
    TransportError,
    WebhookTransport,
    elapsed_ms,
    masked_email,
    masked_url,
)
from printers.models import Printer

logger = logging.getLogger(__name__)

Status = Delivery.Status
Channel = Delivery.Channel

# Which per-printer flag (the integration guide's names) lets each kind of event through.
FLAG_FOR_EVENT: dict[type[events.Event], str] = {
    events.PrintStarted: "notify_print_start",
    events.PrintFinished: "notify_print_complete",
    events.PrintFailed: "notify_print_failed",
    events.PrintPaused: "notify_print_failed",  # a pause mid-print needs a person, like a failure
    events.JobDispatchFailed: "notify_print_failed",
    events.MaterialLow: "notify_material_change",
    events.MaterialChangeNeeded: "notify_material_change",
    events.HmsRaised: "notify_maintenance",
    events.MaintenanceDue: "notify_maintenance",
    events.PrinterOffline: "notify_offline",
}
# Events of the shop, not of a printer: the owner's own channels, no per-printer flag.
SHOP_EVENTS: tuple[type[events.Event], ...] = (
    events.OrderCancelled,
    events.EtsyReconnectNeeded,
    events.MaterialStockLow,  # farm-wide stock, no one printer's
)
# These reach people even in their quiet hours: a printer stands still until someone acts.
URGENT_EVENTS = (
    events.PrintFailed,
    events.PrintPaused,
    events.JobDispatchFailed,
    events.PrinterOffline,
)
TEST_TYPE = "test"
ANNOUNCED_EVENTS: tuple[type[events.Event], ...] = (*FLAG_FOR_EVENT, *SHOP_EVENTS)


@dataclass(frozen=True)
class Route:
    """One channel a message goes to: which (``key``, unique per event) and what the log shows."""

    channel: str
    key: str
    target: str


# ---- 1. planning -------------------------------------------------------------------------------


def deliveries_plan(*, event: events.Event) -> list[Delivery]:
    """Write the delivery rows ``event`` calls for and queue their sending; returns the rows.

    Idempotent: a second call for the same event finds the rows and sends nothing new.
    """
    if not _wanted(event):
        return []
    preferences = preferences_get(user_id=event.user_id)
    routes = _routes(event, preferences)
    if not routes:
        return []
    now = timezone.now()
    message = message_for_event(event=event)
    status, due, note = Status.PENDING, now, ""
    if isinstance(event, events.PrinterOffline):
        # Announced only if the printer is still offline once the owner's threshold has passed.
        since = event.occurred_at or now
        due = since + timedelta(minutes=preferences.offline_after_minutes)
    if not isinstance(event, URGENT_EVENTS) and preferences.in_quiet_hours(now):
        status, note = Status.SUPPRESSED, "quiet hours"
    Delivery.objects.bulk_create(
        [
            Delivery(
                user_id=event.user_id,
                event_id=event.event_id,
                event_type=event.type,
                printer_id=event.printer_id,
                channel=route.channel,
                channel_key=route.key,
                target=route.target,
                message=message.to_dict(),
                status=status,
                next_attempt_at=due,
                error=note,
            )
            for route in routes
        ],
        ignore_conflicts=True,
    )
    rows = list(Delivery.objects.filter(event_id=event.event_id).order_by("id"))
    due_now = [
        row.pk for row in rows if row.status == Status.PENDING and row.next_attempt_at <= now
    ]
    if due_now:
        transaction.on_commit(lambda: deliveries_queue(ids=due_now), robust=True)
    return rows


def _wanted(event: events.Event) -> bool:
    if event.event_id is None:
        return False
    if isinstance(event, events.PrintFailed) and event.cancelled:
        return False  # a person stopped it; they know
    if isinstance(event, SHOP_EVENTS):
        return True
    flag = FLAG_FOR_EVENT.get(type(event))
    if flag is None or event.printer_id is None:
        return False
    return bool(getattr(_printer_settings(event.printer_id, event.user_id), flag))


def _printer_settings(printer_id: int, user_id: int) -> PrintNotification:
    """The printer's settings; a printer nobody configured has the defaults (not stored)."""
    stored = PrintNotification.objects.filter(printer_id=printer_id, user_id=user_id).first()
    return stored or PrintNotification(printer_id=printer_id, user_id=user_id)


def _routes(event: events.Event, preferences: NotificationPreferences) -> list[Route]:
    if isinstance(event, SHOP_EVENTS) or event.printer_id is None:
        email_on, webhook_url = preferences.email_enabled, preferences.webhook_url
    else:
        settings_row = _printer_settings(event.printer_id, event.user_id)
        email_on, webhook_url = settings_row.email_enabled, settings_row.webhook_url
    return _routes_for(event.user_id, email_on=email_on, webhook_url=webhook_url)


def _routes_for(user_id: int, *, email_on: bool, webhook_url: str) -> list[Route]:
    routes = []
    address = _owner_email(user_id)
    if email_on and address:
        routes.append(Route(Channel.EMAIL, "email", masked_email(address)))
    if webhook_url:
        routes.append(Route(Channel.WEBHOOK, "webhook", masked_url(webhook_url)))
    for channel in AppriseChannel.objects.filter(user_id=user_id, enabled=True):
        routes.append(Route(Channel.APPRISE, f"apprise:{channel.pk}", masked_url(channel.url)))
    return routes


def _owner_email(user_id: int) -> str:
    user_model = get_user_model()
    return user_model.objects.filter(pk=user_id).values_list("email", flat=True).first() or ""


def deliveries_queue(*, ids: list[int]) -> None:
    """Queue the q2 task that sends these rows. If queueing fails, the sweep sends them later."""
    from django_q.tasks import async_task

    try:
        async_task(
            "notifications.tasks.deliveries_send",
            ids,
            save=False,  # the delivery rows are the log
            sync=settings.NOTIFICATIONS_SYNC,
        )
    except Exception:
        logger.exception("Could not queue deliveries %s; the sweep will send them", ids)


# ---- 2./3. sending -------------------------------------------------------------------------------


def deliveries_send(*, ids: Iterable[int] | None = None, now: datetime | None = None) -> list[int]:
    """Claim the due rows (of ``ids``, or the oldest due) and send them; returns the ids sent."""
    now = now or timezone.now()
    claimed = _claim(ids=ids, now=now)
    if not claimed:
        return []
    jobs: list[tuple[Delivery, Transport | None, str]] = []
    for row in claimed:
        transport, skip_reason = _transport_for(row)
        jobs.append((row, transport, skip_reason))
    sendable = [(row, transport) for row, transport, _ in jobs if transport is not None]
    outcomes: dict[int, tuple[int | None, TransportError | None, int]] = {}
    if sendable:
        workers = min(len(sendable), settings.NOTIFICATIONS_SEND_THREADS)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="notify") as pool:
            futures = {
                row.pk: pool.submit(_send_one, transport, row) for row, transport in sendable
            }
            outcomes = {pk: future.result() for pk, future in futures.items()}
    for row, transport, skip_reason in jobs:
        if transport is None:
            _record(row, status=Status.SUPPRESSED, error=skip_reason)
        else:
            _record_outcome(row, *outcomes[row.pk])
    return [row.pk for row in claimed]


def deliveries_send_due(*, now: datetime | None = None) -> int:
    """The sweep: send every due row in batches; returns how many rows it took."""
    total = 0
    deadline = time.monotonic() + settings.NOTIFICATIONS_SWEEP_SECONDS
    while time.monotonic() < deadline:
        sent = deliveries_send(now=now)
        if not sent:
            break
        total += len(sent)
    return total


def _claim(*, ids: Iterable[int] | None, now: datetime) -> list[Delivery]:
    due = Delivery.objects.due(now)
    if ids is not None:
        due = due.filter(pk__in=list(ids))
    candidates = list(
        due.order_by("next_attempt_at", "id").values_list("pk", flat=True)[
            : settings.NOTIFICATIONS_BATCH
        ]
    )
    claimed = []
    until = now + timedelta(seconds=settings.NOTIFICATIONS_CLAIM_SECONDS)
    for pk in candidates:
        won = (
            Delivery.objects.due(now)
            .filter(pk=pk)
            .update(
                status=Status.SENDING,
                claimed_until=until,
                attempts=F("attempts") + 1,
                first_attempt_at=Coalesce("first_attempt_at", now),
                last_attempt_at=now,
                updated_at=now,
            )
        )
        if won:
            claimed.append(pk)
    return list(
        Delivery.objects.filter(pk__in=claimed).select_related("event", "user").order_by("id")
    )


def _transport_for(row: Delivery) -> tuple[Transport | None, str]:
    """The transport that sends ``row`` now, or None and why the row is not sent after all."""
    if row.event_type == events.PrinterOffline.type and row.event is not None:
        back = EventRow.objects.filter(
            type=events.PrinterOnline.type,
            printer_id=row.event.printer_id,
            occurred_at__gt=row.event.occurred_at,
        ).exists()
        if back:
            return None, "the printer came back online before the threshold"
    if row.channel == Channel.EMAIL:
        address = row.user.email
        return (EmailTransport(address), "") if address else (None, "the owner has no email")
    if row.channel == Channel.WEBHOOK:
        url = _webhook_url(row)
        if not url:
            return None, "the webhook URL was removed"
        return WebhookTransport(url, webhook_secret_get(user_id=row.user_id)), ""
    channel_id = row.channel_key.partition(":")[2]
    channel = AppriseChannel.objects.filter(pk=channel_id, user_id=row.user_id).first()
    if channel is None or not channel.enabled:
        return None, "the channel was removed or switched off"
    return AppriseTransport(channel.url), ""


def _webhook_url(row: Delivery) -> str:
    if row.printer_id is not None and row.event_type not in {e.type for e in SHOP_EVENTS}:
        settings_row = PrintNotification.objects.filter(
            printer_id=row.printer_id, user_id=row.user_id
        ).first()
        return settings_row.webhook_url if settings_row else ""
    return preferences_get(user_id=row.user_id).webhook_url


def _send_one(transport: Transport, row: Delivery) -> tuple[int | None, TransportError | None, int]:
    """Runs in a worker thread: network only, no database."""
    started = time.monotonic()
    try:
        code = transport.send(Message.from_dict(row.message), delivery_id=row.delivery_id)
    except TransportError as exc:
        return exc.response_code, exc, elapsed_ms(started)
    except Exception as exc:  # a transport bug must not lose the row's outcome
        logger.exception("Delivery %s: %s transport crashed", row.pk, row.channel)
        error = TransportError(f"internal error ({type(exc).__name__})", permanent=False)
        return None, error, elapsed_ms(started)
    return code, None, elapsed_ms(started)


def _record_outcome(
    row: Delivery, code: int | None, error: TransportError | None, duration_ms: int
) -> None:
    if error is None:
        _record(
            row,
            status=Status.DELIVERED,
            response_code=code,
            duration_ms=duration_ms,
            delivered_at=timezone.now(),
            error="",
        )
        return
    final = (
        error.permanent
        or row.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS
        or row.event_type == TEST_TYPE  # a person is waiting for this answer, not for a retry
    )
    fields: dict[str, Any] = {
        "status": Status.FAILED if final else Status.PENDING,
        "response_code": code,
        "duration_ms": duration_ms,
        "error": error.reason[:1000],
    }
    if not final:
        fields["next_attempt_at"] = timezone.now() + retry_delay(row.attempts)
    logger.warning(
        "Delivery %s (%s, %s) attempt %s failed%s: %s",
        row.pk,
        row.event_type,
        row.channel,
        row.attempts,
        " for good" if final else "",
        error.reason,
    )
    _record(row, **fields)


def _record(row: Delivery, **fields: Any) -> None:
    fields.update(claimed_until=None, updated_at=timezone.now())
    # Conditional on our claim: if it ran out and another worker took the row, its outcome wins.
    Delivery.objects.filter(
        pk=row.pk, status=Status.SENDING, claimed_until=row.claimed_until
    ).update(**fields)
    for name, value in fields.items():
        setattr(row, name, value)


def retry_delay(attempts: int) -> timedelta:
    """After the ``attempts``-th failed try: 30 s, 1 min, 2 min, ... at most an hour."""
    seconds = settings.NOTIFICATIONS_RETRY_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.NOTIFICATIONS_RETRY_MAX_SECONDS))


# ---- a test message ------------------------------------------------------------------------------


def notifications_send_test(*, printer: Printer) -> list[Delivery]:
    """Send a test message through every channel enabled for ``printer`` now; returns the rows
    with each channel's outcome (flags and quiet hours do not apply to a test)."""
    settings_row = _printer_settings(printer.pk, printer.user_id)
    routes = _routes_for(
        printer.user_id, email_on=settings_row.email_enabled, webhook_url=settings_row.webhook_url
    )
    message = message_for_test(printer=printer)
    rows = [
        Delivery.objects.create(
            user_id=printer.user_id,
            event=None,
            event_type=TEST_TYPE,
            printer=printer,
            channel=route.channel,
            channel_key=route.key,
            target=route.target,
            message=message.to_dict(),
        )
        for route in routes
    ]
    if rows:
        deliveries_send(ids=[row.pk for row in rows])
    return list(Delivery.objects.filter(pk__in=[row.pk for row in rows]).order_by("id"))

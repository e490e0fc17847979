"""From an event to people: which events reach whom, once, with retries and a delivery log."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock

import pytest
from django.core import mail
from django.utils import timezone

from j3d import events
from j3d.models import Event as EventRow
from j3d.tests.factories import make_printer
from notifications import transports
from notifications.models import AppriseChannel, Delivery, PrintNotification
from notifications.services.deliveries import (
    deliveries_plan,
    deliveries_send,
    deliveries_send_due,
    notifications_send_test,
)
from notifications.services.preferences import preferences_update
from notifications.tests.receivers import HANG, http_receiver

Status = Delivery.Status


@pytest.fixture(autouse=True)
def _loopback_receivers(settings) -> None:
    settings.NOTIFICATIONS_ALLOW_PRIVATE_TARGETS = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def printer(owner):
    return make_printer(owner, name="X1C #2")


def _settings(printer, **fields) -> PrintNotification:
    row, _ = PrintNotification.objects.update_or_create(
        printer=printer, user=printer.user, defaults=fields
    )
    return row


def _published(event: events.Event, django_capture_on_commit_callbacks) -> events.Event:
    """Publish like the printer link does and let the subscribers run (sync in tests)."""
    with django_capture_on_commit_callbacks(execute=True):
        event_id = events.publish(event)
    return EventRow.objects.get(pk=event_id).to_event()


def _failed(printer, **fields) -> events.PrintFailed:
    return events.PrintFailed(
        user_id=printer.user_id,
        printer_id=printer.pk,
        job_name="Dragon",
        reason="filament ran out",
        error_hex="0700_8010",
        **fields,
    )


def test_failed_print_reaches_webhook_and_email_at_once(
    printer, owner, django_capture_on_commit_callbacks
) -> None:
    with http_receiver() as receiver:
        _settings(printer, webhook_url=receiver.url)
        event = _published(_failed(printer), django_capture_on_commit_callbacks)
        (request,) = receiver.wait_for(1)
    rows = Delivery.objects.filter(event_id=event.event_id).order_by("channel")
    assert [(r.channel, r.status) for r in rows] == [
        ("email", Status.DELIVERED),
        ("webhook", Status.DELIVERED),
    ]
    assert request.headers["webhook-id"] == rows[1].delivery_id
    assert b"filament ran out" in request.body
    (email,) = mail.outbox
    assert email.subject == "[J3D] X1C #2: print failed: filament ran out"
    assert email.to == [owner.email]


def test_flags_off_send_nothing(printer, django_capture_on_commit_callbacks) -> None:
    with http_receiver() as receiver:
        _settings(printer, webhook_url=receiver.url, notify_print_failed=False, email_enabled=True)
        _published(_failed(printer), django_capture_on_commit_callbacks)
        _published(
            events.PrintStarted(user_id=printer.user_id, printer_id=printer.pk, job_name="x"),
            django_capture_on_commit_callbacks,
        )
        _settings(printer, notify_print_start=False)
        _published(
            events.PrintStarted(user_id=printer.user_id, printer_id=printer.pk, job_name="y"),
            django_capture_on_commit_callbacks,
        )
        time.sleep(0.2)  # nothing is on its way; give a wrong send the chance to arrive
    # Only the first start (flag on at the time) went out.
    assert [r.event_type for r in Delivery.objects.filter(channel="webhook")] == ["print.started"]
    assert len(receiver.requests) == 1


def test_a_person_cancelling_a_print_is_not_announced_as_a_failure(
    printer, django_capture_on_commit_callbacks
) -> None:
    _published(_failed(printer, cancelled=True), django_capture_on_commit_callbacks)
    assert not Delivery.objects.exists()
    assert mail.outbox == []


def test_the_same_event_handled_twice_sends_once(
    printer, django_capture_on_commit_callbacks
) -> None:
    with http_receiver() as receiver:
        _settings(printer, webhook_url=receiver.url)
        event = _published(_failed(printer), django_capture_on_commit_callbacks)
        with django_capture_on_commit_callbacks(execute=True):
            deliveries_plan(event=event)  # a second worker, or a retry of the event
        time.sleep(0.2)
    assert Delivery.objects.filter(event_id=event.event_id).count() == 2
    assert len(receiver.requests) == 1
    assert len(mail.outbox) == 1


def test_receiver_failing_twice_then_succeeding_gets_one_delivery_with_one_id(
    printer, django_capture_on_commit_callbacks
) -> None:
    with http_receiver(503, 500) as receiver:
        _settings(printer, webhook_url=receiver.url, email_enabled=False)
        _published(_failed(printer), django_capture_on_commit_callbacks)
        row = Delivery.objects.get(channel="webhook")
        assert (row.status, row.attempts, row.response_code) == (Status.PENDING, 1, 503)
        assert row.next_attempt_at > timezone.now()
        assert deliveries_send_due() == 0  # not due yet: backoff
        deliveries_send_due(now=row.next_attempt_at + timedelta(seconds=1))
        row.refresh_from_db()
        assert (row.status, row.attempts) == (Status.PENDING, 2)
        deliveries_send_due(now=row.next_attempt_at + timedelta(seconds=1))
        requests = receiver.wait_for(3)
    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_code) == (Status.DELIVERED, 3, 200)
    assert len(requests) == 3
    assert {r.headers["webhook-id"] for r in requests} == {row.delivery_id}
    assert [r.body for r in requests] == [requests[0].body] * 3  # the same message each time


def test_a_404_receiver_is_failed_for_good_after_one_attempt(
    printer, django_capture_on_commit_callbacks
) -> None:
    with http_receiver(404) as receiver:
        _settings(printer, webhook_url=receiver.url, email_enabled=False)
        _published(_failed(printer), django_capture_on_commit_callbacks)
        row = Delivery.objects.get(channel="webhook")
        assert deliveries_send_due(now=timezone.now() + timedelta(days=1)) == 0
    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_code, row.error) == (
        Status.FAILED,
        1,
        404,
        "HTTP 404",
    )
    assert len(receiver.requests) == 1


def test_retries_stop_after_the_last_attempt(
    settings, printer, django_capture_on_commit_callbacks
) -> None:
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    with http_receiver(500, 500, 500, 500) as receiver:
        _settings(printer, webhook_url=receiver.url, email_enabled=False)
        _published(_failed(printer), django_capture_on_commit_callbacks)
        later = timezone.now()
        for _ in range(5):
            later += timedelta(hours=2)
            deliveries_send_due(now=later)
    row = Delivery.objects.get(channel="webhook")
    assert (row.status, row.attempts) == (Status.FAILED, 3)
    assert len(receiver.requests) == 3


def test_a_receiver_that_hangs_does_not_delay_another_owners_delivery(
    printer, other_owner, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    monkeypatch.setattr(transports, "WEBHOOK_TIMEOUT_SECONDS", 2.0)
    other_printer = make_printer(other_owner, serial="01S00A000000002")
    with http_receiver(HANG) as slow, http_receiver() as fast:
        _settings(printer, webhook_url=slow.url, email_enabled=False)
        _settings(other_printer, webhook_url=fast.url, email_enabled=False)
        # Both events are planned before anything is sent, then sent in one batch.
        with django_capture_on_commit_callbacks(execute=False):
            for p in (printer, other_printer):
                deliveries_plan(event=_event_row(_failed(p)))
        started = time.monotonic()
        deliveries_send()
        finished = time.monotonic()
    (arrived,) = fast.requests
    assert arrived.at - started < 1.0  # not after the hanging receiver's 2 s
    assert finished - started >= 2.0  # the slow one really did hang
    hung = Delivery.objects.get(printer=printer)
    quick = Delivery.objects.get(printer=other_printer)
    assert quick.status == Status.DELIVERED
    assert hung.status == Status.PENDING and "no answer" in hung.error


def _event_row(event: events.Event) -> events.Event:
    return EventRow.objects.create_for(event).to_event()


def test_quiet_hours_hold_back_all_but_failures(
    printer, owner, django_capture_on_commit_callbacks
) -> None:
    now = timezone.now()
    start = (now - timedelta(hours=1)).time().replace(microsecond=0)
    end = (now + timedelta(hours=1)).time().replace(microsecond=0)
    preferences_update(user_id=owner.pk, quiet_hours_start=start, quiet_hours_end=end)
    _published(
        events.PrintFinished(user_id=owner.pk, printer_id=printer.pk, job_name="Dragon"),
        django_capture_on_commit_callbacks,
    )
    _published(_failed(printer), django_capture_on_commit_callbacks)
    by_type = {r.event_type: r for r in Delivery.objects.all()}
    assert by_type["print.completed"].status == Status.SUPPRESSED
    assert by_type["print.completed"].error == "quiet hours"
    assert by_type["print.failed"].status == Status.DELIVERED
    assert [m.subject for m in mail.outbox] == ["[J3D] X1C #2: print failed: filament ran out"]


def test_quiet_hours_can_run_over_midnight(owner) -> None:
    from notifications.services.preferences import preferences_get

    preferences = preferences_get(user_id=owner.pk)
    preferences.quiet_hours_start, preferences.quiet_hours_end = clock(22), clock(7)
    preferences.time_zone = "Europe/Berlin"
    day = datetime(2026, 7, 1, tzinfo=UTC)
    assert preferences.in_quiet_hours(day.replace(hour=21))  # 23:00 in Berlin
    assert preferences.in_quiet_hours(day.replace(hour=3))  # 05:00
    assert not preferences.in_quiet_hours(day.replace(hour=6))  # 08:00


def test_offline_printer_is_announced_only_after_the_threshold(
    printer, owner, django_capture_on_commit_callbacks
) -> None:
    preferences_update(user_id=owner.pk, offline_after_minutes=10)
    event = _published(
        events.PrinterOffline(user_id=owner.pk, printer_id=printer.pk, reason="no report for 60 s"),
        django_capture_on_commit_callbacks,
    )
    row = Delivery.objects.get(event_id=event.event_id)
    assert row.status == Status.PENDING and mail.outbox == []
    assert deliveries_send_due(now=event.occurred_at + timedelta(minutes=9)) == 0
    deliveries_send_due(now=event.occurred_at + timedelta(minutes=10, seconds=1))
    row.refresh_from_db()
    assert row.status == Status.DELIVERED
    assert mail.outbox[0].subject == "[J3D] X1C #2 is offline"


def test_offline_printer_back_before_the_threshold_is_not_announced(
    printer, owner, django_capture_on_commit_callbacks
) -> None:
    event = _published(
        events.PrinterOffline(user_id=owner.pk, printer_id=printer.pk, reason="silent"),
        django_capture_on_commit_callbacks,
    )
    _published(
        events.PrinterOnline(
            user_id=owner.pk,
            printer_id=printer.pk,
            occurred_at=event.occurred_at + timedelta(minutes=3),
        ),
        django_capture_on_commit_callbacks,
    )
    deliveries_send_due(now=event.occurred_at + timedelta(minutes=30))
    row = Delivery.objects.get(event_id=event.event_id)
    assert row.status == Status.SUPPRESSED
    assert "came back online" in row.error
    assert mail.outbox == []


def test_shop_events_go_to_the_owners_own_channels(
    owner, django_capture_on_commit_callbacks
) -> None:
    with http_receiver() as receiver:
        preferences_update(user_id=owner.pk, webhook_url=receiver.url)
        _published(
            events.OrderCancelled(user_id=owner.pk, order_number="1042", reason="refunded"),
            django_capture_on_commit_callbacks,
        )
        (request,) = receiver.wait_for(1)
    assert b'"type":"order.cancelled"' in request.body
    assert mail.outbox[0].subject == "[J3D] Order #1042 was cancelled"


def test_apprise_channels_get_printer_events(
    printer, owner, django_capture_on_commit_callbacks
) -> None:
    with http_receiver() as receiver:
        AppriseChannel.objects.create(
            user=owner, name="ntfy", url=f"json://127.0.0.1:{receiver.port}/chat"
        )
        AppriseChannel.objects.create(
            user=owner, name="off", url=f"json://127.0.0.1:{receiver.port}/off", enabled=False
        )
        _published(_failed(printer), django_capture_on_commit_callbacks)
        (request,) = receiver.wait_for(1)
        time.sleep(0.2)
    assert request.path == "/chat"
    assert len(receiver.requests) == 1
    row = Delivery.objects.get(channel="apprise")
    assert row.status == Status.DELIVERED
    assert "/chat" not in row.target  # paths may hold tokens; the log masks them


def test_a_test_message_reports_each_channels_outcome(printer, owner) -> None:
    with http_receiver(404) as receiver:
        _settings(printer, webhook_url=receiver.url)
        rows = notifications_send_test(printer=printer)
    outcome = {r.channel: (r.status, r.response_code) for r in rows}
    assert outcome == {"email": (Status.DELIVERED, None), "webhook": (Status.FAILED, 404)}
    assert mail.outbox[0].subject == "[J3D] X1C #2: test notification"
    # A failed test is not retried later: the person saw the answer.
    assert deliveries_send_due(now=timezone.now() + timedelta(days=1)) == 0

"""The event log: rows written with the change, handled once by claiming workers, retried."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone
from django_q.models import OrmQ

from j3d import events
from j3d.models import Event
from j3d.services import event_handle, events_claim, events_handle, events_sweep, retry_delay
from j3d.tests.factories import make_job, make_printer
from printers.models import PrinterStatus
from scheduling.models import ScheduledPrint

ROOT = Path(__file__).resolve().parents[2]
Status = Event.Status


class Recorder:
    """A subscriber that records what it received; optionally raises its first ``fail`` times."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.calls: list[events.Event] = []
        self.lock = threading.Lock()

    def __call__(self, event: events.Event) -> None:
        with self.lock:
            self.calls.append(event)
            if len(self.calls) <= self.fail:
                raise RuntimeError(f"subscriber bug #{len(self.calls)}")


@pytest.fixture
def subscribed():
    """subscribed(EventClass, handler): registered for the test's duration only, as the only
    subscriber of that class (these tests are about the event log, not the apps' subscribers)."""
    registered: list[tuple[type[events.Event], Any]] = []
    saved: dict[type[events.Event], dict[str, Any]] = {}

    def subscribe(kind: type[events.Event], handler: Any) -> Any:
        if kind not in saved:
            saved[kind] = events.subscribers(kind)
            for existing in saved[kind].values():
                events.unsubscribe(kind, existing)
        events.subscribe(kind, handler)
        registered.append((kind, handler))
        return handler

    yield subscribe
    for kind, handler in registered:
        events.unsubscribe(kind, handler)
    for kind, handlers in saved.items():
        for handler in handlers.values():
            events.subscribe(kind, handler)


@pytest.fixture
def printer(owner):
    return make_printer(owner)


def _offline(printer: Any, reason: str = "unplugged") -> events.PrinterOffline:
    return events.PrinterOffline(user_id=printer.user_id, printer_id=printer.pk, reason=reason)


def _pending(printer: Any, count: int) -> list[int]:
    """Committed rows whose on-commit task never ran (as after a publisher crash)."""
    return [Event.objects.create_for(_offline(printer, f"r{i}")).pk for i in range(count)]


# ---- the dataclasses ---------------------------------------------------------------------------


def test_every_event_class_has_a_unique_type_in_the_registry():
    expected = {
        "print.started",
        "print.completed",
        "print.failed",
        "print.paused",
        "printer.online",
        "printer.offline",
        "printer.hms",
        "material.low",
        "material.changed",
        "material.change_needed",
        "material.stock_low",
        "maintenance.due",
        "plate.cleared",
        "job.dispatched",
        "job.dispatch_failed",
        "job.status_changed",
        "order.paid",
        "order.cancelled",
        "etsy.reconnect_needed",
    }
    assert expected <= set(events.EVENT_TYPES)
    assert all(cls.type == name for name, cls in events.EVENT_TYPES.items())
    with pytest.raises(TypeError, match="already"):

        class Duplicate(events.Event):
            type = "print.failed"


def test_the_payload_round_trips_through_json_with_tuples_and_datetimes():
    at = timezone.now().replace(microsecond=0)
    hms = events.HmsRaised(
        user_id=1, printer_id=2, subtask_id="9", entries=({"full_code": "0300_4000"},)
    )
    failed = events.PrintFailed(user_id=1, printer_id=2, job_id=3, error_code=50348044)
    cancelled = events.OrderCancelled(user_id=1, order_id=7, reason="buyer asked")
    for event in (hms, failed, cancelled):
        stored = json.loads(json.dumps(event.to_payload()))
        assert "event_id" not in stored and "occurred_at" not in stored
        back = type(event).from_payload(stored, event_id=5, occurred_at=at)
        assert back == events.dataclasses.replace(event, event_id=5, occurred_at=at)
    assert cancelled.printer_id is None  # an order event names no printer


def test_a_payload_key_the_class_lost_is_ignored_and_a_new_field_takes_its_default():
    back = events.PrinterOffline.from_payload({"user_id": 1, "printer_id": 2, "gone": "x"})
    assert back.reason == "" and back.printer_id == 2


# ---- publish: the row is part of the caller's transaction ----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_publish_in_a_rolled_back_transaction_writes_nothing(printer, subscribed):
    seen = subscribed(events.PrinterOffline, Recorder())
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        events.publish(_offline(printer))
        assert Event.objects.count() == 1  # written inside the transaction...
        1 / 0  # noqa: B018
    assert Event.objects.count() == 0  # ...and gone with it
    assert seen.calls == []


@pytest.mark.django_db(transaction=True)
def test_subscribers_run_after_commit_with_the_rows_id_and_time(printer, subscribed):
    seen = subscribed(events.PrinterOffline, Recorder())
    with transaction.atomic():
        event_id = events.publish(_offline(printer))
        assert seen.calls == []  # never inside the publisher's transaction
    row = Event.objects.get()
    assert [e.event_id for e in seen.calls] == [event_id] == [row.pk]
    assert seen.calls[0].occurred_at == row.occurred_at
    assert seen.calls[0].reason == "unplugged"
    assert (row.type, row.user_id, row.printer_id) == (
        "printer.offline",
        printer.user_id,
        printer.pk,
    )
    assert row.status == Status.HANDLED and row.handled_at is not None
    # Only this test's subscriber counts (the apps subscribe too: scheduling re-plans).
    assert [h for h in row.handled_by if h.startswith("j3d.tests")] == [events.handler_name(seen)]
    assert row.attempts == 1 and row.claim_token == ""


@pytest.mark.django_db(transaction=True)
def test_the_publisher_dying_right_after_commit_loses_nothing(printer, subscribed):
    """A real process commits an event and dies before its on-commit step queues the task; the
    sweep still hands the committed row to the subscribers."""
    if connection.vendor == "sqlite" and "memory" in str(connection.settings_dict["NAME"]):
        pytest.skip("needs a test database other processes can open")
    script = (
        "import os\n"
        "from django.db import transaction\n"
        "from j3d import events\n"
        "with transaction.atomic():\n"
        "    transaction.on_commit(lambda: os._exit(3))  # runs first: the process dies here\n"
        f"    events.publish(events.PrinterOffline(user_id={printer.user_id},"
        f" printer_id={printer.pk}, reason='died'))\n"
    )
    env = {**os.environ, "DATABASE_URL": _database_url(), "SECRET_KEY": settings.SECRET_KEY}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3, result.stderr
    row = Event.objects.get()
    assert row.status == Status.PENDING  # committed...
    assert not OrmQ.objects.exists()  # ...but its task was never queued

    seen = subscribed(events.PrinterOffline, Recorder())
    assert events_sweep() == 1
    assert [e.reason for e in seen.calls] == ["died"]
    assert events_sweep() == 0  # handled once
    row.refresh_from_db()
    assert row.status == Status.HANDLED


def _database_url() -> str:
    """The test database, as a URL a child process can open."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


# ---- claiming: two workers never handle one row ------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_the_same_rows_run_each_subscriber_once(printer, subscribed, settings):
    settings.EVENTS_BATCH = 5  # small batches: the workers race for the same candidates often
    first, second = subscribed(events.PrinterOffline, Recorder()), Recorder()
    subscribed(events.PrinterOffline, second)
    ids = _pending(printer, 60)
    workers = 4
    start = threading.Barrier(workers)
    handled: list[list[int]] = [[] for _ in range(workers)]

    def work(n: int) -> None:
        try:
            start.wait()
            while batch := events_handle():
                handled[n].extend(batch)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for recorder in (first, second):
        assert Counter(e.event_id for e in recorder.calls) == Counter(ids)  # each id once
    assert sorted(sum(handled, [])) == sorted(ids)
    assert set(Event.objects.values_list("status", flat=True)) == {Status.HANDLED}


@pytest.mark.django_db
def test_a_row_held_by_a_live_claim_is_left_alone_until_the_claim_expires(printer, settings):
    (pk,) = _pending(printer, 1)
    now = timezone.now()
    assert [row.pk for row in events_claim(now=now)] == [pk]  # a worker takes it, then dies
    assert events_claim(now=now + timedelta(seconds=1)) == []
    later = now + timedelta(seconds=settings.EVENTS_CLAIM_SECONDS + 1)
    assert [row.pk for row in events_claim(now=later)] == [pk]


# ---- failures and retries ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_failing_subscriber_is_retried_with_backoff_and_the_others_run_once(
    printer, subscribed, caplog
):
    good = subscribed(events.PrinterOffline, Recorder())
    flaky = subscribed(events.PrinterOffline, Recorder(fail=2))
    events.publish(_offline(printer))
    row = Event.objects.get()
    assert row.status == Status.PENDING and row.attempts == 1
    assert "subscriber bug #1" in row.last_error and "subscriber bug #1" in caplog.text
    assert [h for h in row.handled_by if h.startswith("j3d.tests")] == [events.handler_name(good)]
    assert row.next_attempt_at - row.updated_at == retry_delay(1) == timedelta(seconds=10)

    assert events_sweep() == 0  # not due yet
    events_sweep(now=row.next_attempt_at)
    row.refresh_from_db()
    assert row.attempts == 2 and "subscriber bug #2" in row.last_error
    assert row.next_attempt_at - row.updated_at == retry_delay(2) == timedelta(seconds=20)

    events_sweep(now=row.next_attempt_at)
    row.refresh_from_db()
    assert row.status == Status.HANDLED and row.attempts == 3
    assert len(good.calls) == 1 and len(flaky.calls) == 3  # only the failed one was retried
    assert {e.event_id for e in flaky.calls} == {row.pk}  # the same id every time


@pytest.mark.django_db(transaction=True)
def test_a_failing_subscribers_writes_are_rolled_back(printer, subscribed):
    def renames_then_fails(event: events.Event) -> None:
        PrinterStatus.objects.filter(printer_id=event.printer_id).update(link_error="half-done")
        raise RuntimeError("after writing")

    subscribed(events.PrinterOffline, renames_then_fails)
    events.publish(_offline(printer))
    assert PrinterStatus.objects.get(printer=printer).link_error == ""
    assert "after writing" in Event.objects.get().last_error


@pytest.mark.django_db(transaction=True)
def test_a_subscriber_that_keeps_failing_is_given_up_after_the_last_attempt(
    printer, subscribed, settings
):
    settings.EVENTS_MAX_ATTEMPTS = 3
    broken = subscribed(events.PrinterOffline, Recorder(fail=99))
    events.publish(_offline(printer))
    for _ in range(5):
        events_sweep(now=timezone.now() + timedelta(days=1))
    row = Event.objects.get()
    assert (row.status, row.attempts, len(broken.calls)) == (Status.FAILED, 3, 3)
    assert row.handled_at is not None


def test_the_retry_delay_doubles_up_to_its_cap(settings):
    settings.EVENTS_RETRY_SECONDS, settings.EVENTS_RETRY_MAX_SECONDS = 10, 60
    assert [retry_delay(n).total_seconds() for n in range(1, 6)] == [10, 20, 40, 60, 60]


@pytest.mark.django_db
def test_a_row_whose_type_no_class_has_is_failed_not_retried(owner):
    row = Event.objects.create(type="print.exploded", user=owner, payload={"user_id": owner.pk})
    (claimed,) = events_claim()
    assert event_handle(row=claimed) == Status.FAILED
    row.refresh_from_db()
    assert "print.exploded" in row.last_error and row.handled_at is not None


# ---- idempotency -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_row_handled_twice_moves_the_job_once(printer):
    """The worker died after the subscribers' commit but before recording it: the row is handled
    again, and the job's subscriber (scheduling.receivers) changes nothing the second time."""
    job = make_job(printer.user, printer, printer_subtask_id="4242", printer_task_id="4241")
    events.publish(
        events.PrintStarted(user_id=printer.user_id, printer_id=printer.pk, subtask_id="4242")
    )
    job.refresh_from_db()
    assert job.status == ScheduledPrint.Status.STARTED
    first_start = job.started_at
    # Only the printer's row again (the job's move announced job.status_changed, handled too).
    replayed = Event.objects.filter(type=events.PrintStarted.type)
    replayed.update(status=Status.PENDING, handled_at=None, handled_by=[])
    assert events_sweep() == 1
    job.refresh_from_db()
    assert (job.status, job.started_at) == (ScheduledPrint.Status.STARTED, first_start)
    assert Event.objects.filter(type=events.JobStatusChanged.type).count() == 1

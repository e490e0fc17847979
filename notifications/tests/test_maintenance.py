"""Maintenance intervals: printing hours counted from the event log, due once, reset by done."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from j3d import events
from j3d.models import Event as EventRow
from j3d.tests.factories import make_printer
from notifications.models import Delivery, MaintenanceTask
from notifications.services.maintenance import (
    maintenance_check_due,
    maintenance_count_print,
    maintenance_mark_done,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _locmem_mail(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def printer(owner):
    return make_printer(owner, name="A1 #3")


def _print(printer, hours: float, django_capture_on_commit_callbacks, subtask="77") -> None:
    """A print of ``hours`` as the link announces it: started, then finished."""
    end = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(
            events.PrintStarted(
                user_id=printer.user_id,
                printer_id=printer.pk,
                subtask_id=subtask,
                occurred_at=end - timedelta(hours=hours),
            )
        )
        events.publish(
            events.PrintFinished(
                user_id=printer.user_id, printer_id=printer.pk, subtask_id=subtask, occurred_at=end
            )
        )


def test_printing_hours_add_up_and_the_chore_is_announced_once(
    printer, owner, django_capture_on_commit_callbacks
) -> None:
    task = MaintenanceTask.objects.create(
        user=owner, printer=printer, name="Lubricate rods", every_print_hours=10
    )
    _print(printer, 6, django_capture_on_commit_callbacks, subtask="1")
    task.refresh_from_db()
    assert task.print_hours_since_done == Decimal("6.00")
    assert not EventRow.objects.filter(type="maintenance.due").exists()
    _print(printer, 5, django_capture_on_commit_callbacks, subtask="2")
    _print(printer, 1, django_capture_on_commit_callbacks, subtask="3")
    task.refresh_from_db()
    assert task.print_hours_since_done == Decimal("12.00")
    (due,) = EventRow.objects.filter(type="maintenance.due")
    assert due.payload["item"] == "Lubricate rods"
    assert "11 printing hours" in due.payload["reason"]
    subjects = [m.subject for m in mail.outbox]
    assert "[J3D] A1 #3: maintenance due: Lubricate rods" in subjects
    assert Delivery.objects.filter(event_type="maintenance.due").count() == 1


def test_an_end_event_handled_twice_counts_once(
    printer, owner, django_capture_on_commit_callbacks
) -> None:
    task = MaintenanceTask.objects.create(
        user=owner, printer=printer, name="Clean nozzle", every_print_hours=100
    )
    _print(printer, 2, django_capture_on_commit_callbacks)
    finished = EventRow.objects.get(type="print.completed").to_event()
    assert maintenance_count_print(event=finished) == 0
    task.refresh_from_db()
    assert task.print_hours_since_done == Decimal("2.00")


def test_calendar_chores_come_due_and_done_resets_them(
    printer, owner, django_capture_on_commit_callbacks
) -> None:
    task = MaintenanceTask.objects.create(
        user=owner,
        printer=printer,
        name="Clean the nozzle",
        every_days=14,
        last_done_at=timezone.now() - timedelta(days=15),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert maintenance_check_due() == 1
        assert maintenance_check_due() == 0  # announced once per cycle
    assert EventRow.objects.filter(type="maintenance.due").count() == 1
    task = maintenance_mark_done(task=task)
    assert task.due_announced_at is None
    assert task.due_reason(timezone.now()) == ""
    assert maintenance_check_due(now=timezone.now() + timedelta(days=14, minutes=1)) == 1

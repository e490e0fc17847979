"""How often the link writes a printer's status: a state change at once, unchanged reports at the
coalesced pace. The link's own logic, on a FakeHub (printers/tests/fakes.py): the reports arrive
on the test's thread, so nothing is in flight and nothing is waited for. The wire path is
test_link_status.py's."""

from __future__ import annotations

from typing import Any

import pytest

from printers.models import Printer, PrinterStatus
from printers.services.printers import printer_create
from printers.tests.fakes import fake_link, status_message

pytestmark = pytest.mark.django_db


def _connected(owner: Any, serial: str, **link_options: Any) -> tuple[Printer, Any]:
    printer = printer_create(
        user=owner, name=serial, model="X1C", serial=serial, host="10.0.0.9", access_code="1234"
    )
    link = fake_link(**link_options)
    link.reconcile()
    link.hub.connect(printer.pk)
    return printer, link


def _state(printer: Printer) -> str:
    return PrinterStatus.objects.get(printer=printer).state


def test_unchanged_reports_are_written_at_most_once_per_interval(owner):
    printer, link = _connected(owner, "COAL01", write_every=5.0)
    link.hub.report(printer.pk, status_message(msg=0, gcode_state="IDLE"))
    link.flush()
    writes = link.db_writes
    assert writes >= 1 and _state(printer) == "idle"
    for n in range(20):  # temperature noise only: nothing a person would notice at once
        link.hub.report(printer.pk, status_message(nozzle_temper=20 + n / 10))
        link.flush()
    assert link.db_writes - writes <= 1


def test_a_state_change_is_written_at_once(owner):
    printer, link = _connected(owner, "NOW01", write_every=300.0)
    link.hub.report(printer.pk, status_message(msg=0, gcode_state="IDLE"))
    link.flush()
    assert _state(printer) == "idle"

    link.hub.report(printer.pk, status_message(gcode_state="RUNNING"))
    link.flush()

    assert _state(printer) == "running"

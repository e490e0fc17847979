"""What a printer may send that the database must not get as it is: text no column can hold (NUL
characters, lone UTF-16 surrogates), and texts and lists no printer really sends (a megabyte job
name, thousands of AMS units), which would bloat the status row, every read of it and each event.

A report is JSON, and JSON may escape both (``"\\u0000"``, ``"\\ud800"``); PostgreSQL's text and
jsonb refuse NUL, and no UTF-8 encoder takes a lone surrogate. The link must still store the
printer's status (those characters replaced, as invalid UTF-8 already is), announce its events
and sync its AMS, on SQLite and PostgreSQL alike: a printer whose job name holds one must not have
its status frozen by a write that fails on every report.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from j3d.models import Event
from printers.models import BambuMaterial, PrinterCommand, PrinterStatus
from printers.services import live
from printers.services.printers import printer_create
from printers.tests.fakes import fake_link, status_message
from printers.tests.fixtures_link import SAMPLES, load_sample_messages

pytestmark = pytest.mark.django_db

X1C_FULL = load_sample_messages(
    SAMPLES / "x1c_pushall_finish_multiams_ha-bambulab-MOCK-X1CMULTIAMS.json"
)[0]


@pytest.fixture
def link_and_printer(owner):
    printer = printer_create(
        user=owner, name="P1", model="X1C", serial="TEXT01", host="10.0.0.9", access_code="12345678"
    )
    link = fake_link(write_every=0.0)
    link.reconcile()
    link.hub.connect(printer.pk)
    return link, printer


def _payload(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()  # escapes NUL and lone surrogates, as firmware may


@pytest.mark.parametrize("bad", ["\u0000", "\ud800", "\udfff\u0000\ud83d"])
def test_a_job_name_and_tray_no_column_can_hold_are_stored_replaced(link_and_printer, api, bad):
    link, printer = link_and_printer
    message = copy.deepcopy(X1C_FULL)
    message["print"].update(gcode_state="RUNNING", subtask_name=f"Benchy{bad}")
    message["print"]["ams"]["ams"][0]["tray"][1].update(tray_type=f"PLA{bad}", tray_sub_brands=bad)
    link.hub.report(printer.pk, _payload(message))
    link.tick()

    assert link.errors == {}
    status = PrinterStatus.objects.get(printer=printer)
    assert status.state == "running"
    assert status.snapshot["job_name"] == "Benchy" + "\ufffd" * len(bad)
    started = Event.objects.get(type="print.started", printer_id=printer.pk)
    assert started.payload["job_name"] == status.snapshot["job_name"]
    assert BambuMaterial.objects.get(printer=printer, slot=1).material_type.startswith("PLA")

    # Later reports of the same job still reach the database, and announce nothing new.
    later = status_message(mc_percent=42, subtask_name=f"Benchy{bad}")
    link.hub.report(printer.pk, _payload(later))
    link.tick()
    assert PrinterStatus.objects.get(printer=printer).snapshot["progress_pct"] == 42
    assert Event.objects.filter(type="print.started").count() == 1
    for url in ("/api/printers/", f"/api/printers/{printer.pk}/", "/api/events/"):
        assert api.get(url).status_code == 200, url


@pytest.mark.parametrize("bad", ["\u0000", "\ud800"])
def test_a_refusal_with_text_no_column_can_hold_is_recorded_replaced(link_and_printer, owner, bad):
    link, printer = link_and_printer
    sent = {"user": owner, "printer": printer, "action": "pause", "status": "sent"}
    refused = PrinterCommand.objects.create(**sent, sequence_id="77")
    other = PrinterCommand.objects.create(**sent, sequence_id="78")
    reply = {"command": "pause", "result": "failed", "reason": f"busy{bad}"}
    link.hub.report(printer.pk, _payload({"print": {**reply, "sequence_id": "77"}}))
    link.hub.report(printer.pk, _payload({"print": {**reply, "sequence_id": f"78{bad}"}}))
    link.tick()

    assert link.errors == {}
    refused.refresh_from_db()
    assert (refused.status, refused.reason) == ("failed", "busy\ufffd")
    assert PrinterCommand.objects.get(pk=other.pk).status == "sent"  # answers nothing J3D sent


def test_an_oversized_report_is_stored_trimmed_and_the_printer_goes_on(link_and_printer, api):
    link, printer = link_and_printer
    units = [{"id": str(n), "tray": [{"id": "0", "tray_type": "PLA"}]} for n in range(3000)]
    huge = {"gcode_state": "RUNNING", "subtask_name": "B" * 500_000, "ams": {"ams": units}}
    link.hub.report(printer.pk, _payload(status_message(msg=0, **huge)))
    link.tick()

    assert link.errors == {}
    snapshot = PrinterStatus.objects.get(printer=printer).snapshot
    assert len(json.dumps(snapshot)) < 2 * live.SNAPSHOT_TRIM_BYTES
    assert snapshot["job_name"] == "B" * live.SNAPSHOT_MAX_TEXT
    assert len(snapshot["ams"]) == live.SNAPSHOT_MAX_ITEMS
    started = Event.objects.get(type="print.started", printer_id=printer.pk)
    assert started.payload["job_name"] == snapshot["job_name"]
    link.hub.report(printer.pk, _payload(status_message(mc_percent=7)))
    link.tick()
    assert PrinterStatus.objects.get(printer=printer).snapshot["progress_pct"] == 7
    assert Event.objects.filter(type="print.started").count() == 1
    assert api.get(f"/api/printers/{printer.pk}/").status_code == 200

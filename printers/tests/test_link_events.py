"""Snapshot transitions become events; the AMS syncs into BambuMaterial (the event log itself:
j3d/tests/test_events.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from j3d import events
from j3d.tests.factories import make_material, make_printer
from printers.link import CLOUD_HOST, printer_endpoint
from printers.models import BambuMaterial
from printers.services.live import material_sync_from_report, status_transitions

CANCEL = {"code": 50348044, "hex": "0300_400C", "text": "The task was canceled.", "cancelled": True}
RUNOUT = {"code": 50364420, "hex": "0300_8004", "text": "Filament ran out.", "cancelled": False}


def _snap(state: str, **fields: Any) -> dict[str, Any]:
    return {"state": state, "task_id": "11", "subtask_id": "12", "job_name": "Benchy", **fields}


def _tray(slot: int, **fields: Any) -> dict[str, Any]:
    base = {
        "slot": slot,
        "empty": False,
        "type": "PETG",
        "sub_brand": "PETG HF",
        "color": "#E02020",
        "remaining_pct": 60,
        "weight_grams": 1000,
    }
    return {**base, **fields}


def _kinds(found: list[events.Event]) -> list[type]:
    return [type(e) for e in found]


def _transitions(before: dict[str, Any], after: dict[str, Any]) -> list[events.Event]:
    return status_transitions(printer_id=1, user_id=2, before=before, after=after)


def test_running_after_idle_is_a_started_print_with_the_job_ids():
    (started,) = _transitions(_snap("idle"), _snap("running"))
    assert isinstance(started, events.PrintStarted)
    assert (started.task_id, started.subtask_id, started.job_name) == ("11", "12", "Benchy")


def test_resuming_a_paused_job_is_not_a_new_start():
    assert _transitions(_snap("pause"), _snap("running")) == []


def test_pause_is_announced_with_the_error_that_caused_it():
    (paused,) = _transitions(_snap("running"), _snap("pause", print_error=RUNOUT))
    assert isinstance(paused, events.PrintPaused)
    assert paused.reason == "Filament ran out."


def test_failure_carries_the_decoded_reason_and_cancel_flag():
    (failed,) = _transitions(_snap("running"), _snap("failed", print_error=RUNOUT))
    (cancelled,) = _transitions(_snap("running"), _snap("failed", print_error=CANCEL))
    assert isinstance(failed, events.PrintFailed)
    assert (failed.error_hex, failed.reason, failed.cancelled) == (
        "0300_8004",
        "Filament ran out.",
        False,
    )
    assert cancelled.cancelled is True and cancelled.error_code == 50348044


def test_finish_is_announced_once():
    assert _kinds(_transitions(_snap("running"), _snap("finish"))) == [events.PrintFinished]
    assert _transitions(_snap("finish"), _snap("finish")) == []


def test_only_new_hms_entries_are_raised():
    old = {"full_code": "0C00030000030007", "code": "0C00_0300_0003_0007"}
    new = {"full_code": "0501040000030002", "code": "0501_0400_0003_0002"}
    found = _transitions(_snap("running", hms=[old]), _snap("running", hms=[old, new]))
    assert _kinds(found) == [events.HmsRaised]
    assert found[0].entries == (new,)


def test_material_low_is_announced_when_crossing_the_threshold_only(settings):
    settings.PRINTER_MATERIAL_LOW_PCT = 10
    ams = lambda pct: [{"id": 0, "trays": [_tray(2, remaining_pct=pct)]}]  # noqa: E731
    crossing = _transitions(_snap("running", ams=ams(12)), _snap("running", ams=ams(8)))
    still_low = _transitions(_snap("running", ams=ams(8)), _snap("running", ams=ams(7)))
    assert _kinds(crossing) == [events.MaterialLow]
    assert (crossing[0].slot, crossing[0].remaining_pct) == (2, 8)
    assert still_low == []


def test_a_spool_running_out_mid_print_is_announced_but_not_one_taken_out_between_prints():
    loaded = [{"id": 0, "trays": [_tray(1, type="PLA", color="FF0000", remaining_pct=3)]}]
    empty = [{"id": 0, "trays": [{"slot": 1, "empty": True}]}]
    ran_out = _transitions(_snap("running", ams=loaded), _snap("running", ams=empty))
    taken_out = _transitions(_snap("idle", ams=loaded), _snap("idle", ams=empty))
    still_empty = _transitions(_snap("running", ams=empty), _snap("running", ams=empty))
    assert _kinds(ran_out) == [events.MaterialLow]
    assert (ran_out[0].slot, ran_out[0].remaining_pct, ran_out[0].material_type) == (1, 0, "PLA")
    assert taken_out == [] and still_empty == []


@pytest.mark.django_db
def test_ams_sync_upserts_slots_and_keeps_what_only_a_person_knows(owner):
    printer = make_printer(owner)
    make_material(printer, slot=0, cost_per_kg=Decimal("31.00"), notes="dry it first")
    make_material(printer, slot=1, material_type="PLA")
    snapshot = {
        "ams": [
            {"id": 0, "trays": [_tray(0), {"slot": 1, "empty": True}, {"slot": 3, "empty": True}]}
        ],
        "external": [_tray(254, type="TPU", color="#101010", remaining_pct=None)],
    }

    material_sync_from_report(printer=printer, snapshot=snapshot)

    rows = {m.slot: m for m in BambuMaterial.objects.filter(printer=printer)}
    assert set(rows) == {0, 1, 254}  # an empty slot J3D never knew gets no row
    assert rows[0].material_type == "PETG" and rows[0].color_hex == "#E02020"
    assert rows[0].color == "Red" and rows[0].vendor == "PETG HF"
    assert rows[0].remaining_pct == 60 and rows[0].weight_grams == Decimal(1000)
    assert rows[0].cost_per_kg == Decimal("31.00") and rows[0].notes == "dry it first"
    assert rows[1].is_empty is True and rows[1].material_type == "PLA"
    assert rows[254].material_type == "TPU" and rows[254].remaining_pct is None  # unknown
    assert all(m.last_synced is not None for m in rows.values())
    rows[0].remaining_pct = 55
    rows[0].save()
    material_sync_from_report(
        printer=printer, snapshot={"ams": [{"id": 0, "trays": [_tray(0, remaining_pct=None)]}]}
    )
    rows[0].refresh_from_db()
    assert rows[0].remaining_pct == 55  # the printer does not know: a person's figure stays


@pytest.mark.django_db
def test_a_cloud_printer_connects_to_the_cloud_broker_as_its_account(owner):
    printer = make_printer(
        owner, connection_type="cloud", cloud_user_id="1234567", cloud_token="tok", host=""
    )
    endpoint = printer_endpoint(printer)
    assert (endpoint.host, endpoint.port, endpoint.username) == (CLOUD_HOST, 8883, "u_1234567")
    assert endpoint.cloud is True and endpoint.password == "tok"
    assert "tok" not in repr(endpoint)

"""The printer link, status side: reports through a real TLS broker end up in PrinterStatus."""

from __future__ import annotations

import json
from typing import Any

import pytest

from j3d import events
from printers.bambu.mqtt import LinkState
from printers.bambu.report import PrinterState
from printers.link import ACCESS_DENIED
from printers.models import PrinterStatus
from printers.tests.fixtures_link import *  # noqa: F403
from printers.tests.fixtures_link import (
    SAMPLES,
    FakePrinter,
    load_sample_messages,
    make_printer,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLE_FILES = sorted(
    p
    for p in SAMPLES.iterdir()
    if p.suffix in {".json", ".jsonl", ".jsonc"} and "reply" not in p.name
)


# What shared/reference SOURCES.md says each sample shows.
KNOWN_STATES = {
    "x1c_pushall_finish_multiams_ha-bambulab-MOCK-X1CMULTIAMS.json": "finish",
    "p1p_pushall_failed_ha-bambulab-P1P.json": "failed",
    "x1_pushall_running_hms_amsht_ha-bambulab-MOCK-MISC.json": "running",
    "h2d_pushall_running_ha-bambulab-MOCK-H2D.json": "running",
    "a1_pushall_idle_amslite_ha-bambulab-MOCK-A1.json": "idle",
}


def _model_for(name: str) -> str:
    prefix = name.split("_", 1)[0]
    return {
        "a1": "A1",
        "a1mini": "A1 mini",
        "h2d": "H2D",
        "p1p": "P1P",
        "p1s": "P1S",
        "x1": "X1C",
        "x1c": "X1C",
    }.get(prefix, "X1C")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


class Captured:
    """Subscribes to every event type for the test's duration."""

    TYPES = (
        events.PrintStarted,
        events.PrintFinished,
        events.PrintFailed,
        events.PrintPaused,
        events.PrinterOnline,
        events.PrinterOffline,
        events.HmsRaised,
        events.MaterialLow,
    )

    def __init__(self) -> None:
        self.seen: list[events.Event] = []
        for kind in self.TYPES:
            events.subscribe(kind, self.seen.append)

    def of(self, kind: type[events.Event]) -> list[events.Event]:
        return [e for e in self.seen if type(e) is kind]

    def close(self) -> None:
        for kind in self.TYPES:
            events.unsubscribe(kind, self.seen.append)


@pytest.fixture
def captured() -> Any:
    capture = Captured()
    yield capture
    capture.close()


@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=lambda p: p.stem)
def test_every_shared_sample_through_the_broker_gives_the_expected_snapshot(
    sample, mqtt_broker, owner, link_factory
):
    model = _model_for(sample.name)
    serial = "S" + str(abs(hash(sample.name)) % 10**8)
    printer = make_printer(owner, mqtt_broker, serial, model=model)
    link = link_factory()
    link.reconcile()
    assert wait_until(lambda: link.hub.status(printer.pk) is LinkState.CONNECTED)
    fake = FakePrinter(mqtt_broker, serial)
    messages = load_sample_messages(sample)
    expected = PrinterState(model=model)
    for message in messages:
        expected.apply(message)
        fake.publish(message)
    want = _jsonable(expected.snapshot().to_dict())
    fake.close()

    def stored() -> bool:
        link.flush(force=True)
        return PrinterStatus.objects.get(printer=printer).snapshot == want

    assert wait_until(stored, timeout=10), PrinterStatus.objects.get(printer=printer).snapshot
    status = PrinterStatus.objects.get(printer=printer)
    assert status.online is True
    assert status.state == want["state"] == KNOWN_STATES.get(sample.name, want["state"])
    assert status.last_report_at is not None


def test_deltas_merge_into_the_full_report(mqtt_broker, owner, link_factory):
    printer = make_printer(owner, mqtt_broker, "MERGE01", model="X1C")
    link = link_factory()
    link.reconcile()
    assert wait_until(lambda: link.hub.status(printer.pk) is LinkState.CONNECTED)
    fake = FakePrinter(mqtt_broker, "MERGE01")
    full = load_sample_messages(
        SAMPLES / "x1c_pushall_finish_multiams_ha-bambulab-MOCK-X1CMULTIAMS.json"
    )
    fake.publish(full[0])
    fake.publish({"print": {"command": "push_status", "msg": 1, "wifi_signal": "-42dBm"}})
    fake.close()

    def merged() -> dict[str, Any]:
        link.flush(force=True)
        snap = PrinterStatus.objects.get(printer=printer).snapshot
        return snap if snap.get("wifi_dbm") == -42 else {}

    snap = wait_until(merged)
    assert snap["wifi_dbm"] == -42
    assert snap["state"] == "finish"  # the delta did not clear what the full report said
    assert len(snap["ams"]) >= 2


def test_hostile_payloads_are_ignored_and_the_link_keeps_working(mqtt_broker, owner, link_factory):
    printer = make_printer(owner, mqtt_broker, "HOSTILE1")
    link = link_factory()
    link.reconcile()
    assert wait_until(lambda: link.hub.status(printer.pk) is LinkState.CONNECTED)
    fake = FakePrinter(mqtt_broker, "HOSTILE1")
    hostile = [
        b"\xff\xfe\x00garbage",
        b"not json at all",
        b"[1, 2, 3]",
        b'{"print": "a string"}',
        b'{"print": {"gcode_state": 12, "mc_percent": "lots", "ams": {"ams": "x"}, "hms": 5}}',
        b'{"print": {"subtask_name": "bad \xff\xfe utf8", "gcode_state": "RUNNING", "msg": 1}}',
        b"{" * 100_000,
        b'{"print": {"x": "' + b"A" * (2 * 1024 * 1024) + b'"}}',
    ]
    for payload in hostile:
        fake.publish(payload)
    fake.publish({"print": {"command": "push_status", "msg": 1, "gcode_state": "PAUSE"}})
    fake.close()
    assert wait_until(
        lambda: PrinterStatus.objects.get(printer=printer).state == "pause", step=link.flush
    )
    assert link.hub.status(printer.pk) is LinkState.CONNECTED
    assert link.malformed >= 3


def test_wrong_access_code_shows_the_printer_offline_with_access_denied(
    mqtt_broker, owner, link_factory
):
    # No reconnect storm: test_bambu_mqtt checks the hub tries a refused code only once.
    printer = make_printer(owner, mqtt_broker, "WRONG01", access_code="00000000")
    link = link_factory()
    link.reconcile()
    assert wait_until(
        lambda: PrinterStatus.objects.get(printer=printer).link_error == ACCESS_DENIED,
        step=link.handle_link_events,
    )
    status = PrinterStatus.objects.get(printer=printer)
    assert (status.state, status.link_error_kind, status.retry_at) == ("offline", "auth", None)
    assert link.hub.status(printer.pk) is LinkState.AUTH_FAILED


def test_an_edited_access_code_is_picked_up_while_running(mqtt_broker, owner, link_factory):
    from printers.services.printers import printer_update

    printer = make_printer(owner, mqtt_broker, "EDIT01", access_code="00000000")
    link = link_factory()
    link.reconcile()
    assert wait_until(lambda: link.hub.status(printer.pk) is LinkState.AUTH_FAILED)
    printer_update(printer=printer, access_code="12345678")
    assert wait_until(
        lambda: link.hub.status(printer.pk) is LinkState.CONNECTED, step=link.reconcile
    )


def test_silence_marks_offline_and_the_next_report_brings_it_back(
    mqtt_broker, owner, link_factory, captured
):
    printer = make_printer(owner, mqtt_broker, "QUIET01")
    link = link_factory(offline_after=1.0)
    link.reconcile()
    assert wait_until(lambda: link.hub.status(printer.pk) is LinkState.CONNECTED)
    fake = FakePrinter(mqtt_broker, "QUIET01")
    fake.publish({"print": {"command": "push_status", "msg": 0, "gcode_state": "IDLE"}})
    assert wait_until(lambda: PrinterStatus.objects.get(printer=printer).online, step=link.flush)
    assert wait_until(
        lambda: not PrinterStatus.objects.get(printer=printer).online,
        step=link.check_silence,
        timeout=5,
    )
    assert PrinterStatus.objects.get(printer=printer).state == "offline"
    assert len(captured.of(events.PrinterOffline)) == 1
    link.check_silence()
    assert len(captured.of(events.PrinterOffline)) == 1  # announced once
    fake.publish({"print": {"command": "push_status", "msg": 1, "wifi_signal": "-50dBm"}})
    fake.close()
    assert wait_until(lambda: PrinterStatus.objects.get(printer=printer).online, step=link.flush)
    status = PrinterStatus.objects.get(printer=printer)
    assert status.state == "idle"
    assert [e.printer_id for e in captured.of(events.PrinterOnline)][-1] == printer.pk


def test_disabled_printer_is_dropped_and_its_lease_released(mqtt_broker, owner, link_factory):
    from printers.models import PrinterLease

    printer = make_printer(owner, mqtt_broker, "DIS01")
    link = link_factory()
    link.reconcile()
    assert printer.pk in link.printers
    printer.enabled = False
    printer.save()
    link.reconcile()
    assert printer.pk not in link.printers
    assert PrinterLease.objects.get(printer=printer).holder == ""


def test_a_printer_with_unusable_settings_shows_why_and_does_not_stop_the_others(
    mqtt_broker, owner, link_factory
):
    good = make_printer(owner, mqtt_broker, "GOOD01")
    bad = make_printer(owner, mqtt_broker, "BAD01")
    # Verifying TLS without a CA cannot work; the model's clean() refuses it, a raw update not.
    type(bad).objects.filter(pk=bad.pk).update(tls_verify=True, ca_cert="")
    link = link_factory()
    link.reconcile()
    assert good.pk in link.printers and bad.pk not in link.printers
    assert PrinterStatus.objects.get(printer=bad).link_error.startswith("cannot connect")
    assert wait_until(lambda: link.hub.status(good.pk) is LinkState.CONNECTED)

"""Hostile printers against the link: one printer's junk stays with that printer.

The link runs on a FakeHub (printers/tests/fakes.py): a test delivers reports as the hub thread
would and runs the link's steps itself. Each printer's failure must be logged, counted for that
printer, its report dropped, and every other printer (and the rest of the tick) must go on. What
the link stores passes the model's validation, so reading it back is never a 500.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from printers.models import BambuMaterial, PrinterCommand, PrinterStatus
from printers.services import live
from printers.services.printers import printer_create
from printers.tests.fakes import fake_link, status_message
from printers.tests.fixtures_link import SAMPLES, load_sample_messages
from printers.tests.test_bambu_hostile import mutated_reports, random_messages

pytestmark = pytest.mark.django_db

X1C_FULL = load_sample_messages(
    SAMPLES / "x1c_pushall_finish_multiams_ha-bambulab-MOCK-X1CMULTIAMS.json"
)[0]


def _printer(owner: Any, serial: str, model: str = "X1C") -> Any:
    return printer_create(
        user=owner, name=serial, model=model, serial=serial, host="10.0.0.9", access_code="12345678"
    )


@pytest.fixture
def farm(owner):
    """A link holding two connected printers: ``bad`` sends junk, ``good`` behaves."""
    bad, good = _printer(owner, "BAD01"), _printer(owner, "GOOD01")
    link = fake_link(write_every=0.0)
    link.reconcile()
    link.hub.connect(bad.pk)
    link.hub.connect(good.pk)
    return link, bad, good


def _status(printer: Any) -> PrinterStatus:
    return PrinterStatus.objects.get(printer=printer)


def _full_with_tray(**tray_fields: Any) -> dict[str, Any]:
    message = copy.deepcopy(X1C_FULL)
    message["print"]["ams"]["ams"][0]["tray"][1].update(tray_fields)
    return message


def _reads_back(api: Any, printer: Any) -> None:
    """Every page and endpoint that shows this printer's status and materials answers."""
    for url in (
        "/api/printers/",
        f"/api/printers/{printer.pk}/",
        f"/api/bambu/materials/{printer.pk}",
    ):
        assert api.get(url).status_code == 200, url
    for material in BambuMaterial.objects.filter(printer=printer):
        material.full_clean()


# ---- regressions (issue 6, items 4-7) ---------------------------------------------------------


def test_an_absurd_tray_weight_is_dropped_and_the_owner_can_still_read_everything(
    farm, api, client, owner
):
    link, bad, _ = farm
    link.hub.report(bad.pk, _full_with_tray(tray_weight="100000000"))
    link.tick()
    slot = BambuMaterial.objects.get(printer=bad, slot=1)
    assert slot.weight_grams is None  # dropped, the rest of the tray kept
    assert slot.color_hex == "#7D6556" and slot.material_type == "PLA"
    assert BambuMaterial.objects.get(printer=bad, slot=0).weight_grams == 1000
    _reads_back(api, bad)
    client.force_login(owner)
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("colour", ["0x1234FF", "1_2345FF", " 12345FF", "+12345FF", "١٢٣٤٥٦FF"])
def test_an_odd_tray_colour_never_freezes_the_status_nor_is_stored(farm, api, colour):
    link, bad, _ = farm
    link.hub.report(bad.pk, _full_with_tray(tray_color=colour))
    link.tick()
    assert BambuMaterial.objects.get(printer=bad, slot=1).color_hex == ""
    link.hub.report(bad.pk, status_message(gcode_state="RUNNING", mc_percent=3))
    link.tick()
    assert _status(bad).state == "running"
    _reads_back(api, bad)


def test_a_huge_number_from_one_printer_does_not_stop_the_others(farm):
    link, bad, good = farm
    link.hub.report(bad.pk, b'{"print":{"command":"push_status","bed_temper":' + b"9" * 401 + b"}}")
    link.hub.report(good.pk, status_message(gcode_state="IDLE", bed_temper=55.5))
    link.tick()
    assert _status(good).snapshot["bed_temp"] == 55.5
    assert _status(bad).snapshot["bed_temp"] is None


def test_a_failure_with_one_printer_is_counted_for_it_and_the_tick_goes_on(
    farm, monkeypatch, owner
):
    link, bad, good = farm
    real = live.status_apply_snapshot

    def failing_for_bad(*, printer, **kwargs):
        if printer.pk == bad.pk:
            raise RuntimeError("this printer's write fails")
        return real(printer=printer, **kwargs)

    monkeypatch.setattr(live, "status_apply_snapshot", failing_for_bad)
    link.offline_after = 0.0  # the silence check is due in this very tick
    PrinterCommand.objects.create(user=owner, printer=good, action="refresh")
    link.hub.report(bad.pk, status_message(gcode_state="RUNNING"))
    link.hub.report(good.pk, status_message(gcode_state="IDLE"))
    link.tick()
    assert link.errors == {bad.pk: 1}
    assert _status(good).state == "offline"  # written, then the silence check ran on
    assert PrinterCommand.objects.get(printer=good).status == "sent"  # and the commands step
    assert _status(bad).state == "offline"
    # The failed report is dropped (not retried every tick) and a full report is asked for.
    assert link.printers[bad.pk].pending is None
    assert link.hub.requests(bad.pk)[-1]["pushing"]["command"] == "pushall"


def test_a_get_version_with_a_non_ascii_unit_number_is_harmless(farm):
    link, bad, _ = farm
    link.hub.report(bad.pk, {"info": {"command": "get_version", "module": [{"name": "ams/²"}]}})
    link.hub.report(bad.pk, status_message(gcode_state="PAUSE"))
    link.tick()
    assert _status(bad).state == "pause"
    assert link.errors == {}


# ---- random junk (hypothesis) ---------------------------------------------------------------


def test_random_junk_from_one_printer_never_escapes_nor_touches_another(farm, api):
    link, bad, good = farm
    link.hub.report(bad.pk, X1C_FULL)
    link.hub.report(good.pk, X1C_FULL)
    link.tick()
    layers = iter(range(1, 10_000))

    # The printers and the link are made once: examples run inside this test (no per-example
    # fixtures), each feeding the hostile printer and checking the good one is still current.
    @settings(
        max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(junk=st.lists(mutated_reports() | random_messages(), min_size=1, max_size=3))
    def feed(junk: list[Any]) -> None:
        for message in junk:
            try:
                payload = _encode(message)
            except (TypeError, ValueError):
                continue  # not encodable as JSON: no printer can send it
            link.hub.report(bad.pk, payload)
        layer = next(layers)
        link.hub.report(good.pk, status_message(layer_num=layer, gcode_state="RUNNING"))
        link.tick()
        assert _status(good).snapshot["layer"] == layer

    feed()
    _reads_back(api, bad)
    _reads_back(api, good)


def _encode(message: Any) -> bytes:
    import json

    return json.dumps(message).encode("utf-8", "surrogatepass")

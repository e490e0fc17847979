"""The typed snapshot read from real captured reports (printers/bambu/snapshot.py, errors.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from printers.bambu.errors import (
    HMS_DEVELOPER_MODE_REQUIRED,
    decode_hms,
    decode_print_error,
    is_user_cancel,
)
from printers.bambu.report import PrinterState
from printers.bambu.snapshot import SECTION_READERS, STATES, ReadContext, Snapshot, offline_snapshot
from printers.tests.test_bambu_report import H2D, MISC, P1P, X1C, load_messages, loaded

A1 = "a1_pushall_idle_amslite_ha-bambulab-MOCK-A1.json"
X1_OBA = "x1_pushall_idle_openbambuapi-mqtt-md.jsonc"


def delta(**fields: Any) -> dict[str, Any]:
    return {"print": {**fields, "command": "push_status", "msg": 1, "sequence_id": "9"}}


def test_x1_misc_running_report() -> None:
    snap = loaded(MISC, "X1").snapshot()
    assert (snap.state, snap.gcode_state) == ("running", "RUNNING")
    assert (snap.progress_pct, snap.remaining_minutes) == (22, 163)
    assert (snap.layer, snap.total_layers) == (2, 37)
    assert (snap.nozzle_temp, snap.nozzle_target, snap.bed_temp, snap.bed_target) == (
        219.0,
        220.0,
        60.0,
        60.0,
    )
    assert snap.chamber_temp == 36.0
    assert (snap.speed_level, snap.speed_pct) == (2, 100)
    assert snap.job_name == "CyberBrick Gridfinity Organizer Box"
    assert snap.gcode_file == "/data/Metadata/plate_2.gcode"
    assert (snap.task_id, snap.subtask_id) == ("724977923", "724977924")
    assert snap.wifi_dbm == -46
    assert (snap.nozzle_diameter, snap.nozzle_type) == (0.4, "hardened_steel")
    assert snap.print_error is None
    assert snap.developer_mode is None
    assert snap.firmware == "99.00.00.00"
    assert [(light.node, light.mode) for light in snap.lights] == [
        ("chamber_light", "on"),
        ("work_light", "flashing"),
    ]


def test_x1_misc_hms_entry_is_decoded() -> None:
    (entry,) = loaded(MISC, "X1").snapshot().hms
    assert entry.code == "0C00_0300_0003_0007"
    assert entry.full_code == "0C00030000030007"
    assert (entry.severity, entry.module) == ("common", "xcam")
    assert entry.text is not None and entry.text.startswith("Possible first layer defects")


def test_x1_misc_amsht_is_active_tray_128() -> None:
    snap = loaded(MISC, "X1").snapshot()
    assert snap.active_tray == 128
    (unit,) = snap.ams
    assert (unit.id, unit.kind, unit.humidity, unit.temperature) == (128, "ams_ht", 3, 29.6)
    (tray,) = unit.trays
    assert (tray.slot, tray.unit, tray.tray) == (128, 128, 0)
    assert (tray.type, tray.sub_brand, tray.color) == ("PLA", "PLA Matte", "#F7D959")
    assert tray.colors == ("#F7D959",)
    assert (tray.remaining_pct, tray.weight_grams, tray.tray_info_idx) == (65, 1000, "GFA01")
    assert (tray.temp_min, tray.temp_max, tray.tag_uid) == (190, 230, "DAE3707400000100")
    (external,) = snap.external
    assert (external.slot, external.type, external.color, external.tray_info_idx) == (
        254,
        "PLA",
        "#FFFFFF",
        "GFL99",
    )
    assert external.remaining_pct is None
    assert external.tag_uid is None


def test_x1c_multi_ams_units_kinds_and_slots() -> None:
    snap = loaded(X1C, "X1C").snapshot()
    assert snap.state == "finish"
    assert [(unit.id, unit.kind) for unit in snap.ams] == [
        (0, "ams"),
        (1, "ams"),
        (2, "ams_2_pro"),
        (128, "ams_ht"),
    ]
    slots = {tray.slot: tray for unit in snap.ams for tray in unit.trays}
    assert sorted(slots) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 128]
    assert (slots[0].color, slots[0].remaining_pct) == ("#000000", 93)
    assert (slots[4].type, slots[4].color, slots[4].remaining_pct) == ("ABS", "#D32941", 21)
    assert slots[8].empty is True and slots[8].state == 0
    assert (slots[128].type, slots[128].remaining_pct) == ("PA-CF", 100)
    assert (snap.ams[0].humidity, snap.ams[0].humidity_pct, snap.ams[0].temperature) == (5, 8, 26.2)
    assert snap.active_tray is None
    assert snap.developer_mode is False
    assert snap.chamber_temp == 25.0
    assert snap.firmware == "01.09.00.01"
    (external,) = snap.external
    assert (external.slot, external.empty, external.color) == (254, True, None)


def test_x1_annotated_report_with_empty_tray_and_unknown_remaining() -> None:
    snap = loaded(X1_OBA, "X1").snapshot()
    assert snap.state == "idle"
    assert snap.active_tray is None
    trays = snap.ams[0].trays
    assert trays[0].empty is True and trays[0].slot == 0
    assert [(tray.slot, tray.color) for tray in trays[1:]] == [
        (1, "#000000"),
        (2, "#DFE2E3"),
        (3, "#F95959"),
    ]
    # remain 0 on non-RFID spools without the AMS estimate is "unknown", not "empty".
    assert [tray.remaining_pct for tray in trays] == [None, None, None, None]
    assert snap.chamber_temp == 24.0
    assert snap.wifi_dbm == -45


def test_p1p_failed_report() -> None:
    snap = loaded(P1P, "P1P").snapshot()
    assert (snap.state, snap.gcode_state) == ("failed", "FAILED")
    assert snap.print_error is None
    assert snap.job_name == "Fidget Collection"
    assert (snap.layer, snap.total_layers, snap.remaining_minutes) == (1, 70, 759)
    assert snap.chamber_temp is None  # the P1P reports a fake 5
    assert snap.active_tray == 0
    assert snap.firmware == "01.07.00.00"
    assert [tray.remaining_pct for tray in snap.ams[0].trays] == [None] * 4
    assert [tray.color for tray in snap.ams[0].trays] == ["#D357FE"] * 4
    (external,) = snap.external
    assert (external.slot, external.tray_info_idx, external.color) == (254, "P9816594", "#161616")


def test_p1p_cancelled_print_error() -> None:
    state = loaded(P1P, "P1P")
    assert state.apply(delta(print_error=50348044)).changed == {"error"}
    error = state.snapshot().print_error
    assert error is not None
    assert (error.code, error.hex, error.cancelled) == (50348044, "0300_400C", True)
    assert error.text == "The task was canceled."
    state.apply(delta(print_error=0))
    assert state.snapshot().print_error is None


def test_a1_ams_lite_idle_report() -> None:
    snap = loaded(A1, "A1").snapshot()
    assert snap.state == "idle"
    assert snap.chamber_temp is None
    (unit,) = snap.ams
    assert (unit.id, unit.kind, unit.temperature) == (0, "ams_lite", None)
    assert [(tray.slot, tray.color, tray.tray_info_idx) for tray in unit.trays] == [
        (0, "#76D9F4", "P8d19ba6"),
        (1, "#FFF144", "P3a4d8cf"),
        (2, "#FF80FF", "P8d19ba6"),
        (3, "#0ACC38", "P3a4d8cf"),
    ]
    assert snap.firmware == "01.05.00.00"


def test_h2d_packed_temperatures_layers_and_active_slot() -> None:
    snap = loaded(H2D, "H2D").snapshot()
    assert snap.state == "running"
    assert (snap.layer, snap.total_layers, snap.progress_pct) == (1, 200, 6)
    assert (snap.bed_temp, snap.bed_target) == (70.0, 70.0)  # 4587590 = 0x00460046
    assert (snap.nozzle_temp, snap.nozzle_target) == (245.0, 245.0)
    assert [(pair.current, pair.target) for pair in snap.extruder_temps] == [
        (245.0, 245.0),
        (47.0, 0.0),
    ]
    assert snap.chamber_temp == 35.0
    assert snap.active_tray == 7  # snow 259: AMS 1, tray 3
    assert snap.developer_mode is False
    assert [unit.kind for unit in snap.ams] == ["ams_2_pro", "ams_2_pro"]
    assert [(tray.slot, tray.empty) for tray in snap.external] == [(254, True), (255, True)]
    assert snap.ams[1].trays[3].color == "#ADB1B2"


def test_h2d_nested_layer_wins_over_flat_value() -> None:
    state = loaded(H2D, "H2D")
    state.apply(delta(**{"3D": {"layer_num": 5}}))
    assert state.snapshot().layer == 5


def test_every_sample_gives_a_json_ready_snapshot() -> None:
    for name, model in [
        (MISC, "X1"),
        (X1C, "X1C"),
        (X1_OBA, None),
        (P1P, "P1P"),
        (A1, "A1"),
        (H2D, "H2D"),
    ]:
        data = loaded(name, model).snapshot().to_dict()
        assert json.loads(json.dumps(data)) == data
        assert data["state"] in STATES


def test_snapshot_fields_are_all_written_by_some_section() -> None:
    written = set()
    for reader in SECTION_READERS.values():
        written |= set(reader({}, ReadContext()))
    assert written == set(Snapshot._fields)


def test_a_section_reader_out_of_step_with_the_snapshot_fields_fails_loudly() -> None:
    from printers.bambu.report import _slice_of

    assert _slice_of(SECTION_READERS["bed_temps"]) == slice(
        Snapshot._fields.index("bed_temp"), Snapshot._fields.index("bed_target") + 1
    )
    with pytest.raises(RuntimeError, match="not in Snapshot's field order"):
        _slice_of(lambda p, ctx: {"bed_target": None, "bed_temp": None})


@pytest.mark.parametrize(
    ("gcode_state", "state"),
    [
        ("IDLE", "idle"),
        ("INIT", "prepare"),
        ("PREPARE", "prepare"),
        ("RUNNING", "running"),
        ("PAUSE", "pause"),
        ("FINISH", "finish"),
        ("FAILED", "failed"),
        ("SLICING", "slicing"),
        ("SOMETHING_NEW", "unknown"),
    ],
)
def test_gcode_state_maps_to_state(gcode_state: str, state: str) -> None:
    printer = PrinterState()
    printer.apply(delta(gcode_state=gcode_state))
    assert printer.snapshot().state == state
    assert printer.snapshot().gcode_state == gcode_state


def test_state_without_report_is_unknown_and_offline_is_set_by_the_link() -> None:
    snap = PrinterState().snapshot()
    assert snap.state == "unknown"
    running = loaded(MISC, "X1").snapshot()
    offline = running.offline()
    assert offline.state == "offline"
    assert offline.progress_pct == 22
    assert running.state == "running"
    assert offline_snapshot(None).state == "offline"
    assert offline_snapshot(running) == offline


def test_remaining_zero_is_real_only_with_estimate_on_rfid_spool() -> None:
    rfid = {"id": "0", "tray_type": "PLA", "remain": 0, "tag_uid": "DAE3707400000100"}
    plain = {"id": "1", "tray_type": "PLA", "remain": 0, "tag_uid": "0000000000000000"}
    unknown = {"id": "2", "tray_type": "PLA", "remain": -1, "tag_uid": "DAE3707400000101"}
    ams = {"ams": [{"id": "0", "tray": [rfid, plain, unknown]}]}
    with_estimate = PrinterState("P1S")
    with_estimate.apply(delta(ams=ams, home_flag=0x80))
    assert [t.remaining_pct for t in with_estimate.snapshot().ams[0].trays] == [0, None, None]
    without = PrinterState("P1S")
    without.apply(delta(ams=ams, home_flag=0))
    assert [t.remaining_pct for t in without.snapshot().ams[0].trays] == [None, None, None]


@pytest.mark.parametrize(
    ("model", "device", "expected"),
    [
        ("X1E", None, 30.0),
        ("P1S", None, None),
        ("A1 mini", None, None),
        (None, None, None),
        (None, {"ctc": {"info": {"temp": 31}}}, 31.0),
        ("P2S", {"ctc": {"info": {"temp": 31}}}, 31.0),
    ],
)
def test_chamber_temperature_only_from_a_real_sensor(
    model: str | None, device: dict[str, Any] | None, expected: float | None
) -> None:
    state = PrinterState(model=model)
    fields: dict[str, Any] = {"chamber_temper": 30.0}
    if device is not None:
        fields["device"] = device
    state.apply(delta(**fields))
    assert state.snapshot().chamber_temp == expected


@pytest.mark.parametrize(
    ("fun", "developer_mode"),
    [("3EC18FFF9CFF", True), ("3EC1AFFF9CFF", False), ("zz", None), (None, None)],
)
def test_developer_mode_from_fun_bits(fun: str | None, developer_mode: bool | None) -> None:
    state = PrinterState()
    state.apply(delta(fun=fun))
    assert state.snapshot().developer_mode is developer_mode


def test_multicolour_and_unset_colours() -> None:
    state = PrinterState("X1C")
    tray = {
        "id": "0",
        "tray_type": "PLA",
        "tray_color": "00000000",
        "cols": ["FF0000FF", "0000FFFF"],
    }
    state.apply(delta(ams={"ams": [{"id": "0", "tray": [tray]}]}))
    read = state.snapshot().ams[0].trays[0]
    assert read.color is None
    assert read.colors == ("#FF0000", "#0000FF")


def test_decode_print_error_and_user_cancel() -> None:
    assert decode_print_error(0) is None
    assert decode_print_error(None) is None
    error = decode_print_error(117473284)
    assert error is not None
    assert (error.hex, error.cancelled) == ("0700_8004", False)
    assert error.text is not None and error.text.startswith("AMS failed to pull back filament")
    unknown = decode_print_error("0x0C001234")
    assert unknown is not None and (unknown.hex, unknown.text) == ("0C00_1234", None)
    assert is_user_cancel(50348044) and is_user_cancel("50348044")
    assert not is_user_cancel(83935248)


def test_decode_hms_developer_mode_code() -> None:
    entry = decode_hms(0x05000500, 0x00010007)
    assert entry is not None
    assert entry.full_code == HMS_DEVELOPER_MODE_REQUIRED
    assert (entry.code, entry.severity, entry.module) == (
        "0500_0500_0001_0007",
        "fatal",
        "mainboard",
    )
    assert entry.text is not None and "verification failed" in entry.text
    assert decode_hms(50331904, 65543).code == "0300_0100_0001_0007"  # type: ignore[union-attr]
    assert decode_hms("x", 1) is None


def test_load_messages_reads_the_get_version_of_p1p_diagnostics() -> None:
    messages = load_messages(P1P)
    assert messages[1]["info"]["module"][0]["sw_ver"] == "01.07.00.00"

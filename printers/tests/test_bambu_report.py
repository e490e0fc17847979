"""Decoding and deep-merging report messages (printers/bambu/report.py)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from printers.bambu.report import MAX_PAYLOAD_BYTES, PrinterState, decode_payload

SAMPLES = Path(__file__).resolve().parent.parent / "bambu" / "samples"


def load_messages(name: str) -> list[dict[str, Any]]:
    """The MQTT messages a sample file holds, whatever its wrapper (see samples/SOURCES.md)."""
    text = (SAMPLES / name).read_text()
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if name.endswith(".jsonc"):
        text = re.sub(r'^((?:[^"\n]|"(?:[^"\\\n]|\\.)*")*?)\s*//.*$', r"\1", text, flags=re.M)
    data = json.loads(text)
    if "message" in data:
        return [data["message"]]
    if "pushall" in data or "push_all" in data:
        messages = [data["pushall"] if "pushall" in data else {"print": data["push_all"]}]
        version = data.get("get_version")
        if version is not None:
            messages.append(version if "info" in version else {"info": version})
        return messages
    return [data]


def loaded(name: str, model: str | None = None) -> PrinterState:
    state = PrinterState(model=model)
    for message in load_messages(name):
        state.apply(message)
    return state


def delta(**fields: Any) -> dict[str, Any]:
    return {"print": {**fields, "command": "push_status", "msg": 1, "sequence_id": "9"}}


MISC = "x1_pushall_running_hms_amsht_ha-bambulab-MOCK-MISC.json"
X1C = "x1c_pushall_finish_multiams_ha-bambulab-MOCK-X1CMULTIAMS.json"
P1P = "p1p_pushall_failed_ha-bambulab-P1P.json"
H2D = "h2d_pushall_running_ha-bambulab-MOCK-H2D.json"


# ---- decode_payload ---------------------------------------------------------------------------


def test_decode_reads_bytes_and_str() -> None:
    raw = b'{"print":{"bed_temper":25.625,"command":"push_status","msg":1}}'
    assert decode_payload(raw) == {
        "print": {"bed_temper": 25.625, "command": "push_status", "msg": 1}
    }
    assert decode_payload(raw.decode()) == decode_payload(raw)
    assert decode_payload(bytearray(raw)) == decode_payload(raw)


def test_decode_refuses_oversized_payload() -> None:
    padding = "x" * MAX_PAYLOAD_BYTES
    assert decode_payload(f'{{"print":{{"gcode_file":"{padding}"}}}}'.encode()) is None


def test_decode_keeps_message_with_invalid_utf8_replaced() -> None:
    raw = b'{"print":{"gcode_file":"Tobera \xff\xfe.gcode.3mf","command":"push_status","msg":1}}'
    message = decode_payload(raw)
    assert message is not None
    assert message["print"]["gcode_file"] == "Tobera \ufffd\ufffd.gcode.3mf"
    assert message["print"]["command"] == "push_status"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[1, 2, 3]",
        b'"a string"',
        b"42",
        b"null",
        b'{"print": ',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        b"\xff\xfe\xfd",
    ],
)
def test_decode_returns_none_for_anything_but_a_json_object(raw: bytes) -> None:
    assert decode_payload(raw) is None


@pytest.mark.parametrize("raw", [None, 42, 1.5, ["{}"], {"print": {}}])
def test_decode_returns_none_for_non_text_input(raw: Any) -> None:
    assert decode_payload(raw) is None


def test_decode_reads_non_json_nan_as_missing_value() -> None:
    assert decode_payload(b'{"print": {"bed_temper": NaN, "msg": 1}}') == {
        "print": {"bed_temper": None, "msg": 1}
    }


def test_decode_survives_integers_beyond_64_bits() -> None:
    message = decode_payload(b'{"print": {"t_utc": 123456789012345678901234567890}}')
    assert message is not None
    assert message["print"]["t_utc"] == pytest.approx(1.2345678901234568e29)


# ---- merging status -----------------------------------------------------------------------------


def test_full_report_is_a_status_update_with_full_flag() -> None:
    state = PrinterState(model="P1P")
    update = state.apply(load_messages(P1P)[0])
    assert update.kind == "status"
    assert update.full is True
    assert {
        "state",
        "progress",
        "bed_temps",
        "nozzle_temps",
        "ams",
        "hms",
        "wifi",
    } <= update.changed


def test_delta_merges_over_full_report_without_clearing_other_fields() -> None:
    state = loaded(P1P, "P1P")
    messages = load_messages("p1s_delta_ha-bambulab-issue174.jsonl")
    messages += load_messages("p1s_delta_rdiger36-README.jsonl")
    for message in messages:
        update = state.apply(message)
        assert update.kind == "status"
        assert update.full is False
    snap = state.snapshot()
    assert snap.nozzle_temp == 28
    assert snap.bed_temp == 12
    assert snap.wifi_dbm == -68
    assert snap.state == "failed"
    assert snap.layer == 1
    assert snap.total_layers == 70
    assert [tray.slot for tray in snap.ams[0].trays] == [0, 1, 2, 3]


def test_delta_reports_only_the_sections_it_changed() -> None:
    state = loaded(P1P, "P1P")
    assert state.apply(delta(wifi_signal="-61dBm")).changed == {"wifi"}
    assert state.apply(delta(bed_temper=40.5, mc_percent=12)).changed == {"bed_temps", "progress"}


def test_delta_repeating_a_value_changes_nothing() -> None:
    state = loaded(P1P, "P1P")
    before = state.snapshot()
    update = state.apply(delta(wifi_signal="-53dBm", bed_temper=19.84375))
    assert update.changed == frozenset()
    assert state.snapshot() is before


def test_missing_or_null_key_never_clears_a_value() -> None:
    state = loaded(P1P, "P1P")
    state.apply(delta(mc_percent=None, gcode_state=None, ams=None, hms=None))
    state.apply(delta())
    snap = state.snapshot()
    assert snap.gcode_state == "FAILED"
    assert snap.remaining_minutes == 759
    assert len(snap.ams) == 1


def test_nested_dict_merges_recursively() -> None:
    state = loaded(H2D, "H2D")
    state.apply(delta(device={"bed": {"info": {"temp": (60 << 16) | 65}}}))
    report = state.report
    assert report["device"]["bed"] == {"info": {"temp": (60 << 16) | 65}, "state": 2}
    assert report["device"]["ctc"]["info"]["temp"] == 35
    assert state.snapshot().bed_temp == 65.0
    assert state.snapshot().bed_target == 60.0


def test_hms_is_replaced_when_present_and_cleared_by_empty_list() -> None:
    state = loaded(MISC, "X1")
    assert [entry.code for entry in state.snapshot().hms] == ["0C00_0300_0003_0007"]
    state.apply(delta(mc_percent=30))
    assert len(state.snapshot().hms) == 1
    new = {"attr": 0x05000500, "code": 0x00010007}
    assert state.apply(delta(hms=[new])).changed == {"hms"}
    assert [entry.code for entry in state.snapshot().hms] == ["0500_0500_0001_0007"]
    state.apply(delta(hms=[]))
    assert state.snapshot().hms == ()


def test_ams_delta_without_units_keeps_every_tray() -> None:
    state = loaded("x1c_pushall_finish_multiams_ha-bambulab-MOCK-X1CMULTIAMS.json", "X1C")
    update = state.apply(delta(ams={"tray_now": "5", "tray_pre": "255", "version": 30186}))
    assert update.changed == {"active_tray"}
    snap = state.snapshot()
    assert snap.active_tray == 5
    assert [unit.id for unit in snap.ams] == [0, 1, 2, 128]
    assert sum(len(unit.trays) for unit in snap.ams) == 13


def test_trays_merge_by_id_and_units_by_id() -> None:
    state = loaded(X1C, "X1C")
    state.apply(delta(ams={"ams": [{"id": "1", "tray": [{"id": "2", "remain": 55}]}]}))
    snap = state.snapshot()
    unit = snap.ams[1]
    assert [tray.remaining_pct for tray in unit.trays] == [21, 20, 55, 100]
    assert unit.trays[2].type == "ABS"
    assert unit.trays[2].color == "#FFFFFF"
    assert snap.ams[0].trays[0].remaining_pct == 93


def test_tray_reported_with_id_alone_is_cleared_as_empty() -> None:
    state = loaded(X1C, "X1C")
    state.apply(delta(ams={"ams": [{"id": "0", "tray": [{"id": "3"}]}]}))
    tray = state.snapshot().ams[0].trays[3]
    assert tray.empty is True
    assert (tray.type, tray.color, tray.remaining_pct, tray.tag_uid) == (None, None, None, None)
    assert tray.slot == 3


def test_tray_with_state_zero_is_cleared_as_empty() -> None:
    state = loaded(X1C, "X1C")
    state.apply(delta(ams={"ams": [{"id": "1", "tray": [{"id": "0", "state": 0}]}]}))
    tray = state.snapshot().ams[1].trays[0]
    assert tray.empty is True
    assert tray.state == 0


def test_partial_tray_state_update_keeps_the_material() -> None:
    state = loaded(H2D, "H2D")
    state.apply(delta(ams={"ams": [{"id": "1", "tray": [{"id": "2", "state": 10}]}]}))
    tray = state.snapshot().ams[1].trays[2]
    assert tray.state == 10
    assert tray.empty is False
    assert (tray.type, tray.sub_brand, tray.remaining_pct) == ("PETG-CF", "PETG-CF", 100)


def test_full_report_drops_units_it_no_longer_lists() -> None:
    state = loaded(X1C, "X1C")
    full = copy.deepcopy(load_messages(X1C)[0])
    full["print"]["ams"]["ams"] = full["print"]["ams"]["ams"][:2]
    state.apply(full)
    assert [unit.id for unit in state.snapshot().ams] == [0, 1]


def test_delta_listing_one_unit_keeps_the_others() -> None:
    state = loaded(X1C, "X1C")
    state.apply(delta(ams={"ams": [{"id": "128", "humidity": "2"}]}))
    snap = state.snapshot()
    assert [unit.id for unit in snap.ams] == [0, 1, 2, 128]
    assert snap.ams[3].humidity == 2
    assert snap.ams[3].trays[0].type == "PA-CF"


def test_vt_tray_merges_and_empties_by_the_tray_rule() -> None:
    state = loaded(P1P, "P1P")
    state.apply(delta(vt_tray={"id": "254", "tray_color": "FF0000FF"}))
    external = state.snapshot().external[0]
    assert (external.slot, external.type, external.color) == (254, "PLA", "#FF0000")
    state.apply(delta(vt_tray={"id": "254"}))
    assert state.snapshot().external[0].empty is True


def test_vir_slot_merges_by_id() -> None:
    state = loaded(H2D, "H2D")
    state.apply(delta(vir_slot=[{"id": "255", "tray_type": "PETG", "tray_color": "00FF00FF"}]))
    external = {tray.slot: tray for tray in state.snapshot().external}
    assert external[255].type == "PETG"
    assert external[255].color == "#00FF00"
    assert external[254].empty is True


def test_other_lists_are_replaced() -> None:
    state = loaded(MISC, "X1")
    state.apply(delta(lights_report=[{"node": "chamber_light", "mode": "off"}], stg=[1]))
    assert [(light.node, light.mode) for light in state.snapshot().lights] == [
        ("chamber_light", "off")
    ]
    assert state.report["stg"] == [1]


def test_state_does_not_alias_the_callers_message() -> None:
    message = load_messages(P1P)[0]
    state = PrinterState(model="P1P")
    state.apply(message)
    message["print"]["ams"]["ams"][0]["tray"][0]["tray_type"] = "ABS"
    message["print"]["lights_report"].clear()
    snap = state.snapshot()
    assert snap.ams[0].trays[0].type == "PLA"
    assert len(snap.lights) == 1


# ---- replies, versions, ignored messages -----------------------------------------------------


def test_command_reply_is_not_merged_into_status() -> None:
    state = loaded(P1P, "P1P")
    before = state.snapshot()
    message = {
        "print": {
            "command": "pause",
            "sequence_id": "7",
            "result": "success",
            "gcode_state": "PAUSE",
            "mc_percent": 99,
        }
    }
    update = state.apply(message)
    assert update.kind == "reply"
    assert update.reply is not None
    assert (update.reply.sequence_id, update.reply.command, update.reply.ok) == ("7", "pause", True)
    assert update.changed == frozenset()
    assert state.snapshot() is before
    assert "mc_percent" in state.report and state.report["mc_percent"] == 0


def test_bare_ack_without_command_is_a_reply() -> None:
    state = PrinterState()
    update = state.apply(
        {"print": {"sequence_id": "1", "param": "G28", "result": "success", "reason": "success"}}
    )
    assert update.kind == "reply"
    assert update.reply is not None and update.reply.command is None and update.reply.ok is True
    assert "param" not in state.report


def test_get_version_is_a_version_update_with_firmware_and_ams_kinds() -> None:
    state = loaded(X1C, "X1C")
    assert state.firmware == "01.09.00.01"
    names = [module["name"] for module in state.modules]
    assert "n3s/128" in names
    assert [unit.kind for unit in state.snapshot().ams] == ["ams", "ams", "ams_2_pro", "ams_ht"]


def test_a1_mini_get_version_reply_reads_firmware() -> None:
    state = PrinterState(model="A1 mini")
    update = state.apply(load_messages("a1mini_get_version_sksat-bambu-rs.json")[0])
    assert update.kind == "version"
    assert update.changed == {"version", "ams"}
    assert state.firmware == "01.07.02.00"
    assert state.snapshot().firmware == "01.07.02.00"


@pytest.mark.parametrize(
    "message",
    [
        {},
        {"event": {"event": "client.connected"}},
        {"mc_print": {"command": "push_info", "param": "[BMC] M900 K0.02"}},
        {"print": {"gcode_state": "RUNNING"}},
        {"print": {"command": "push_status"}, "info": "x"},
        {"info": {"command": "get_version", "module": "not a list"}},
    ],
)
def test_other_messages_are_ignored_and_change_nothing(message: dict[str, Any]) -> None:
    state = loaded(P1P, "P1P")
    before = state.snapshot()
    update = state.apply(message)
    assert update.kind in ("ignored", "status")
    assert update.changed == frozenset()
    assert state.snapshot() is before


# ---- hostile input --------------------------------------------------------------------------


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": [value]}
    return value


HOSTILE: list[Any] = [
    None,
    [],
    "print",
    42,
    {"print": []},
    {"print": None},
    {"print": "x"},
    {"print": {"command": "push_status", "ams": "x"}},
    {"print": {"command": "push_status", "ams": {"ams": "x"}}},
    {"print": {"command": "push_status", "ams": {"ams": [None, 1, "x", {"id": None}]}}},
    {"print": {"command": "push_status", "ams": {"ams": [{"id": "0", "tray": "x"}]}}},
    {"print": {"command": "push_status", "ams": {"ams": [{"id": "0", "tray": [None, 5]}]}}},
    {"print": {"command": "push_status", "ams": {"ams": [{"id": [1], "tray": [{"id": {}}]}]}}},
    {"print": {"command": "push_status", "mc_percent": "abc", "layer_num": [1]}},
    {"print": {"command": "push_status", "nozzle_temper": "hot", "bed_temper": {"x": 1}}},
    {"print": {"command": "push_status", "hms": [None, {"attr": "x", "code": []}, 5]}},
    {"print": {"command": "push_status", "hms": "none"}},
    {"print": {"command": "push_status", "print_error": "0xZZ", "wifi_signal": 5.5}},
    {"print": {"command": "push_status", "device": [], "vt_tray": [], "vir_slot": {}}},
    {"print": {"command": "push_status", "device": {"extruder": {"info": "x", "state": "y"}}}},
    {"print": {"command": "push_status", "device": {"bed": {"info": {"temp": -5}}}}},
    {"print": {"command": "push_status", "lights_report": [None, {"node": 1}], "fun": "zz"}},
    {"print": {"command": "push_status", "3D": "x", "gcode_state": ["IDLE"], "spd_lvl": None}},
    {"print": {"command": "push_status", "junk": _deep(500)}},
    {"print": {"command": "push_status", "ams": {"ams": [{"id": "0", "x": _deep(500)}]}}},
    {"print": {"command": "push_status", "home_flag": "x", "tray_now": object()}},
    {"print": {"command": "push_status", "msg": "0", "sequence_id": None}},
    {"print": {"result": None, "err_code": "x", "sequence_id": []}},
    {"info": {"command": "get_version", "module": [None, {"name": 5}, {"name": "ams/x"}]}},
]


@pytest.mark.parametrize("message", HOSTILE)
def test_hostile_message_never_raises_and_keeps_a_valid_snapshot(message: Any) -> None:
    state = loaded(MISC, "X1")
    state.apply(message)
    snap = state.snapshot()
    json.dumps(snap.to_dict())
    assert snap.state == "running"
    assert snap.active_tray == 128
    assert [tray.slot for unit in snap.ams for tray in unit.trays] == [128]


@pytest.mark.parametrize("message", HOSTILE)
def test_hostile_message_on_an_empty_state_never_raises(message: Any) -> None:
    state = PrinterState()
    state.apply(message)
    assert json.dumps(state.snapshot().to_dict())


def test_scalar_never_replaces_structure_and_structure_never_replaces_scalar() -> None:
    state = loaded(MISC, "X1")
    state.apply(delta(ams="x", device=5, lights_report="on", ipcam=3))
    state.apply(delta(gcode_state={"x": 1}, mc_percent=[50], wifi_signal={"dbm": -40}))
    report = state.report
    assert isinstance(report["ams"], dict)
    assert isinstance(report["device"], dict)
    assert isinstance(report["lights_report"], list)
    assert isinstance(report["ipcam"], dict)
    assert (report["gcode_state"], report["mc_percent"], report["wifi_signal"]) == (
        "RUNNING",
        22,
        "-46dBm",
    )


def test_junk_scalar_reads_as_unknown_without_raising() -> None:
    state = loaded(MISC, "X1")
    state.apply(delta(gcode_state=7, mc_percent="abc", nozzle_temper="hot"))
    snap = state.snapshot()
    assert (snap.state, snap.gcode_state, snap.progress_pct, snap.nozzle_temp) == (
        "unknown",
        None,
        None,
        None,
    )


# ---- snapshot caching ---------------------------------------------------------------------


def test_snapshot_is_cached_until_something_changes() -> None:
    state = loaded(MISC, "X1")
    first = state.snapshot()
    assert state.snapshot() is first
    state.apply(delta(nozzle_temper=200.0))
    second = state.snapshot()
    assert second is not first
    assert second.nozzle_temp == 200.0
    assert first.nozzle_temp == 219.0
    assert second.ams is first.ams
    assert second.hms is first.hms


# ---- fast paths: skipping exact copies must give what the key-by-key walk gives -----------------


def _walked_state(monkeypatch: pytest.MonkeyPatch, messages: list[Any]) -> tuple[Any, ...]:
    """Apply ``messages`` to a fresh state with every fast path on, then with all of them off."""
    from printers.bambu import report

    results = []
    for fast in (True, False):
        with monkeypatch.context() as patch:
            if not fast:
                patch.setattr(report, "_same", lambda cached, incoming: False)
                patch.setattr(report, "_same_scalar", lambda old, value: False)
            state = PrinterState(model="X1C")
            updates = [state.apply(copy.deepcopy(message)) for message in messages]
            snapshot = state.snapshot().to_dict()
            # repr keeps the types apart (1, 1.0 and True are == but must not be confused).
            results.append((repr(state.report), repr(updates), repr(snapshot)))
    return tuple(results)


def _full(body: dict[str, Any]) -> dict[str, Any]:
    return {"print": {"command": "push_status", "msg": 0, **body}}


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.json*")))
def test_fast_paths_match_the_walk_on_every_sample(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    messages = load_messages(name)
    # Twice in a row (the second pass is all exact copies), then once more after a change.
    changed = copy.deepcopy(messages)
    for message in changed:
        if type(message.get("print")) is dict:
            message["print"]["nozzle_temper"] = 1.5
    fast, walked = _walked_state(monkeypatch, messages + messages + changed + messages)
    assert fast == walked


TRAY = {"id": "0", "tray_type": "PLA", "remain": 50, "cols": ["FF0000FF"], "tray_weight": "1000"}


@pytest.mark.parametrize(
    "first, second",
    [
        ({"upload": {"progress": 1}}, {"upload": {"progress": 1.0}}),
        ({"upload": {"progress": 1}}, {"upload": {"progress": True}}),
        ({"stg": [1, 2]}, {"stg": [1.0, 2]}),
        ({"stg": [1, 2]}, {"stg": (1, 2)}),
        ({"upload": {"a": [1]}}, {"upload": {"a": (1,)}}),
        ({"hms": [{"attr": 1, "code": 2}]}, {"hms": [{"attr": 1.0, "code": 2}]}),
        ({"vt_tray": dict(TRAY)}, {"vt_tray": {**TRAY, "remain": 50.0}}),
        ({"vt_tray": dict(TRAY)}, {"vt_tray": {**TRAY, "remain": None}}),
        ({"vt_tray": dict(TRAY)}, {"vt_tray": {"id": "0"}}),
        ({"vt_tray": {"id": "0"}}, {"vt_tray": {"id": "0"}}),
        ({"vt_tray": {"id": "0", "state": 0}}, {"vt_tray": {"id": "0", "state": 0.0}}),
        (
            {"ams": {"ams": [{"id": "0", "tray": [dict(TRAY)]}], "tray_now": "0"}},
            {"ams": {"ams": [{"id": 0, "tray": [{**TRAY, "id": 0}]}], "tray_now": 0}},
        ),
        (
            {"ams": {"ams": [{"id": "0", "tray": [dict(TRAY)]}, {"id": "1"}]}},
            {"ams": {"ams": [{"id": "0", "tray": [dict(TRAY)]}]}},
        ),
        ({"vir_slot": [dict(TRAY), dict(TRAY)]}, {"vir_slot": [dict(TRAY), dict(TRAY)]}),
        (
            {"device": {"nozzle": {"info": [{"id": 0, "a": 1}, {"id": "0", "a": 2}]}}},
            {"device": {"nozzle": {"info": [{"id": 0, "a": 1}, {"id": "0", "a": 2}]}}},
        ),
        ({"upload": {"n": float("nan")}}, {"upload": {"n": float("nan")}}),
        ({"upload": {"n": float("inf")}}, {"upload": {"n": None}}),
        ({"upload": {"n": 2**70}}, {"upload": {"n": 2**70}}),
        ({"upload": {"n": 1}}, {"upload": {"n": 1, "x": object()}}),
        ({"ipcam": {"a": {"b": 1}}}, {"ipcam": 5}),
    ],
)
def test_fast_paths_match_the_walk_on_hostile_repeats(
    monkeypatch: pytest.MonkeyPatch, first: dict[str, Any], second: dict[str, Any]
) -> None:
    messages = [_full(first), _full(first), _full(second), _full(second), _full(first)]
    fast, walked = _walked_state(monkeypatch, messages)
    assert fast == walked


def test_memoized_trays_and_hms_read_as_a_fresh_context_does() -> None:
    from printers.bambu.snapshot import SECTION_READERS, ReadContext, Snapshot

    state = PrinterState(model="X1C")
    tray, other = dict(TRAY), {**TRAY, "remain": 50.0, "cols": ("00FF00FF",)}
    for body in ({"vt_tray": tray}, {"vt_tray": other}, {"vt_tray": tray}, {"hms": []}):
        state.apply(_full({**body, "hms": [{"attr": 1, "code": 2}]}))
        fresh: dict[str, Any] = {}
        for reader in SECTION_READERS.values():
            fresh.update(reader(dict(state.report), ReadContext(model="X1C")))
        snapshot = state.snapshot()
        expected = Snapshot(**{**snapshot._asdict(), **fresh})
        assert repr(snapshot.to_dict()) == repr(expected.to_dict())


def test_the_envelope_is_not_merged_into_the_report() -> None:
    """command, msg and sequence_id say what a message is, not what the printer is: a report
    that kept them would change with every message (sequence_id) for nothing."""
    state = PrinterState(model="X1C")
    for sequence in ("1", "2"):
        update = state.apply(
            {
                "print": {
                    "wifi_signal": "-44dBm",
                    "command": "push_status",
                    "msg": 1,
                    "sequence_id": sequence,
                }
            }
        )
    assert dict(state.report) == {"wifi_signal": "-44dBm"}
    assert update.changed == frozenset()

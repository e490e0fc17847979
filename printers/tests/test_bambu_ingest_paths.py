"""The shortcuts of the per-message ingest path give what the general path gives.

Deltas of one flat reading re-read that one snapshot field, the commonest device deltas merge
without the general walk, and decoded extruder temperatures are reused until device.extruder
changes (bench/bench_ingest.py measures why). Random streams compare each shortcut with the
general path in test_bambu_merge_properties.py; these are the cases a stream hits rarely.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from printers.bambu import report
from printers.bambu.report import PrinterState


def _delta(**fields: Any) -> dict[str, Any]:
    return {"print": {"command": "push_status", "msg": 1, "sequence_id": "1", **fields}}


def _extruders(*temps: Any, state: Any = None) -> dict[str, Any]:
    extruder: dict[str, Any] = {"info": [{"id": n, "temp": t} for n, t in enumerate(temps)]}
    if state is not None:
        extruder["state"] = state
    return {"device": {"extruder": extruder}}


def test_an_extruder_delta_after_a_snapshot_is_read_again():
    state = PrinterState(model="H2D")
    state.apply(_delta(**_extruders(220 << 16 | 200, 0 << 16 | 30, state=0x02)))
    assert state.snapshot().nozzle_temp == 200.0
    state.apply(_delta(**_extruders(220 << 16 | 210)))
    snapshot = state.snapshot()
    assert (snapshot.nozzle_temp, snapshot.nozzle_target) == (210.0, 220.0)
    assert [pair.current for pair in snapshot.extruder_temps] == [210.0, 30.0]


def test_temperature_deltas_keep_the_extruder_layout_until_the_active_extruder_moves():
    """A delta of temperatures alone re-reads the temperatures over the layout it keeps (which
    entries, which is active, what feeds it); a switch of the active extruder reads it again."""
    state = PrinterState(model="H2D")
    extruder = {
        "info": [
            {"id": 0, "temp": 220 << 16 | 200, "snow": 0x0001},
            {"id": 1, "temp": 250 << 16 | 240, "snow": 0x0102},
        ],
        "state": 0x02,  # two extruders, the first active
    }
    state.apply(_delta(device={"extruder": extruder}))
    assert (state.snapshot().nozzle_temp, state.snapshot().active_tray) == (200.0, 1)
    state.apply(_delta(**_extruders(220 << 16 | 205)))
    assert (state.snapshot().nozzle_temp, state.snapshot().active_tray) == (205.0, 1)
    state.apply(_delta(device={"extruder": {"info": [{"id": 1, "temp": 250 << 16 | 245}]}}))
    snapshot = state.snapshot()
    assert [pair.current for pair in snapshot.extruder_temps] == [205.0, 245.0]
    assert snapshot.nozzle_temp == 205.0
    state.apply(_delta(device={"extruder": {"state": 0x12}}))  # the second one is active now
    snapshot = state.snapshot()
    assert (snapshot.nozzle_temp, snapshot.nozzle_target, snapshot.active_tray) == (245.0, 250.0, 6)
    state.apply(_delta(device={"extruder": {"info": [{"id": 1, "temp": 250 << 16 | 248}]}}))
    assert (state.snapshot().nozzle_temp, state.snapshot().active_tray) == (248.0, 6)


def test_an_unchanged_extruder_delta_keeps_the_decoded_temperatures():
    state = PrinterState(model="X1C")
    state.apply(_delta(**_extruders(220 << 16 | 200)))
    first = state.snapshot()
    update = state.apply(_delta(**_extruders(220 << 16 | 200)))
    assert "nozzle_temps" not in update.changed
    assert state.snapshot().nozzle_temp == first.nozzle_temp == 200.0


def test_extruders_listed_out_of_id_order_are_read_by_id():
    state = PrinterState(model="H2D")
    extruder = {
        "info": [{"id": 1, "temp": 60 << 16 | 40}, {"id": 0, "temp": 220 << 16 | 200}],
        "state": 0x02,
    }
    state.apply(_delta(device={"extruder": extruder}))
    snapshot = state.snapshot()
    assert [pair.current for pair in snapshot.extruder_temps] == [200.0, 40.0]
    assert snapshot.nozzle_temp == 200.0


MERGE_CASES = [
    # (cached device, delta device): the packed-temperature and by-id shortcuts, and the shapes
    # they must leave to the general merge.
    ({"bed": {"info": {"temp": 5}, "state": 0}}, {"bed": {"info": {"temp": 60 << 16 | 55}}}),
    ({"bed": {"info": {"temp": 5}}}, {"bed": {"info": {"temp": 5.0}}}),
    ({"bed": {"info": {"temp": {"x": 1}}}}, {"bed": {"info": {"temp": 7}}}),
    ({"bed": {"info": {"temp": 5}}}, {"bed": {"info": {"temp": None}}}),
    ({"bed": {"info": {"temp": 5}}}, {"bed": {"info": {"temp": [1]}}}),
    ({"bed": {"info": [1]}}, {"bed": {"info": {"temp": 7}}}),
    ({"ctc": {"info": {"temp": 5}}}, {"ctc": {"info": {"temp": 9}, "state": 1}}),
    (
        {"extruder": {"info": [{"id": "0", "temp": 1, "snow": 3}], "state": 1}},
        {"extruder": {"info": [{"id": 0, "temp": 2}]}},
    ),
    (
        {"extruder": {"info": [{"id": 0, "temp": 1}, {"id": 0, "temp": 9}]}},
        {"extruder": {"info": [{"id": "0", "temp": 2}]}},
    ),
    (
        {"extruder": {"info": [{"id": 0, "temp": 1}]}},
        {"extruder": {"info": [{"id": 0, "temp": 2}, {"id": 1, "temp": 3}]}},
    ),
    (
        {"extruder": {"info": [{"id": 0, "temp": 1}]}},
        {"extruder": {"info": [{"id": 0, "temp": 2}, {"id": 0.5, "temp": 3}]}},
    ),
    ({"extruder": {"info": [{"id": 0, "temp": 1}]}}, {"extruder": {"info": [{"temp": 2}]}}),
    ({"extruder": {"info": [{"id": 0, "temp": 1}]}}, {"extruder": {"info": []}}),
    ({"extruder": {"info": [{"id": 0, "temp": 1}]}}, {"extruder": {"info": ["x"]}}),
    (
        {"extruder": {"info": [{"id": 0, "temp": {"a": 1}}]}},
        {"extruder": {"info": [{"id": 0, "temp": 2, "snow": [1]}]}},
    ),
]


@pytest.mark.parametrize(("cached", "delta"), MERGE_CASES)
@pytest.mark.parametrize("model", ["H2D", "X1C"])
def test_a_device_delta_merges_as_the_general_walk_does(
    monkeypatch: pytest.MonkeyPatch, model: str, cached: dict[str, Any], delta: dict[str, Any]
) -> None:
    results = []
    for shortcut in (True, False):
        with monkeypatch.context() as patch:
            if not shortcut:
                patch.setattr(report, "_merge_info_delta", lambda old, item: None)
            state = PrinterState(model=model)
            first = state.apply(_delta(device=copy.deepcopy(cached)))
            second = state.apply(_delta(device=copy.deepcopy(delta)))
            snapshot = state.snapshot().to_dict()
            results.append((repr(state.report), repr((first, second)), repr(snapshot)))
    assert results[0] == results[1]


@pytest.mark.parametrize(
    ("value", "pct"), [("0", 0), ("15", 100), ("7", 47), (" 7", 47), ("16", None), (7, 47)]
)
def test_fan_speeds_read_from_the_table_as_from_the_number(value: Any, pct: int | None):
    state = PrinterState(model="X1C")
    state.apply(_delta(cooling_fan_speed=value))
    assert state.snapshot().part_fan_pct == pct


def test_wifi_signal_strings_read_the_same_on_each_arrival():
    state = PrinterState(model="X1C")
    readings = []
    for signal in ("-44dBm", "-45dBm", "-44dBm", " -44 ", "junk", "-44dBm"):
        state.apply(_delta(wifi_signal=signal))
        readings.append(state.snapshot().wifi_dbm)
    assert readings == [-44, -45, -44, -44, None, -44]

"""A quantity a report carries in two places reads from the place the printer sent last.

Firmware differs in which of the two it updates (flat ``layer_num`` or ``3D.layer_num``; flat
``bed_temper`` or the packed ``device.bed``...), so whichever arrived most recently wins and a
firmware that updates only one of them is never shown stale.
"""

from __future__ import annotations

from typing import Any

import pytest

from printers.bambu.report import PrinterState


def _delta(**fields: Any) -> dict[str, Any]:
    return {"print": {"command": "push_status", "msg": 1, "sequence_id": "1", **fields}}


def _packed(current: int, target: int = 0) -> dict[str, Any]:
    return {"info": {"temp": target << 16 | current}}


# (flat delta, nested delta, snapshot field, flat reading, nested reading)
PAIRS = [
    ({"layer_num": 10}, {"3D": {"layer_num": 20}}, "layer", 10, 20),
    ({"total_layer_num": 100}, {"3D": {"total_layer_num": 200}}, "total_layers", 100, 200),
    ({"bed_temper": 55.0}, {"device": {"bed": _packed(60, 65)}}, "bed_temp", 55.0, 60.0),
    ({"bed_target_temper": 50.0}, {"device": {"bed": _packed(60, 65)}}, "bed_target", 50.0, 65.0),
    ({"chamber_temper": 30.0}, {"device": {"ctc": _packed(35)}}, "chamber_temp", 30.0, 35.0),
    (
        {"nozzle_temper": 200.0},
        {"device": {"extruder": {"info": [{"id": 0, "temp": _packed(210)["info"]["temp"]}]}}},
        "nozzle_temp",
        200.0,
        210.0,
    ),
    (
        {"nozzle_target_temper": 205.0},
        {"device": {"extruder": {"info": [{"id": 0, "temp": 220 << 16 | 210}]}}},
        "nozzle_target",
        205.0,
        220.0,
    ),
    (
        {"nozzle_diameter": "0.6"},
        {"device": {"nozzle": {"info": [{"id": 0, "diameter": 0.4, "type": "HS01"}]}}},
        "nozzle_diameter",
        0.6,
        0.4,
    ),
]


@pytest.mark.parametrize(("flat", "nested", "field", "flat_value", "nested_value"), PAIRS)
def test_the_place_sent_last_wins_whichever_it_is(flat, nested, field, flat_value, nested_value):
    state = PrinterState(model="H2D")
    state.apply(_delta(**flat))
    assert getattr(state.snapshot(), field) == flat_value
    state.apply(_delta(**nested))
    assert getattr(state.snapshot(), field) == nested_value
    # Firmware that then updates only the flat field again: the flat value is the current one,
    # even though it repeats what the state already held.
    state.apply(_delta(**flat))
    assert getattr(state.snapshot(), field) == flat_value
    state.apply(_delta(**nested))
    assert getattr(state.snapshot(), field) == nested_value


@pytest.mark.parametrize(("flat", "nested", "field", "flat_value", "nested_value"), PAIRS)
def test_both_places_in_one_message_read_the_nested_one(
    flat, nested, field, flat_value, nested_value
):
    state = PrinterState(model="H2D")
    state.apply(_delta(**flat, **nested))
    assert getattr(state.snapshot(), field) == nested_value


def test_a_delta_updating_only_the_flat_layer_after_a_full_report_with_both_is_current():
    state = PrinterState(model="H2D")
    state.apply(
        {"print": {"command": "push_status", "msg": 0, "layer_num": 5, "3D": {"layer_num": 5}}}
    )
    update = state.apply(_delta(layer_num=6))
    assert "progress" in update.changed
    assert state.snapshot().layer == 6


def test_an_unreadable_newest_value_falls_back_to_the_other_place():
    state = PrinterState(model="H2D")
    state.apply(_delta(device={"bed": _packed(60)}))
    state.apply(_delta(bed_temper="junk"))
    assert state.snapshot().bed_temp == 60.0

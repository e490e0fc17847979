"""Properties of the incremental report path, on random message streams (hypothesis).

The merge skips unchanged subtrees and the snapshot re-reads only what a message touched; both
must give exactly what the plain key-by-key walk and a from-scratch read give, whatever mix of
full reports, deltas, junk types and two-place quantities a printer sends.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from printers.bambu.report import PrinterState
from printers.bambu.snapshot import (
    CONTEXT_FIELD_READERS,
    SECTION_READERS,
    ReadContext,
    Snapshot,
)

MODELS = ["X1C", "X1", "P1P", "A1", "H2D", None]

# Scalars as firmware (and junk) sends them: the same number as int, float, string or bool.
small = st.integers(-3, 300)
scalar = st.one_of(
    small,
    small.map(float),
    small.map(str),
    st.booleans(),
    st.sampled_from(["", "abc", "-44dBm", "RUNNING", "IDLE", "FAILED", "0.4", "8000000F"]),
    st.none(),
)
# Depth-limited junk: what a hostile or odd message may put anywhere.
junk = st.recursive(
    scalar,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "id", "info", "temp"]), inner, max_size=3)
    ),
    max_leaves=6,
)
some = st.one_of(scalar, scalar, scalar, junk)

FLAT_KEYS = [
    "gcode_state",
    "subtask_name",
    "gcode_file",
    "task_id",
    "mc_percent",
    "mc_remaining_time",
    "layer_num",
    "total_layer_num",
    "stg_cur",
    "nozzle_temper",
    "nozzle_target_temper",
    "bed_temper",
    "bed_target_temper",
    "chamber_temper",
    "spd_lvl",
    "spd_mag",
    "print_error",
    "wifi_signal",
    "nozzle_diameter",
    "nozzle_type",
    "cooling_fan_speed",
    "big_fan1_speed",
    "heatbreak_fan_speed",
    "fun",
    "home_flag",
    "unlisted_key",
]

packed = st.integers(0, 300) | st.integers(0, 300).map(lambda t: 220 << 16 | t)
info_temp = st.fixed_dictionaries({"info": st.fixed_dictionaries({"temp": packed | some})})
extruder = st.fixed_dictionaries(
    {
        "info": st.lists(
            st.fixed_dictionaries(
                {"id": st.sampled_from([0, 1, "0", "1"])},
                optional={"temp": packed, "snow": st.sampled_from([0, 1, 257, 0xFFFF, 0xFE00])},
            ),
            max_size=2,
        )
    },
    optional={"state": st.sampled_from([1, 2, 0x12, 0x02, "x"])},
)
nozzle = st.fixed_dictionaries(
    {
        "info": st.lists(
            st.fixed_dictionaries(
                {"id": st.sampled_from([0, 1])},
                optional={"diameter": st.sampled_from([0.4, 0.6, "0.2"]), "type": st.just("HS")},
            ),
            max_size=2,
        )
    }
)
device = st.fixed_dictionaries(
    {},
    optional={"bed": info_temp, "ctc": info_temp, "extruder": extruder, "nozzle": nozzle},
)
three_d = st.fixed_dictionaries({}, optional={"layer_num": some, "total_layer_num": some})
tray = st.fixed_dictionaries(
    {"id": st.sampled_from(["0", "1", 0, 1, "254", "255"])},
    optional={
        "tray_type": st.sampled_from(["PLA", "PETG", ""]),
        "tray_color": st.sampled_from(["FF0000FF", "00000000", "zz"]),
        "remain": st.sampled_from([-1, 0, 50, 50.0, 100, None]),
        "state": st.sampled_from([0, 3, 11]),
        "tag_uid": st.sampled_from(["0000000000000000", "A1B2"]),
        "cols": st.lists(st.sampled_from(["FF0000FF", "00FF00FF"]), max_size=2),
    },
)
unit = st.fixed_dictionaries(
    {"id": st.sampled_from(["0", "1", 0, "128"])},
    optional={
        "humidity": some,
        "temp": st.sampled_from(["0.0", "25.5", 25]),
        "tray": st.lists(tray, max_size=3),
    },
)
ams = st.fixed_dictionaries(
    {},
    optional={
        "ams": st.lists(unit, max_size=2),
        "tray_now": st.sampled_from(["255", "0", "5", 254, "130"]),
        "tray_tar": some,
        "version": small,
    },
)
hms = st.lists(
    st.fixed_dictionaries({"attr": st.sampled_from([0x0300_0100, 7]), "code": small}), max_size=2
)
NESTED = {
    "device": device,
    "3D": three_d,
    "ams": ams,
    "vt_tray": tray,
    "vir_slot": st.lists(tray, max_size=2),
    "hms": hms,
    "lights_report": st.lists(
        st.fixed_dictionaries({"node": st.just("chamber_light"), "mode": st.just("on")}),
        max_size=1,
    ),
    "ipcam": junk,
}


# Built once, not inside the draw: a strategy built per example is a new object that hypothesis
# validates afresh each time, which cost more CPU than the properties themselves.
flat_keys = st.lists(st.sampled_from(FLAT_KEYS), max_size=4, unique=True)
nested_keys = st.lists(st.sampled_from(sorted(NESTED)), max_size=3, unique=True)
# Mostly the key's real shape; now and then junk in its place.
nested_or_junk = {key: st.one_of(shape, shape, shape, some) for key, shape in NESTED.items()}
msg_values = st.sampled_from([0, 1, 1, 1, "0"])


@st.composite
def message(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key in draw(flat_keys):
        body[key] = draw(some)
    for key in draw(nested_keys):
        body[key] = draw(nested_or_junk[key])
    body.update(command="push_status", msg=draw(msg_values))
    return {"print": body}


streams = st.lists(message(), min_size=1, max_size=12)


def _exact(fields: dict[str, Any]) -> str:
    """Field by field, types kept apart (1, 1.0 and True are == but must not be confused)."""
    return repr(sorted(fields.items()))


def from_scratch(state: PrinterState) -> dict[str, Any]:
    """Every section read afresh from the merged report, with which place was sent last."""
    ctx = ReadContext(model=state.model)
    ctx.sent = dict(state._ctx.sent)
    ctx.firmware, ctx.ams_kinds = state._ctx.firmware, dict(state._ctx.ams_kinds)
    fields: dict[str, Any] = {}
    report = copy.deepcopy(dict(state.report))
    for reader in SECTION_READERS.values():
        fields.update(reader(report, ctx))
    return Snapshot(**fields).to_dict()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.sampled_from(MODELS), messages=streams, every=st.integers(1, 3))
def test_incremental_snapshot_reads_as_a_snapshot_from_scratch(
    model: str | None, messages: list[dict[str, Any]], every: int
) -> None:
    state = PrinterState(model=model)
    for index, item in enumerate(messages):
        state.apply(item)
        if index % every == 0 or index == len(messages) - 1:
            assert _exact(state.snapshot().to_dict()) == _exact(from_scratch(state))


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(model=st.sampled_from(MODELS), messages=streams)
def test_fast_paths_give_what_the_walk_gives(
    monkeypatch: pytest.MonkeyPatch, model: str | None, messages: list[dict[str, Any]]
) -> None:
    from printers.bambu import report

    results = []
    for fast in (True, False):
        with monkeypatch.context() as patch:
            if not fast:
                patch.setattr(report, "_same", lambda cached, incoming: False)
                patch.setattr(report, "_same_scalar", lambda old, value: False)
                patch.setattr(report, "_merge_info_delta", lambda old, item: None)
            state = PrinterState(model=model)
            # Each message twice: the second is an exact copy, which the fast paths skip.
            updates = []
            for item in messages:
                updates.append(state.apply(copy.deepcopy(item)))
                updates.append(state.apply(copy.deepcopy(item)))
            results.append((repr(state.report), repr(updates), repr(state.snapshot().to_dict())))
    assert results[0] == results[1]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.sampled_from(MODELS), messages=streams)
def test_the_cache_never_aliases_a_message(model: str | None, messages: list[dict[str, Any]]):
    state = PrinterState(model=model)
    for item in messages:
        state.apply(item)
        before = repr(state.report)
        _scribble(item)
        assert repr(state.report) == before


def _scribble(value: Any) -> None:
    """Mutate every container of a message in place."""
    if type(value) is dict:
        for item in value.values():
            _scribble(item)
        value["scribbled"] = 1
    elif type(value) is list:
        for item in value:
            _scribble(item)
        value.append("scribbled")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.sampled_from(MODELS), messages=streams)
def test_a_field_read_alone_is_what_its_section_reads(
    model: str | None, messages: list[dict[str, Any]]
) -> None:
    """A delta of one of two places a field comes from re-reads that field alone (the common
    delta takes a shortcut); after any stream it must equal the field of its whole section."""
    state = PrinterState(model=model)
    for item in messages:
        state.apply(item)
        report = dict(state.report)
        sections: dict[str, Any] = {}
        for reader in SECTION_READERS.values():
            sections.update(reader(report, state._ctx))
        for name, read in CONTEXT_FIELD_READERS.values():
            assert _exact({name: read(report, state._ctx)}) == _exact({name: sections[name]})


# Extruder deltas as a dual-nozzle printer sends them: mostly temperatures of entries it already
# reported (the shortcut that keeps the extruder layout), now and then a new entry, a moved
# active extruder (state) or a new feed (snow).
extruder_entry = st.fixed_dictionaries(
    {"id": st.sampled_from([0, 1, "1"])},
    optional={"temp": packed, "snow": st.sampled_from([1, 0x0102, 0xFFFF, 0xFE00])},
)
extruder_temps = st.lists(
    st.fixed_dictionaries({"id": st.sampled_from([0, 1]), "temp": packed}), min_size=1, max_size=2
).map(lambda info: {"info": info})
extruder_other = st.fixed_dictionaries(
    {},
    optional={
        "info": st.lists(extruder_entry, max_size=2),
        "state": st.sampled_from([0x01, 0x02, 0x12, "18"]),
    },
)
extruder_deltas = st.lists(
    st.one_of(extruder_temps, extruder_temps, extruder_temps, extruder_other).map(
        lambda part: {"print": {"command": "push_status", "msg": 1, "device": {"extruder": part}}}
    ),
    min_size=1,
    max_size=16,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.sampled_from(["H2D", "X1C", None]), messages=extruder_deltas)
def test_extruder_deltas_read_as_from_scratch_after_every_message(
    model: str | None, messages: list[dict[str, Any]]
) -> None:
    """The decoded extruders keep their layout through temperature deltas and read it again
    when anything else changes: after every message the snapshot is what a fresh read gives."""
    state = PrinterState(model=model)
    for item in messages:
        state.apply(item)
        assert _exact(state.snapshot().to_dict()) == _exact(from_scratch(state))

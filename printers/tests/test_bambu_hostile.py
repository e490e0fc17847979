"""Hostile reports against the protocol library: junk in, None fields out, never an exception.

Random and malformed messages (hypothesis): real sample reports with any field replaced by a value
of any JSON type (huge numbers, NaN, odd unicode, deep nesting), random byte payloads, random
get_version module lists. Whatever arrives, ``decode_payload``, ``PrinterState.apply`` and
``snapshot()`` must not raise, and the snapshot must stay storable JSON with bounded numbers.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from printers.bambu.report import PrinterState, decode_payload
from printers.bambu.snapshot import MAX_NUMBER, as_float, as_int, color_hex
from printers.tests.fixtures_link import SAMPLES, load_sample_messages

SAMPLE_FILES = sorted(
    p
    for p in SAMPLES.iterdir()
    if p.suffix in {".json", ".jsonl", ".jsonc"} and "reply" not in p.name
)
MESSAGES = [message for path in SAMPLE_FILES for message in load_sample_messages(path)]
MODELS = [None, "X1C", "X1", "P1P", "P1S", "A1", "A1 mini", "H2D", "P2S", "nonsense"]

ODD_TEXT = st.sampled_from(
    ["", " ", "²", "١٢٣", "0x1F", "1_000", "+5", "-1", "1e400", "NaN", "\x00", "\ud800", "ams/²"]
)
HUGE_INTS = st.sampled_from([2**53, -(2**63), 2**64, 10**100, int("9" * 401), -int("9" * 4000)])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HUGE_INTS,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    ODD_TEXT,
)
JUNK = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=6), ODD_TEXT, st.just("id")), inner, max_size=4),
    ),
    max_leaves=12,
)


def _deep(depth: int) -> Any:
    """One chain of ``depth`` nested dicts and lists (a chain: shared branches would explode)."""
    value: Any = {"layer_num": 1}
    for level in range(depth):
        value = [value] if level % 2 else {"ams": value, "id": "0"}
    return value


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path inside a message (the fields a mutation may replace)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replace(message: Any, path: tuple[Any, ...], junk: Any) -> None:
    target = message
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = junk


@st.composite
def mutated_reports(draw: st.DrawFn) -> dict[str, Any]:
    """A real sample message with up to eight of its fields (at any depth) replaced by junk."""
    message = copy.deepcopy(draw(st.sampled_from(MESSAGES)))
    paths = _paths(message)
    for _ in range(draw(st.integers(1, 8))):
        path = draw(st.sampled_from(paths))
        try:
            _replace(message, path, draw(JUNK | st.sampled_from([_deep(40), _deep(300)])))
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation replaced a parent of this path
    return message


@st.composite
def random_messages(draw: st.DrawFn) -> Any:
    body = draw(st.dictionaries(st.sampled_from(sorted(_known_keys())), JUNK, max_size=8))
    shape = draw(st.integers(0, 3))
    if shape == 0:
        return {"print": {"command": "push_status", "msg": draw(JUNK), **body}}
    if shape == 1:
        modules = draw(
            st.lists(st.dictionaries(st.sampled_from(["name", "sw_ver"]), JUNK), max_size=3)
        )
        names = draw(
            st.lists(st.sampled_from(["ams/²", "ams/0", "n3s/128", "ota", "ams_f1/x"]), max_size=4)
        )
        modules += [{"name": name, "sw_ver": "01.00"} for name in names]
        return {"info": {"command": "get_version", "module": modules, "result": draw(JUNK)}}
    if shape == 2:
        return {draw(st.sampled_from(["print", "system", "info"])): body}
    return draw(JUNK)


def _known_keys() -> set[str]:
    keys: set[str] = set()
    for message in MESSAGES:
        body = message.get("print")
        if isinstance(body, dict):
            keys |= set(body)
    return keys


def _check_snapshot(state: PrinterState) -> None:
    data = state.snapshot().to_dict()
    text = json.dumps(data, allow_nan=False)  # storable in a JSONField on either database
    for number in _numbers(json.loads(text)):
        assert -MAX_NUMBER <= number <= MAX_NUMBER


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    return []


# Bounded so the suite stays fast; each run draws new examples, so coverage grows over runs.
HOSTILE = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@HOSTILE
@given(model=st.sampled_from(MODELS), messages=st.lists(mutated_reports(), max_size=6))
def test_mutated_sample_reports_never_raise_and_snapshot_stays_json(model, messages):
    state = PrinterState(model=model)
    for message in MESSAGES[:1] + messages:
        state.apply(message)
        _check_snapshot(state)


@HOSTILE
@given(model=st.sampled_from(MODELS), messages=st.lists(random_messages(), max_size=6))
def test_random_messages_never_raise(model, messages):
    state = PrinterState(model=model)
    for message in messages:
        state.apply(message)
    _check_snapshot(state)


@HOSTILE
@given(payload=st.binary(max_size=300) | mutated_reports().map(lambda m: json.dumps(m).encode()))
def test_any_payload_decodes_to_an_object_or_none(payload):
    for raw in (payload, payload[: len(payload) // 2], b"\xff" + payload):
        message = decode_payload(raw)
        assert message is None or type(message) is dict
        PrinterState().apply(message)


def test_deep_nesting_is_dropped_not_recursed_into():
    for depth in (100, 1000, 5000):
        raw = '{"print": {"command": "push_status", "x": ' + "[" * depth + "]" * depth + "}}"
        state = PrinterState()
        state.apply(decode_payload(raw.encode()))
        state.apply(_wrapped(_deep(depth // 4)))
        _check_snapshot(state)
    assert decode_payload(b"[" * 5000 + b"]" * 5000) is None


def _wrapped(body: Any) -> dict[str, Any]:
    return {"print": {"command": "push_status", "msg": 1, "3D": body, "ams": body}}


# ---- regressions (issue 6) --------------------------------------------------------------------


def test_a_get_version_module_named_with_a_non_ascii_digit_is_ignored():
    state = PrinterState(model="X1C")
    update = state.apply(
        {"info": {"command": "get_version", "module": [{"name": "ams/²"}, {"name": "n3f/1"}]}}
    )
    assert update.kind == "version"
    assert state.snapshot().firmware is None


def test_a_401_digit_bed_temperature_reads_as_unknown():
    state = PrinterState(model="X1C")
    huge = b"9" * 401
    state.apply(decode_payload(b'{"print":{"command":"push_status","msg":1,"bed_temper":' + huge))
    state.apply(
        decode_payload(b'{"print":{"command":"push_status","msg":1,"bed_temper":' + huge + b"}}")
    )
    assert state.snapshot().bed_temp is None
    assert as_float(int("9" * 401)) is None and as_int(int("9" * 401)) is None
    assert as_int("9" * 5000) is None and as_int("1e400") is None and as_float("-inf") is None


def test_colours_are_exactly_six_or_eight_ascii_hex_digits():
    for junk in ("0x1234FF", "1_2345FF", " 12345FF", "+12345FF", "١٢٣٤٥٦FF", "12345FF\n", "12345"):
        assert color_hex(junk) is None, junk
    assert color_hex("a1b2c3") == "#A1B2C3"
    assert color_hex("A1B2C3FF") == "#A1B2C3"

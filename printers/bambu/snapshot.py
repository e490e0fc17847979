"""The typed, JSON-ready view of one printer's state, read from the merged report cache.

A :class:`Snapshot` is immutable. :class:`printers.bambu.report.PrinterState` builds it section by
section: each ``read_<section>`` function below reads a few top-level keys of the cached ``print``
object and returns that section's fields, so a delta that touched only ``bed_temper`` recomputes
only the temperatures. ``SECTION_FIELDS`` is the contract between the two modules.

Every reader treats every field as optional and every number as possibly a string or junk: a
wrong type gives None for that field, never an exception.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from printers.bambu.errors import HmsEntry, PrintError, decode_hms_list, decode_print_error

STATES = (
    "idle",
    "prepare",
    "running",
    "pause",
    "finish",
    "failed",
    "slicing",
    "offline",
    "unknown",
)

# INIT is reported while the printer sets a job up, before PREPARE: it is busy (a new project_file
# would be refused with "device busy"), so for J3D it is a preparing printer, not an idle one.
_GCODE_STATES = {
    "IDLE": "idle",
    "INIT": "prepare",
    "PREPARE": "prepare",
    "RUNNING": "running",
    "PAUSE": "pause",
    "FINISH": "finish",
    "FAILED": "failed",
    "SLICING": "slicing",
}

# Models with a real chamber sensor; the P1 and A1 series report a constant 5 °C instead.
CHAMBER_SENSOR_MODELS = frozenset({"X1", "X1C", "X1E", "H2D", "H2S"})
NO_CHAMBER_SENSOR_MODELS = frozenset({"P1S", "P1P", "A1", "A1 mini"})
AMS_LITE_MODELS = frozenset({"A1", "A1 mini"})
DUAL_NOZZLE_MODELS = frozenset({"H2D"})
KNOWN_MODELS = CHAMBER_SENSOR_MODELS | NO_CHAMBER_SENSOR_MODELS | {"P2S"}

EXTERNAL_SLOT = 254
SECOND_EXTERNAL_SLOT = 255
HOME_FLAG_CALIBRATE_REMAIN = 0x80
FUN_SIGNATURE_REQUIRED = 0x20000000

_EMPTY: dict[str, Any] = {}
# Numbers past this are junk, not readings; it is also the largest integer JSON readers keep exact.
MAX_NUMBER = 2**53 - 1
# Exactly 6 or 8 ASCII hex digits: int(x, 16) would also take "0x..", "1_2", " 1", "+1" and
# non-ASCII digits, which then fail the model's colour validator (or colour naming) downstream.
_HEX_COLOUR = re.compile(r"[0-9A-Fa-f]{6}(?:[0-9A-Fa-f]{2})?")


# ---- small tolerant readers -------------------------------------------------------------------


def as_float(value: Any) -> float | None:
    """A float within ±MAX_NUMBER from an int, float or numeric string; None otherwise."""
    kind = type(value)
    if kind is float:
        number = value
    elif kind is int:
        return float(value) if -MAX_NUMBER <= value <= MAX_NUMBER else None
    elif kind is str:
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    # NaN fails both comparisons, infinities the bound.
    return number if -MAX_NUMBER <= number <= MAX_NUMBER else None


def as_int(value: Any) -> int | None:
    """An int within ±MAX_NUMBER from an int, a float or a numeric string (truncated); None
    otherwise (bools excluded)."""
    kind = type(value)
    if kind is int:
        return value if -MAX_NUMBER <= value <= MAX_NUMBER else None
    if kind is str:
        try:
            number = int(value)
        except ValueError:  # "21.5", or past the int() digit limit
            number = as_float(value)
            return None if number is None else int(number)
        return number if -MAX_NUMBER <= number <= MAX_NUMBER else None
    if kind is float:
        return int(value) if -MAX_NUMBER <= value <= MAX_NUMBER else None
    return None


def as_text(value: Any) -> str | None:
    """A non-empty string, else None."""
    return value if type(value) is str and value else None


def as_dict(value: Any) -> dict[str, Any]:
    return value if type(value) is dict else _EMPTY


def as_list(value: Any) -> list[Any]:
    return value if type(value) is list else []


def unpack_temp(value: Any) -> tuple[float | None, float | None]:
    """H2D-style packed temperature: low 16 bits current, high 16 bits target."""
    if type(value) is int and 0 <= value <= MAX_NUMBER:  # the common case, without as_int
        return float(value & 0xFFFF), float((value >> 16) & 0xFFFF)
    number = as_int(value)
    if number is None or number < 0:
        return None, None
    return float(number & 0xFFFF), float((number >> 16) & 0xFFFF)


def color_hex(value: Any) -> str | None:
    """``RRGGBBAA`` → ``#RRGGBB``; None when unset (``00000000``, empty) or not exactly 6 or 8
    ASCII hex digits."""
    if type(value) is not str or value == "00000000" or not _HEX_COLOUR.fullmatch(value):
        return None
    return "#" + value[:6].upper()


def global_slot(unit_id: int | None, tray_id: int | None) -> int | None:
    """J3D slot number: unit*4+tray for units 0–3, the unit id itself for AMS HT (128–135)."""
    if unit_id is None or tray_id is None:
        return None
    if 0 <= unit_id <= 3 and 0 <= tray_id <= 3:
        return unit_id * 4 + tray_id
    if 128 <= unit_id <= 135:
        return unit_id
    return None


def slot_from_tray_now(value: Any) -> int | None:
    """Decode ``ams.tray_now``: 255 (or junk) → None; 0–15, 128–135 and 254 are slots as-is."""
    number = as_int(value)
    if number is None or number == 255 or number < 0:
        return None
    if number <= 15 or 128 <= number <= 135 or number == EXTERNAL_SLOT:
        return number
    return None


def slot_from_snow(value: Any) -> int | None:
    """Decode an H2D extruder ``snow``: ``ams << 8 | tray``; 0xFFFF (or junk) → None."""
    number = as_int(value)
    if number is None or number < 0 or number >= 0xFFFF:
        return None
    unit, tray = number >> 8, number & 0xFF
    if unit in (EXTERNAL_SLOT, SECOND_EXTERNAL_SLOT):
        return unit
    return global_slot(unit, tray & 0x3)


# ---- value objects -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TempPair:
    """A current/target temperature pair in °C (target 0 means heater off)."""

    current: float | None
    target: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"current": self.current, "target": self.target}


@dataclass(frozen=True, slots=True)
class Light:
    """One ``lights_report`` entry: node (chamber_light, work_light...), mode (on|off|flashing)."""

    node: str
    mode: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "mode": self.mode}


@dataclass(frozen=True, slots=True)
class Tray:
    """One filament position: an AMS tray or an external spool.

    slot: J3D global slot (unit*4+tray; AMS HT: the unit id 128–135; external: 254/255), or None
    for a unit id outside those ranges. unit/tray: the printer's unit id and tray id (external
    spools: unit = slot, tray = 0). empty: no filament known in the slot. type: material
    ("PLA"...). sub_brand: product line ("PLA Basic"). color: "#RRGGBB" or None when unset.
    colors: every colour of a multi-colour spool ("#RRGGBB"). remaining_pct: 0–100, None when the
    printer does not know (−1, or 0 without the AMS remaining estimate on a Bambu RFID spool).
    weight_grams: nominal spool weight, None when unknown. tray_info_idx: filament preset id
    ("GFA00", user presets "P…"). temp_min/temp_max: nozzle temperature range °C. tag_uid: RFID
    UID, None without a tag. state: raw tray ``state`` bitfield (newer firmware) or None.
    """

    slot: int | None
    unit: int | None
    tray: int | None
    empty: bool
    type: str | None
    sub_brand: str | None
    color: str | None
    colors: tuple[str, ...]
    remaining_pct: int | None
    weight_grams: int | None
    tray_info_idx: str | None
    temp_min: int | None
    temp_max: int | None
    tag_uid: str | None
    state: int | None

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["colors"] = list(self.colors)
        return data


@dataclass(frozen=True, slots=True)
class AmsUnit:
    """One AMS unit.

    id: unit id (0–3; AMS HT 128–135). kind: ams|ams_lite|ams_2_pro|ams_ht, None when not
    derivable. humidity: the printer's humidity index (1–5, 5 driest). humidity_pct: relative
    humidity % (``humidity_raw``, newer firmware) or None. temperature: °C or None (no sensor).
    trays: the unit's trays ordered by tray id.
    """

    id: int
    kind: str | None
    humidity: int | None
    humidity_pct: int | None
    temperature: float | None
    trays: tuple[Tray, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "humidity": self.humidity,
            "humidity_pct": self.humidity_pct,
            "temperature": self.temperature,
            "trays": [tray.to_dict() for tray in self.trays],
        }


class Snapshot(NamedTuple):
    """What J3D knows about one printer at one moment. Stored as JSON and served by the API.

    An immutable named tuple: PrinterState keeps the fields in a list, rewrites the few a message
    changed and freezes the list in one C-level copy, which costs a fraction of building an object
    field by field. The fields each section reader returns sit together, in the reader's order
    (PrinterState writes a section as one slice).

    Fields (all optional: None means the printer has not said, or said something unreadable):

    - state: idle|prepare|running|pause|finish|failed|slicing|offline|unknown. From
      ``gcode_state``; "offline" is only ever set by the link layer (:meth:`offline`).
    - gcode_state: the raw ``gcode_state`` string.
    - job_name (``subtask_name``), gcode_file, task_id, subtask_id, print_type (cloud|local|...).
    - progress_pct (``mc_percent``, 0–100), remaining_minutes (``mc_remaining_time``), layer and
      total_layers (flat or ``"3D"`` nested, whichever the printer sent last), stage (raw
      ``stg_cur``; 255 and −1 mean no special stage).
    - nozzle_temp/nozzle_target (the active nozzle), bed_temp/bed_target, chamber_temp (only on
      models with a real sensor), extruder_temps (one TempPair per extruder, dual-nozzle H2D; empty
      otherwise). °C. Flat fields or the packed ``device`` temperatures, whichever the printer
      sent last.
    - speed_level (``spd_lvl`` 1 silent, 2 standard, 3 sport, 4 ludicrous), speed_pct (``spd_mag``).
    - print_error: PrintError or None when 0. hms: decoded HMS entries.
    - wifi_dbm: signal in dBm. nozzle_diameter (mm), nozzle_type.
    - active_tray: J3D slot feeding the (active) nozzle, None when none.
    - part_fan_pct, aux_fan_pct, chamber_fan_pct, heatbreak_fan_pct: 0–100.
    - lights: Light entries. developer_mode: False when the printer requires signed commands
      (``fun`` bit 0x20000000), True when it does not, None when it does not say.
    - ams: AmsUnit entries by id. external: external spool trays (slot 254, and 255 on H2D).
    - model: the J3D model name the state was created with. firmware: ``ota`` module version from
      ``get_version``.
    """

    state: str = "unknown"
    gcode_state: str | None = None
    job_name: str | None = None
    gcode_file: str | None = None
    task_id: str | None = None
    subtask_id: str | None = None
    print_type: str | None = None
    progress_pct: int | None = None
    remaining_minutes: int | None = None
    layer: int | None = None
    total_layers: int | None = None
    stage: int | None = None
    nozzle_temp: float | None = None
    nozzle_target: float | None = None
    extruder_temps: tuple[TempPair, ...] = ()
    bed_temp: float | None = None
    bed_target: float | None = None
    chamber_temp: float | None = None
    speed_level: int | None = None
    speed_pct: int | None = None
    print_error: PrintError | None = None
    hms: tuple[HmsEntry, ...] = ()
    wifi_dbm: int | None = None
    nozzle_diameter: float | None = None
    nozzle_type: str | None = None
    active_tray: int | None = None
    part_fan_pct: int | None = None
    aux_fan_pct: int | None = None
    chamber_fan_pct: int | None = None
    heatbreak_fan_pct: int | None = None
    lights: tuple[Light, ...] = ()
    developer_mode: bool | None = None
    ams: tuple[AmsUnit, ...] = ()
    external: tuple[Tray, ...] = ()
    model: str | None = None
    firmware: str | None = None

    def offline(self) -> Snapshot:
        """The same snapshot with state "offline" (the link layer's call: reports carry no such
        state, silence does)."""
        return self._replace(state="offline")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with stable keys (the field names above)."""
        data = self._asdict()
        data["extruder_temps"] = [pair.to_dict() for pair in self.extruder_temps]
        data["print_error"] = self.print_error.to_dict() if self.print_error else None
        data["hms"] = [entry.to_dict() for entry in self.hms]
        data["lights"] = [light.to_dict() for light in self.lights]
        data["ams"] = [unit.to_dict() for unit in self.ams]
        data["external"] = [tray.to_dict() for tray in self.external]
        return data


def offline_snapshot(snapshot: Snapshot | None) -> Snapshot:
    """The snapshot to store when the link has lost a printer (no snapshot yet → a blank one)."""
    return (snapshot or Snapshot()).offline()


# ---- section readers ---------------------------------------------------------------------------


@dataclass(slots=True)
class ReadContext:
    """What the readers need beyond the report: the model and what get_version said.

    chamber_sensor: True/False for models known to have / lack a real chamber sensor; None for an
    unknown model, which is trusted only when it reports ``device.ctc``.
    """

    model: str | None = None
    firmware: str | None = None
    ams_kinds: dict[int, str] = field(default_factory=dict)
    chamber_sensor: bool | None = field(init=False, default=None)
    # Decoded trays and HMS lists by content (see _memoized); not part of the context's value.
    memo: dict[Any, Any] = field(init=False, default_factory=dict, repr=False, compare=False)
    # Which message (a counter) last carried each source of a quantity a report holds in two
    # places ("bed_temper" and "device.bed", "layer_num" and "3D.layer_num"...): see newest().
    sent: dict[str, int] = field(init=False, default_factory=dict, repr=False, compare=False)
    # Bumped whenever device.extruder changes, so its decoded temperatures are reused until then;
    # the layout version, whenever it changes in more than its temperatures (see _extruders).
    extruder_version: int = field(init=False, default=0, repr=False, compare=False)
    extruder_cache: tuple[int, tuple[tuple[Any, ...], Any, Any]] | None = field(
        init=False, default=None, repr=False, compare=False
    )
    extruder_layout_version: int = field(init=False, default=0, repr=False, compare=False)
    extruder_layout: tuple[int, list[dict[str, Any]], int, Any] | None = field(
        init=False, default=None, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.model in CHAMBER_SENSOR_MODELS:
            self.chamber_sensor = True
        elif self.model in NO_CHAMBER_SENSOR_MODELS:
            self.chamber_sensor = False


_MEMO_SIZE = 64
# Type-exact serialisation: subclasses, dataclasses and datetimes raise instead of passing for the
# builtin they resemble.
_EXACT = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS
_EXACT |= orjson.OPT_PASSTHROUGH_DATETIME


def _memoized(
    ctx: ReadContext, raw: Any, extra: tuple[Any, ...], compute: Callable[[], Any]
) -> Any:
    """``compute()``, reused while ``raw`` (and ``extra``) has not changed.

    A full report re-marks the AMS and HMS sections changed while most trays are the same as
    before; decoding a tray costs several times what recognising it does. The key is a
    type-exact serialisation; a hit is also checked with ``==`` against the copy stored with it,
    because a tuple serialises like a list (and NaN like None) yet reads differently.
    """
    try:
        key = (orjson.dumps(raw, option=_EXACT), extra)
    except TypeError:
        return compute()  # not plain JSON data (an integer past 64 bits...): no reuse
    memo = ctx.memo
    hit = memo.get(key)
    if hit is not None and hit[0] == raw:
        return hit[1]
    value = compute()
    if len(memo) >= _MEMO_SIZE:
        memo.clear()  # bounded: a printer cycles through a handful of tray and HMS states
    memo[key] = (orjson.loads(key[0]), value)
    return value


def read_state(p: dict[str, Any], ctx: ReadContext) -> dict[str, Any]:
    raw = p.get("gcode_state")
    if type(raw) is not str:
        return {"state": "unknown", "gcode_state": None}
    return {"state": _GCODE_STATES.get(raw.upper(), "unknown"), "gcode_state": raw}


def _id_text(value: Any) -> str | None:
    if type(value) is int:
        return str(value)
    return as_text(value)


def newest(ctx: ReadContext, flat_key: str, flat: Any, nested_key: str, nested: Any) -> Any:
    """The value of the source the printer sent most recently (the nested one on a tie, and
    whichever is readable when the other is None), so a firmware that updates only one of the two
    places a quantity lives in is never shown stale."""
    if nested is None:
        return flat
    if flat is None:
        return nested
    sent = ctx.sent
    return flat if sent.get(flat_key, -1) > sent.get(nested_key, -1) else nested


def read_progress(p: dict[str, Any], ctx: ReadContext) -> dict[str, Any]:
    return {
        "progress_pct": _percent(p.get("mc_percent")),
        "remaining_minutes": _minutes(p.get("mc_remaining_time")),
        **read_layers(p, ctx),
        "stage": as_int(p.get("stg_cur")),
    }


def read_layers(p: dict[str, Any], ctx: ReadContext) -> dict[str, Any]:
    """``layer``/``total_layers``: flat or ``3D`` nested, whichever the printer sent last (the
    part of the progress section that a ``3D`` delta changes)."""
    return {"layer": read_layer(p, ctx), "total_layers": read_total_layers(p, ctx)}


def read_layer(p: dict[str, Any], ctx: ReadContext) -> int | None:
    """``layer`` alone: flat ``layer_num`` or ``3D.layer_num``, whichever was sent last."""
    return _newest_layer(p, ctx, "layer_num", "3D.layer_num")


def read_total_layers(p: dict[str, Any], ctx: ReadContext) -> int | None:
    """``total_layers`` alone: flat ``total_layer_num`` or ``3D.total_layer_num``."""
    return _newest_layer(p, ctx, "total_layer_num", "3D.total_layer_num")


def _newest_layer(p: dict[str, Any], ctx: ReadContext, flat_key: str, nested_key: str) -> Any:
    flat = p.get(flat_key)
    if type(flat) is not int or not -MAX_NUMBER <= flat <= MAX_NUMBER:
        flat = as_int(flat)
    nested = p.get("3D")
    if type(nested) is dict:
        packed = nested.get(flat_key)  # the nested key has the flat key's name
        if type(packed) is not int or not -MAX_NUMBER <= packed <= MAX_NUMBER:
            packed = as_int(packed)
        if packed is not None and (
            flat is None or ctx.sent.get(flat_key, -1) <= ctx.sent.get(nested_key, -1)
        ):
            return packed
    return flat


def _percent(value: Any) -> int | None:
    if type(value) is int and 0 <= value <= 100:  # the common case, without as_int
        return value
    percent = as_int(value)
    return percent if percent is not None and 0 <= percent <= 100 else None


def _minutes(value: Any) -> int | None:
    if type(value) is int and 0 <= value <= MAX_NUMBER:  # the common case, without as_int
        return value
    minutes = as_int(value)
    return minutes if minutes is not None and minutes >= 0 else None


def _packed_temps(part: Any) -> TempPair:
    """``{"info": {"temp": packed}}`` → its (shared) TempPair; (None, None) when unreadable."""
    info = part.get("info") if type(part) is dict else None
    return _temp_pair(info.get("temp") if type(info) is dict else None)


def _reading(value: Any) -> float | None:
    """A temperature reading: :func:`as_float` with the common case (a float) inline."""
    if type(value) is float and -MAX_NUMBER <= value <= MAX_NUMBER:
        return value
    return as_float(value)


def read_bed_temps(p: dict[str, Any], ctx: ReadContext) -> dict[str, Any]:
    """Flat ``bed_temper``/``bed_target_temper``, or the packed ``device.bed`` (newest wins)."""
    packed = _device_bed(p)
    sent = ctx.sent
    at = sent.get("device.bed", -1)
    return {
        "bed_temp": _newest_reading(p, sent, "bed_temper", packed.current, at),
        "bed_target": _newest_reading(p, sent, "bed_target_temper", packed.target, at),
    }


def _newest_reading(
    p: dict[str, Any], sent: dict[str, int], flat_key: str, packed: float | None, packed_at: int
) -> float | None:
    """:func:`newest` of a flat temperature and its packed rival (sent at ``packed_at``),
    reading the flat one only when it can win."""
    if packed is None or sent.get(flat_key, -1) > packed_at:
        flat = _reading(p.get(flat_key))
        if flat is not None:
            return flat
    return packed


def _one_temperature(
    flat_key: str, source: str, packed: Callable[[dict[str, Any], ReadContext], Any]
) -> Callable[[dict[str, Any], ReadContext], float | None]:
    """A reader of one temperature sent both flat (``flat_key``) and packed in ``device``
    (``source``, read by ``packed``): whichever the printer sent last (see newest())."""

    def read(p: dict[str, Any], ctx: ReadContext) -> float | None:
        flat = p.get(flat_key)
        if type(flat) is not float or not -MAX_NUMBER <= flat <= MAX_NUMBER:
            flat = as_float(flat)
        sent = ctx.sent
        if flat is not None and sent.get(flat_key, -1) > sent.get(source, -1):
            return flat  # the flat reading is the newer one (the common delta): no packed lookup
        return newest(ctx, flat_key, flat, source, packed(p, ctx))

    return read


read_bed_temp = _one_temperature("bed_temper", "device.bed", lambda p, ctx: _device_bed(p).current)
read_bed_target = _one_temperature(
    "bed_target_temper", "device.bed", lambda p, ctx: _device_bed(p).target
)


def _device_bed(p: dict[str, Any]) -> TempPair:
    device = p.get("device")
    if type(device) is dict and "bed" in device:
        return _packed_temps(device["bed"])
    return _NO_TEMPS


def read_chamber_temp(p: dict[str, Any], ctx: ReadContext) -> dict[str, Any]:
    """Flat ``chamber_temper`` or the packed ``device.ctc``, only where the sensor is real."""
    sensor = ctx.chamber_sensor
    device = p.get("device")
    packed_part = type(device) is dict and "ctc" in device
    if sensor is None:
        sensor = packed_part  # an unknown model is trusted only when it reports device.ctc
    if not sensor:
        return {"chamber_temp": None}
    current = p.get("chamber_temper")
    if type(current) is not float or not -MAX_NUMBER <= current <= MAX_NUMBER:
        current = as_float(current)
    if packed_part and (
        current is None or ctx.sent.get("chamber_temper", -1) <= ctx.sent.get("device.ctc", -1)
    ):  # the packed reading counts (when readable): no lookup after a flat delta
        packed = _packed_temps(device["ctc"]).current
        if packed is not None:
            current = packed
    return {"chamber_temp": current}


def read_nozzle_temps(p: dict[str, Any], ctx: ReadContext) -> dict[str, Any]:
    """The active nozzle: flat ``nozzle_temper``/``nozzle_target_temper`` or the active extruder's
    packed temperature (newest wins); every extruder's pair on dual-nozzle printers."""
    device = p.get("device")
    if type(device) is not dict or "extruder" not in device:
        current = _reading(p.get("nozzle_temper"))
        return {
            "nozzle_temp": current,
            "nozzle_target": _reading(p.get("nozzle_target_temper")),
            "extruder_temps": (),
        }
    extruders, _, pair = _extruders(device, ctx)
    current = target = None
    if pair is not None:
        current, target = pair.current, pair.target
    sent = ctx.sent
    at = sent.get("device.extruder", -1)
    return {
        "nozzle_temp": _newest_reading(p, sent, "nozzle_temper", current, at),
        "nozzle_target": _newest_reading(p, sent, "nozzle_target_temper", target, at),
        "extruder_temps": extruders if len(extruders) > 1 else (),
    }


def _active_current(p: dict[str, Any], ctx: ReadContext) -> float | None:
    pair = _active_extruder_pair(p, ctx)
    return pair and pair.current


def _active_target(p: dict[str, Any], ctx: ReadContext) -> float | None:
    pair = _active_extruder_pair(p, ctx)
    return pair and pair.target


read_nozzle_temp = _one_temperature("nozzle_temper", "device.extruder", _active_current)
read_nozzle_target = _one_temperature("nozzle_target_temper", "device.extruder", _active_target)


def _active_extruder_pair(p: dict[str, Any], ctx: ReadContext) -> TempPair | None:
    """The active extruder's packed pair when its current temperature is readable, else None."""
    device = p.get("device")
    if type(device) is not dict or "extruder" not in device:
        return None
    return _extruders(device, ctx)[2]


_NO_SNOW = object()


def _extruders(device: dict[str, Any], ctx: ReadContext) -> tuple[Any, Any, Any]:
    """Decoded extruder temperatures, the active extruder's ``snow`` when there are several
    extruders (else _NO_SNOW), and the active extruder's pair when its current temperature is
    readable (else None). Reused until device.extruder changes; its layout (which entries, which
    one is active) until more than its temperatures change, which the H2D's per-second
    temperature deltas never do."""
    cache = ctx.extruder_cache
    if cache is not None and cache[0] == ctx.extruder_version:
        return cache[1]
    layout = ctx.extruder_layout
    if layout is None or layout[0] != ctx.extruder_layout_version:
        layout = ctx.extruder_layout = (ctx.extruder_layout_version, *_extruder_layout(device))
    _, entries, index, snow = layout
    extruders = tuple([_temp_pair(entry.get("temp")) for entry in entries])
    pair = None
    if entries and extruders[index].current is not None:
        pair = extruders[index]
    result = (extruders, snow, pair)
    ctx.extruder_cache = (ctx.extruder_version, result)
    return result


def _extruder_layout(device: dict[str, Any]) -> tuple[list[dict[str, Any]], int, Any]:
    """The extruder entries in id order (the cached report's own dicts, whose temperatures merge
    in place), the active one's index, and its ``snow`` when there are several (else _NO_SNOW)."""
    extruder = device.get("extruder")
    if type(extruder) is not dict:
        extruder = _EMPTY
    entries = _extruder_entries(extruder)
    if not entries:
        return entries, 0, _NO_SNOW
    active = _active_extruder(extruder)
    index = active if active < len(entries) else len(entries) - 1
    snow = entries[index].get("snow", _NO_SNOW) if len(entries) > 1 else _NO_SNOW
    return entries, index, snow


_NO_TEMPS = TempPair(None, None)
# Decoded packed temperatures by packed value: a frozen TempPair costs several dict lookups to
# build, and a printer reports a few hundred distinct values at most.
_TEMP_PAIRS: dict[int, TempPair] = {}


def _temp_pair(value: Any) -> TempPair:
    """``TempPair(*unpack_temp(value))``, shared for the same packed integer (immutable)."""
    if type(value) is not int:
        return TempPair(*unpack_temp(value))
    pair = _TEMP_PAIRS.get(value)
    if pair is None:
        if len(_TEMP_PAIRS) >= 4096:
            _TEMP_PAIRS.clear()  # bounded: a hostile printer could send endless values
        pair = _TEMP_PAIRS[value] = TempPair(*unpack_temp(value))
    return pair


def _extruder_entries(extruder: dict[str, Any]) -> list[dict[str, Any]]:
    info = extruder.get("info")
    if type(info) is not list:
        return []
    entries = [entry for entry in info if type(entry) is dict]
    # Firmware lists them by id already (0, 1): sort only when that is not plainly so.
    for index, entry in enumerate(entries):
        ident = entry.get("id")
        if type(ident) is not int or ident != index:
            entries.sort(key=_entry_order)
            break
    return entries


def _entry_order(entry: dict[str, Any]) -> int:
    return as_int(entry.get("id")) or 0


def _active_extruder(extruder: dict[str, Any]) -> int:
    """``device.extruder.state``: low 4 bits extruder count, next 4 bits the active extruder."""
    state = as_int(extruder.get("state"))
    return 0 if state is None or state < 0 else (state >> 4) & 0xF


def read_hms(p: dict[str, Any], ctx: ReadContext) -> dict[str, Any]:
    raw = p.get("hms")
    if not raw:
        return {"hms": ()}
    return {"hms": _memoized(ctx, raw, ("hms",), lambda: decode_hms_list(raw))}


def _wifi_dbm(value: Any) -> int | None:
    if type(value) is str:
        dbm = _WIFI_DBM.get(value, _UNSEEN)
        if dbm is _UNSEEN:
            if len(_WIFI_DBM) >= 256:
                _WIFI_DBM.clear()  # bounded: a hostile printer could send endless strings
            dbm = _WIFI_DBM[value] = as_int(value.removesuffix("dBm").strip())
        return dbm
    return as_int(value)


# Decoded ``wifi_signal`` strings ("-44dBm"): a printer reports a few dozen distinct ones.
_WIFI_DBM: dict[str, int | None] = {}
_UNSEEN = object()


def read_nozzle(p: dict[str, Any], ctx: ReadContext) -> dict[str, Any]:
    """Flat ``nozzle_diameter``/``nozzle_type`` or the first ``device.nozzle.info`` entry (newest
    wins)."""
    diameter = as_float(p.get("nozzle_diameter"))
    kind = as_text(p.get("nozzle_type"))
    nozzles = as_list(as_dict(as_dict(p.get("device")).get("nozzle")).get("info"))
    if nozzles and type(nozzles[0]) is dict:
        first = nozzles[0]
        packed = as_float(first.get("diameter"))
        diameter = newest(ctx, "nozzle_diameter", diameter, "device.nozzle", packed)
        kind = newest(ctx, "nozzle_type", kind, "device.nozzle", as_text(first.get("type")))
    return {"nozzle_diameter": diameter, "nozzle_type": kind}


def _fan_pct(value: Any) -> int | None:
    """Fan speeds are raw 0–15 strings; 15 is full speed."""
    if type(value) is str:
        pct = _FAN_PCTS.get(value)
        if pct is not None:  # the common case: "0" to "15" as firmware sends them
            return pct
    raw = as_int(value)
    if raw is None or not 0 <= raw <= 15:
        return None
    return round(raw * 100 / 15)


_FAN_PCTS = {str(raw): round(raw * 100 / 15) for raw in range(16)}


def read_lights(p: dict[str, Any], ctx: ReadContext) -> dict[str, Any]:
    lights = tuple(
        Light(node=entry["node"], mode=as_text(entry.get("mode")))
        for entry in as_list(p.get("lights_report"))
        if type(entry) is dict and as_text(entry.get("node"))
    )
    return {"lights": lights}


def _developer_mode(fun: Any) -> bool | None:
    """``fun`` bit 0x20000000 set: the printer requires signed commands (no Developer Mode)."""
    try:
        bits = int(fun, 16) if type(fun) is str else None
    except ValueError:
        bits = None
    return None if bits is None else not bits & FUN_SIGNATURE_REQUIRED


def read_active_tray(p: dict[str, Any], ctx: ReadContext) -> dict[str, Any]:
    """Dual-nozzle printers: the active extruder's ``snow``; others: ``ams.tray_now``.

    Single-nozzle X1C firmware also reports ``device.extruder`` (with ``snow`` 65535 even while
    ``tray_now`` names a tray), so ``snow`` is only trusted where ``tray_now`` cannot say which
    nozzle it means.
    """
    device = p.get("device")
    if type(device) is dict and "extruder" in device:
        snow = _extruders(device, ctx)[1]
        if snow is not _NO_SNOW:
            return {"active_tray": slot_from_snow(snow)}
    return {"active_tray": slot_from_tray_now(as_dict(p.get("ams")).get("tray_now"))}


def read_version(p: dict[str, Any], ctx: ReadContext) -> dict[str, Any]:
    return {"model": ctx.model, "firmware": ctx.firmware}


def read_ams(p: dict[str, Any], ctx: ReadContext) -> dict[str, Any]:
    calibrated = bool((as_int(p.get("home_flag")) or 0) & HOME_FLAG_CALIBRATE_REMAIN)
    units = []
    for raw_unit in as_list(as_dict(p.get("ams")).get("ams")):
        unit = _read_unit(raw_unit, ctx, calibrated) if type(raw_unit) is dict else None
        if unit is not None:
            units.append(unit)
    units.sort(key=lambda unit: unit.id)
    return {"ams": tuple(units), "external": _read_external(p, ctx)}


def _read_unit(raw: dict[str, Any], ctx: ReadContext, calibrated: bool) -> AmsUnit | None:
    unit_id = as_int(raw.get("id"))
    if unit_id is None:
        return None
    trays = []
    for raw_tray in as_list(raw.get("tray")):
        if type(raw_tray) is dict:
            tray_id = as_int(raw_tray.get("id"))
            slot = global_slot(unit_id, tray_id)
            trays.append(_read_tray(ctx, raw_tray, slot, unit_id, tray_id, calibrated))
    trays.sort(key=lambda tray: -1 if tray.tray is None else tray.tray)
    temperature = as_float(raw.get("temp"))
    return AmsUnit(
        id=unit_id,
        kind=_unit_kind(unit_id, ctx),
        humidity=as_int(raw.get("humidity")),
        humidity_pct=as_int(raw.get("humidity_raw")),
        temperature=temperature or None,  # 0.0 is what units without a sensor report
        trays=tuple(trays),
    )


def _unit_kind(unit_id: int, ctx: ReadContext) -> str | None:
    kind = ctx.ams_kinds.get(unit_id)
    if kind:
        return kind
    if 128 <= unit_id <= 135:
        return "ams_ht"
    if ctx.model in AMS_LITE_MODELS:
        return "ams_lite"
    return None


def _read_external(p: dict[str, Any], ctx: ReadContext) -> tuple[Tray, ...]:
    """vt_tray is slot 254; dual-nozzle printers list both holders in vir_slot (ids 254/255).

    Single-nozzle X1C firmware also sends a one-entry vir_slot (id "255"): that is still the one
    external spool, J3D slot 254.
    """
    virtual = [entry for entry in as_list(p.get("vir_slot")) if type(entry) is dict]
    if ctx.model in DUAL_NOZZLE_MODELS or len(virtual) > 1:
        trays = []
        for entry in virtual:
            slot = as_int(entry.get("id"))
            if slot in (EXTERNAL_SLOT, SECOND_EXTERNAL_SLOT):
                trays.append(_read_tray(ctx, entry, slot, slot, 0, False))
        return tuple(sorted(trays, key=lambda tray: tray.slot or 0))
    single = p.get("vt_tray")
    if type(single) is not dict:
        single = virtual[0] if virtual else None
    if single is None:
        return ()
    return (_read_tray(ctx, single, EXTERNAL_SLOT, EXTERNAL_SLOT, 0, False),)


def _read_tray(
    ctx: ReadContext,
    raw: dict[str, Any],
    slot: int | None,
    unit: int | None,
    tray: int | None,
    calibrated: bool,
) -> Tray:
    """:func:`read_tray`, reused for a tray whose raw dict is unchanged (see _memoized)."""
    extra = (slot, unit, tray, calibrated)
    return _memoized(ctx, raw, extra, lambda: read_tray(raw, slot, unit, tray, calibrated))


def read_tray(
    raw: dict[str, Any], slot: int | None, unit: int | None, tray: int | None, calibrated: bool
) -> Tray:
    """Read one tray dict (AMS or external) into a :class:`Tray`."""
    kind = as_text(raw.get("tray_type"))
    tag = as_text(raw.get("tag_uid"))
    tag = None if tag is None or not tag.strip("0") else tag
    uuid = as_text(raw.get("tray_uuid"))
    bambu_spool = tag is not None or bool(uuid and uuid.strip("0"))
    colors = tuple(c for c in (color_hex(col) for col in as_list(raw.get("cols"))) if c)
    weight = as_int(raw.get("tray_weight"))
    return Tray(
        slot=slot,
        unit=unit,
        tray=tray,
        empty=kind is None,
        type=kind,
        sub_brand=as_text(raw.get("tray_sub_brands")),
        color=color_hex(raw.get("tray_color")),
        colors=colors,
        remaining_pct=_remaining(raw.get("remain"), calibrated and bambu_spool),
        weight_grams=weight if weight and weight > 0 else None,
        tray_info_idx=as_text(raw.get("tray_info_idx")),
        temp_min=as_int(raw.get("nozzle_temp_min")) or None,
        temp_max=as_int(raw.get("nozzle_temp_max")) or None,
        tag_uid=tag,
        state=as_int(raw.get("state")),
    )


def _remaining(value: Any, zero_is_real: bool) -> int | None:
    """−1 is unknown; 0 is unknown too unless the AMS estimates remaining on a Bambu spool (§4)."""
    remain = as_int(value)
    if remain is None or remain < 0 or remain > 100:
        return None
    if remain == 0 and not zero_is_real:
        return None
    return remain


# Report keys read into exactly one snapshot field each, on their own: a delta that changes one
# re-reads that field alone (most deltas are these). Every section reader below that covers such a
# key reads it with the same function.
FIELD_READERS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "subtask_name": ("job_name", as_text),
    "gcode_file": ("gcode_file", as_text),
    "task_id": ("task_id", _id_text),
    "subtask_id": ("subtask_id", _id_text),
    "print_type": ("print_type", as_text),
    "mc_percent": ("progress_pct", _percent),
    "mc_remaining_time": ("remaining_minutes", _minutes),
    "stg_cur": ("stage", as_int),
    "spd_lvl": ("speed_level", as_int),
    "spd_mag": ("speed_pct", as_int),
    "print_error": ("print_error", decode_print_error),
    "wifi_signal": ("wifi_dbm", _wifi_dbm),
    "cooling_fan_speed": ("part_fan_pct", _fan_pct),
    "big_fan1_speed": ("aux_fan_pct", _fan_pct),
    "big_fan2_speed": ("chamber_fan_pct", _fan_pct),
    "heatbreak_fan_speed": ("heatbreak_fan_pct", _fan_pct),
    "fun": ("developer_mode", _developer_mode),
}


def _read_fields(p: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    fields = {}
    for key in keys:
        name, read = FIELD_READERS[key]
        fields[name] = read(p.get(key))
    return fields


# Report keys that are one of two places a snapshot field can come from (see newest()): each is
# read into its field alone, by a reader that also weighs the other place, so a delta of one
# re-reads that field, not its whole section. The section readers are made of these.
CONTEXT_FIELD_READERS: dict[str, tuple[str, Callable[[dict[str, Any], ReadContext], Any]]] = {
    "layer_num": ("layer", read_layer),
    "total_layer_num": ("total_layers", read_total_layers),
    "bed_temper": ("bed_temp", read_bed_temp),
    "bed_target_temper": ("bed_target", read_bed_target),
    "nozzle_temper": ("nozzle_temp", read_nozzle_temp),
    "nozzle_target_temper": ("nozzle_target", read_nozzle_target),
}


def _fields_section(*keys: str) -> Reader:
    """A section reader made of field readers (the section a full report re-reads)."""
    return lambda p, ctx: _read_fields(p, keys)


Reader = Callable[[dict[str, Any], ReadContext], dict[str, Any]]

# Section name → reader. The section names are also the names an Update reports as changed.
SECTION_READERS: dict[str, Reader] = {
    "state": read_state,
    "job": _fields_section("subtask_name", "gcode_file", "task_id", "subtask_id", "print_type"),
    "progress": read_progress,
    "bed_temps": read_bed_temps,
    "chamber_temp": read_chamber_temp,
    "nozzle_temps": read_nozzle_temps,
    "speed": _fields_section("spd_lvl", "spd_mag"),
    "error": _fields_section("print_error"),
    "hms": read_hms,
    "wifi": _fields_section("wifi_signal"),
    "nozzle": read_nozzle,
    "fans": _fields_section(
        "cooling_fan_speed", "big_fan1_speed", "big_fan2_speed", "heatbreak_fan_speed"
    ),
    "lights": read_lights,
    "capabilities": _fields_section("fun"),
    "active_tray": read_active_tray,
    "ams": read_ams,
    "version": read_version,
}

"""Decoding report payloads and deep-merging them into one printer's cached state.

Firmware sends a full report (``msg: 0``) after a pushall and only changed fields (``msg: 1``)
otherwise, so :class:`PrinterState` merges every status message into a cache and never clears a
value because a message lacks it (bambu-protocol.md §1.3). The link calls, per MQTT message::

    message = decode_payload(payload)          # None: drop it
    update = state.apply(message)              # kind: status | reply | version | ignored
    if update.changed: snapshot = state.snapshot()

``snapshot()`` recomputes only the sections whose keys changed (a flat reading that also lives
packed elsewhere, or a field of one key, re-reads only its field), which keeps the per-delta
cost close to a plain ``dict.update`` (see bench/bench_ingest.py).

A PrinterState is not thread-safe: one link thread owns it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import orjson

from printers.bambu.commands import Reply, parse_reply
from printers.bambu.snapshot import (
    CONTEXT_FIELD_READERS,
    FIELD_READERS,
    SECTION_READERS,
    ReadContext,
    Snapshot,
    read_layers,
)

MAX_PAYLOAD_BYTES = 1024 * 1024
# Real reports nest 6 levels deep; anything past this is junk and is dropped, not recursed into.
MAX_DEPTH = 16

_SCALARS = frozenset({str, int, float, bool})
_DROP = object()
_MISSING = object()
_NO_CHANGE: frozenset[str] = frozenset()
_new_tuple = tuple.__new__
_BLANK = Snapshot()
# Serialisation options for the exact-equality check: subclasses, dataclasses and datetimes
# raise instead of being serialised like the builtin they resemble.
_EXACT = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS
_EXACT |= orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_SORT_KEYS


def decode_payload(raw: bytes | bytearray | memoryview | str) -> dict[str, Any] | None:
    """Decode one MQTT payload into a JSON object; None when it is not one.

    Payloads over MAX_PAYLOAD_BYTES are refused unread. Invalid UTF-8 does not lose the message:
    the bytes are decoded with U+FFFD replacements (a P1P once sent a corrupted ``gcode_file``).
    Non-JSON, non-object JSON, and nesting too deep to parse give None; nothing raises.
    """
    if type(raw) is not bytes and not isinstance(raw, str | bytearray | memoryview):
        return None
    if len(raw) > MAX_PAYLOAD_BYTES:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = _decode_slow(raw)
    return value if type(value) is dict else None


def _decode_slow(raw: bytes | bytearray | memoryview | str) -> Any:
    """Fallback for what orjson refuses: invalid UTF-8 (replaced), integers beyond 64 bits."""
    if isinstance(raw, str):
        text = raw.encode("utf-8", "replace").decode("utf-8")
    else:
        text = bytes(raw).decode("utf-8", "replace")
    try:
        # NaN/Infinity are not JSON; read them as missing values.
        return json.loads(text, parse_constant=lambda _: None)
    except (ValueError, RecursionError):
        return None


class Update(NamedTuple):
    """What one message did to the state.

    kind: "status" (merged), "reply" (a command reply, not merged), "version" (get_version
    module list) or "ignored". changed: names of the snapshot sections that changed (see
    ``printers.bambu.snapshot.SECTION_READERS``: state, job, progress, bed_temps, chamber_temp,
    nozzle_temps, speed, error, hms, wifi, nozzle, fans, lights, capabilities, active_tray, ams,
    version). reply: the parsed reply
    for kind "reply" (and for a get_version answer that carries a result). full: the message was a
    full report (msg 0).
    """

    kind: str
    changed: frozenset[str] = _NO_CHANGE
    reply: Reply | None = None
    full: bool = False


IGNORED = Update("ignored")

# Status updates are immutable and few (one per set of changed sections), so they are shared,
# keyed by the changed-section bit mask (see _BITS) and the full flag.
_STATUS_UPDATES: dict[int, Update] = {}


def _status_update(changed: int, full: bool) -> Update:
    update = _STATUS_UPDATES.get(changed << 1 | full)
    if update is None:
        names = frozenset(name for name, bit in _BITS.items() if changed & bit)
        update = _STATUS_UPDATES[changed << 1 | full] = Update("status", names, None, full)
    return update


# One bit per snapshot section, then one per FIELD_READERS and CONTEXT_FIELD_READERS key: the
# merge ORs together what a message changed (ints, no set building on the hot path) and the
# snapshot re-reads those bits.
_BITS: dict[str, int] = {name: 1 << index for index, name in enumerate(SECTION_READERS)}
_FIELD_BITS: dict[str, int] = {
    key: 1 << (len(_BITS) + index)
    for index, key in enumerate((*FIELD_READERS, *CONTEXT_FIELD_READERS))
}


# Parts of a section read on their own when only their keys changed: a 3D delta re-reads the
# layers, not the whole progress section. (bit, section, reader)
_LAYERS = 1 << (len(_BITS) + len(_FIELD_BITS))
_PARTS = ((_LAYERS, "progress", read_layers),)
_KEY_DIRTY = {"3D": _LAYERS}


def _sections(*names: str) -> int:
    mask = 0
    for name in names:
        mask |= _BITS[name]
    return mask


# Top-level print key → the snapshot sections that read it. Keys not listed are kept in the
# cache but change no section; the envelope keys (None) are not stored at all.
_ENVELOPE_KEYS = frozenset({"command", "msg", "sequence_id"})
_KEY_SECTIONS: dict[str, int | None] = dict.fromkeys(_ENVELOPE_KEYS)
for _names, _keys in (
    (("state",), ("gcode_state",)),
    (("job",), ("subtask_name", "gcode_file", "task_id", "subtask_id", "print_type")),
    (
        ("progress",),
        ("mc_percent", "mc_remaining_time", "layer_num", "total_layer_num", "3D", "stg_cur"),
    ),
    (("nozzle_temps",), ("nozzle_temper", "nozzle_target_temper")),
    (("bed_temps",), ("bed_temper", "bed_target_temper")),
    (("chamber_temp",), ("chamber_temper",)),
    (("speed",), ("spd_lvl", "spd_mag")),
    (("error",), ("print_error",)),
    (("wifi",), ("wifi_signal",)),
    (("nozzle",), ("nozzle_diameter", "nozzle_type")),
    (
        ("fans",),
        ("cooling_fan_speed", "big_fan1_speed", "big_fan2_speed", "heatbreak_fan_speed"),
    ),
    (("lights",), ("lights_report",)),
    (("capabilities",), ("fun",)),
    (("ams",), ("home_flag",)),
):
    for _key in _keys:
        _KEY_SECTIONS[_key] = _sections(*_names)

# Quantities a report can carry in two places. Each source names its rival and the section that
# reads both: the section reads whichever the printer sent last (snapshot.newest), so when a
# source arrives while its rival was the newer one, that section must be read again even if no
# value changed.
_RIVALS: dict[str, tuple[str, int]] = {}
for _flat, _nested, _section in (
    ("layer_num", "3D.layer_num", "progress"),
    ("total_layer_num", "3D.total_layer_num", "progress"),
    ("bed_temper", "device.bed", "bed_temps"),
    ("bed_target_temper", "device.bed", "bed_temps"),
    ("chamber_temper", "device.ctc", "chamber_temp"),
    ("nozzle_temper", "device.extruder", "nozzle_temps"),
    ("nozzle_target_temper", "device.extruder", "nozzle_temps"),
    ("nozzle_diameter", "device.nozzle", "nozzle"),
    ("nozzle_type", "device.nozzle", "nozzle"),
):
    _RIVALS[_flat] = (_nested, _sections(_section))
# A nested source has several flat rivals (device.bed: bed_temper and bed_target_temper).
_NESTED_RIVALS: dict[str, list[str]] = {}
for _flat, (_nested, _) in _RIVALS.items():
    _NESTED_RIVALS.setdefault(_nested, []).append(_flat)
_AMS = _sections("ams")
_HMS = _sections("hms")
_ACTIVE_TRAY = _sections("active_tray")
_NOZZLE_TEMPS = _sections("nozzle_temps")
_VERSION = _sections("version", "ams")
_VERSION_NAMES = frozenset({"version", "ams"})
_ALL = _sections(*SECTION_READERS)

# AMS module name prefix in get_version → unit kind.
_AMS_MODULE_KINDS = {"ams": "ams", "ams_f1": "ams_lite", "n3f": "ams_2_pro", "n3s": "ams_ht"}


def _clone(value: Any, depth: int) -> Any:
    """Copy JSON data so the cache never aliases a caller's message; drops junk and deep nesting."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if depth >= MAX_DEPTH:
        return _DROP
    if kind is dict:
        out = {}
        for key, item in value.items():
            copied = _clone(item, depth + 1)
            if copied is not _DROP and item is not None:
                out[key] = copied
        return out
    if kind is list:
        return [c for c in (_clone(item, depth + 1) for item in value) if c is not _DROP]
    return _DROP


def _fingerprint(value: Any) -> bytes | None:
    """Type-exact serialisation of JSON data (1, 1.0 and true differ); None for anything else."""
    try:
        return orjson.dumps(value, option=_EXACT)
    except TypeError:
        return None


def _same(cached: Any, incoming: Any) -> bool:
    """True when ``incoming`` is exactly ``cached``: same keys (in any order), values, types.

    ``==`` alone is not enough (1 == 1.0 == True, and merging one over the other changes the
    stored type); equal fingerprints alone are not either (a tuple serialises like a list). Both
    together mean merging ``incoming`` into ``cached`` changes nothing, which is how a full report
    skips the unchanged subtrees (most of them) without walking them key by key.
    """
    if cached != incoming:
        return False
    fingerprint = _fingerprint(incoming)
    return fingerprint is not None and fingerprint == _fingerprint(cached)


def _merge_dict(dst: dict[str, Any], src: dict[str, Any], depth: int, by_id: bool) -> bool:
    """Deep-merge ``src`` into ``dst``; True when anything changed.

    None never overwrites, and a value never switches between scalar, dict and list (junk must
    not erase what we know); lists are replaced, or merged element by id when ``by_id`` and both
    sides are id-keyed.
    """
    if depth >= MAX_DEPTH:
        return False
    changed = False
    for key, value in src.items():
        old = dst.get(key, _MISSING)
        kind = type(value)
        if kind in _SCALARS:
            if type(old) is kind and old == value:
                continue
            if type(old) is dict or type(old) is list:
                continue
            dst[key] = value
            changed = True
        elif kind is dict:
            if type(old) is dict:
                changed |= _merge_dict(old, value, depth + 1, by_id)
            elif old is _MISSING:
                dst[key] = _clone(value, depth + 1)
                changed = True
        elif kind is list and (old is _MISSING or type(old) is list):
            if by_id and old is not _MISSING and _id_keyed(value):
                changed |= _merge_by_id(old, value, depth + 1, _merge_plain)
            else:
                new = _clone(value, depth + 1)
                if new != old:
                    dst[key] = new
                    changed = True
    return changed


def _merge_plain(dst: dict[str, Any], src: dict[str, Any], depth: int) -> bool:
    return _merge_dict(dst, src, depth, True)


def _id_keyed(items: list[Any]) -> bool:
    for item in items:
        if type(item) is not dict or "id" not in item:
            return False
    return True


def _id_of(item: Any) -> Any:
    """Ids come as "0" or 0 depending on firmware; compare them as strings."""
    ident = item.get("id") if type(item) is dict else None
    return str(ident) if type(ident) in (str, int) else None


def _merge_by_id(
    cached: list[Any],
    incoming: list[Any],
    depth: int,
    merge_one: Callable[[dict[str, Any], dict[str, Any], int], bool],
    drop_missing: bool = False,
) -> bool:
    """Merge a list of ``{"id": ...}`` dicts into ``cached`` in place, element by id.

    Elements without a usable id are ignored. With ``drop_missing`` (a full report's AMS unit
    list), cached elements the message does not list are removed: the unit was unplugged.
    """
    index = {}
    for item in cached:  # _id_of inline: this runs for every AMS unit and tray of a report
        ident = item.get("id") if type(item) is dict else None
        if type(ident) is str:
            index[ident] = item
        elif type(ident) is int:
            index[str(ident)] = item
    seen = set()
    changed = False
    for item in incoming:
        ident = item.get("id") if type(item) is dict else None
        if type(ident) is int:
            ident = str(ident)
        elif type(ident) is not str:
            continue
        seen.add(ident)
        target = index.get(ident)
        if target is None:
            target = index[ident] = {"id": item["id"]}
            cached.append(target)
            changed = True
        changed |= merge_one(target, item, depth + 1)
    if drop_missing and len(seen) < len(index):
        cached[:] = [item for item in cached if _id_of(item) in seen]
        changed = True
    return changed


def _merge_tray(cached: dict[str, Any], update: dict[str, Any], depth: int) -> bool:
    """Merge one tray. The rule that satisfies both firmware families (§1.3, §4):

    - ``{"id"}`` alone: the slot is empty (legacy firmware reports an empty slot this way), so
      every material field is cleared;
    - ``{"id", "state": 0}``: empty as well (state 0 = no spool; seen in the X1C multi-AMS
      report for an empty AMS 2 Pro slot);
    - ``{"id", "state": N}`` with N != 0: a partial H2D update for a slot that is not fully
      loaded; only ``state`` changes and the material stays;
    - anything else: deep-merged key by key.

    A full report resends every tray, mostly unchanged: an exact copy of the cached tray is a
    no-op under every rule above, so it is recognised without the walk.
    """
    if _same(cached, update):
        return False
    size = len(update)
    if size == 1 or (size == 2 and update.get("state", 1) in (0, "0")):
        emptied = {key: value for key, value in cached.items() if key in ("id", "state")}
        _merge_dict(emptied, update, depth, False)
        fingerprint = _fingerprint(emptied)
        if emptied == cached and fingerprint is not None and fingerprint == _fingerprint(cached):
            return False  # already empty: leave it as it is (key order included)
        cached.clear()
        cached.update(emptied)
        return True
    return _merge_dict(cached, update, depth, False)


def _merge_unit(cached: dict[str, Any], update: dict[str, Any], depth: int) -> bool:
    changed = False
    for key, value in update.items():
        if key == "tray":
            if type(value) is list:
                if type(cached.get("tray")) is not list:
                    cached["tray"] = []
                changed |= _merge_by_id(cached["tray"], value, depth, _merge_tray)
        elif not _same_scalar(cached.get(key), value):
            changed |= _merge_dict(cached, {key: value}, depth, False)
    return changed


def _same_scalar(old: Any, value: Any) -> bool:
    """The cheap no-op test for one scalar of a full report (most of them are unchanged)."""
    return type(old) is type(value) and type(value) in _SCALARS and old == value


class PrinterState:
    """One printer's cached report and the snapshot derived from it.

    ``model`` is the J3D model name ("X1C", "X1E", "X1", "P1S", "P1P", "P2S", "A1", "A1 mini",
    "H2D", "H2S", or None when unknown); it decides model-specific readings such as whether the
    chamber temperature is real.
    """

    def __init__(self, model: str | None = None) -> None:
        self._print: dict[str, Any] = {}
        self._ctx = ReadContext(model=model)
        self._sent = self._ctx.sent
        # Bits (_BITS, _FIELD_BITS) of the sections and fields to read again at the next snapshot.
        self._dirty = _ALL
        self._fields = list(_BLANK)  # the next snapshot's fields, rewritten in place
        self._snapshot = _BLANK
        self._modules: tuple[dict[str, Any], ...] = ()
        self._seq = 0  # status messages merged (the clock of ReadContext.sent)

    @property
    def model(self) -> str | None:
        return self._ctx.model

    @property
    def firmware(self) -> str | None:
        """The ``ota`` module's ``sw_ver`` from the last get_version answer."""
        return self._ctx.firmware

    @property
    def modules(self) -> tuple[dict[str, Any], ...]:
        """The module list of the last get_version answer (copies; name, sw_ver, hw_ver, sn...)."""
        return self._modules

    @property
    def report(self) -> Mapping[str, Any]:
        """Read-only view of the merged ``print`` object (nested values must not be mutated)."""
        return MappingProxyType(self._print)

    def apply(self, message: Any) -> Update:
        """Classify one decoded message and merge it if it is a status push. Never raises.

        The status merge is written out here, not in a method of its own: it runs for every
        message, and a call is a measurable share of what a one-field delta costs.
        """
        body = message.get("print") if type(message) is dict else None
        if type(body) is not dict or body.get("command") != "push_status" or "result" in body:
            return self._apply_other(message)
        cache = self._print
        changed = 0  # section bits Update.changed names
        dirty = 0  # section and field bits to read again
        self._seq = seq = self._seq + 1
        msg = body.get("msg")
        full = msg == 0 and type(msg) is int or msg == "0"
        # Printers send a handful of key sets over and over: the plan of each set (its keys less
        # the envelope, each with how it merges) is worked out once.
        shape = tuple(body)
        plans = _SHAPES.get(shape)
        if plans is None:
            plans = _shape_plans(shape)
        for key, code, changes, dirties, extra in plans:
            value = body[key]
            if code is not _PLAIN:
                if code is _RIVAL:  # a flat source of a two-place quantity (see _RIVALS)
                    if value is not None:
                        sent = self._sent
                        if sent.get(extra, -2) >= sent.get(key, -1):
                            changed |= changes  # the rival was newer: read this one again
                            dirty |= dirties
                        sent[key] = seq
                elif code is _MERGE:  # a special merge (see _SPECIAL_MERGES)
                    if type(value) is dict or type(value) is list:
                        if _same(cache.get(key), value):
                            continue  # an unchanged subtree of a full report
                        merged = extra(cache, value, full)
                        changed |= merged
                        dirty |= merged
                    continue
                elif code is _DEVICE:
                    changed |= self._merge_device(value)
                    continue
                else:  # 3D: stamp its nested sources, then merge it as a plain key
                    changed |= self._stamp_layers(value)
            kind = type(value)
            if kind in _SCALARS:
                old = cache.get(key)  # None: missing (None is never stored)
                if type(old) is kind:
                    if old == value:
                        continue
                elif type(old) is dict or type(old) is list:
                    continue  # junk must not erase structure
                cache[key] = value
            elif kind is dict:  # what _merge_dict does with a dict, one level in
                old = cache.get(key)
                if type(old) is dict:
                    if _same(old, value) or not _merge_dict(old, value, 1, False):
                        continue  # unchanged (a full report's subtrees mostly are)
                elif old is None:
                    cache[key] = _clone(value, 1)
                else:
                    continue  # junk must not erase structure
            elif kind is list:
                if _same(cache.get(key), value):
                    continue  # an unchanged subtree of a full report
                if not _merge_dict(cache, {key: value}, 0, False):
                    continue
            else:
                continue  # None or a non-JSON type: never clears, never stored
            changed |= changes
            dirty |= dirties
        if dirty:
            self._dirty |= dirty
        update = _STATUS_UPDATES.get(changed << 1 | full)
        return update if update is not None else _status_update(changed, full)

    def _apply_other(self, message: Any) -> Update:
        """Anything but a status push: a get_version answer, a command reply, or nothing."""
        if type(message) is not dict:
            return IGNORED
        info = message.get("info")
        if type(info) is dict and info.get("command") == "get_version":
            if type(info.get("module")) is list:
                return self._apply_version(info, parse_reply(message))
        reply = parse_reply(message)
        if reply is not None:
            return Update("reply", reply=reply)
        return IGNORED

    def snapshot(self) -> Snapshot:
        """The current snapshot; recomputes only the sections and fields changed since the last
        call."""
        dirty = self._dirty
        if not dirty:
            return self._snapshot
        fields, data, ctx = self._fields, self._print, self._ctx
        steps = _READ_STEPS.get(dirty)
        if steps is None:
            steps = _read_steps(dirty)
        for where, read, key in steps:
            if key is not None:  # a field read from one key
                fields[where] = read(data.get(key))
            elif type(where) is int:  # a field read from the report and the context
                fields[where] = read(data, ctx)
            else:  # a section: its fields, in order
                fields[where] = read(data, ctx).values()
        self._dirty = 0
        snapshot = self._snapshot = _new_tuple(Snapshot, fields)
        return snapshot

    def _stamp_layers(self, value: Any) -> int:
        """Record that this message carries ``3D`` layer sources (see _RIVALS); returns the
        section bits whose newest source this switches, and marks the layers dirty (the flat
        sources are stamped inline in apply)."""
        if type(value) is not dict:
            return 0
        sent = self._sent
        seq = self._seq
        flipped = 0
        for name, source, flats, bits in _LAYER_SOURCES:
            if name in value:
                at = sent.get(source, -1)
                for flat in flats:
                    if sent.get(flat, -1) > at:
                        flipped |= bits
                        break
                sent[source] = seq
        if flipped:
            self._dirty |= _LAYERS
        return flipped

    def _merge_device(self, value: Any) -> int:
        """``device``: each part stamps the nested sources it carries (see _RIVALS), then merges
        (deep, id-keyed lists by id). Returns the section bits that changed or whose newest
        source switched, and marks them dirty.

        An extruder delta of temperatures alone re-reads the nozzle temperatures, not the active
        tray (the H2D and X1C send one every second or two while printing); Update.changed still
        names both, whichever merge path took it.
        """
        if type(value) is not dict:
            return 0
        cache = self._print
        cached = cache.get("device")
        if type(cached) is not dict:
            cached = cache["device"] = {}
        sent = self._sent
        sections = 0  # changed, as Update.changed names them
        dirty = 0  # to read again
        for part, item in value.items():
            probe, source, flats, flipped, bits = _DEVICE_PARTS.get(part, _OTHER_PART)
            if probe is not None and probe(item):
                at = sent.get(source, -1)
                for flat in flats:
                    if sent.get(flat, -1) > at:
                        sections |= flipped
                        dirty |= flipped
                        break
                sent[source] = self._seq
            old = cached.get(part)
            if type(item) is dict and type(old) is dict:
                merged = _merge_info_delta(old, item)
                if merged is None:
                    merged = _merge_dict(old, item, 2, True)
            else:
                merged = _merge_dict(cached, {part: item}, 1, True)
            if merged:
                sections |= bits
                if part == "extruder":
                    # its decoded temperatures (snapshot._extruders) must be read again, and
                    # unless only they changed, which extruder is active and what feeds it
                    ctx = self._ctx
                    ctx.extruder_version += 1
                    if merged is _TEMPS_ONLY:
                        dirty |= _NOZZLE_TEMPS  # the active tray cannot have moved
                        continue
                    ctx.extruder_layout_version += 1
                dirty |= bits
        if dirty:
            self._dirty |= dirty
        return sections

    def _apply_version(self, info: dict[str, Any], reply: Reply | None) -> Update:
        modules = tuple(_clone(m, 1) for m in info["module"] if type(m) is dict)
        firmware = None
        kinds: dict[int, str] = {}
        for module in modules:
            name = module.get("name")
            if type(name) is not str:
                continue
            if name == "ota" and type(module.get("sw_ver")) is str:
                firmware = module["sw_ver"]
            prefix, _, unit = name.partition("/")
            if prefix in _AMS_MODULE_KINDS and unit.isascii() and unit.isdigit():
                kinds[int(unit)] = _AMS_MODULE_KINDS[prefix]
        self._modules = modules
        self._ctx.firmware = firmware
        self._ctx.ams_kinds = kinds
        self._dirty |= _VERSION
        return Update("version", _VERSION_NAMES, reply, False)


def _info_temp_present(part: Any) -> bool:
    return type(part) is dict and type(part.get("info")) is dict and "temp" in part["info"]


def _extruder_temp_present(extruder: Any) -> bool:
    if type(extruder) is not dict or type(extruder.get("info")) is not list:
        return False
    for entry in extruder["info"]:
        if type(entry) is dict and "temp" in entry:
            return True
    return False


def _nozzle_info_present(nozzle: Any) -> bool:
    return type(nozzle) is dict and type(nozzle.get("info")) is list and bool(nozzle["info"])


def _nested_source(name: str, probe: Callable[[Any], bool] | None = None) -> tuple[Any, ...]:
    flats = tuple(_NESTED_RIVALS[name])
    return (probe, name, flats, _RIVALS[flats[0]][1])


# The nested sources a ``3D`` value can carry (present: stamped), as (key, source, flats, bits).
_LAYER_SOURCES = tuple(
    (source.split(".")[1], *_nested_source(source)[1:])
    for source in ("3D.layer_num", "3D.total_layer_num")
)
# device.<part> → (the test that it carries a reading, its source, the source's flat rivals, the
# sections a switch of newest source changes, the sections a change of the part changes). The H2D
# packs its temperatures and active slot under device (see PrinterState._merge_device).
_DEVICE_PARTS = {
    "bed": (*_nested_source("device.bed", _info_temp_present), _sections("bed_temps")),
    "ctc": (*_nested_source("device.ctc", _info_temp_present), _sections("chamber_temp")),
    "extruder": (
        *_nested_source("device.extruder", _extruder_temp_present),
        _sections("nozzle_temps", "active_tray"),
    ),
    "nozzle": (*_nested_source("device.nozzle", _nozzle_info_present), _sections("nozzle")),
}
_OTHER_PART = (None, None, (), 0, 0)


def _merge_hms(cache: dict[str, Any], value: Any, full: bool) -> int:
    """``hms`` replaces the whole list when present; ``[]`` clears it."""
    if type(value) is not list:
        return 0
    new = [_clone(entry, 2) for entry in value if type(entry) is dict]
    if new == cache.get("hms"):
        return 0
    cache["hms"] = new
    return _HMS


def _merge_ams(cache: dict[str, Any], value: Any, full: bool) -> int:
    """Units merge by id, their trays by id (see _merge_tray); scalars merge as usual.

    Only a unit list changes the "ams" section; ``tray_now`` changes "active_tray". The other AMS
    scalars (tray_pre, tray_tar, version, bit masks) are kept but change no section, so the
    frequent AMS scalar deltas during a print do not rebuild every tray.
    """
    if type(value) is not dict:
        return 0
    cached = cache.get("ams")
    if type(cached) is not dict:
        cached = cache["ams"] = {}
    sections = 0
    for key, item in value.items():
        if key == "ams":
            if type(item) is list:
                units = cached.get("ams")
                if type(units) is not list:
                    units = cached["ams"] = []
                # A full report's unit list names every connected unit: a unit it omits was
                # unplugged. A delta's list may be partial, so it never drops a unit.
                if _merge_by_id(units, item, 1, _merge_unit, drop_missing=full):
                    sections |= _AMS
        elif _same_scalar(cached.get(key), item):
            continue
        elif _merge_dict(cached, {key: item}, 1, False) and key == "tray_now":
            sections |= _ACTIVE_TRAY
    return sections


def _merge_external(cache: dict[str, Any], value: Any, full: bool) -> int:
    """``vt_tray``: one tray dict, merged with the tray rule."""
    if type(value) is not dict:
        return 0
    cached = cache.get("vt_tray")
    created = type(cached) is not dict
    if created:
        cached = cache["vt_tray"] = {}  # even {} reads as an (empty) external slot
    return _AMS if _merge_tray(cached, value, 1) or created else 0


def _merge_virtual_slots(cache: dict[str, Any], value: Any, full: bool) -> int:
    """``vir_slot`` (H2D external holders): trays merged by id."""
    if type(value) is not list:
        return 0
    cached = cache.get("vir_slot")
    if type(cached) is not list:
        cached = cache["vir_slot"] = []
    return _AMS if _merge_by_id(cached, value, 1, _merge_tray) else 0


def _merge_info_delta(old: dict[str, Any], item: dict[str, Any]) -> bool | int | None:
    """The commonest device delta, ``{"info": ...}`` holding scalars only, merged without the
    general walk: a packed temperature (``bed``/``ctc``: ``{"info": {"temp": N}}``) or extruder
    entries by id (``{"info": [{"id": 0, "temp": N}]}``). It merges exactly as
    ``_merge_dict(old, item, 2, True)`` does (a property test holds it to that) and returns
    whether anything changed: _TEMPS_ONLY when entries that already existed changed and carried
    nothing but ``id`` and ``temp``. None when the delta or the cached part has another shape,
    for the caller to take the general merge.
    """
    if len(item) != 1:
        return None
    info = item.get("info")
    cached = old.get("info")
    if type(info) is dict and type(cached) is dict:
        for value in info.values():
            if type(value) not in _SCALARS:
                return None
        return _merge_scalars(cached, info)
    if type(info) is not list or type(cached) is not list or not info:
        return None
    # Entries by id (_merge_by_id): every entry must name a cached one; checked before any write.
    targets = []
    temps_only = True
    for entry in info:
        if type(entry) is not dict:
            return None
        ident = entry.get("id")
        kind = type(ident)
        if kind is not int and kind is not str:
            return None
        for key, value in entry.items():
            if type(value) not in _SCALARS:
                return None
            if key != "temp" and key != "id":
                temps_only = False
        target = None
        for candidate in reversed(cached):  # the last of equal ids, as _merge_by_id's index
            if type(candidate) is dict:
                known = candidate.get("id")
                if known == ident if type(known) is kind else _same_id(known, ident):
                    target = candidate
                    break
        if target is None:
            return None  # a new entry: the general merge appends it
        targets.append(target)
    changed = False
    for target, entry in zip(targets, info, strict=True):
        changed |= _merge_scalars(target, entry)
    return _TEMPS_ONLY if changed and temps_only else changed


# What _merge_info_delta returns when the entries it changed carried only ``id`` and ``temp``.
_TEMPS_ONLY = 2


def _same_id(known: Any, ident: int | str) -> bool:
    """Ids of different types ("0" and 0) name the same entry when they read the same."""
    return (type(known) is int or type(known) is str) and str(known) == str(ident)


def _merge_scalars(dst: dict[str, Any], src: dict[str, Any]) -> bool:
    """``_merge_dict`` for a ``src`` that holds scalars only."""
    changed = False
    for key, value in src.items():
        old = dst.get(key, _MISSING)
        if type(old) is type(value) and old == value:
            continue
        if type(old) is dict or type(old) is list:
            continue  # junk must not erase structure
        dst[key] = value
        changed = True
    return changed


# Special merges, for which an exact copy of the cached value is a no-op. Not "device"
# (PrinterState._merge_device): its id-keyed lists may hold duplicate ids (they are stored as
# sent), which a merge by id rewrites.
_SPECIAL_MERGES: dict[str, Callable[[dict[str, Any], Any, bool], int]] = {
    "hms": _merge_hms,
    "ams": _merge_ams,
    "vt_tray": _merge_external,
    "vir_slot": _merge_virtual_slots,
}


# How apply treats a top-level key of a status push: (code, changed bits, dirty bits, extra),
# one lookup per key on the hot path. Codes: _PLAIN (merged as sent; extra None), _ENVELOPE (not
# stored), _RIVAL (a flat source of a two-place quantity; extra: its nested rival), _NESTED
# (``3D``: its nested sources are stamped, then it merges as a plain key), _MERGE (a special
# merge, extra; an exact copy of the cached value is skipped), _DEVICE (``device``: stamped and
# merged part by part, PrinterState._merge_device).
# A key read by FIELD_READERS or CONTEXT_FIELD_READERS dirties its field bit alone, not its
# whole section.
_PLAIN, _ENVELOPE, _RIVAL, _NESTED, _MERGE, _DEVICE = (
    "plain",
    "envelope",
    "rival",
    "3D",
    "merge",
    "device",
)
_UNLISTED = (_PLAIN, 0, 0, None)


def _plan(key: str) -> tuple[str, int, int, Any]:
    if key in _ENVELOPE_KEYS:
        return (_ENVELOPE, 0, 0, None)
    changes = _KEY_SECTIONS.get(key) or 0
    dirties = _FIELD_BITS.get(key) or _KEY_DIRTY.get(key, changes)
    if key in _RIVALS:
        return (_RIVAL, changes, dirties, _RIVALS[key][0])
    if key == "3D":
        return (_NESTED, changes, dirties, None)
    if key == "device":
        return (_DEVICE, 0, 0, None)
    if key in _SPECIAL_MERGES:
        return (_MERGE, 0, 0, _SPECIAL_MERGES[key])
    return (_PLAIN, changes, dirties, None)


_PLANS = {
    key: _plan(key)
    for key in {*_KEY_SECTIONS, *_SPECIAL_MERGES, "device", *FIELD_READERS, *CONTEXT_FIELD_READERS}
}
_SHAPES: dict[tuple[str, ...], tuple[tuple[Any, ...], ...]] = {}


def _shape_plans(shape: tuple[str, ...]) -> tuple[tuple[Any, ...], ...]:
    """(key, *plan) for each key of a status body but the envelope, memoized per key set."""
    plans = []
    for key in shape:
        plan = _PLANS.get(key, _UNLISTED)
        if plan[0] is not _ENVELOPE:
            plans.append((key, *plan))
    if len(_SHAPES) >= 1024:
        _SHAPES.clear()  # bounded: a hostile printer could send endless key sets
    result = _SHAPES[shape] = tuple(plans)
    return result


# What already reads a field key's field besides its section: the layers part reads both layer
# fields.
_FIELD_COVERED_BY = {"layer_num": _LAYERS, "total_layer_num": _LAYERS}


def _read_steps(dirty: int) -> tuple[tuple[Any, Any, Any], ...]:
    """What snapshot() runs for ``dirty``: (slice, section reader, None) per dirty section,
    (index, reader, key) per dirty FIELD_READERS field and (index, reader, None) per dirty
    CONTEXT_FIELD_READERS field that nothing else read already covers, where slice and index
    say where in the snapshot's fields the reading goes. Memoized per mask."""
    steps: list[tuple[Any, Any, Any]] = []
    for name, bit in _BITS.items():
        if dirty & bit:
            read = SECTION_READERS[name]
            steps.append((_slice_of(read), read, None))
    for key, bit in _FIELD_BITS.items():
        covered = (_KEY_SECTIONS.get(key) or 0) | _FIELD_COVERED_BY.get(key, 0)
        if dirty & bit and not dirty & covered:
            if key in FIELD_READERS:
                name, read = FIELD_READERS[key]
                steps.append((_FIELD_INDEX[name], read, key))
            else:
                name, read = CONTEXT_FIELD_READERS[key]
                steps.append((_FIELD_INDEX[name], read, None))
    for bit, section, read in _PARTS:
        if dirty & bit and not dirty & _BITS[section]:
            steps.append((_slice_of(read), read, None))
    if len(_READ_STEPS) >= 4096:
        _READ_STEPS.clear()  # bounded: a hostile printer could make many combinations
    result = _READ_STEPS[dirty] = tuple(steps)
    return result


_FIELD_INDEX = {name: index for index, name in enumerate(Snapshot._fields)}


def _slice_of(read: Callable[[dict[str, Any], ReadContext], dict[str, Any]]) -> slice:
    """Where the fields a section reader returns sit in a snapshot: together, in its order (the
    snapshot writes them as one slice, so a reader out of step with Snapshot must fail loudly)."""
    names = tuple(read({}, ReadContext()))
    start = _FIELD_INDEX[names[0]]
    if Snapshot._fields[start : start + len(names)] != names:
        raise RuntimeError(f"{read.__name__} returns {names}: not in Snapshot's field order")
    return slice(start, start + len(names))


# Checked once at import: every section and part writes a slice of the fields it owns.
for _read in (*SECTION_READERS.values(), *(read for _, _, read in _PARTS)):
    _slice_of(_read)


_READ_STEPS: dict[int, tuple[tuple[Any, Any, Any], ...]] = {}

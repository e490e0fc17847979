"""Read the slicer's own estimates out of a sliced Bambu Studio / OrcaSlicer file.

A sliced ``.3mf`` (``.gcode.3mf``) is a zip. Bambu Studio and OrcaSlicer write, per sliced plate,
a ``<plate>`` element in ``Metadata/slice_info.config``::

    <config>
      <header><header_item key="X-BBL-Client-Type" value="slicer"/> ...</header>
      <plate>
        <metadata key="index" value="1"/>
        <metadata key="prediction" value="5025"/>      (seconds)
        <metadata key="weight" value="23.45"/>         (grams, all filaments)
        <filament id="1" tray_info_idx="GFA00" type="PLA" color="#161616"
                  used_m="7.53" used_g="22.46"/>
      </plate>
    </config>

and the plate's G-code ``Metadata/plate_<N>.gcode`` starts with a header block
(``; total estimated time: 1h 30m 10s``, ``; total filament weight [g] : 22.46,0.99``) that fills
in what an older slicer left out of slice_info. A plain ``.gcode`` from those slicers carries the
same header.

The file comes from a client, so nothing in it is trusted: the archive's member count and sizes
are checked before anything is inflated, every read is bounded (a member that lies about its
size cannot make us inflate more than the bound), and the XML goes through defusedxml (no DTDs,
no entity expansion). Every refusal is a ``SliceFileError`` whose message names the file.

No Django here: the parser is read and tested on its own (orders/services.py calls it).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from j3d.lib.limits import MAX_FILAMENT_SLOT, MAX_FILAMENTS

SLICE_INFO = "Metadata/slice_info.config"
PLATE_GCODE = "Metadata/plate_{index}.gcode"
# A real sliced 3MF holds tens of members (models, thumbnails, plate G-code, configs); a few
# thousand is generous, more is an archive built to exhaust us.
MAX_MEMBERS = 2000
# slice_info.config is a few KB even for many plates and objects.
MAX_CONFIG_BYTES = 4 * 1024 * 1024
# The header block sits in the first lines of a plate's G-code; nothing past this is read.
HEADER_BYTES = 64 * 1024
# Plate G-code of a long print reaches a few hundred MB; a member declaring more than this, or
# all members together declaring more than the total, is refused before anything is inflated.
MAX_MEMBER_BYTES = 1024 * 1024 * 1024
MAX_TOTAL_BYTES = 2 * 1024 * 1024 * 1024
# G-code and 3MF meshes deflate 3-20x; a member that claims a far higher ratio is a bomb.
MAX_RATIO = 200
RATIO_FLOOR_BYTES = 1024 * 1024  # tiny members may legitimately compress better
MAX_PLATES = 100
# The bounds of j3d/lib/limits.py (a plate's duration, grams): no real plate goes beyond them.
MAX_SECONDS = 14 * 24 * 3600
MAX_GRAMS = Decimal(10_000)

_COLOUR = re.compile(r"^#?([0-9A-Fa-f]{6})([0-9A-Fa-f]{2})?$")
_DURATION_PART = re.compile(r"(\d+)\s*([dhms])")


class SliceFileError(ValueError):
    """The file cannot be read as a sliced Bambu Studio / OrcaSlicer file; says which and why."""


@dataclass(frozen=True)
class Filament:
    """One filament of a plate, in the slicer's filament order (``ams_mapping`` uses it)."""

    slot: int  # the slicer's filament number, 1-based
    type: str
    color: str  # "#RRGGBB" upper case, or "" when the slicer gave none
    grams: Decimal
    meters: Decimal | None = None


@dataclass(frozen=True)
class Plate:
    index: int
    seconds: int | None
    grams: Decimal | None
    filaments: tuple[Filament, ...] = ()


@dataclass(frozen=True)
class SlicedFile:
    name: str
    slicer: str  # e.g. "BambuStudio 02.02.01.60", or "" when the file does not say
    plates: tuple[Plate, ...] = field(default_factory=tuple)

    @property
    def plate_count(self) -> int:
        return len(self.plates)

    @property
    def seconds(self) -> int | None:
        """Every plate's predicted time together, or None when a plate has no prediction."""
        values = [plate.seconds for plate in self.plates]
        return None if None in values else sum(values)  # type: ignore[arg-type]

    @property
    def grams(self) -> Decimal | None:
        values = [plate.grams for plate in self.plates]
        return None if None in values else sum(values, Decimal(0))  # type: ignore[arg-type]

    def filaments(self) -> list[Filament]:
        """Each filament's grams over every plate, by (type, colour), in first-use order."""
        totals: dict[tuple[str, str], Filament] = {}
        for plate in self.plates:
            for item in plate.filaments:
                key = (item.type, item.color)
                if key in totals:
                    seen = totals[key]
                    totals[key] = Filament(
                        slot=seen.slot,
                        type=seen.type,
                        color=seen.color,
                        grams=seen.grams + item.grams,
                    )
                else:
                    totals[key] = Filament(
                        slot=item.slot, type=item.type, color=item.color, grams=item.grams
                    )
        return list(totals.values())


def read_sliced_file(source: BinaryIO | bytes, *, name: str) -> SlicedFile:
    """Parse a sliced ``.3mf``/``.gcode.3mf`` or Bambu ``.gcode``; raise SliceFileError naming
    ``name`` when it is malformed, not from Bambu Studio / OrcaSlicer, or unsafe to inflate."""
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    start = stream.tell() if stream.seekable() else 0
    try:
        if name.lower().endswith(".gcode"):
            header = _read_gcode_header(stream.read(HEADER_BYTES), name)
            if header is None:
                raise SliceFileError(
                    f"{name} has no Bambu Studio / OrcaSlicer header block (HEADER_BLOCK_START)."
                )
            plate = _plate_from_header(1, header)
            return SlicedFile(name=name, slicer=header.get("slicer", ""), plates=(plate,))
        return _read_3mf(stream, name)
    finally:
        if stream.seekable():
            stream.seek(start)


def _read_3mf(stream: BinaryIO, name: str) -> SlicedFile:
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise SliceFileError(f"{name} is not a 3MF file (not a zip archive: {error}).") from None
    with archive:
        members = archive.infolist()
        _check_members(members, name)
        by_name = {member.filename: member for member in members}
        if SLICE_INFO not in by_name:
            raise SliceFileError(
                f"{name} is not a sliced Bambu Studio / OrcaSlicer file: it has no {SLICE_INFO}"
                " (slice the plate, then export it with 'Export plate sliced file')."
            )
        config = _read_member(archive, by_name[SLICE_INFO], MAX_CONFIG_BYTES, name)
        plates, slicer = _parse_slice_info(config, name)
        filled = []
        for plate in plates:
            gcode = by_name.get(PLATE_GCODE.format(index=plate.index))
            if gcode is not None and (plate.seconds is None or plate.grams is None):
                header = _read_gcode_header(_read_head(archive, gcode, name), name) or {}
                plate = _fill_from_header(plate, header)
            filled.append(plate)
    return SlicedFile(name=name, slicer=slicer, plates=tuple(filled))


def _check_members(members: list[zipfile.ZipInfo], name: str) -> None:
    if len(members) > MAX_MEMBERS:
        raise SliceFileError(f"{name} has {len(members)} files inside; at most {MAX_MEMBERS}.")
    total = 0
    for member in members:
        size = member.file_size
        if size > MAX_MEMBER_BYTES:
            raise SliceFileError(f"{name}: {member.filename!r} inflates to {size} bytes; too big.")
        if size > RATIO_FLOOR_BYTES and size > MAX_RATIO * max(member.compress_size, 1):
            raise SliceFileError(
                f"{name}: {member.filename!r} inflates {size // max(member.compress_size, 1)}x;"
                " refused as a zip bomb."
            )
        total += size
    if total > MAX_TOTAL_BYTES:
        raise SliceFileError(f"{name} inflates to {total} bytes in all; too big.")


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int, name: str) -> bytes:
    if member.file_size > limit:
        raise SliceFileError(f"{name}: {member.filename} is {member.file_size} bytes; too big.")
    data = _read_head(archive, member, name, limit + 1)
    if len(data) > limit:  # the directory lied about the size
        raise SliceFileError(f"{name}: {member.filename} is larger than {limit} bytes; too big.")
    return data


def _read_head(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str, limit: int = HEADER_BYTES
) -> bytes:
    try:
        with archive.open(member) as handle:
            return handle.read(limit)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as error:
        raise SliceFileError(f"{name}: {member.filename} cannot be read ({error}).") from None
    except RuntimeError as error:  # encrypted member
        raise SliceFileError(f"{name}: {member.filename} cannot be read ({error}).") from None


def _parse_slice_info(data: bytes, name: str) -> tuple[list[Plate], str]:
    try:
        root = ElementTree.fromstring(data)
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as error:
        raise SliceFileError(f"{name}: {SLICE_INFO} is not valid XML ({error}).") from None
    if root.tag != "config":
        raise SliceFileError(f"{name}: {SLICE_INFO} is not a Bambu slice info (<{root.tag}>).")
    header = {
        item.get("key", ""): item.get("value", "") for item in root.iterfind("header/header_item")
    }
    slicer = header.get("X-BBL-Client-Version", "")
    plates = []
    for number, element in enumerate(root.iterfind("plate"), start=1):
        if number > MAX_PLATES:
            raise SliceFileError(f"{name} has more than {MAX_PLATES} plates.")
        plates.append(_parse_plate(element, number, name))
    if not plates:
        raise SliceFileError(
            f"{name} has no sliced plate in {SLICE_INFO}: slice it before exporting."
        )
    indexes = [plate.index for plate in plates]
    if len(set(indexes)) != len(indexes):
        raise SliceFileError(f"{name}: {SLICE_INFO} lists a plate index twice.")
    return plates, slicer


def _parse_plate(element: Any, number: int, name: str) -> Plate:
    meta = {item.get("key", ""): item.get("value", "") for item in element.iterfind("metadata")}
    where = f"{name}: plate {meta.get('index') or number}"
    index = _int(meta.get("index"), where, "index", low=1, high=999) or number
    seconds = _int(meta.get("prediction"), where, "prediction", low=0, high=MAX_SECONDS)
    grams = _decimal(meta.get("weight"), where, "weight")
    filaments = []
    for item in element.iterfind("filament"):
        if len(filaments) >= MAX_FILAMENTS:
            raise SliceFileError(f"{where} lists more than {MAX_FILAMENTS} filaments.")
        filaments.append(_parse_filament(item, where, len(filaments) + 1))
    if grams is None and filaments:
        grams = sum((item.grams for item in filaments), Decimal(0))
    return Plate(index=index, seconds=seconds, grams=grams, filaments=tuple(filaments))


def _parse_filament(item: Any, where: str, position: int) -> Filament:
    slot = _int(item.get("id"), where, "filament id", low=1, high=MAX_FILAMENT_SLOT) or position
    kind = (item.get("type") or "").strip()[:32]
    if not kind:
        raise SliceFileError(f"{where}: filament {slot} has no type.")
    grams = _decimal(item.get("used_g"), where, f"filament {slot} used_g")
    return Filament(
        slot=slot,
        type=kind,
        color=_colour(item.get("color") or "", where, slot),
        grams=grams if grams is not None else Decimal(0),
        meters=_decimal(item.get("used_m"), where, f"filament {slot} used_m"),
    )


def _colour(value: str, where: str, slot: int) -> str:
    value = value.strip()
    if not value:
        return ""
    match = _COLOUR.match(value)
    if match is None:
        raise SliceFileError(f"{where}: filament {slot} colour {value[:20]!r} is not #RRGGBB.")
    return "#" + match.group(1).upper()  # the alpha byte (#RRGGBBAA) says nothing about stock


def _int(value: str | None, where: str, what: str, *, low: int, high: int) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        number = int(Decimal(value.strip()))
    except (InvalidOperation, ValueError):
        raise SliceFileError(f"{where}: {what} {value[:20]!r} is not a number.") from None
    if not low <= number <= high:
        raise SliceFileError(f"{where}: {what} {number} is out of range ({low}-{high}).")
    return number


def _decimal(value: str | None, where: str, what: str) -> Decimal | None:
    if value is None or not value.strip():
        return None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise SliceFileError(f"{where}: {what} {value[:20]!r} is not a number.") from None
    if not number.is_finite() or not Decimal(0) <= number <= MAX_GRAMS:
        raise SliceFileError(f"{where}: {what} {value[:20]!r} is out of range.")
    return number.quantize(Decimal("0.01"))


# --- the G-code header block -------------------------------------------------------------------


def _read_gcode_header(head: bytes, name: str) -> dict[str, str] | None:
    """The ``; key: value`` lines between HEADER_BLOCK_START and _END, or None without a block."""
    text = head.decode("utf-8", errors="replace")
    start = text.find("; HEADER_BLOCK_START")
    if start < 0:
        return None
    end = text.find("; HEADER_BLOCK_END", start)
    block = text[start : end if end >= 0 else len(text)].splitlines()[1:]
    header: dict[str, str] = {}
    if block and block[0].startswith("; ") and ":" not in block[0]:
        header["slicer"] = block[0][2:].strip()[:64]  # "; BambuStudio 01.09.01.67"
    for line in block:
        for part in line.lstrip("; ").split(";"):
            key, sep, value = part.partition(":")
            if sep:
                header[key.strip().lower()] = value.strip()
    return header


def _fill_from_header(plate: Plate, header: dict[str, str]) -> Plate:
    from_header = _plate_from_header(plate.index, header)
    return Plate(
        index=plate.index,
        seconds=plate.seconds if plate.seconds is not None else from_header.seconds,
        grams=plate.grams if plate.grams is not None else from_header.grams,
        filaments=plate.filaments or from_header.filaments,
    )


def _plate_from_header(index: int, header: dict[str, str]) -> Plate:
    where = f"plate {index} G-code header"
    seconds = _duration(header.get("total estimated time", ""))
    grams_list = [
        _decimal(value, where, "total filament weight")
        for value in header.get("total filament weight [g]", "").split(",")
        if value.strip()
    ]
    grams = sum((g for g in grams_list if g is not None), Decimal(0)) if grams_list else None
    return Plate(index=index, seconds=seconds, grams=grams)


def _duration(text: str) -> int | None:
    """ "1d 2h 3m 4s" -> seconds; None when there is no such text."""
    parts = _DURATION_PART.findall(text)
    if not parts:
        return None
    scale = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    seconds = sum(int(number) * scale[unit] for number, unit in parts)
    return seconds if seconds <= MAX_SECONDS else None

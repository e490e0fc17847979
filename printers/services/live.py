"""Live status from the printer link: PrinterStatus, the AMS sync and the events they announce.

Snapshots are the dicts of ``printers.bambu.snapshot.Snapshot.to_dict()``. The link calls these
functions from its writer step, never from the MQTT thread, and decides *when* with
``status_write_due``: at once when something a person would notice changed, otherwise at most every
``PRINTER_STATUS_WRITE_SECONDS`` (so temperatures and progress cost one write per printer per 5 s,
not one per delta).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from j3d import events
from j3d.lib.text import storable_text
from printers.models import (
    BambuMaterial,
    Printer,
    PrinterStatus,
    hex_colour_validator,
    is_valid_slot,
)

logger = logging.getLogger(__name__)

# What a person notices on the farm page: these force an immediate write; everything else
# (temperatures, progress, fans, Wi-Fi) waits for the periodic write.
NOTABLE_KEYS = (
    "state",
    "job_name",
    "gcode_file",
    "task_id",
    "subtask_id",
    "print_error",
    "hms",
    "external",
    "developer_mode",
)
# Per AMS unit, the trays are notable but the unit's temperature/humidity readings are not.
NOTABLE_TRAY_KEYS = ("slot", "empty", "type", "sub_brand", "color", "remaining_pct")


# A real snapshot serialises to a few KB (an X1C with four AMS units: 4.5 KB). One over
# SNAPSHOT_TRIM_BYTES holds what no printer sends (a megabyte job name, thousands of AMS units
# in a 1 MB report), which would bloat the status row, every API read of it and each event that
# quotes it: its texts are cut to SNAPSHOT_MAX_TEXT characters and its lists to
# SNAPSHOT_MAX_ITEMS items.
SNAPSHOT_TRIM_BYTES = 32 * 1024
SNAPSHOT_MAX_TEXT = 1000
SNAPSHOT_MAX_ITEMS = 64


def snapshot_storable(snapshot: dict[str, Any]) -> dict[str, Any]:
    """``snapshot`` as it may be stored: each NUL and lone surrogate of its text replaced by
    U+FFFD (j3d.lib.text: no text or jsonb column holds them), and trimmed when oversized (see
    SNAPSHOT_TRIM_BYTES). The same dict in the usual case, told by one serialisation (orjson
    refuses a lone surrogate and escapes NUL). The link stores, compares and announces only
    this (PrinterLink.flush)."""
    try:
        blob = orjson.dumps(snapshot)
    except TypeError:  # a lone surrogate
        snapshot = _storable(snapshot, trim=False)
        blob = orjson.dumps(snapshot)
    if len(blob) > SNAPSHOT_TRIM_BYTES:
        return _storable(snapshot, trim=True)
    if b"\\u0000" in blob:
        return _storable(snapshot, trim=False)
    return snapshot


def _storable(value: Any, trim: bool) -> Any:
    kind = type(value)
    if kind is str:
        return storable_text(value[:SNAPSHOT_MAX_TEXT] if trim else value)
    if kind is dict:
        return {key: _storable(item, trim) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_storable(item, trim) for item in value[: SNAPSHOT_MAX_ITEMS if trim else None]]
    return value


def write_interval() -> float:
    return float(settings.PRINTER_STATUS_WRITE_SECONDS)


def material_low_pct() -> int:
    return int(settings.PRINTER_MATERIAL_LOW_PCT)


def _trays(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """Every tray of a snapshot, AMS units first, then the external spools."""
    trays: list[dict[str, Any]] = []
    for unit in snapshot.get("ams") or ():
        trays.extend(unit.get("trays") or ())
    trays.extend(snapshot.get("external") or ())
    return trays


def snapshot_notable(snapshot: dict[str, Any]) -> tuple[Any, ...]:
    """The part of a snapshot whose change must reach the database at once (comparable)."""
    trays = tuple(tuple(tray.get(k) for k in NOTABLE_TRAY_KEYS) for tray in _trays(snapshot))
    return (*(repr(snapshot.get(key)) for key in NOTABLE_KEYS), trays)


def status_write_due(
    *,
    written_notable: tuple[Any, ...] | None,
    notable: tuple[Any, ...],
    written_at: float | None,
    now: float,
    every: float | None = None,
) -> bool:
    """Whether a printer's current snapshot should be written now (see the module docstring)."""
    if written_notable is None or written_at is None or notable != written_notable:
        return True
    return now - written_at >= (write_interval() if every is None else every)


def _ids(snapshot: dict[str, Any]) -> dict[str, str]:
    return {
        "task_id": str(snapshot.get("task_id") or ""),
        "subtask_id": str(snapshot.get("subtask_id") or ""),
    }


def status_transitions(
    *, printer_id: int, user_id: int, before: dict[str, Any], after: dict[str, Any]
) -> list[events.Event]:
    """The events one snapshot change announces (pure: no database access).

    ``before`` is the last snapshot the link knew (from the database after a restart, so a restart
    announces nothing new); "offline" is never a job state here, the link tracks it separately.
    """
    found: list[events.Event] = []
    common = {"printer_id": printer_id, "user_id": user_id, **_ids(after)}
    job_name = str(after.get("job_name") or "")
    old, new = before.get("state"), after.get("state")
    same_job = _ids(before) == _ids(after)
    if new != old or not same_job:
        if new == "running" and not (old == "pause" and same_job):
            found.append(events.PrintStarted(**common, job_name=job_name))
        elif new == "finish":
            found.append(events.PrintFinished(**common, job_name=job_name))
        elif new == "failed":
            found.append(_failed(common, job_name, after.get("print_error")))
        elif new == "pause":
            error = after.get("print_error") or {}
            reason = error.get("text") or error.get("hex") or ""
            found.append(events.PrintPaused(**common, job_name=job_name, reason=reason))
    old_hms = {entry.get("full_code") for entry in before.get("hms") or ()}
    raised = tuple(e for e in after.get("hms") or () if e.get("full_code") not in old_hms)
    if raised:
        found.append(events.HmsRaised(**common, entries=raised))
    found.extend(_material_low(common, before, after))
    return found


def _failed(common: dict[str, Any], job_name: str, error: dict[str, Any] | None) -> events.Event:
    error = error or {}
    cancelled = bool(error.get("cancelled"))
    if cancelled:
        reason = "cancelled on the printer"
    else:
        reason = error.get("text") or (f"error {error['hex']}" if error.get("hex") else "failed")
    return events.PrintFailed(
        **common,
        job_name=job_name,
        reason=reason,
        error_code=error.get("code"),
        error_hex=error.get("hex") or "",
        error_text=error.get("text") or "",
        cancelled=cancelled,
    )


def _material_low(
    common: dict[str, Any], before: dict[str, Any], after: dict[str, Any]
) -> Iterable[events.Event]:
    threshold = material_low_pct()
    old = {tray.get("slot"): tray.get("remaining_pct") for tray in _trays(before)}
    loaded = {tray.get("slot"): tray for tray in _trays(before) if not tray.get("empty")}
    printing = after.get("state") in PrinterStatus.BUSY_STATES
    for tray in _trays(after):
        pct, slot = tray.get("remaining_pct"), tray.get("slot")
        if tray.get("empty"):
            # A spool that runs out mid-print needs a person; one taken out between prints does not.
            if printing and slot in loaded:
                yield events.MaterialLow(
                    **common,
                    slot=slot,
                    remaining_pct=0,
                    material_type=loaded[slot].get("type") or "",
                    color_hex=loaded[slot].get("color") or "",
                )
            continue
        if pct is None or slot is None or pct >= threshold:
            continue
        previous = old.get(slot)
        if previous is None or previous >= threshold:  # announce the crossing, not every report
            yield events.MaterialLow(
                **common,
                slot=slot,
                remaining_pct=pct,
                material_type=tray.get("type") or "",
                color_hex=tray.get("color") or "",
            )


def status_apply_snapshot(
    *,
    printer: Printer,
    snapshot: dict[str, Any],
    before: dict[str, Any],
    report_at: datetime,
    came_online: bool = False,
) -> list[events.Event]:
    """Store a snapshot, sync the AMS when its trays changed, and announce the transitions.

    Returns the events published (they reach subscribers after this transaction commits).
    """
    found = status_transitions(
        printer_id=printer.pk, user_id=printer.user_id, before=before, after=snapshot
    )
    if came_online:
        found.insert(0, events.PrinterOnline(printer_id=printer.pk, user_id=printer.user_id))
    now = timezone.now()
    with transaction.atomic():
        fields = {
            "state": snapshot.get("state") or PrinterStatus.State.UNKNOWN,
            "online": True,
            "snapshot": snapshot,
            "last_report_at": report_at,
            "link_error": "",
            "link_error_kind": "",
            "failing_since": None,
            "retry_at": None,
            "updated_at": now,
        }
        if not PrinterStatus.objects.filter(printer_id=printer.pk).update(**fields):
            PrinterStatus.objects.create(printer_id=printer.pk, **fields)
        if _tray_view(before) != _tray_view(snapshot):
            material_sync_from_report(printer=printer, snapshot=snapshot, now=now)
        for event in found:
            events.publish(event)
    return found


def _tray_view(snapshot: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [tuple(sorted(tray.items(), key=lambda kv: kv[0])) for tray in _trays(snapshot)]


def status_mark_offline(
    *,
    printer: Printer,
    reason: str = "no report for a while",
    kind: str = "",
    snapshot: dict[str, Any] | None,
) -> bool:
    """Show the printer offline with why (``reason``, ``kind``: a PrinterStatus.LinkErrorKind)
    and announce it once per outage: printer.offline is published only when the status was not
    offline already, whatever it was (online, or unknown for a printer never reached). Returns
    whether it was announced."""
    now = timezone.now()
    fields: dict[str, Any] = {
        "state": PrinterStatus.State.OFFLINE,
        "online": False,
        "connected_since": None,
        "updated_at": now,
    }
    if reason:
        fields["link_error"] = reason[:255]
        fields["link_error_kind"] = kind
    if snapshot is not None:
        fields["snapshot"] = snapshot
    with transaction.atomic():
        rows = PrinterStatus.objects.filter(printer_id=printer.pk)
        announced = bool(rows.exclude(state=PrinterStatus.State.OFFLINE).update(**fields))
        if not announced and not rows.update(**fields):
            PrinterStatus.objects.create(printer_id=printer.pk, **fields)
            announced = True
        rows.filter(failing_since__isnull=True).update(failing_since=now)
        if announced:
            events.publish(
                events.PrinterOffline(printer_id=printer.pk, user_id=printer.user_id, reason=reason)
            )
    return announced


def status_set_link_error(*, printer_id: int, error: str, kind: str = "") -> None:
    """Show why the link cannot talk to a printer (e.g. a wrong access code)."""
    PrinterStatus.objects.filter(printer_id=printer_id).exclude(
        link_error=error[:255], link_error_kind=kind
    ).update(link_error=error[:255], link_error_kind=kind, updated_at=timezone.now())


def status_link_up(*, printer_id: int, at: datetime) -> None:
    """The link connected (and subscribed): the printer is reachable again, since ``at``."""
    PrinterStatus.objects.filter(printer_id=printer_id).update(
        connected_since=at,
        link_error="",
        link_error_kind="",
        failing_since=None,
        retry_at=None,
        updated_at=timezone.now(),
    )


def status_link_failed(
    *, printer: Printer, kind: str, error: str, retry_at: datetime | None, offline: bool
) -> bool:
    """A connect attempt failed: record why, since when it fails and when the link retries;
    with ``offline``, also show the printer offline (announced once per outage). Returns whether
    printer.offline was announced."""
    now = timezone.now()
    text = error
    with transaction.atomic():
        rows = PrinterStatus.objects.filter(printer_id=printer.pk)
        rows.filter(failing_since__isnull=True).update(failing_since=now)
        rows.update(
            link_error=text[:255],
            link_error_kind=kind,
            retry_at=retry_at,
            connected_since=None,
            updated_at=now,
        )
        if not offline:
            return False
        return status_mark_offline(printer=printer, reason=text, kind=kind, snapshot=None)


# ---- the AMS -> BambuMaterial sync -------------------------------------------------------------

# A few named colours, so a synced slot reads "Red" rather than "#E02020" in lists.
_COLOUR_NAMES = {
    "Black": (0, 0, 0),
    "White": (255, 255, 255),
    "Grey": (128, 128, 128),
    "Red": (200, 30, 30),
    "Orange": (245, 130, 30),
    "Yellow": (240, 220, 40),
    "Green": (40, 160, 60),
    "Blue": (30, 80, 200),
    "Purple": (120, 60, 170),
    "Pink": (240, 130, 180),
    "Brown": (120, 80, 40),
}


def colour_name(hex_colour: str) -> str:
    """The nearest plain colour name for "#RRGGBB" (what the AMS reports has no name)."""
    rgb = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return min(
        _COLOUR_NAMES,
        key=lambda name: sum((a - b) ** 2 for a, b in zip(_COLOUR_NAMES[name], rgb, strict=True)),
    )


def _synced_fields(tray: dict[str, Any], current: BambuMaterial | None) -> dict[str, Any]:
    """Model fields for a reported tray; what the printer does not say keeps its value.

    The values are only shaped here; ``_valid_fields`` holds them to the model's own validators.
    """
    fields: dict[str, Any] = {"is_empty": bool(tray.get("empty"))}
    if fields["is_empty"]:
        return fields  # keep what was there: a person may want to see what ran out
    if tray.get("type"):
        fields["material_type"] = str(tray["type"])[:32]
    colour = tray.get("color")
    if isinstance(colour, str) and _is_colour(colour):
        fields["color_hex"] = colour.upper()
        if current is None or current.color_hex.upper() != fields["color_hex"]:
            fields["color"] = colour_name(colour)
    if tray.get("sub_brand"):
        fields["vendor"] = str(tray["sub_brand"])[:100]
    if type(tray.get("remaining_pct")) is int:
        fields["remaining_pct"] = tray["remaining_pct"]
    if type(tray.get("weight_grams")) is int and tray["weight_grams"] > 0:
        fields["weight_grams"] = Decimal(tray["weight_grams"])
    return fields


def _is_colour(value: str) -> bool:
    try:
        hex_colour_validator(value)
    except ValidationError:
        return False
    return len(value) == 7


def _valid_fields(
    material: BambuMaterial, fields: dict[str, Any], *, printer: Printer
) -> dict[str, Any] | None:
    """Set ``fields`` on ``material`` and hold them to the model's validation (field validators
    and ``clean()``, the API's rules): a value the model refuses is dropped, logged and left as
    it was. None when the row itself is refused (nothing of this tray can be stored)."""
    before = {name: getattr(material, name) for name in fields}
    for name, value in fields.items():
        setattr(material, name, value)
    unsynced = [f.name for f in material._meta.fields if f.name not in fields]
    try:
        # The check constraints repeat the field validators (j3d/lib/limits.py); slot uniqueness
        # is the caller's (one row per slot, looked up first).
        material.full_clean(exclude=unsynced, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        refused = getattr(error, "error_dict", {"__all__": error.messages})
        logger.warning(
            "printer %s slot %s: dropped from the AMS report: %s",
            printer.pk,
            material.slot,
            {name: [str(m) for m in messages] for name, messages in refused.items()},
        )
        if not refused.keys() <= fields.keys():
            for name, value in before.items():
                setattr(material, name, value)
            return None
        for name in refused:
            setattr(material, name, before[name])
        return {name: value for name, value in fields.items() if name not in refused}
    return fields


def material_sync_from_report(
    *, printer: Printer, snapshot: dict[str, Any], now: datetime | None = None
) -> list[BambuMaterial]:
    """Upsert a BambuMaterial per reported tray; returns the rows written.

    Values only a person knows (cost_per_kg, notes) are never touched; a slot reported empty is
    marked ``is_empty`` rather than deleted; an empty slot J3D has no row for gets none. What the
    printer reports passes the same validation as the API: a value out of the model's bounds is
    dropped and logged, never stored.
    """
    now = now or timezone.now()
    existing = {m.slot: m for m in BambuMaterial.objects.filter(printer_id=printer.pk)}
    written: list[BambuMaterial] = []
    with transaction.atomic():
        for tray in _trays(snapshot):
            slot = tray.get("slot")
            if type(slot) is not int or not is_valid_slot(slot):
                continue
            current = existing.get(slot)
            fields = _synced_fields(tray, current)
            if current is None:
                if fields["is_empty"]:
                    continue
                material = BambuMaterial(user_id=printer.user_id, printer=printer, slot=slot)
                material.last_synced = material.loaded_at = now
                if _valid_fields(material, fields, printer=printer) is None:
                    continue
                material.save()
                written.append(material)
                continue
            current.printer = printer  # the owner check in clean() reads it without a query
            changed = {k: v for k, v in fields.items() if getattr(current, k) != v}
            if current.is_empty and not fields["is_empty"]:
                changed["loaded_at"] = now  # a spool went into an empty slot
            valid = _valid_fields(current, changed, printer=printer)
            if valid is None:
                continue
            current.last_synced = now
            current.save(update_fields=[*valid, "last_synced", "updated_at"])
            written.append(current)
    return written

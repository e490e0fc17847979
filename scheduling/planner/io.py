"""The planner's JSON: reading a farm file (every bad field named) and writing a plan.

The format is the one ``manage.py plan_farm`` documents (issue #8); a few optional fields go
beyond it: ``can_swap`` per printer, ``started_at`` per job (a job printing since then), and the
plan's ``slot`` per assignment (the slot the job prints from).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from scheduling.planner.model import Instance, Job, Plan, Printer, Slot

MAX_MINUTES = 60 * 24 * 366  # a plate, a swap or an offset beyond a year is a typo
MAX_ITEMS = 100_000


class InstanceError(ValueError):
    """A farm file that cannot be planned; ``field`` says where (``jobs[3].due_by``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _obj(value: Any, field: str) -> dict:
    if not isinstance(value, dict):
        raise InstanceError(field, "must be an object")
    return value


def _list(value: Any, field: str) -> list:
    if not isinstance(value, list):
        raise InstanceError(field, "must be a list")
    if len(value) > MAX_ITEMS:
        raise InstanceError(field, f"at most {MAX_ITEMS} entries")
    return value


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InstanceError(field, "must be a whole number")
    if isinstance(value, float) and not value.is_integer():
        raise InstanceError(field, "must be a whole number")
    if not low <= value <= high:
        raise InstanceError(field, f"must be between {low} and {high}")
    return int(value)


def _grams(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InstanceError(field, "must be a number of grams")
    if not 0 <= value <= 1_000_000:
        raise InstanceError(field, "must be between 0 and 1000000")
    return float(value)


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InstanceError(field, "must be true or false")
    return value


def _text(value: Any, field: str, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise InstanceError(field, "must be a string of at most 64 characters")
    return value


def _color(value: Any, field: str) -> str | None:
    text = _text(value, field)
    if text is None:
        return None
    bare = text.lstrip("#")
    if len(bare) not in (6, 8) or any(c not in "0123456789abcdefABCDEF" for c in bare):
        raise InstanceError(field, 'must be a hex colour like "FF8800" (or null for any)')
    return text


def _when(value: Any, field: str, *, optional: bool = True) -> datetime | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InstanceError(field, "must be an ISO 8601 date-time with a time zone")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InstanceError(field, "must be an ISO 8601 date-time with a time zone") from None
    if parsed.tzinfo is None:
        raise InstanceError(field, "needs a time zone (e.g. +00:00)")
    return parsed


def _clock(value: Any, field: str, *, end: bool) -> int:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise InstanceError(field, 'must be a time "HH:MM"')
    try:
        hours, minutes = int(value[:2]), int(value[3:])
    except ValueError:
        raise InstanceError(field, 'must be a time "HH:MM"') from None
    total = hours * 60 + minutes
    if minutes > 59 or total > (1440 if end else 1439):
        raise InstanceError(field, "must be 00:00-23:59 (24:00 allowed as an end)")
    return total


def _hours(value: Any, field: str) -> tuple[tuple[int, int], ...] | None:
    if value is None:
        return None
    windows = []
    for n, window in enumerate(_list(value, field)):
        where = f"{field}[{n}]"
        if not isinstance(window, list) or len(window) != 2:
            raise InstanceError(where, 'must be a pair ["HH:MM", "HH:MM"]')
        windows.append(
            (
                _clock(window[0], f"{where}[0]", end=False),
                _clock(window[1], f"{where}[1]", end=True),
            )
        )
    return tuple(windows)


def _printer(data: Any, field: str) -> Printer:
    data = _obj(data, field)
    for key in ("id", "model"):
        if key not in data:
            raise InstanceError(f"{field}.{key}", "is required")
    slots = []
    seen = set()
    for n, slot in enumerate(_list(data.get("slots", []), f"{field}.slots")):
        where = f"{field}.slots[{n}]"
        slot = _obj(slot, where)
        number = _int(slot.get("slot"), f"{where}.slot", 0, 255)
        if number in seen:
            raise InstanceError(f"{where}.slot", f"slot {number} is listed twice")
        seen.add(number)
        grams = slot.get("remaining_grams")
        slots.append(
            Slot(
                slot=number,
                material_type=_text(slot.get("material_type"), f"{where}.material_type") or "",
                color=_color(slot.get("color"), f"{where}.color"),
                remaining_grams=None
                if grams is None
                else _grams(grams, f"{where}.remaining_grams"),
            )
        )
    return Printer(
        id=_int(data["id"], f"{field}.id", 0, 2**63 - 1),
        model=_text(data["model"], f"{field}.model", optional=False),
        online=_bool(data.get("online", True), f"{field}.online"),
        enabled=_bool(data.get("enabled", True), f"{field}.enabled"),
        available_at=_when(data.get("available_at"), f"{field}.available_at"),
        slots=tuple(slots),
        working_hours=_hours(data.get("working_hours"), f"{field}.working_hours"),
        can_swap=_bool(data.get("can_swap", True), f"{field}.can_swap"),
    )


def _job(data: Any, field: str) -> Job:
    data = _obj(data, field)
    for key in ("id", "duration_minutes"):
        if key not in data:
            raise InstanceError(f"{field}.{key}", "is required")
    models = data.get("compatible_models")
    if models is not None:
        models = frozenset(
            _text(m, f"{field}.compatible_models[{n}]", optional=False)
            for n, m in enumerate(_list(models, f"{field}.compatible_models"))
        )
    printer_id = data.get("printer_id")
    started_at = _when(data.get("started_at"), f"{field}.started_at")
    if started_at is not None and printer_id is None:
        raise InstanceError(f"{field}.printer_id", "a started job needs its printer")
    return Job(
        id=_int(data["id"], f"{field}.id", 0, 2**63 - 1),
        duration_minutes=_int(
            data["duration_minutes"], f"{field}.duration_minutes", 1, MAX_MINUTES
        ),
        grams=_grams(data.get("grams") or 0, f"{field}.grams"),
        material_type=_text(data.get("material_type"), f"{field}.material_type"),
        color=_color(data.get("color"), f"{field}.color"),
        priority=_int(data.get("priority", 0), f"{field}.priority", -1_000_000, 1_000_000),
        due_by=_when(data.get("due_by"), f"{field}.due_by"),
        printer_id=None
        if printer_id is None
        else _int(printer_id, f"{field}.printer_id", 0, 2**63 - 1),
        compatible_models=models,
        started_at=started_at,
    )


def instance_from_dict(data: Any) -> Instance:
    """The farm a decoded JSON document describes; raises InstanceError naming the field."""
    data = _obj(data, "the file")
    if "now" not in data:
        raise InstanceError("now", "is required")
    now = _when(data["now"], "now", optional=False)
    printers = tuple(
        _printer(p, f"printers[{n}]") for n, p in enumerate(_list(data.get("printers"), "printers"))
    )
    jobs = tuple(_job(j, f"jobs[{n}]") for n, j in enumerate(_list(data.get("jobs"), "jobs")))
    for name, items in (("printers", printers), ("jobs", jobs)):
        ids = set()
        for n, item in enumerate(items):
            if item.id in ids:
                raise InstanceError(f"{name}[{n}].id", f"id {item.id} is used twice")
            ids.add(item.id)
    return Instance(
        now=now,
        printers=printers,
        jobs=jobs,
        swap_minutes=_int(data.get("swap_minutes", 10), "swap_minutes", 0, 1440),
    )


def _iso(when: datetime) -> str:
    return when.isoformat()


def plan_to_dict(plan: Plan) -> dict:
    return {
        "assignments": [
            {
                "job_id": a.job_id,
                "printer_id": a.printer_id,
                "start": _iso(a.start),
                "end": _iso(a.end),
                "swap": None
                if a.swap is None
                else {
                    "slot": a.swap.slot,
                    "material_type": a.swap.material_type,
                    "color": a.swap.color,
                },
                "slot": a.slot,
            }
            for a in plan.assignments
        ],
        "unplaced": [{"job_id": u.job_id, "reason": u.reason} for u in plan.unplaced],
    }

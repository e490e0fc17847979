"""The planner's plain data: what goes in (a farm) and what comes out (a plan).

Times are timezone-aware datetimes; working hours are minutes of the day in UTC. Everything is a
frozen dataclass, so an instance can be hashed, cached and compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# A swap puts a full spool in the slot (the rule).
FULL_SPOOL_GRAMS = 1000.0
# The slot a swap uses on a printer that reports no slot at all: the external spool holder.
EXTERNAL_SLOT = 254


@dataclass(frozen=True, kw_only=True, slots=True)
class Slot:
    """One loaded spool. ``color`` None = unknown; ``remaining_grams`` None = unknown (taken as
    enough: the AMS cannot always tell, and a plan that swaps every unknown spool is useless)."""

    slot: int
    material_type: str
    color: str | None = None
    remaining_grams: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Printer:
    """``working_hours``: windows ``(start, end)`` in minutes of the UTC day during which a job (and
    the swap before it) may start; ``end <= start`` wraps past midnight; None = always, () = never.
    ``available_at`` None = free now. ``can_swap`` False = nobody changes spools on it."""

    id: int
    model: str
    online: bool = True
    enabled: bool = True
    available_at: datetime | None = None
    slots: tuple[Slot, ...] = ()
    working_hours: tuple[tuple[int, int], ...] | None = None
    can_swap: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class Job:
    """One plate. ``material_type`` None = no material rule; ``color`` None = any colour;
    ``printer_id`` set = pinned there by a person (never moved); ``started_at`` set = printing on
    ``printer_id`` since then (kept as it is); ``compatible_models`` None = any model."""

    id: int
    duration_minutes: int
    grams: float = 0.0
    material_type: str | None = None
    color: str | None = None
    priority: int = 0
    due_by: datetime | None = None
    printer_id: int | None = None
    compatible_models: frozenset[str] | None = None
    started_at: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Instance:
    now: datetime
    printers: tuple[Printer, ...]
    jobs: tuple[Job, ...]
    swap_minutes: int = 10


@dataclass(frozen=True, kw_only=True, slots=True)
class Swap:
    """Before the job, put a full spool of this material in ``slot`` (``color`` None = any)."""

    slot: int
    material_type: str
    color: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Assignment:
    """``start``/``end`` are the print's; a swap takes the ``swap_minutes`` just before ``start``.
    ``slot`` is the slot the job prints from (None when the job names no material)."""

    job_id: int
    printer_id: int
    start: datetime
    end: datetime
    swap: Swap | None = None
    slot: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Unplaced:
    job_id: int
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Plan:
    """Assignments ordered by printer then start; unplaced jobs by id."""

    assignments: tuple[Assignment, ...]
    unplaced: tuple[Unplaced, ...]
    # How the plan was made (for the bench and the logs): passes, whether CP-SAT improved it.
    notes: tuple[str, ...] = field(default=(), compare=False)

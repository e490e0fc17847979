"""A farm made ready for planning: minutes instead of datetimes, indexes instead of ids, the
material rules as arrays, and what can never be placed found up front (with its reason).

Everything here is derived from the instance alone, so it is the same for every pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from scheduling.planner.hours import DAY, wait_tables
from scheduling.planner.model import Instance, Job, Printer

NO_DUE = 2**31 - 1  # minutes; a job without a ship-by date is never late
# What a spool swap costs, in minutes of makespan: a person's time and a chance of a mistake.
# The list scheduler lets a job wait this long for a printer that holds its material, and every
# plan is scored with the same price (``construct.objective``), so no pass and no solver trades a
# swap for less time than that. Measured in the bench.
SWAP_PENALTY_MINUTES = 60


def norm_material(value: str | None) -> str | None:
    value = (value or "").strip().upper()
    return value or None


def norm_color(value: str | None) -> str | None:
    """Hex colours compare without '#', upper case, alpha dropped (the AMS sends RRGGBBAA)."""
    value = (value or "").strip().lstrip("#").upper()
    if len(value) == 8:
        value = value[:6]
    return value or None


def minutes_after(now: datetime, when: datetime, *, up: bool) -> int:
    """Whole minutes from ``now`` to ``when``, rounded up (a start) or down (a deadline)."""
    minutes = (when - now).total_seconds() / 60
    return math.ceil(minutes - 1e-9) if up else math.floor(minutes + 1e-9)


@dataclass(slots=True)
class PJob:
    """A job as the passes see it."""

    index: int
    job: Job
    id: int
    dur: int
    grams: float
    req: int  # index into Farm.reqs, -1 = no material rule
    material: str | None
    color: str | None
    due: int
    priority: int
    pin: int | None  # active printer index of a pinned job
    group: int  # index of its compatible-printer mask


@dataclass(slots=True)
class StartedJob:
    job: Job
    printer_id: int
    start: datetime
    end: datetime


class Farm:
    """The prepared instance. Read-only once built; passes copy the mutable state they need."""

    def __init__(self, instance: Instance, swap_penalty: int = SWAP_PENALTY_MINUTES) -> None:
        self.instance = instance
        self.swap_penalty = int(swap_penalty)
        self.now = instance.now
        utc = instance.now.astimezone(UTC)
        self.tod0 = utc.hour * 60 + utc.minute
        self.swap = int(instance.swap_minutes)
        self.by_id: dict[int, Printer] = {p.id: p for p in instance.printers}
        self._prepare_printers()
        self._prepare_jobs()

    # -- printers ---------------------------------------------------------------------------

    def _prepare_printers(self) -> None:
        self.never_hours: set[int] = set()  # enabled+online printers that never start a job
        active = []
        for printer in sorted(self.instance.printers, key=lambda p: p.id):
            if not (printer.enabled and printer.online):
                continue
            wait0, _ = wait_tables(printer.working_hours, self.swap)
            if wait0 is None:
                self.never_hours.add(printer.id)
                continue
            active.append(printer)
        self.printers = active
        self.pidx = {p.id: i for i, p in enumerate(active)}
        n = len(active)
        self.rows = np.arange(n)
        self.models = np.array([(p.model or "").strip().upper() for p in active], dtype=object)
        self.has_hours = any(p.working_hours is not None for p in active)
        w0 = np.zeros((n, DAY), dtype=np.int64)
        ws = np.zeros((n, DAY), dtype=np.int64)
        self.swap_ok = np.zeros(n, dtype=bool)
        for i, p in enumerate(active):
            wait0, wait_swap = wait_tables(p.working_hours, self.swap)
            w0[i] = wait0
            if wait_swap is not None:
                ws[i] = wait_swap
            self.swap_ok[i] = p.can_swap and wait_swap is not None
        self.wait0, self.wait_swap = (w0, ws) if self.has_hours else (None, None)
        self.free0 = np.zeros(n, dtype=np.int64)
        for i, p in enumerate(active):
            if p.available_at is not None:
                self.free0[i] = max(0, minutes_after(self.now, p.available_at, up=True))
        # [slot, material, colour, grams]; unknown grams count as enough.
        self.slots0: list[list[list]] = [
            [
                [
                    s.slot,
                    norm_material(s.material_type),
                    norm_color(s.color),
                    math.inf if s.remaining_grams is None else float(s.remaining_grams),
                ]
                for s in sorted(p.slots, key=lambda s: s.slot)
            ]
            for p in active
        ]

    # -- jobs ------------------------------------------------------------------------------

    def _prepare_jobs(self) -> None:
        self.started: list[StartedJob] = []
        self.started_lost: dict[int, str] = {}  # job id -> why a printing job cannot be shown
        self.static_reasons: dict[int, str] = {}  # PJob index -> why it can never be placed
        self.reqs: list[tuple[str, str | None]] = []
        self.req_index: dict[tuple[str, str | None], int] = {}
        req_index = self.req_index
        groups: dict[frozenset[str] | None, int] = {}
        self.jobs: list[PJob] = []
        for job in sorted(self.instance.jobs, key=lambda j: j.id):
            if job.started_at is not None:
                self._add_started(job)
                continue
            material, color = norm_material(job.material_type), norm_color(job.color)
            req = -1
            if material is not None:
                key = (material, color)
                req = req_index.setdefault(key, len(self.reqs))
                if req == len(self.reqs):
                    self.reqs.append(key)
            models = (
                None
                if job.compatible_models is None
                else frozenset(m.strip().upper() for m in job.compatible_models)
            )
            group = groups.setdefault(models, len(groups))
            pin = self.pidx.get(job.printer_id) if job.printer_id is not None else None
            due = NO_DUE
            if job.due_by is not None:
                due = min(NO_DUE - 1, minutes_after(self.now, job.due_by, up=False))
            self.jobs.append(
                PJob(
                    index=len(self.jobs),
                    job=job,
                    id=job.id,
                    dur=int(job.duration_minutes),
                    grams=float(job.grams or 0),
                    req=req,
                    material=material,
                    color=color,
                    due=due,
                    priority=int(job.priority),
                    pin=pin,
                    group=group,
                )
            )
        self.group_models = sorted(groups, key=groups.__getitem__)
        self.reqs_by_type: dict[str, list[tuple[int, str | None]]] = {}
        for r, (material, color) in enumerate(self.reqs):
            self.reqs_by_type.setdefault(material, []).append((r, color))
        self.compat = np.zeros((len(groups), len(self.printers)), dtype=bool)
        for models, g in groups.items():
            self.compat[g] = True if models is None else np.isin(self.models, list(models))
        self.swap_compat = self.compat & self.swap_ok
        self.avail0 = np.full((len(self.reqs), len(self.printers)), -1.0)
        for i in range(len(self.printers)):
            for material, color in {(s[1], s[2]) for s in self.slots0[i] if s[1] is not None}:
                refresh_avail(self, self.avail0, self.slots0[i], i, material, color)
        self.demand0 = [0] * len(self.reqs)
        for j in self.jobs:
            if j.req >= 0:
                self.demand0[j.req] += 1
        ranks = {p: r for r, p in enumerate(sorted({j.priority for j in self.jobs}), start=1)}
        self.weight = [ranks[j.priority] for j in self.jobs]
        from scheduling.planner.reasons import static_reason

        self.group_reasons: dict[int, str | None] = {}
        for j in self.jobs:
            reason = static_reason(self, j)
            if reason is not None:
                self.static_reasons[j.index] = reason

    def _add_started(self, job: Job) -> None:
        """A printing job stays where it is; its printer is busy until it ends."""
        if job.printer_id not in self.by_id:
            self.started_lost[job.id] = (
                f"it is printing on printer {job.printer_id}, which is not in the farm"
            )
            return
        end = max(job.started_at + timedelta(minutes=job.duration_minutes), self.now)
        self.started.append(
            StartedJob(job=job, printer_id=job.printer_id, start=job.started_at, end=end)
        )
        i = self.pidx.get(job.printer_id)
        if i is not None:
            self.free0[i] = max(self.free0[i], minutes_after(self.now, end, up=True))


def refresh_avail(
    farm: Farm, avail: np.ndarray, slots: list[list], i: int, material: str, color: str | None
) -> None:
    """Recompute, for printer ``i``, the most grams a slot offers the two requirements a spool of
    ``material``/``color`` serves: that colour, and any colour (-1 = no slot matches)."""
    exact = farm.req_index.get((material, color)) if color is not None else None
    anyc = farm.req_index.get((material, None))
    if exact is None and anyc is None:
        return
    best_exact = best_any = -1.0
    for s in slots:
        if s[1] == material:
            grams = s[3]
            if grams > best_any:
                best_any = grams
            if s[2] == color and grams > best_exact:
                best_exact = grams
    if exact is not None:
        avail[exact, i] = best_exact
    if anyc is not None:
        avail[anyc, i] = best_any

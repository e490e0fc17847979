"""An independent check of a plan against every rule of the issue (tests and the bench use it).

It re-derives everything from the instance and the plan's own output, sharing no code with the
planner beyond the spelling rules for materials and colours.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from scheduling.planner.farm import norm_color, norm_material
from scheduling.planner.hours import allowed_minutes
from scheduling.planner.model import FULL_SPOOL_GRAMS, Assignment, Instance, Plan


def _minute_of_day(when: datetime) -> int:
    utc = when.astimezone(UTC)
    return utc.hour * 60 + utc.minute


def check_plan(instance: Instance, plan: Plan) -> list[str]:
    """Every broken rule, as a sentence; an empty list means the plan is valid."""
    problems: list[str] = []
    printers = {p.id: p for p in instance.printers}
    jobs = {j.id: j for j in instance.jobs}
    swap = timedelta(minutes=instance.swap_minutes)
    placed: dict[int, Assignment] = {}
    for a in plan.assignments:
        if a.job_id in placed:
            problems.append(f"job {a.job_id} is placed twice")
        placed[a.job_id] = a
    unplaced = {u.job_id for u in plan.unplaced}
    for job_id in jobs.keys() - placed.keys() - unplaced:
        problems.append(f"job {job_id} is neither placed nor unplaced")
    for job_id in placed.keys() & unplaced:
        problems.append(f"job {job_id} is both placed and unplaced")
    for u in plan.unplaced:
        if not u.reason:
            problems.append(f"job {u.job_id} is unplaced without a reason")
    busy: dict[int, list[tuple[datetime, datetime, int]]] = defaultdict(list)
    started = {j.id for j in instance.jobs if j.started_at is not None}
    for a in plan.assignments:
        job, printer = jobs.get(a.job_id), printers.get(a.printer_id)
        if job is None or printer is None:
            problems.append(f"assignment {a} names an unknown job or printer")
            continue
        block_start = a.start - swap if a.swap else a.start
        busy[a.printer_id].append((block_start, a.end, a.job_id))
        if job.started_at is not None:
            if a.printer_id != job.printer_id or a.start != job.started_at:
                problems.append(f"started job {job.id} was moved")
            continue
        problems += _check_one(instance, job, printer, a, block_start)
    for printer_id, blocks in busy.items():
        blocks.sort()
        for (_, end, first), (start, _, second) in zip(blocks, blocks[1:], strict=False):
            # Two jobs the farm says are printing at once on one printer are its input, not ours.
            if start < end and not {first, second} <= started:
                problems.append(f"printer {printer_id} runs jobs {first} and {second} at once")
    problems += _check_material(instance, plan, jobs)
    return problems


def _check_one(instance: Instance, job, printer, a: Assignment, block_start: datetime) -> list[str]:
    problems = []
    if job.printer_id is not None and a.printer_id != job.printer_id:
        problems.append(f"pinned job {job.id} was moved to printer {a.printer_id}")
    if not (printer.enabled and printer.online):
        problems.append(f"job {job.id} is on printer {printer.id}, which is disabled or offline")
    models = job.compatible_models
    if models is not None and printer.model.upper() not in {m.upper() for m in models}:
        problems.append(f"job {job.id} cannot print on a {printer.model}")
    if a.end - a.start != timedelta(minutes=job.duration_minutes):
        problems.append(f"job {job.id} does not last its duration")
    if block_start < instance.now:
        problems.append(f"job {job.id} starts in the past")
    if printer.available_at is not None and block_start < printer.available_at:
        problems.append(f"job {job.id} starts before printer {printer.id} is available")
    allowed = allowed_minutes(printer.working_hours)
    if not allowed[_minute_of_day(a.start)]:
        problems.append(f"job {job.id} starts outside printer {printer.id}'s working hours")
    if a.swap is not None and not allowed[_minute_of_day(block_start)]:
        problems.append(f"the swap before job {job.id} starts outside working hours")
    return problems


def _check_material(instance: Instance, plan: Plan, jobs: dict) -> list[str]:
    problems = []
    slots: dict[int, dict[int, list]] = {
        p.id: {
            s.slot: [
                norm_material(s.material_type),
                norm_color(s.color),
                math.inf if s.remaining_grams is None else s.remaining_grams,
            ]
            for s in p.slots
        }
        for p in instance.printers
    }
    order = sorted(plan.assignments, key=lambda a: (a.printer_id, a.start, a.job_id))
    for a in order:
        job = jobs.get(a.job_id)
        if job is None or job.started_at is not None:
            continue
        material, color = norm_material(job.material_type), norm_color(job.color)
        if material is None:
            if a.swap is not None:
                problems.append(f"job {job.id} needs no material but has a swap")
            continue
        held = slots.get(a.printer_id, {})
        if a.swap is not None:
            if (norm_material(a.swap.material_type), norm_color(a.swap.color)) != (material, color):
                problems.append(f"the swap before job {job.id} loads the wrong material")
            held[a.swap.slot] = [material, color, FULL_SPOOL_GRAMS]
        spool = held.get(a.slot)
        if spool is None or spool[0] != material or (color is not None and spool[1] != color):
            problems.append(f"job {job.id} prints from slot {a.slot}, which lacks its material")
            continue
        if spool[2] < (job.grams or 0) - 1e-6:
            problems.append(f"job {job.id} needs {job.grams} g but slot {a.slot} has {spool[2]}")
        spool[2] -= job.grams or 0
    return problems

"""plan(instance) -> Plan: the constructive passes, the best of them, then optional CP-SAT."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from scheduling.planner.construct import (
    Schedule,
    batch_materials,
    fewer_swaps,
    list_schedule,
    rebalance_tail,
    retime,
)
from scheduling.planner.farm import SWAP_PENALTY_MINUTES, Farm
from scheduling.planner.model import Assignment, Instance, Plan, Swap, Unplaced

# Passes that place the job ending last first, while that shortens the makespan.
CRITICAL_PASSES = 2
# A makespan within this factor of the even-spread bound is not worth another pass.
CLOSE_ENOUGH = 1.02
# On farms of more jobs than this, Moore and Hodgson's passes run only when two or more jobs are
# late: with one, giving up a printer's longest job only trades it for another (never better on
# the bench's farms), and the two passes cost a fifth of a re-plan.
MOORE_ONE_LATE_JOBS = 200
# The CP-SAT budget of a live re-plan (deterministic seconds, one worker): enough to settle a
# small farm's window exactly, small enough that a re-plan after an event on a 1,000-job farm,
# where the window is the soonest jobs around the earliest late job, stays under 100 ms
# (bench/bench_plan.py, the re-plan rows).
REPLAN_CPSAT_BUDGET = 0.1
# With CP-SAT, farms up to this many jobs also get the swap-removing moves (each try lays out
# the whole plan: about as long as CP-SAT's own budget on 40 jobs).
FEWER_SWAPS_JOBS = 60
# Its tries per second of CP-SAT budget (a count, so the same farm gives the same plan), at most
# 4,000 (each lays out the whole plan: ~0.1 ms on 40 jobs): a live re-plan's 0.1 s allows 400.
FEWER_SWAPS_TRIES_PER_SECOND = 4000


def _horizon(farm: Farm) -> int:
    """When the farm would finish if the work were spread evenly (the makespan's lower bound)."""
    n = max(1, len(farm.printers))
    return int((sum(j.dur for j in farm.jobs) + int(farm.free0.sum())) / n)


def _latest_starts(farm: Farm) -> list[int]:
    """When each job must start to be on time and not to stretch the makespan: a long job due
    late still has to start early enough to end by the farm's horizon."""
    horizon = _horizon(farm)
    return [min(j.due, max(horizon, j.dur)) - j.dur for j in farm.jobs]


def priority_order(farm: Farm, promoted: frozenset[int] = frozenset()) -> list[int]:
    """Higher priority first (promoted jobs above every priority), then latest start, then id."""
    top = max((j.priority for j in farm.jobs), default=0) + 1
    latest = _latest_starts(farm)
    jobs = farm.jobs
    return sorted(
        range(len(jobs)),
        key=lambda k: (-(top if k in promoted else jobs[k].priority), latest[k], jobs[k].id),
    )


def due_order(farm: Farm, *, capped: bool = True) -> list[int]:
    """Latest start first (ship-by date less duration, see ``_latest_starts``; uncapped: the
    ship-by date alone, longer first), then higher priority, then id."""
    jobs = farm.jobs
    if capped:
        latest = _latest_starts(farm)
        return sorted(range(len(jobs)), key=lambda k: (latest[k], -jobs[k].priority, jobs[k].id))
    return sorted(
        range(len(jobs)), key=lambda k: (jobs[k].due, -jobs[k].priority, -jobs[k].dur, jobs[k].id)
    )


def construct(farm: Farm) -> Schedule:
    """The best of a few list-scheduling passes. Priority order first: when it leaves no job late
    it is the answer (the aims rank lateness, then priority). Otherwise orders by ship-by date
    compete on the objective, with and without Moore and Hodgson's rule (give up the longest job
    of a printer that would finish one late: fewer late jobs when the farm is overloaded)."""
    best = list_schedule(farm, priority_order(farm), "priority")
    if best.objective.late > 0:
        capped, uncapped = due_order(farm), due_order(farm, capped=False)
        best = min(best, list_schedule(farm, uncapped, "due-uncapped"))
        # Capping the latest starts at the horizon balances the printers but may cost a job.
        best = min(best, list_schedule(farm, capped, "due"))
        late = best.objective.late
        if late > 1 or (late == 1 and len(farm.jobs) <= MOORE_ONE_LATE_JOBS):
            for order, note in ((uncapped, "moore-uncapped"), (capped, "moore")):
                best = min(best, list_schedule(farm, order, note, defer_late=True))
    best = _shorten(farm, best)
    # The same sequences with the spool needed last evicted (the pass could not see ahead).
    again = retime(farm, best.sequences(len(farm.printers)), best.note + "+retime")
    best = again if again.objective < best.objective else best
    return batch_materials(farm, best)


def _shorten(farm: Farm, best: Schedule) -> Schedule:
    """Shorter makespans, kept only where nothing the aims rank higher gets worse: the last jobs
    placed again longest first; and the job that ends last placed first (a long job due late
    otherwise starts late and finishes after everything else)."""
    if not any(p >= 0 for p in best.printer):
        return best
    balanced = rebalance_tail(farm, best)
    if balanced.objective < best.objective:
        best = balanced
    for attempt in range(CRITICAL_PASSES):
        if best.objective.makespan <= _horizon(farm) * CLOSE_ENOUGH:
            break
        last = max(
            range(len(farm.jobs)), key=lambda k: (best.end[k] if best.printer[k] >= 0 else -1, k)
        )
        if best.printer[last] < 0 or farm.jobs[last].pin is not None or not best.order:
            break
        order = [last] + [k for k in best.order if k != last]
        sched = list_schedule(farm, order, best.note.split("+")[0] + f"+first{attempt + 1}")
        balanced = rebalance_tail(farm, sched)
        sched = min(sched, balanced, key=lambda s: s.objective)
        if sched.objective >= best.objective:
            break
        sched.order = order
        best = sched
    return best


def plan(
    instance: Instance,
    *,
    cpsat_budget: float = 0.0,
    swap_penalty: int = SWAP_PENALTY_MINUTES,
) -> Plan:
    """The plan for ``instance``. ``cpsat_budget`` > 0 lets CP-SAT improve the near-term window
    for that much deterministic time (so the same instance still gives the same plan).

    A plan is a pure function of its arguments, so the last few are remembered: a burst of events
    that leaves the farm as it was (a report repeating a state, a debounced double) costs a hash.
    """
    return _plan_cached(instance, cpsat_budget, swap_penalty)


def forget_plans() -> None:
    """Drop the remembered plans (benchmarks and determinism tests need a cold start)."""
    _plan_cached.cache_clear()


@lru_cache(maxsize=8)
def _plan_cached(instance: Instance, cpsat_budget: float, swap_penalty: int) -> Plan:
    farm = Farm(instance, swap_penalty)
    sched = construct(farm)
    notes = [sched.note]
    if cpsat_budget > 0 and farm.jobs:
        from scheduling.planner.improve import improve

        improved, note = improve(farm, sched, cpsat_budget)
        notes.append(note)
        if improved is not sched:  # CP-SAT's relaxed swaps may have split a colour run
            tries = int(FEWER_SWAPS_TRIES_PER_SECOND * min(1.0, cpsat_budget))
            sched = fewer_swaps(farm, batch_materials(farm, improved), FEWER_SWAPS_JOBS, tries)
    return to_plan(farm, sched, tuple(notes))


def to_plan(farm: Farm, sched: Schedule, notes: tuple[str, ...] = ()) -> Plan:
    now = farm.now
    printers = farm.printers
    assignments = [
        Assignment(job_id=s.job.id, printer_id=s.printer_id, start=s.start, end=s.end)
        for s in farm.started
    ]
    for j in farm.jobs:
        i = sched.printer[j.index]
        if i < 0:
            continue
        swap = sched.swap[j.index]
        assignments.append(
            Assignment(
                job_id=j.id,
                printer_id=printers[i].id,
                start=now + timedelta(minutes=sched.start[j.index]),
                end=now + timedelta(minutes=sched.end[j.index]),
                swap=None
                if swap is None
                else Swap(slot=swap[0], material_type=swap[1], color=swap[2]),
                slot=sched.slot[j.index],
            )
        )
    assignments.sort(key=lambda a: (a.printer_id, a.start, a.job_id))
    unplaced = [Unplaced(job_id=farm.jobs[k].id, reason=r) for k, r in sched.reasons.items()]
    unplaced += [Unplaced(job_id=jid, reason=r) for jid, r in farm.started_lost.items()]
    unplaced.sort(key=lambda u: u.job_id)
    return Plan(assignments=tuple(assignments), unplaced=tuple(unplaced), notes=notes)

"""CP-SAT on the near-term window: fewer late jobs, less lateness, priority kept, then a shorter,
calmer plan.

The constructive passes answer in milliseconds but are greedy. Here OR-Tools CP-SAT re-decides
which printer runs each job of a window, and in which order, lexicographically in the aims' order
(``construct.Score``): late jobs, minutes late, priority inversions on one printer, then makespan
plus the swap price per swap; within a fixed *deterministic* time (a work count, not the clock),
on one worker, so the same instance still gives the same plan.

The window: on a small farm, every job; on a large one, the jobs starting soonest on the printers
around the earliest late job. Jobs after the window stay where they were; the window must end on
each printer before the first of them started, so nothing after it moves later.

Jobs are optional intervals that may not overlap on a printer (CP-SAT's strongest scheduling
constraint). A spool swap is one optional interval per printer and material the printer does not
hold, before every job of that material there: a relaxation (a swapped-in spool never runs out nor
is evicted), so its optimum is a lower bound on the true one. The answer is only used through
``retime``, which lays the sequences out with the exact rules, and is kept only when its score is
better by ``construct.objective``, the same function that chose the constructive plan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ortools.sat.python import cp_model

from scheduling.planner.construct import Schedule, retime
from scheduling.planner.farm import NO_DUE, Farm, PJob
from scheduling.planner.hours import DAY, allowed_minutes
from scheduling.planner.model import FULL_SPOOL_GRAMS

WINDOW_JOBS = 40
WINDOW_PRINTERS = 8
# A budget under this is a live re-plan's: a smaller window (a whole farm this small, else the
# soonest jobs on the printers around the earliest late job) and no presolve, which costs more
# than such a window's whole search (measured: ~25 ms of a 40-job window's 50 ms first stage).
# CP-SAT overruns small limits (a 40-job window took 300-1,000 ms on 0.1 s and 100 conflicts a
# stage); 16 jobs on 5 printers stay near 50 ms.
LIVE_BUDGET = 0.5
LIVE_WINDOW_JOBS = 16
LIVE_WINDOW_PRINTERS = 5
# Shares of the deterministic budget per stage: late jobs, minutes late, inversions, the rest.
STAGE_SHARES = (0.4, 0.3, 0.15, 0.15)
# CP-SAT's deterministic time runs slow against the clock on these models (tardiness search
# propagates a lot per conflict), so each stage is also capped in conflicts, which is just as
# deterministic on one worker: about this many per budget second on an idle core.
CONFLICTS_PER_SECOND = 3000
# A budget of a second or more (``plan_farm --cpsat-budget 1``, the bench's "j3d+cp") is not a
# live re-plan and may spend more: at 3,000 conflicts the minutes-late stage stopped at 36 minutes
# late on the bench's 40-job farm, where 2 is the best CP-SAT finds in 90 s on 8 workers; at
# 10,000 it reaches 2 (and the optimum on the 10-, 20- and 30-job farms), for ~6 s of CPU on 40
# jobs instead of ~3 s.
OFFLINE_CONFLICTS_PER_SECOND = 10000


@dataclass
class CpOutcome:
    sequences: list[list[int]]
    late: int
    tardiness: int
    proven: bool  # every stage proved optimal
    # Per stage solved (late jobs, minutes late, ...): CP-SAT's best bound, and whether it proved
    # its answer optimal (the bound reached it).
    bounds: tuple[int, ...] = ()
    proofs: tuple[bool, ...] = ()


def improve(farm: Farm, sched: Schedule, budget: float) -> tuple[Schedule, str]:
    """``sched`` improved by CP-SAT within ``budget`` deterministic seconds, or as it was."""
    live = budget < LIVE_BUDGET
    if live:
        window, printers = choose_window(farm, sched, LIVE_WINDOW_JOBS, LIVE_WINDOW_PRINTERS)
    else:
        window, printers = choose_window(farm, sched)
    if not window:
        return sched, "cp: nothing to improve"
    outcome = solve_window(
        farm,
        sched,
        window,
        printers,
        deterministic_time=budget,
        presolve=not live,
        conflicts_per_second=CONFLICTS_PER_SECOND if live else OFFLINE_CONFLICTS_PER_SECOND,
    )
    if outcome is None:
        return sched, "cp: no solution in budget"
    candidate = retime(farm, outcome.sequences, sched.note + "+cp")
    if candidate.objective < sched.objective:
        return candidate, f"cp: improved {len(window)} jobs on {len(printers)} printers"
    return sched, f"cp: kept ({len(window)} jobs on {len(printers)} printers)"


def choose_window(
    farm: Farm, sched: Schedule, max_jobs: int = WINDOW_JOBS, max_printers: int = WINDOW_PRINTERS
) -> tuple[list[int], list[int]]:
    """(window jobs, printers): everything on a small farm; else the soonest jobs on the printers
    that could run the earliest-due late job (empty when no job is late)."""
    placed = [k for k in range(len(farm.jobs)) if sched.printer[k] >= 0]
    if len(placed) <= max_jobs and len(farm.printers) <= max_printers:
        return placed, sorted({sched.printer[k] for k in placed} | set(range(len(farm.printers))))
    late = [k for k in placed if sched.end[k] > farm.jobs[k].due]
    if not late:
        return [], []
    first = min(late, key=lambda k: (farm.jobs[k].due, k))
    j = farm.jobs[first]
    if j.pin is not None:
        printers = [j.pin]
    else:
        home = sched.printer[first]
        others = [i for i in range(len(farm.printers)) if farm.compat[j.group, i] and i != home]
        # The printers that free up soonest are the ones that can take it earlier.
        others.sort(key=lambda i: (int(farm.free0[i]), i))
        printers = sorted([home] + others[: max_printers - 1])
    chosen = set(printers)
    mine = sorted(
        (k for k in placed if sched.printer[k] in chosen), key=lambda k: (sched.start[k], k)
    )
    if len(mine) > max_jobs:
        cut = sched.start[mine[max_jobs]]
        mine = [k for k in mine if sched.start[k] < cut]
    if first not in mine:
        return [], []
    return mine, printers


def _allowed_domain(farm: Farm, i: int, horizon: int, swap_before: bool) -> cp_model.Domain:
    """The job starts printer ``i``'s working hours allow in [0, horizon] (minutes from now),
    and with ``swap_before`` also the swap's start."""
    hours = farm.printers[i].working_hours
    if hours is None:
        return cp_model.Domain(0, horizon)
    ok = allowed_minutes(hours)
    intervals, run = [], None
    for t in range(horizon + 1):
        tod = (t + farm.tod0) % DAY
        good = ok[tod] and (not swap_before or ok[(tod - farm.swap) % DAY])
        if good and run is None:
            run = t
        elif not good and run is not None:
            intervals.append([run, t - 1])
            run = None
    if run is not None:
        intervals.append([run, horizon])
    return cp_model.Domain.FromIntervals(intervals) if intervals else cp_model.Domain(-1, -1)


def _earliest(farm: Farm, i: int, j: PJob) -> int:
    """The soonest ``j`` can start on printer ``i``: when it is free, after a swap if it needs one
    (working hours aside)."""
    return int(farm.free0[i]) + (0 if _holds(farm, i, j) else farm.swap)


def _holds(farm: Farm, i: int, j: PJob) -> bool:
    """Printer ``i`` holds ``j``'s material with enough grams from the start."""
    return j.req < 0 or farm.avail0[j.req, i] >= j.grams


def solve_window(
    farm: Farm,
    sched: Schedule,
    window: list[int],
    printers: list[int],
    *,
    deterministic_time: float | None = None,
    wall_time: float | None = None,
    workers: int = 1,
    presolve: bool = True,
    stages: int = 4,
    conflicts_per_second: int = CONFLICTS_PER_SECOND,
) -> CpOutcome | None:
    """Re-plan ``window`` (PJob indexes) on ``printers`` (active indexes) with CP-SAT; returns the
    full farm's sequences (window first, then each printer's later jobs as they were)."""
    jobs = farm.jobs
    win = set(window)
    seqs = sched.sequences(len(farm.printers))
    tails = {i: [k for k in seqs[i] if k not in win] for i in range(len(farm.printers))}
    limit = {}
    for i in printers:
        if tails[i]:
            first = tails[i][0]
            limit[i] = sched.start[first] - (farm.swap if sched.swap[first] else 0)
    horizon = int(
        max([int(farm.free0.max(initial=0))] + [sched.end[k] for k in window])
        + sum(jobs[k].dur + farm.swap for k in window)
        + 2 * DAY
    )
    m = cp_model.CpModel()
    start = {k: m.NewIntVar(0, horizon, f"s{k}") for k in window}
    on: dict[tuple[int, int], cp_model.IntVar] = {}
    swaps: list[cp_model.IntVar] = []
    hints: dict[cp_model.IntVar, int] = {}
    for i in printers:
        _printer_model(farm, sched, m, i, window, start, on, swaps, hints, horizon, limit.get(i))
    for k in window:
        options = [on[k, i] for i in printers if (k, i) in on]
        if not options:
            return None
        m.AddExactlyOne(options)
        hints[start[k]] = sched.start[k]
        # Whatever printer it takes, it starts no sooner than that printer is free (and its swap
        # done): stated once for the job, so a job that cannot be on time is late from the start.
        m.Add(start[k] >= min(_earliest(farm, i, jobs[k]) for i in printers if (k, i) in on))
    late, tardy, ends = [], [], []
    late_now = tardy_now = 0  # the constructive plan's figures (its hint)
    for k in window:
        j = jobs[k]
        end = start[k] + j.dur
        ends.append(end)
        if j.due < NO_DUE:
            is_late = m.NewBoolVar(f"late{k}")
            m.Add(end <= j.due).OnlyEnforceIf(is_late.Not())
            # Exactly late, so a proven count of late jobs bounds the minutes late from below.
            m.Add(end >= j.due + 1).OnlyEnforceIf(is_late)
            minutes = m.NewIntVar(0, horizon, f"t{k}")
            m.AddMaxEquality(minutes, [end - j.due, 0])
            late.append(is_late)
            tardy.append(minutes)
            hints[is_late] = int(sched.end[k] > j.due)
            hints[minutes] = max(0, sched.end[k] - j.due)
            late_now += hints[is_late]
            tardy_now += hints[minutes]
    inversions, inversions_now = 0, 0  # not built when the stages stop before them
    if stages >= 3:
        inversions, inversions_now = _inversions(farm, sched, m, window, start, on, tails, hints)
    makespan = m.NewIntVar(0, horizon + DAY, "makespan")
    m.AddMaxEquality(makespan, ends)
    hints[makespan] = max(sched.end[k] for k in window)
    for var, value in hints.items():
        m.AddHint(var, value)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.cp_model_presolve = presolve
    if workers > 1:
        solver.parameters.interleave_search = True
    proven = True
    wall_end = time.perf_counter() + (wall_time or 0)
    plan_stages = [
        (sum(late), late_now, STAGE_SHARES[0]),
        (sum(tardy), tardy_now, STAGE_SHARES[1]),
        (inversions, inversions_now, STAGE_SHARES[2]),
        (makespan + farm.swap_penalty * sum(swaps), None, STAGE_SHARES[3]),
    ][:stages]
    bounds: list[int] = []
    proofs: list[bool] = []
    for objective, now, share in plan_stages:
        if isinstance(objective, int):  # nothing to minimise (no due dates in the window)
            bounds.append(0)
            proofs.append(True)
            continue
        if now == 0:
            # The plan at hand already reaches the bound: fix it there without a search (each
            # solve costs a model load however easy it is).
            m.Add(objective == 0)
            bounds.append(0)
            proofs.append(True)
            continue
        m.Minimize(objective)
        if deterministic_time is not None:
            solver.parameters.max_deterministic_time = max(0.01, deterministic_time * share)
            solver.parameters.max_number_of_conflicts = max(
                100, int(conflicts_per_second * deterministic_time * share)
            )
        if wall_time is not None:
            # The reference (all stages on one clock): each stage may use what the earlier left.
            solver.parameters.max_time_in_seconds = max(0.1, wall_end - time.perf_counter())
        status = solver.Solve(m)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        proven = proven and status == cp_model.OPTIMAL
        value = int(solver.ObjectiveValue())
        bounds.append(value if status == cp_model.OPTIMAL else int(solver.BestObjectiveBound()))
        proofs.append(status == cp_model.OPTIMAL)
        # The next stages keep this one's figure, and what CP-SAT proved of it (the bound).
        m.AddLinearConstraint(objective, bounds[-1], value)
        m.ClearHints()
        for var in hints:
            m.AddHint(var, solver.Value(var))
    sequences = _read_sequences(farm, solver, on, start, printers, window, tails)
    return CpOutcome(
        sequences=sequences,
        late=sum(solver.Value(v) for v in late),
        tardiness=sum(solver.Value(v) for v in tardy),
        proven=proven,
        bounds=tuple(bounds),
        proofs=tuple(proofs),
    )


def _inversions(
    farm: Farm,
    sched: Schedule,
    m: cp_model.CpModel,
    window: list[int],
    start: dict,
    on: dict,
    tails: dict[int, list[int]],
    hints: dict,
) -> tuple[cp_model.LinearExpr | int, int]:
    """(the count, its value in ``sched``) of the priority inversions on one printer, as
    ``construct.objective`` counts them: a flag per pair of window jobs of different priority
    that may share a printer (set when they do and the lower one starts first), and, for a
    window job on a printer, the later jobs there of higher priority (the window runs first)."""
    weight = farm.weight
    terms = []
    now = 0  # the count in ``sched`` (the hint)
    for (k, i), present in on.items():
        above = sum(1 for t in tails[i] if weight[t] > weight[k])
        if above:
            terms.append(above * present)
            now += above if sched.printer[k] == i else 0
    by_rank = sorted(window, key=lambda k: (-weight[k], k))
    printers_of: dict[int, set[int]] = {}
    for k, i in on:
        printers_of.setdefault(k, set()).add(i)
    for x, high in enumerate(by_rank):
        for low in by_rank[x + 1 :]:
            if weight[low] == weight[high]:
                continue
            shared = sorted(printers_of.get(high, set()) & printers_of.get(low, set()))
            if not shared:
                continue
            flag = m.NewBoolVar(f"inv{high}_{low}")
            for i in shared:
                m.Add(start[high] < start[low]).OnlyEnforceIf([on[high, i], on[low, i], flag.Not()])
            terms.append(flag)
            hints[flag] = int(
                sched.printer[high] == sched.printer[low] and sched.start[low] < sched.start[high]
            )
            now += hints[flag]
    return sum(terms), now


def _printer_model(
    farm: Farm,
    sched: Schedule,
    m: cp_model.CpModel,
    i: int,
    window: list[int],
    start: dict,
    on: dict,
    swaps: list,
    hints: dict,
    horizon: int,
    limit: int | None,
) -> None:
    """One printer: which window jobs it runs (optional intervals that may not overlap), and one
    optional swap interval per material it does not hold, before every job of that material."""
    jobs = farm.jobs
    can_swap = bool(farm.swap_ok[i])
    free = int(farm.free0[i])
    plain = _allowed_domain(farm, i, horizon, False)
    intervals = []
    groups: dict[tuple, list[int]] = {}
    swapped_in: dict[tuple, tuple] = {}  # (material, colour) -> (swap used, its start)
    for k in window:
        j = jobs[k]
        if j.pin is not None and j.pin != i:
            continue
        if j.pin is None and not farm.compat[j.group, i]:
            continue
        held = _holds(farm, i, j)
        if not held and not (can_swap and j.grams <= FULL_SPOOL_GRAMS):
            continue
        present = m.NewBoolVar(f"on{k}_{i}")
        on[k, i] = present
        hints[present] = int(sched.printer[k] == i)
        intervals.append(m.NewOptionalFixedSizeIntervalVar(start[k], j.dur, present, f"i{k}_{i}"))
        m.Add(start[k] >= _earliest(farm, i, j)).OnlyEnforceIf(present)
        m.AddLinearExpressionInDomain(start[k], plain).OnlyEnforceIf(present)
        if limit is not None:
            m.Add(start[k] + j.dur <= limit).OnlyEnforceIf(present)
        if not held:
            groups.setdefault((j.material, j.color), []).append(k)
    for (material, color), members in sorted(
        groups.items(), key=lambda g: (g[0][0], g[0][1] or "")
    ):
        used = m.NewBoolVar(f"sw{i}_{material}_{color}")
        begin = m.NewIntVar(free, horizon, f"sws{i}_{material}_{color}")
        m.AddLinearExpressionInDomain(begin, plain).OnlyEnforceIf(used)
        if limit is not None:
            m.Add(begin + farm.swap <= limit).OnlyEnforceIf(used)
        intervals.append(
            m.NewOptionalFixedSizeIntervalVar(begin, farm.swap, used, f"swi{i}{material}{color}")
        )
        swaps.append(used)
        swapped_in[material, color] = (used, begin)
        mine = [k for k in members if sched.printer[k] == i]
        hints[used] = int(bool(mine))
        if mine:
            hints[begin] = min(sched.start[k] for k in mine) - farm.swap
    for (material, color), members in groups.items():
        # A job that names no colour prints from a spool of its material in any colour, so a
        # swap to a coloured spool of that material serves it too (one of them must precede it).
        served_by = [swapped_in[material, color]]
        if color is None:
            served_by += [
                v for (mat, c), v in sorted(swapped_in.items(), key=str) if mat == material and c
            ]
        for k in members:
            if len(served_by) == 1:
                picks = [on[k, i]]
            else:
                picks = [m.NewBoolVar(f"by{k}_{i}_{n}") for n in range(len(served_by))]
                m.Add(sum(picks) == on[k, i])
            for pick, (used, begin) in zip(picks, served_by, strict=True):
                m.AddImplication(pick, used)
                m.Add(start[k] >= begin + farm.swap).OnlyEnforceIf(pick)
    if intervals:
        m.AddNoOverlap(intervals)


def _read_sequences(
    farm: Farm,
    solver: cp_model.CpSolver,
    on: dict,
    start: dict,
    printers: list[int],
    window: list[int],
    tails: dict[int, list[int]],
) -> list[list[int]]:
    sequences = [list(tails[i]) for i in range(len(farm.printers))]
    chosen: dict[int, list[int]] = {i: [] for i in printers}
    for (k, i), var in on.items():
        if solver.Value(var):
            chosen[i].append(k)
    for i in printers:
        ordered = sorted(chosen[i], key=lambda k: (solver.Value(start[k]), k))
        sequences[i] = ordered + tails[i]
    return sequences

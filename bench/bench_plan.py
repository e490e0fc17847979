"""The farm planner against the naive rule, and against CP-SAT's optimum on small farms.

Run:  .venv/bin/python bench/bench_plan.py [--quick]

Farms are random but fixed by a seed. Rules compared on the same instances:
- naive: the next idle printer takes the next queued job (priority order) it can print, and swaps
  a spool if it must (what the market's tools do);
- J3D: ``scheduling.planner.plan`` as a live re-plan runs it (constructive passes, then CP-SAT on
  the near-term window for ``REPLAN_CPSAT_BUDGET`` deterministic seconds); on small farms also
  "rule" (the constructive passes alone) and "j3d+cp" (CP-SAT for 1 deterministic second, as
  ``plan_farm --cpsat-budget 1`` runs it);
- optimum (small farms): CP-SAT on late jobs, then total lateness with that count fixed, with
  its best bound when it is not proven in time; each small farm ends with the bar's verdict.

Columns: late jobs, total lateness (minutes), makespan over the lower bound (max of total work /
printers and the longest job, from now), swaps, plan time: wall, CPU, and "queued", the time the
process was ready but waited for a core (Linux's /proc/self/schedstat; on a shared machine the
wall is CPU + queued, so a high load average shows up there, not in the CPU). Every plan is
checked by ``scheduling.planner.check``.
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scheduling.planner import (  # noqa: E402
    REPLAN_CPSAT_BUDGET,
    Instance,
    Job,
    Plan,
    Printer,
    Slot,
    forget_plans,
    plan,
)
from scheduling.planner.check import check_plan  # noqa: E402
from scheduling.planner.construct import _commit, _evaluate_on, _State, objective  # noqa: E402
from scheduling.planner.farm import Farm  # noqa: E402
from scheduling.planner.improve import choose_window, solve_window  # noqa: E402
from scheduling.planner.solve import construct, to_plan  # noqa: E402

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MODELS = ["P1S", "X1C", "A1", "P1P", "H2D"]
MATERIALS = [("PLA", 60), ("PETG", 25), ("ABS", 10), ("TPU", 5)]
COLORS = ["FFFFFF", "000000", "FF0000", "00FF00", "0000FF", "FFFF00", "808080", "FFA500"]


def random_farm(
    seed: int,
    n_jobs: int,
    n_printers: int,
    *,
    materials: bool = True,
    hours: bool = False,
    models: bool = True,
    load: float = 1.0,
    slots_per_printer: int = 4,
    pinned: float = 0.02,
    offline: float = 0.03,
) -> Instance:
    """A farm whose ship-by dates are spread over ``load`` times the farm's work per printer."""
    rnd = random.Random(seed)
    kinds = [m for m, _ in MATERIALS]
    weights = [w for _, w in MATERIALS]
    printers = []
    for pid in range(1, n_printers + 1):
        slots = ()
        if materials:
            slots = tuple(
                Slot(
                    slot=s,
                    material_type=rnd.choices(kinds, weights)[0],
                    color=rnd.choice(COLORS),
                    remaining_grams=None if rnd.random() < 0.1 else float(rnd.randint(50, 1000)),
                )
                for s in range(slots_per_printer)
            )
        working = None
        if hours and rnd.random() < 0.5:
            working = ((8 * 60, 20 * 60),) if rnd.random() < 0.7 else ((6 * 60, 23 * 60),)
        printers.append(
            Printer(
                id=pid,
                model=rnd.choice(MODELS) if models else "P1S",
                online=rnd.random() >= offline,
                enabled=True,
                available_at=NOW + timedelta(minutes=rnd.randint(0, 120))
                if rnd.random() < 0.3
                else None,
                slots=slots,
                working_hours=working,
            )
        )
    durations = [max(15, int(rnd.lognormvariate(4.6, 0.6))) for _ in range(n_jobs)]
    per_printer = sum(durations) / max(1, n_printers)
    jobs = []
    for k in range(n_jobs):
        jid = 1000 + k
        material = rnd.choices(kinds, weights)[0] if materials else None
        color = rnd.choice(COLORS) if materials and rnd.random() < 0.8 else None
        compatible = None
        if models and rnd.random() < 0.3:
            compatible = frozenset(rnd.sample(MODELS, rnd.randint(2, 4)))
        due = None
        if rnd.random() < 0.85:
            due = NOW + timedelta(minutes=int(rnd.uniform(0.15, 1.0) * per_printer * load * 1.3))
        pin = rnd.randint(1, n_printers) if rnd.random() < pinned else None
        if pin is not None and compatible is not None:
            compatible = None
        jobs.append(
            Job(
                id=jid,
                duration_minutes=durations[k],
                grams=round(durations[k] * rnd.uniform(0.1, 0.5), 1) if materials else 0.0,
                material_type=material,
                color=color,
                priority=rnd.choices([0, 1, 2, 5], [70, 15, 10, 5])[0],
                due_by=due,
                printer_id=pin,
                compatible_models=compatible,
            )
        )
    return Instance(now=NOW, printers=tuple(printers), jobs=tuple(jobs), swap_minutes=10)


def live(instance: Instance) -> Plan:
    """The plan as ``farm_replan`` makes it after an event."""
    return plan(instance, cpsat_budget=REPLAN_CPSAT_BUDGET)


def naive(instance: Instance) -> Plan:
    """The next idle printer takes the first queued job (priority order) it can print."""
    farm = Farm(instance)
    st = _State(farm)
    queue = sorted(
        (k for k in range(len(farm.jobs)) if k not in farm.static_reasons),
        key=lambda k: (-farm.jobs[k].priority, farm.jobs[k].id),
    )
    idle = [(int(st.free[i]), i) for i in range(len(farm.printers))]
    heapq.heapify(idle)
    while queue and idle:
        _, i = heapq.heappop(idle)
        for pos, k in enumerate(queue):
            j = farm.jobs[k]
            if (j.pin is not None and j.pin != i) or not farm.compat[j.group, i]:
                continue
            found = _evaluate_on(farm, st, j, i)
            if found is not None:
                _commit(farm, st, j, i, found[0], found[1])
                del queue[pos]
                heapq.heappush(idle, (int(st.free[i]), i))
                break
    for k in queue:
        st.sched.reasons[k] = "no printer took it"
    for k, reason in farm.static_reasons.items():
        st.sched.reasons[k] = reason
    st.sched.objective = objective(farm, st.sched)
    return to_plan(farm, st.sched, ("naive",))


def measure(instance: Instance, result: Plan) -> dict:
    jobs = {j.id: j for j in instance.jobs}
    late = lateness = swaps = 0
    end_max = instance.now
    for a in result.assignments:
        job = jobs[a.job_id]
        if job.due_by is not None and a.end > job.due_by:
            late += 1
            lateness += (a.end - job.due_by).total_seconds() / 60
        swaps += a.swap is not None
        end_max = max(end_max, a.end)
    placed = [jobs[a.job_id] for a in result.assignments]
    online = [p for p in instance.printers if p.enabled and p.online]
    work = sum(j.duration_minutes for j in placed)
    bound = max(work / max(1, len(online)), max((j.duration_minutes for j in placed), default=0))
    makespan = (end_max - instance.now).total_seconds() / 60
    return {
        "late": late,
        "lateness": lateness,
        "over": makespan / bound - 1 if bound else 0.0,
        "swaps": swaps,
        "unplaced": len(result.unplaced),
    }


def queued_seconds() -> float:
    """How long this process has waited, ready to run, for a core (0 where Linux does not say)."""
    try:
        with open("/proc/self/schedstat") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def run(rule, instance: Instance) -> tuple[Plan, float, float, float]:
    """The plan, its wall time, its CPU time and the time it waited for a core (on a shared
    machine the CPU time is what the plan costs; the wall time also counts the waiting)."""
    forget_plans()
    started, cpu, queued = time.perf_counter(), time.process_time(), queued_seconds()
    result = rule(instance)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    queued = queued_seconds() - queued
    problems = check_plan(instance, result)
    if problems:
        raise SystemExit(f"{rule}: invalid plan: {problems[:5]}")
    return result, elapsed, cpu, queued


def timed(rule, instance: Instance, repeats: int) -> tuple[Plan, float, float, float]:
    """The plan and the best of ``repeats`` wall, CPU and queued times (the machine may be
    shared)."""
    wall = cpu = queued = float("inf")
    for _ in range(repeats):
        result, elapsed, used, waited = run(rule, instance)
        wall, cpu, queued = min(wall, elapsed), min(cpu, used), min(queued, waited)
    return result, wall, cpu, queued


def event_variants(instance: Instance, seed: int) -> list[tuple[str, Instance]]:
    """The farm one event later: a job added, a print finished, a printer gone offline, a spool
    swapped, a due date moved."""
    rnd = random.Random(seed)
    later = instance.now + timedelta(minutes=1)
    jobs = list(instance.jobs)
    printers = list(instance.printers)
    added = replace(jobs[rnd.randrange(len(jobs))], id=10**6)
    finished = rnd.randrange(len(jobs))
    victim = rnd.randrange(len(printers))
    swapped = rnd.randrange(len(printers))
    moved = rnd.randrange(len(jobs))
    spool = Slot(slot=0, material_type="PETG", color="000000", remaining_grams=1000.0)
    due = jobs[moved].due_by or instance.now
    return [
        ("job added", replace(instance, now=later, jobs=tuple(jobs + [added]))),
        (
            "print finished",
            replace(instance, now=later, jobs=tuple(jobs[:finished] + jobs[finished + 1 :])),
        ),
        (
            "printer offline",
            replace(
                instance,
                now=later,
                printers=tuple(
                    replace(p, online=False) if n == victim else p for n, p in enumerate(printers)
                ),
            ),
        ),
        (
            "spool swapped",
            replace(
                instance,
                now=later,
                printers=tuple(
                    replace(p, slots=(spool,) + p.slots[1:]) if n == swapped else p
                    for n, p in enumerate(printers)
                ),
            ),
        ),
        (
            "due date moved",
            replace(
                instance,
                now=later,
                jobs=tuple(
                    replace(j, due_by=due - timedelta(hours=6)) if n == moved else j
                    for n, j in enumerate(jobs)
                ),
            ),
        ),
    ]


@dataclass
class Reference:
    """CP-SAT's answer on the first two aims: each figure, its best bound, whether it is proven."""

    late: int
    late_bound: int
    late_proven: bool
    lateness: int
    lateness_bound: int
    lateness_proven: bool
    seconds: float

    def describe(self) -> str:
        late = "late jobs proven"
        if not self.late_proven:
            late = f"late jobs best found, bound {self.late_bound}"
        if self.lateness_proven:
            return f"{late}, minutes late proven"
        gap = self.lateness - self.lateness_bound
        return f"{late}, minutes late best found, bound {self.lateness_bound} (gap {gap})"


def optimum(instance: Instance, wall: float, workers: int) -> Reference:
    """CP-SAT on the whole small farm, lexicographically: fewest late jobs, then, with that count
    fixed, fewest minutes late; on a long clock and several workers (a reference, not a live
    plan, so it need not be deterministic).

    Jobs with no ship-by date are left out: placed after everything else they change neither
    figure, and a smaller model is proven sooner. The model relaxes spool swaps (a swapped-in
    spool never runs out nor is evicted), so its optimum is a lower bound on any real plan's."""
    dated = replace(instance, jobs=tuple(j for j in instance.jobs if j.due_by is not None))
    farm = Farm(dated)
    sched = construct(farm)
    window, printers = choose_window(farm, sched)
    started = time.perf_counter()
    outcome = solve_window(farm, sched, window, printers, wall_time=wall, workers=workers, stages=2)
    seconds = time.perf_counter() - started
    (late_bound, lateness_bound), (late_proven, lateness_proven) = outcome.bounds, outcome.proofs
    return Reference(
        late=outcome.late,
        late_bound=late_bound,
        late_proven=late_proven,
        lateness=outcome.tardiness,
        lateness_bound=lateness_bound,
        lateness_proven=lateness_proven,
        seconds=seconds,
    )


# The bar on small farms: late jobs equal to the optimum, minutes late within 10% of it.
LATENESS_SLACK = 1.10


def verdict(measured: dict, ref: Reference) -> str:
    """Whether the bar holds for a plan, said only as far as CP-SAT proved it: minutes late
    within 10% of the bound is within 10% of the optimum (the optimum is at least the bound),
    and over 10% above the best found is over 10% above the optimum."""
    late, lateness = measured["late"], measured["lateness"]
    if not ref.late_proven:
        return "unproven (the fewest late jobs is not proven)"
    if late != ref.late:
        return f"fails: {late} late jobs, the optimum {ref.late}"
    if lateness <= ref.lateness_bound * LATENESS_SLACK:
        return "holds" if ref.lateness_proven else "holds (within 10% of the bound)"
    if lateness > ref.lateness * LATENESS_SLACK:
        return f"fails: {lateness:.0f} minutes late, over 10% above {ref.lateness}"
    return (
        f"unproven: {lateness:.0f} minutes late, the optimum between "
        f"{ref.lateness_bound} and {ref.lateness}"
    )


ROW = "{:<36} {:<8} {:>5} {:>9} {:>8} {:>6} {:>10} {:>10} {:>8}"


def row(
    case: str,
    rule: str,
    instance: Instance,
    result: Plan,
    seconds: float,
    cpu: float,
    queued: float,
) -> dict:
    m = measure(instance, result)
    print(
        ROW.format(
            case,
            rule,
            m["late"],
            f"{m['lateness']:.0f}",
            f"{m['over'] * 100:.1f}%",
            m["swaps"],
            f"{seconds * 1000:.0f} ms",
            f"{cpu * 1000:.0f} ms",
            f"{queued * 1000:.0f} ms",
        ),
        flush=True,
    )
    return m


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer and smaller cases")
    # A cap, not a spend: the 40-job reference was proven in 65 s at load 5-8 on 2 cores and in
    # 90 s at load 12 (the others in under 60 s).
    parser.add_argument("--optimum-seconds", type=float, default=180.0)
    parser.add_argument("--optimum-workers", type=int, default=8)
    parser.add_argument("--small-only", action="store_true", help="only the small farms")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        ROW.format("case", "rule", "late", "lateness", "over LB", "swaps", "wall", "CPU", "queued")
    )
    big = [
        ("5000 jobs / 100 printers", random_farm(1, 5000, 100)),
        ("5000 jobs / 100 printers, hours", random_farm(5, 5000, 100, hours=True)),
        ("1000 jobs / 50 printers, overload", random_farm(6, 1000, 50, load=0.6)),
        (
            "1000 jobs / 50 printers, no material",
            random_farm(4, 1000, 50, materials=False, models=False, pinned=0, offline=0),
        ),
    ]
    if args.quick:
        big = big[2:]
    if args.small_only:
        big = []
    for case, instance in big:
        row(case, "naive", instance, *timed(naive, instance, 1))
        row(case, "j3d", instance, *timed(live, instance, repeats))
    base = random_farm(2, 1000, 50)
    if not args.small_only:
        row("1000 jobs / 50 printers", "naive", base, *timed(naive, base, 1))
        row("1000 jobs / 50 printers", "j3d", base, *timed(live, base, repeats))
        for event, instance in event_variants(base, 2):
            row(f"  re-plan: {event}", "j3d", instance, *timed(live, instance, repeats))
    sizes = [10, 20, 30, 40] if not args.quick else [10, 20]
    print()
    print(
        f"small farms (5 printers): optimum = CP-SAT on late jobs then minutes late, "
        f"up to {args.optimum_seconds:.0f} s on {args.optimum_workers} workers; "
        "bar: j3d+cp's late jobs equal to it, minutes late within 10%"
    )
    verdicts = []
    for n in sizes:
        instance = random_farm(700 + n, n, 5, load=0.8, pinned=0, offline=0)
        case = f"{n} jobs / 5 printers"
        row(case, "naive", instance, *timed(naive, instance, 1))
        row(case, "rule", instance, *timed(plan, instance, 1))
        row(case, "j3d", instance, *timed(live, instance, 1))
        cp = lambda inst: plan(inst, cpsat_budget=1.0)  # noqa: E731
        measured = row(case, "j3d+cp", instance, *timed(cp, instance, 1))
        ref = optimum(instance, args.optimum_seconds, args.optimum_workers)
        print(
            ROW.format(
                case, "optimum", ref.late, ref.lateness, "", "", f"{ref.seconds:.1f} s", "", ""
            )
            + f"  ({ref.describe()})",
            flush=True,
        )
        verdicts.append((case, verdict(measured, ref)))
    print()
    for case, said in verdicts:
        print(f"bar, {case}: {said}")


if __name__ == "__main__":
    main()

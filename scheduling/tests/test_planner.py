"""The farm planner (scheduling/planner): its rules on hand-made farms, its properties on random
ones (hypothesis), and CP-SAT's part. No database: the planner is plain Python."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from scheduling.planner import (
    REPLAN_CPSAT_BUDGET,
    Instance,
    Job,
    Printer,
    Slot,
    forget_plans,
    plan,
)
from scheduling.planner.check import check_plan
from scheduling.planner.construct import list_schedule
from scheduling.planner.farm import Farm
from scheduling.planner.solve import priority_order

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


def printer(pid: int = 1, model: str = "P1S", *slots: Slot, **kw) -> Printer:
    return Printer(id=pid, model=model, slots=tuple(slots), **kw)


def pla(slot: int = 0, color: str = "FFFFFF", grams: float | None = 800) -> Slot:
    return Slot(slot=slot, material_type="PLA", color=color, remaining_grams=grams)


def job(jid: int, minutes: int = 60, **kw) -> Job:
    kw.setdefault("material_type", "PLA")
    kw.setdefault("color", "FFFFFF")
    kw.setdefault("grams", 20)
    return Job(id=jid, duration_minutes=minutes, **kw)


def farm(printers, jobs, **kw) -> Instance:
    return Instance(now=NOW, printers=tuple(printers), jobs=tuple(jobs), **kw)


def placed(result) -> dict:
    return {a.job_id: a for a in result.assignments}


def reasons(result) -> dict:
    return {u.job_id: u.reason for u in result.unplaced}


def valid_plan(instance: Instance, **kw):
    result = plan(instance, **kw)
    assert check_plan(instance, result) == []
    return result


# -- rules ----------------------------------------------------------------------------------


def test_a_job_goes_to_a_printer_holding_its_material_rather_than_swapping():
    white = printer(1, "P1S", pla(color="FFFFFF"))
    black = printer(2, "P1S", pla(color="000000"))
    result = valid_plan(farm([white, black], [job(10, color="000000")]))
    assert placed(result)[10].printer_id == 2
    assert placed(result)[10].swap is None


def test_a_job_no_printer_holds_gets_a_swap_to_a_full_spool_of_its_material():
    result = valid_plan(
        farm([printer(1, "P1S", pla())], [job(10, material_type="PETG", color="000000")])
    )
    a = placed(result)[10]
    assert (a.swap.slot, a.swap.material_type, a.swap.color) == (0, "PETG", "000000")
    assert a.start == at(10)  # swap_minutes (10) before the print


def test_a_spool_with_too_few_grams_is_refilled_before_the_job():
    result = valid_plan(farm([printer(1, "P1S", pla(grams=30))], [job(10, grams=50)]))
    assert placed(result)[10].swap.material_type == "PLA"


def test_unknown_remaining_grams_count_as_enough():
    result = valid_plan(farm([printer(1, "P1S", pla(grams=None))], [job(10, grams=900)]))
    assert placed(result)[10].swap is None


def test_any_colour_matches_a_loaded_spool_of_that_material():
    result = valid_plan(farm([printer(1, "P1S", pla(color="00FF00"))], [job(10, color=None)]))
    assert placed(result)[10].swap is None


def test_without_a_printer_that_can_swap_the_reason_names_the_material():
    result = valid_plan(
        farm([printer(1, "P1S", pla(), can_swap=False)], [job(10, material_type="PETG")])
    )
    assert reasons(result)[10] == (
        "no online printer has PETG in colour FFFFFF loaded or can take a swap"
    )


def test_a_job_for_a_model_nobody_has_enabled_is_unplaced_with_the_reason():
    result = valid_plan(
        farm(
            [printer(1, "P1S", pla(), enabled=False), printer(2, "X1C", pla())],
            [job(10, compatible_models=frozenset({"P1S"}))],
        )
    )
    assert reasons(result)[10] == "no P1S is enabled"


def test_an_offline_printer_gets_no_work():
    result = valid_plan(
        farm([printer(1, "P1S", pla(), online=False), printer(2, "P1S", pla())], [job(10), job(11)])
    )
    assert {a.printer_id for a in result.assignments} == {2}


def test_a_job_heavier_than_a_full_spool_cannot_be_swapped_for():
    result = valid_plan(farm([printer(1, "P1S", pla(grams=500))], [job(10, grams=1500)]))
    assert "a swap brings only a full 1000 g spool" in reasons(result)[10]


def test_no_job_starts_outside_working_hours():
    night = printer(1, "P1S", pla(), working_hours=((8 * 60, 9 * 60),))
    result = valid_plan(farm([night], [job(10, 70), job(11, 70)]))
    assert placed(result)[10].start == at(0)
    assert placed(result)[11].start == at(24 * 60)  # free at 09:10, after hours: next morning


def test_a_pinned_job_stays_on_its_printer_even_when_another_is_free():
    busy = printer(1, "P1S", pla(), available_at=at(300))
    free = printer(2, "P1S", pla())
    result = valid_plan(farm([busy, free], [job(10, printer_id=1)]))
    assert placed(result)[10].printer_id == 1
    assert placed(result)[10].start == at(300)


def test_a_pinned_job_of_an_offline_printer_waits_with_the_reason():
    result = valid_plan(
        farm([printer(1, "P1S", pla(), online=False), printer(2)], [job(10, printer_id=1)])
    )
    assert reasons(result)[10] == "its printer 1 is offline"


def test_a_started_job_is_kept_and_its_printer_is_busy_until_it_ends():
    running = job(10, 120, printer_id=1, started_at=at(-60))
    result = valid_plan(farm([printer(1, "P1S", pla())], [running, job(11)]))
    assert placed(result)[10].start == at(-60)
    assert placed(result)[11].start == at(60)


def test_higher_priority_prints_first_when_nothing_is_late():
    result = valid_plan(
        farm([printer(1, "P1S", pla())], [job(10, priority=0), job(11, priority=5)])
    )
    assert placed(result)[11].start < placed(result)[10].start


def test_a_lower_priority_job_goes_first_when_it_would_otherwise_ship_late():
    urgent = job(10, 60, priority=0, due_by=at(70))
    important = job(11, 60, priority=5, due_by=at(24 * 60))
    result = valid_plan(farm([printer(1, "P1S", pla())], [urgent, important]))
    assert placed(result)[10].end <= at(70)
    assert placed(result)[11].end <= at(24 * 60)


def test_same_colour_jobs_are_batched_instead_of_swapping_back_and_forth():
    jobs = [job(10 + n, 30, color="000000" if n % 2 else "FFFFFF") for n in range(6)]
    result = valid_plan(farm([printer(1, "P1S", pla(color="FFFFFF"))], jobs))
    assert sum(a.swap is not None for a in result.assignments) == 1


def cold(instance: Instance, **kw):
    forget_plans()
    return plan(instance, **kw)


def test_the_same_farm_gives_the_same_plan():
    instance = random_instance(7, 60, 6)
    assert cold(instance) == cold(instance)
    assert cold(instance, cpsat_budget=0.2) == cold(instance, cpsat_budget=0.2)


def test_an_equal_farm_built_again_gets_the_remembered_plan():
    first = plan(random_instance(8, 30, 3))
    assert plan(random_instance(8, 30, 3)) is first


def test_cpsat_finds_the_plan_with_fewer_late_jobs_that_greedy_misses():
    # Greedy sends the long job due soon to the free printer first; the two short ones due a
    # little later then end late behind it. The optimum runs the long job on the busier printer.
    a = printer(1, "P1S", pla())
    b = printer(2, "P1S", pla(), available_at=at(30))
    jobs = [job(10, 100, due_by=at(130)), job(11, 60, due_by=at(61)), job(12, 60, due_by=at(121))]
    instance = farm([a, b], jobs)
    greedy = valid_plan(instance)
    improved = valid_plan(instance, cpsat_budget=1.0)
    late = lambda r: sum(a.end > j.due_by for j in jobs for a in r.assignments if a.job_id == j.id)  # noqa: E731
    assert late(improved) <= late(greedy)
    assert late(improved) == 0


def test_cpsat_prices_a_swap_as_the_rule_does_so_a_short_wait_beats_a_swap():
    # A holds PLA, B PETG. Two short PLA jobs: the second waits 30 minutes for A rather than a
    # person swapping B's spool (a swap is worth SWAP_PENALTY_MINUTES of makespan), and CP-SAT,
    # scored by the same function, keeps that. Two long ones: the swap saves more than it costs.
    a = printer(1, "P1S", pla())
    b = printer(2, "P1S", Slot(slot=0, material_type="PETG", color="000000", remaining_grams=800))
    short = valid_plan(farm([a, b], [job(10, 30), job(11, 30)]), cpsat_budget=REPLAN_CPSAT_BUDGET)
    assert [(x.printer_id, x.swap) for x in short.assignments] == [(1, None), (1, None)]
    assert any(n.startswith("cp: ") for n in short.notes)  # CP-SAT did look at it
    long = valid_plan(farm([a, b], [job(10, 240), job(11, 240)]), cpsat_budget=REPLAN_CPSAT_BUDGET)
    assert sorted(x.printer_id for x in long.assignments) == [1, 2]


def test_cpsat_runs_each_printer_higher_priority_first_even_from_an_inverted_plan():
    # No ship-by dates and one printer: every order has the same makespan, so only the
    # priority aim tells CP-SAT to undo the inverted plan it is handed as its hint.
    from scheduling.planner.construct import retime
    from scheduling.planner.improve import solve_window

    instance = farm(
        [printer(1, "P1S", pla())],
        [job(10, 30, priority=0), job(11, 90, priority=5), job(12, 60, priority=2)],
    )
    f = Farm(instance)
    inverted = retime(f, [[0, 2, 1]])  # lowest priority first
    assert inverted.objective.inversions == 3
    outcome = solve_window(f, inverted, [0, 1, 2], [0], deterministic_time=1.0)
    assert [f.jobs[k].id for k in outcome.sequences[0]] == [11, 12, 10]


def test_cpsat_proves_a_job_that_cannot_be_on_time_late_and_by_how_much():
    # 90 minutes due in 60 from an idle printer: late by 30 at least, whatever the order; the
    # proven count of late jobs makes the minutes late provable too (a late flag means late).
    from scheduling.planner.improve import solve_window
    from scheduling.planner.solve import construct

    instance = farm(
        [printer(1, "P1S", pla()), printer(2, "P1S", pla())],
        [job(10, 90, due_by=at(60)), job(11, 60, due_by=at(120)), job(12, 60, due_by=at(120))],
    )
    f = Farm(instance)
    outcome = solve_window(f, construct(f), [0, 1, 2], [0, 1], wall_time=10, stages=2)
    assert (outcome.late, outcome.tardiness) == (1, 30)
    assert outcome.proofs == (True, True) and outcome.bounds == (1, 30)


def test_cpsat_lets_a_swap_to_a_coloured_spool_serve_a_job_that_names_no_colour():
    # One swap to black PETG serves both jobs, so both are on time: the model, a relaxation of
    # the real rules, must not ask for a second swap for the job that takes any colour.
    from scheduling.planner.improve import solve_window
    from scheduling.planner.solve import construct

    instance = farm(
        [printer(1, "P1S", pla())],
        [
            job(10, 60, material_type="PETG", color=None, due_by=at(70)),
            job(11, 60, material_type="PETG", color="000000", due_by=at(130)),
        ],
    )
    f = Farm(instance)
    outcome = solve_window(f, construct(f), [0, 1], [0], wall_time=10, stages=2)
    assert outcome.late == 0 and outcome.proofs[0]


def test_moore_hodgson_gives_up_one_long_job_to_keep_the_others_on_time():
    jobs = [job(10, 300, due_by=at(300))] + [
        job(11 + n, 60, due_by=at(60 * (n + 1))) for n in range(4)
    ]
    result = valid_plan(farm([printer(1, "P1S", pla())], jobs))
    late = [
        a.job_id
        for a in result.assignments
        if a.end > next(j.due_by for j in jobs if j.id == a.job_id)
    ]
    assert late == [10]


def test_a_pass_places_every_job_it_can():
    instance = random_instance(3, 40, 4)
    f = Farm(instance)
    sched = list_schedule(f, priority_order(f), 60)
    assert all(p >= 0 or k in sched.reasons for k, p in enumerate(sched.printer))


# -- properties on random farms ------------------------------------------------------------

MODELS = ("P1S", "X1C", "A1")
MATERIALS = ("PLA", "PETG", "ABS")
COLORS = ("FFFFFF", "000000", "FF0000")


# The strategies are built once: one built inside the draw is a new object per example, which
# hypothesis validates afresh each time (most of these tests' CPU went there, not to the planner).
slot_materials = st.sampled_from(MATERIALS + ("",))
slot_colors = st.sampled_from(COLORS + (None,))
remaining_grams = st.none() | st.integers(0, 1000).map(float)
slot_counts = st.integers(0, 4)
working_hours = st.none() | st.lists(
    st.tuples(st.integers(0, 1439), st.integers(0, 1440)), min_size=0, max_size=2
).map(tuple)
models = st.sampled_from(MODELS)
mostly_true = st.booleans() | st.just(True)
available_at = st.none() | st.integers(-60, 600).map(at)
job_counts = st.integers(0, 14)
started_one_in_five = st.integers(0, 4)
durations = st.integers(1, 600)
job_grams = st.integers(0, 1100)
job_materials = st.none() | st.sampled_from(MATERIALS)
job_colors = st.none() | st.sampled_from(COLORS)
priorities = st.integers(0, 3)
due_by = st.none() | st.integers(0, 3000).map(at)
compatible_models = st.none() | st.frozensets(st.sampled_from(MODELS), min_size=1)
started_minutes = st.integers(-300, 0)
printer_counts = st.integers(1, 5)
# A job pinned to one of the farm's printers, or to one past them (a printer that is gone).
pins = {n: st.none() | st.integers(1, n + 1) for n in range(1, 6)}
seconds = st.integers(0, 59)
swap_minutes = st.integers(0, 30)


@st.composite
def instances(draw) -> Instance:
    n_printers = draw(printer_counts)
    printers = []
    for pid in range(1, n_printers + 1):
        slots = tuple(
            Slot(
                slot=s,
                material_type=draw(slot_materials),
                color=draw(slot_colors),
                remaining_grams=draw(remaining_grams),
            )
            for s in range(draw(slot_counts))
        )
        hours = draw(working_hours)
        printers.append(
            Printer(
                id=pid,
                model=draw(models),
                online=draw(mostly_true),
                enabled=draw(mostly_true),
                available_at=draw(available_at),
                slots=slots,
                working_hours=hours,
                can_swap=draw(mostly_true),
            )
        )
    jobs = []
    for jid in range(100, 100 + draw(job_counts)):
        pinned = draw(pins[n_printers])
        started = pinned is not None and draw(started_one_in_five) == 0
        jobs.append(
            Job(
                id=jid,
                duration_minutes=draw(durations),
                grams=float(draw(job_grams)),
                material_type=draw(job_materials),
                color=draw(job_colors),
                priority=draw(priorities),
                due_by=draw(due_by),
                printer_id=pinned,
                compatible_models=draw(compatible_models),
                started_at=at(draw(started_minutes)) if started else None,
            )
        )
    now = NOW + timedelta(seconds=draw(seconds))
    return Instance(
        now=now, printers=tuple(printers), jobs=tuple(jobs), swap_minutes=draw(swap_minutes)
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_every_plan_keeps_every_rule(instance):
    """No printer runs two jobs (or a swap and a job) at once; models, materials, grams, working
    hours, availability, pins and started jobs all hold (scheduling/planner/check.py)."""
    note(repr(instance))
    result = plan(instance)
    assert check_plan(instance, result) == []


@settings(max_examples=100, deadline=None)
@given(instances())
def test_pinned_and_started_jobs_are_never_moved(instance):
    result = plan(instance)
    where = placed(result)
    for j in instance.jobs:
        if j.printer_id is not None and j.id in where:
            assert where[j.id].printer_id == j.printer_id
        if j.started_at is not None and j.id in where:
            assert where[j.id].start == j.started_at


@settings(max_examples=100, deadline=None)
@given(instances())
def test_the_same_input_gives_the_same_plan(instance):
    assert cold(instance) == cold(instance)


@settings(max_examples=25, deadline=None)
@given(instances())
def test_cpsat_keeps_every_rule_and_never_makes_the_plan_worse(instance):
    result = cold(instance, cpsat_budget=0.05)
    assert check_plan(instance, result) == []
    assert result == cold(instance, cpsat_budget=0.05)


def random_instance(seed: int, n_jobs: int, n_printers: int) -> Instance:
    import random

    rnd = random.Random(seed)
    printers = [
        Printer(
            id=p,
            model=rnd.choice(MODELS),
            slots=tuple(
                Slot(
                    slot=s,
                    material_type=rnd.choice(MATERIALS),
                    color=rnd.choice(COLORS),
                    remaining_grams=float(rnd.randint(100, 1000)),
                )
                for s in range(4)
            ),
        )
        for p in range(1, n_printers + 1)
    ]
    jobs = [
        Job(
            id=1000 + k,
            duration_minutes=rnd.randint(20, 300),
            grams=float(rnd.randint(5, 150)),
            material_type=rnd.choice(MATERIALS),
            color=rnd.choice(COLORS),
            priority=rnd.randint(0, 2),
            due_by=at(rnd.randint(60, 2000)),
        )
        for k in range(n_jobs)
    ]
    return farm(printers, jobs)


@pytest.mark.parametrize("seed", range(3))
def test_random_farms_plan_validly_with_and_without_cpsat(seed):
    instance = random_instance(seed, 30, 4)
    valid_plan(instance)
    valid_plan(instance, cpsat_budget=0.3)


# -- fewer swaps (the local search after CP-SAT) -------------------------------------------------


def test_a_colour_run_split_over_two_printers_is_joined_to_save_a_swap():
    from scheduling.planner.construct import fewer_swaps, retime

    instance = farm(
        [printer(1, "P1S", pla()), printer(2, "P1S", pla())],
        [job(10, 30, color="000000"), job(11, 300), job(12, 30, color="000000")],
        swap_minutes=10,
    )
    f = Farm(instance)
    split = retime(f, [[0], [1, 2]])  # black on both printers: two swaps
    assert split.objective.swaps == 2
    joined = fewer_swaps(f, split, max_jobs=10)
    assert joined.objective < split.objective and joined.objective.swaps == 1
    assert joined.printer[0] == joined.printer[2]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_fewer_swaps_keeps_every_rule_and_never_makes_the_plan_worse(instance):
    from scheduling.planner.construct import fewer_swaps
    from scheduling.planner.solve import construct, to_plan

    f = Farm(instance)
    before = construct(f)
    after = fewer_swaps(f, before, max_jobs=60, max_tries=300)
    assert after.objective <= before.objective
    assert check_plan(instance, to_plan(f, after)) == []
    for j in f.jobs:
        if j.pin is not None and after.printer[j.index] >= 0:
            assert after.printer[j.index] == j.pin

"""The constructive rule: list scheduling, one job at a time, onto the printer where it ends best.

Jobs are taken in an order (priority first, or ship-by date first, see ``solve.py``); each goes to
the printer that finishes it earliest, counting the swap it would need and the printer's working
hours, with two twists: lateness is compared first (a printer where the job is on time beats one
where it ends sooner but late, and among late ones the least late wins), and a swap counts
``farm.swap_penalty`` minutes extra (the price ``objective`` puts on it), so a job waits a little
for a printer that holds its material rather than making a person change a spool. The choice is
computed for all printers at once with numpy; the bookkeeping after it is plain Python on one
printer.

``retime`` lays given per-printer sequences out in time with the same rules (it is how a CP-SAT
answer, or any sequence, becomes a plan); it knows each printer's future, so it evicts the spool
needed last (Belady's rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from scheduling.planner.farm import Farm, PJob, refresh_avail
from scheduling.planner.hours import DAY
from scheduling.planner.model import EXTERNAL_SLOT, FULL_SPOOL_GRAMS
from scheduling.planner.reasons import ran_out_reason

NEVER = 2**62  # the start of an option that does not exist


def _prefer_no_swap(begin0: int, begin1: int, j: PJob, swap_penalty: int) -> bool:
    """Less late wins; between equally late options a swap counts ``swap_penalty`` extra (the
    price ``objective`` gives a swap)."""
    if begin1 == NEVER:
        return True
    if begin0 == NEVER:
        return False
    late0 = max(0, begin0 + j.dur - j.due)
    late1 = max(0, begin1 + j.dur - j.due)
    if late0 != late1:
        return late0 < late1
    return begin0 <= begin1 + swap_penalty


@dataclass(slots=True)
class Schedule:
    """A plan in minutes: per PJob index, its printer (active index, -1 = unplaced) and times."""

    printer: list[int]
    start: list[int]
    end: list[int]
    swap: list[tuple[int, str, str | None] | None]
    slot: list[int | None]
    reasons: dict[int, str] = field(default_factory=dict)
    objective: tuple = ()  # a Score (see ``objective``)
    note: str = ""
    order: list[int] = field(default_factory=list)  # the placing order it came from, if any

    def __lt__(self, other: Schedule) -> bool:
        return self.objective < other.objective

    def sequences(self, n_printers: int) -> list[list[int]]:
        seqs: list[list[int]] = [[] for _ in range(n_printers)]
        for j in sorted(range(len(self.printer)), key=lambda j: (self.start[j], j)):
            if self.printer[j] >= 0:
                seqs[self.printer[j]].append(j)
        return seqs


class _State:
    """The mutable side of one pass: when each printer is free and what its slots hold."""

    __slots__ = ("free", "start0", "start1", "avail", "slots", "demand", "sched", "seqs")

    def __init__(self, farm: Farm) -> None:
        n = len(farm.jobs)
        self.free = farm.free0.tolist()
        # When each printer could start its next job: as it is (start0), or after a swap (start1).
        self.start0 = farm.free0.copy()
        self.start1 = farm.free0.copy()
        for i in range(len(farm.printers)):
            self.start0[i], self.start1[i] = _starts(farm, i, int(self.free[i]))
        self.avail = farm.avail0.copy()
        self.slots = [[list(s) for s in ps] for ps in farm.slots0]
        self.demand = list(farm.demand0)
        self.seqs: list[list[int]] = [[] for _ in farm.printers]
        self.sched = Schedule(
            printer=[-1] * n, start=[0] * n, end=[0] * n, swap=[None] * n, slot=[None] * n
        )


def _starts(farm: Farm, i: int, free: int) -> tuple[int, int]:
    """The earliest job start on printer ``i`` free at ``free``: without a swap, after one."""
    if farm.wait0 is None:
        return free, free + farm.swap
    tod = (free + farm.tod0) % DAY
    return free + int(farm.wait0[i, tod]), free + int(farm.wait_swap[i, tod]) + farm.swap


def _evaluate_on(farm: Farm, st: _State, j: PJob, i: int) -> tuple[int, bool] | None:
    """(job start, swap first?) for ``j`` next on printer ``i``; None if it cannot go there."""
    if j.req >= 0 and st.avail[j.req, i] < j.grams:
        if not farm.swap_ok[i] or j.grams > FULL_SPOOL_GRAMS:
            return None
        return int(st.start1[i]), True
    return int(st.start0[i]), False


def _commit(
    farm: Farm,
    st: _State,
    j: PJob,
    i: int,
    start: int,
    swap: bool,
    future: tuple[list[int], int] | None = None,
) -> None:
    """Put ``j`` on printer ``i`` at ``start`` (after a swap if ``swap``). ``future``: the rest of
    the printer's sequence (sequence, position), when known, for choosing the spool to evict."""
    sched = st.sched
    end = start + j.dur
    k = j.index
    st.free[i] = end
    if farm.wait0 is None:
        st.start0[i], st.start1[i] = end, end + farm.swap
    else:
        st.start0[i], st.start1[i] = _starts(farm, i, end)
    sched.printer[k] = i
    sched.start[k] = start
    sched.end[k] = end
    st.seqs[i].append(k)
    if j.req < 0:
        return
    slots = st.slots[i]
    if swap:
        s = _evict(farm, st, slots, j, future)
        old, old_color = s[1], s[2]
        s[1], s[2], s[3] = j.material, j.color, FULL_SPOOL_GRAMS - j.grams
        if old is not None:
            refresh_avail(farm, st.avail, slots, i, old, old_color)
        sched.swap[k] = (s[0], j.material, j.color)
    else:
        # The smallest spool that suffices (then the lowest slot): full spools stay for later.
        material, color, grams = j.material, j.color, j.grams
        s = None
        for c in slots:
            if c[1] == material and c[3] >= grams and (color is None or c[2] == color):
                if s is None or c[3] < s[3]:
                    s = c
        s[3] -= grams
    sched.slot[j.index] = s[0]
    refresh_avail(farm, st.avail, slots, i, s[1], s[2])
    st.demand[j.req] -= 1


def _evict(
    farm: Farm, st: _State, slots: list[list], j: PJob, future: tuple[list[int], int] | None
) -> list:
    """The slot a swap for ``j`` replaces: a too-empty spool of the same material, else an empty
    slot, else the spool needed last (by this printer's known future, or by the farm's demand)."""
    if not slots:
        slot = [EXTERNAL_SLOT, None, None, 0.0]
        slots.append(slot)
        return slot
    same = [s for s in slots if s[1] == j.material and (j.color is None or s[2] == j.color)]
    if same:
        return min(same, key=lambda s: (s[3], s[0]))
    empty = [s for s in slots if s[1] is None]
    if empty:
        return empty[0]
    if future is not None:
        seq, pos = future
        return max(slots, key=lambda s: (_next_use(farm.jobs, seq, pos, s), -s[3], -s[0]))
    return min(slots, key=lambda s: (_demand(farm, st, s), s[3], s[0]))


def _demand(farm: Farm, st: _State, s: list) -> int:
    total = 0
    for r, color in farm.reqs_by_type.get(s[1], ()):
        if color is None or color == s[2]:
            total += st.demand[r]
    return total


def _reset_printer(farm: Farm, st: _State, i: int) -> list[int]:
    """Take every job off printer ``i`` (back to how the farm found it); returns its sequence."""
    sched = st.sched
    seq, st.seqs[i] = st.seqs[i], []
    for k in seq:
        sched.printer[k], sched.swap[k], sched.slot[k] = -1, None, None
        if farm.jobs[k].req >= 0:
            st.demand[farm.jobs[k].req] += 1
    st.free[i] = int(farm.free0[i])
    st.start0[i], st.start1[i] = _starts(farm, i, int(farm.free0[i]))
    st.slots[i] = [list(s) for s in farm.slots0[i]]
    st.avail[:, i] = farm.avail0[:, i]
    return seq


def _drop_longest(farm: Farm, st: _State, i: int) -> list[int]:
    """Moore and Hodgson's rule on printer ``i``, whose last job just ended late: take off its
    longest job (the one whose absence saves the most time for the others); returns the jobs
    taken off (a job whose spool came with the dropped job's swap goes too)."""
    jobs = farm.jobs
    seq = _reset_printer(farm, st, i)
    longest = max(seq, key=lambda k: (jobs[k].dur, jobs[k].due, k))
    dropped = [longest]
    for k in seq:
        if k != longest:
            found = _evaluate_on(farm, st, jobs[k], i)
            if found is None:
                dropped.append(k)
            else:
                _commit(farm, st, jobs[k], i, found[0], found[1])
    return dropped


def place(farm: Farm, st: _State, order: list[int], defer_late: bool = False) -> None:
    """Place the jobs in ``order`` (PJob indexes) one by one; see the module docstring. With
    ``defer_late``, a job that would end late makes its printer give up its longest job, and the
    given-up jobs are placed after all the others (fewer late jobs when the farm is overloaded)."""
    deferred: list[int] = []
    sched = st.sched
    jobs = farm.jobs
    compat, swap_compat = farm.compat, farm.swap_compat
    start0, start1, avail = st.start0, st.start1, st.avail
    never = farm.static_reasons
    for k in order:
        if k in never:
            continue
        j = jobs[k]
        if j.pin is not None:
            found = _evaluate_on(farm, st, j, j.pin)
            if found is None:
                sched.reasons[k] = ran_out_reason(farm, j)
                continue
            _commit(farm, st, j, j.pin, found[0], found[1])
            if defer_late and found[0] + j.dur > j.due:
                deferred += _drop_longest(farm, st, j.pin)
            continue
        # Lateness is monotone in the end, so the earliest end is also the least late: each
        # option's best printer is an argmin of start times.
        mask = compat[j.group]
        if j.req >= 0:
            starts = np.where(mask & (avail[j.req] >= j.grams), start0, NEVER)
            swappable = j.grams <= FULL_SPOOL_GRAMS
        else:
            starts = np.where(mask, start0, NEVER)
            swappable = False
        best0 = int(starts.argmin())
        begin0 = int(starts[best0])
        begin1 = NEVER
        if swappable:
            starts = np.where(swap_compat[j.group], start1, NEVER)
            best1 = int(starts.argmin())
            begin1 = int(starts[best1])
        if begin0 == NEVER and begin1 == NEVER:
            sched.reasons[k] = ran_out_reason(farm, j)
            continue
        if _prefer_no_swap(begin0, begin1, j, farm.swap_penalty):
            i, begin = best0, begin0
            _commit(farm, st, j, best0, begin0, False)
        else:
            i, begin = best1, begin1
            _commit(farm, st, j, best1, begin1, True)
        if defer_late and begin + j.dur > j.due:
            deferred += _drop_longest(farm, st, i)
    if deferred:
        jobs = farm.jobs
        deferred.sort(key=lambda k: (jobs[k].due, -jobs[k].priority, jobs[k].id))
        place(farm, st, deferred)


def replay(farm: Farm, st: _State, sequences: list[list[int]]) -> None:
    """Lay out each printer's job sequence in time (a job that cannot go there is unplaced)."""
    jobs = farm.jobs
    for i, seq in enumerate(sequences):
        for pos, k in enumerate(seq):
            j = jobs[k]
            found = _evaluate_on(farm, st, j, i)
            if found is None:
                st.sched.reasons[k] = ran_out_reason(farm, j)
                continue
            _commit(farm, st, j, i, found[0], found[1], (seq, pos + 1))


def _finish(farm: Farm, st: _State, note: str) -> Schedule:
    sched = st.sched
    sched.note = note
    for k, reason in farm.static_reasons.items():
        sched.reasons[k] = reason
    for j in farm.jobs:
        if sched.printer[j.index] < 0 and j.index not in sched.reasons:
            sched.reasons[j.index] = "not planned"
    sched.objective = objective(farm, sched)
    return sched


def list_schedule(
    farm: Farm, order: list[int], note: str = "", defer_late: bool = False
) -> Schedule:
    st = _State(farm)
    place(farm, st, order, defer_late)
    st.sched.order = order
    return _finish(farm, st, note)


def retime(farm: Farm, sequences: list[list[int]], note: str = "") -> Schedule:
    st = _State(farm)
    replay(farm, st, sequences)
    return _finish(farm, st, note)


def rebalance_tail(farm: Farm, sched: Schedule, depth: float = 2.0) -> Schedule:
    """The same plan with its last jobs placed again longest first, for a shorter makespan.

    List scheduling in ship-by order ends with whatever jobs are due last, long or short, so the
    printers finish unevenly. Every job that starts after the first printer runs dry (less
    ``depth`` average jobs) is taken off and placed again, higher priority first, then longest
    first, onto the printers as the kept jobs leave them.
    """
    ends = [0] * len(farm.printers)
    count = [0] * len(farm.printers)
    work = 0
    for k, i in enumerate(sched.printer):
        if i >= 0:
            ends[i] = max(ends[i], sched.end[k])
            count[i] += 1
            work += farm.jobs[k].dur
    used = [e for e, c in zip(ends, count, strict=True) if c]
    if len(used) < 2:
        return sched
    cut = min(used) - depth * work / sum(count)
    sequences = sched.sequences(len(farm.printers))
    tail = [k for seq in sequences for k in seq if sched.start[k] > cut]
    if not tail:
        return sched
    jobs = farm.jobs
    taken = set(tail)
    kept = [[k for k in seq if k not in taken] for seq in sequences]
    best = sched
    mixed = len({jobs[k].priority for k in tail}) > 1
    for by_priority in (True, False) if mixed else (False,):
        tail.sort(
            key=lambda k: (
                -jobs[k].priority if by_priority else 0,
                -jobs[k].dur,
                jobs[k].due,
                jobs[k].id,
            )
        )
        st = _State(farm)
        replay(farm, st, kept)
        place(farm, st, tail)
        again = _finish(farm, st, sched.note + "+tail")
        if again.objective < best.objective:
            best = again
    return best


def batch_materials(farm: Farm, sched: Schedule) -> Schedule:
    """Each printer's jobs grouped by spool (within runs of one priority) where that is better
    for the printer: fewer swaps, and no job later than its ship-by date that was not before.

    A pass fixes one printer's order as jobs arrive, so two colours that alternate in the queue
    alternate on the printer; grouping them saves a swap per change.
    """
    sequences = sched.sequences(len(farm.printers))
    grouped = [_grouped(farm, seq) for seq in sequences]
    changed = [i for i, (s, g) in enumerate(zip(sequences, grouped, strict=True)) if s != g]
    if not changed:
        return sched
    # Printers are independent once their sequences are fixed: lay out only the changed ones.
    before = _per_printer(farm, sched, sequences, changed)
    st = _State(farm)
    moved = set(changed)
    replay(farm, st, [grouped[i] if i in moved else [] for i in range(len(grouped))])
    after = _per_printer(farm, st.sched, grouped, changed)
    chosen = list(sequences)
    for i in changed:
        if after[i] < before[i]:
            chosen[i] = grouped[i]
    if chosen == sequences:
        return sched
    # The chosen printers as laid out above, the others as they were: no second full layout
    # (a tenth of a 5,000-job plan's time).
    again = Schedule(
        printer=list(sched.printer),
        start=list(sched.start),
        end=list(sched.end),
        swap=list(sched.swap),
        slot=list(sched.slot),
        reasons=dict(sched.reasons),
        note=sched.note + "+batch",
    )
    laid = st.sched
    for i in changed:
        if chosen[i] is grouped[i]:
            for k in grouped[i]:
                again.start[k], again.end[k] = laid.start[k], laid.end[k]
                again.swap[k], again.slot[k] = laid.swap[k], laid.slot[k]
    again.objective = objective(farm, again)
    return again if again.objective < sched.objective else sched


def _grouped(farm: Farm, seq: list[int]) -> list[int]:
    jobs = farm.jobs
    out: list[int] = []
    run: list[int] = []
    for k in seq + [-1]:
        if run and (k < 0 or jobs[k].priority != jobs[run[0]].priority):
            keys: dict = {}
            for r in run:
                keys.setdefault(
                    (jobs[r].material, jobs[r].color) if jobs[r].req >= 0 else None, []
                ).append(r)
            for members in keys.values():
                out += members
            run = []
        if k >= 0:
            run.append(k)
    return out


def _per_printer(
    farm: Farm, sched: Schedule, sequences: list[list[int]], printers: list[int]
) -> dict[int, tuple]:
    """The share of the objective of each of ``printers`` (sequences laid out in ``sched``), its
    own end standing for the makespan."""
    scores = {}
    for i in printers:
        seq = sequences[i]
        lost = late = tardy = swaps = 0
        end = int(farm.free0[i])
        placed = []
        for k in seq:
            if sched.printer[k] != i:
                lost += 1
                continue
            due = farm.jobs[k].due
            if sched.end[k] > due:
                late += 1
                tardy += sched.end[k] - due
            end = max(end, sched.end[k])
            swaps += sched.swap[k] is not None
            placed.append((sched.start[k], farm.weight[k]))
        inversions = _inversions(placed) if len(placed) > 1 else 0
        scores[i] = Score(
            lost, late, tardy, inversions, end + farm.swap_penalty * swaps, swaps, end
        )
    return scores


def _next_use(jobs: list[PJob], seq: list[int], pos: int, s: list) -> float:
    """Where in ``seq`` (from ``pos``) a job next prints from spool ``s``; inf = never."""
    for n in range(pos, len(seq)):
        j = jobs[seq[n]]
        if j.material == s[1] and (j.color is None or j.color == s[2]):
            return n
    return math.inf


class Score(NamedTuple):
    """What a plan is judged by, in the issue's order (lower is better). The one home for "which
    plan is better": every pass, CP-SAT's answer and the swap-removing moves are kept or dropped
    by comparing these."""

    unplaced: int  # jobs left unplaced
    late: int  # jobs later than their ship-by date
    tardiness: int  # minutes late, summed
    inversions: int  # pairs on one printer where a job runs before one of higher priority
    cost: int  # makespan + swap_penalty per swap: a swap is worth that much makespan
    swaps: int  # at equal cost, fewer swaps (as the list scheduler breaks the tie)
    makespan: int  # when the last job ends (minutes from now)


def objective(farm: Farm, sched: Schedule) -> Score:
    """The plan's ``Score``. Only inversions on one printer count: a high-priority job that
    starts a little after a low one elsewhere waited for a free printer, not behind that job.
    Makespan and swaps are one figure priced by ``farm.swap_penalty``, the same price the list
    scheduler puts on a swap: "short makespan, then few swaps" taken strictly would trade any
    number of swaps for a minute, and a solver that knows no price would undo the rule's waits."""
    late = tardy = swaps = 0
    makespan = int(farm.free0.max(initial=0))
    by_printer: list[list[tuple[int, int]]] = [[] for _ in farm.printers]
    for j in farm.jobs:
        k = j.index
        i = sched.printer[k]
        if i < 0:
            continue
        end = sched.end[k]
        if end > j.due:
            late += 1
            tardy += end - j.due
        if end > makespan:
            makespan = end
        if sched.swap[k] is not None:
            swaps += 1
        by_printer[i].append((sched.start[k], farm.weight[k]))
    inversions = sum(_inversions(placed) for placed in by_printer if len(placed) > 1)
    return Score(
        unplaced=len(sched.reasons),
        late=late,
        tardiness=tardy,
        inversions=inversions,
        cost=makespan + farm.swap_penalty * swaps,
        swaps=swaps,
        makespan=makespan,
    )


def _inversions(placed: list[tuple[int, int]]) -> int:
    """Pairs where a job of higher rank starts after one of lower rank (one printer: starts
    differ)."""
    placed.sort()
    seen = [0] * (max(r for _, r in placed) + 1)  # jobs so far, per rank
    total = 0
    for _, rank in placed:
        total += sum(seen[:rank])
        seen[rank] += 1
    return total


def fewer_swaps(farm: Farm, sched: Schedule, max_jobs: int, max_tries: int = 4000) -> Schedule:
    """Local search aimed at swaps: a job planned after a swap is moved to another place (on its
    printer or another) or exchanged with another job, and the change is kept when the whole
    objective gets better (so never a late job more, never a minute later: swaps rank last, and
    a move that shortens the lateness is kept too).

    Each try lays the whole plan out again, so this runs on farms of up to ``max_jobs`` jobs and
    for at most ``max_tries`` tries (a count, so the same farm gives the same plan), where the
    passes and CP-SAT leave swaps one move removes (a colour run split over two printers, say).
    """
    placed = [k for k in range(len(farm.jobs)) if sched.printer[k] >= 0]
    if not placed or len(placed) > max_jobs:
        return sched
    jobs = farm.jobs
    n_printers = len(farm.printers)
    note = sched.note.split("+swaps")[0] + "+swaps"
    best = sched
    tries = 0

    def allowed(k: int, i: int) -> bool:
        j = jobs[k]
        return (j.pin is None or j.pin == i) and bool(farm.compat[j.group, i])

    def trials(sequences: list[list[int]]):
        for k in sorted(
            (k for k in placed if best.swap[k] is not None), key=lambda k: (best.start[k], k)
        ):
            home = best.printer[k]
            for i in range(n_printers):
                if not allowed(k, i):
                    continue
                for pos in range(len(sequences[i]) + (i != home)):
                    trial = [list(seq) for seq in sequences]
                    trial[home].remove(k)
                    if i == home and trial[i][pos : pos + 1] == [k]:
                        continue
                    trial[i].insert(pos, k)
                    if trial != sequences:
                        yield trial
            for m in placed:
                other = best.printer[m]
                if other == home or not allowed(k, other) or not allowed(m, home):
                    continue
                trial = [list(seq) for seq in sequences]
                a, b = trial[home].index(k), trial[other].index(m)
                trial[home][a], trial[other][b] = m, k
                yield trial

    improved = True
    while improved and tries < max_tries:
        improved = False
        for trial in trials(best.sequences(n_printers)):
            tries += 1
            again = retime(farm, trial, note)
            if again.objective < best.objective:
                best, improved = again, True
                break
            if tries >= max_tries:
                break
    return best

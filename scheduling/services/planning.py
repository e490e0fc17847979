"""The farm plan, kept where reads are cheap: the farm read into the planner, its answer written
onto the jobs (planned printer, expected start and end, the swap before, or why a job waits).

``farm_replan`` is the one writer. The event handlers (scheduling/receivers.py) call
``farm_replan_after`` with the event's time: a plan computed after that already saw the change, so
a burst of events re-plans once (the debounce), and a replayed event changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from j3d import events
from printers.models import Printer, PrinterStatus
from scheduling import planner
from scheduling.models import FarmPlan, FarmSettings, PrinterPlanning, ScheduledPrint
from scheduling.services.autodispatch import printer_waits_for

BUSY_STATES = frozenset({"prepare", "running", "pause", "slicing"})
DEFAULT_DURATION_MINUTES = 60
REPLAN_SLACK = timedelta(seconds=2)
PLAN_FIELDS = [
    "planned_printer",
    "expected_start",
    "expected_end",
    "planned_swap",
    "planned_slot",
    "waiting_reason",
]


def _hours(windows: list | None) -> tuple[tuple[int, int], ...] | None:
    """PrinterPlanning.working_hours (``[["08:00", "20:00"]]``, validated by the model) in
    minutes of the day."""
    if windows is None:
        return None

    def minutes(text: str) -> int:
        hours, mins = text.split(":")
        return int(hours) * 60 + int(mins)

    return tuple((minutes(a), minutes(b)) for a, b in windows)


def _printer(printer: Printer, now: datetime) -> planner.Printer:
    status = getattr(printer, "status", None)
    planning = getattr(printer, "planning", None)
    available_at = None
    if status is not None and status.state in BUSY_STATES:
        # A print J3D did not start (or lost track of) keeps the printer for its remaining time.
        remaining = (status.snapshot or {}).get("remaining_minutes")
        if isinstance(remaining, int) and remaining > 0:
            available_at = now + timedelta(minutes=remaining)
    slots = tuple(
        planner.Slot(
            slot=m.slot,
            material_type="" if m.is_empty else m.material_type,
            color=(m.color_hex or "").lstrip("#") or None,
            remaining_grams=m.remaining_grams,
        )
        for m in printer.materials.all()
    )
    return planner.Printer(
        id=printer.pk,
        model=printer.model,
        online=bool(status and status.online),
        enabled=printer.enabled,
        available_at=available_at,
        slots=slots,
        working_hours=_hours(planning.working_hours) if planning else None,
    )


def _job(job: ScheduledPrint) -> planner.Job:
    profile = job.product_profile
    grams = profile.grams_per_plate if profile and profile.grams_per_plate is not None else 0
    models = profile.compatible_models if profile and profile.compatible_models else None
    return planner.Job(
        id=job.pk,
        duration_minutes=job.estimated_duration_minutes or DEFAULT_DURATION_MINUTES,
        grams=float(grams),
        material_type=job.material_type or None,
        color=((profile.color or "").lstrip("#") or None) if profile else None,
        priority=job.priority,
        due_by=job.order.due_by if job.order else None,
        printer_id=job.printer_id,
        compatible_models=frozenset(models) if models else None,
        started_at=(job.started_at or job.updated_at)
        if job.status == ScheduledPrint.Status.STARTED
        else None,
    )


def farm_instance(*, user_id: int, now: datetime) -> tuple[planner.Instance, list[ScheduledPrint]]:
    """The owner's farm as the planner sees it, and the open jobs it was built from."""
    printers = list(
        Printer.objects.filter(user_id=user_id)
        .select_related("status", "planning")
        .prefetch_related("materials")
        .order_by("id")
    )
    jobs = list(
        ScheduledPrint.objects.filter(user_id=user_id)
        .unfinished()
        .select_related("order", "product_profile")
        .order_by("id")
    )
    settings = FarmSettings.objects.filter(user_id=user_id).first()
    swap = settings.swap_minutes if settings else FarmSettings.DEFAULT_SWAP_MINUTES
    instance = planner.Instance(
        now=now,
        printers=tuple(_printer(p, now) for p in printers),
        jobs=tuple(_job(j) for j in jobs),
        swap_minutes=swap,
    )
    return instance, jobs


def farm_replan(*, user_id: int, now: datetime | None = None) -> FarmPlan:
    """Plan the owner's farm now and store the plan on the jobs (one bulk write)."""
    now = now or timezone.now()
    instance, jobs = farm_instance(user_id=user_id, now=now)
    result = planner.plan(instance, cpsat_budget=planner.REPLAN_CPSAT_BUDGET)
    placed = {a.job_id: a for a in result.assignments}
    reasons = {u.job_id: u.reason for u in result.unplaced}
    for job in jobs:
        a = placed.get(job.pk)
        job.planned_printer_id = a.printer_id if a else None
        job.expected_start = a.start if a else None
        job.expected_end = a.end if a else None
        job.planned_slot = a.slot if a else None
        job.planned_swap = (
            {"slot": a.swap.slot, "material_type": a.swap.material_type, "color": a.swap.color}
            if a and a.swap
            else None
        )
        job.waiting_reason = reasons.get(job.pk, "")
    _explain_next_jobs(user_id, jobs)
    with transaction.atomic():
        ScheduledPrint.objects.bulk_update(jobs, PLAN_FIELDS, batch_size=500)
        # Jobs that ended since carry no plan.
        ScheduledPrint.objects.filter(user_id=user_id).exclude(
            status__in=ScheduledPrint.UNFINISHED
        ).exclude(planned_printer=None, expected_start=None, waiting_reason="").update(
            planned_printer=None,
            expected_start=None,
            expected_end=None,
            planned_swap=None,
            planned_slot=None,
            waiting_reason="",
        )
        farm_plan, _ = FarmPlan.objects.update_or_create(
            user_id=user_id,
            defaults={
                "computed_at": now,
                "planned_jobs": len(placed),
                "unplaced_jobs": len(reasons),
                "notes": " ".join(result.notes)[:255],
            },
        )
    return farm_plan


def _explain_next_jobs(user_id: int, jobs: list[ScheduledPrint]) -> None:
    """A planned job that is its idle printer's next one but will not start by itself says what
    a person must do (clear the plate, start it, ...), as the dispatcher decides it."""
    owner_on = not FarmSettings.objects.filter(user_id=user_id, auto_dispatch=False).exists()
    next_job: dict[int, ScheduledPrint] = {}
    for job in jobs:
        if job.status in ScheduledPrint.WAITING and job.expected_start is not None:
            printer_id = job.printer_id or job.planned_printer_id
            current = next_job.get(printer_id)
            if current is None or (job.expected_start, job.pk) < (
                current.expected_start,
                current.pk,
            ):
                next_job[printer_id] = job
    idle = Printer.objects.filter(pk__in=next_job).select_related("status", "planning")
    for printer in idle:
        status = getattr(printer, "status", None)
        if status is not None and status.state in PrinterStatus.BUSY_STATES:
            continue  # it is printing: the next job simply follows
        reason = printer_waits_for(printer=printer, owner_auto_dispatch=owner_on)
        if reason and not next_job[printer.pk].waiting_reason:
            next_job[printer.pk].waiting_reason = reason


def farm_replan_after(*, user_id: int, since: datetime | None) -> FarmPlan | None:
    """Re-plan unless a plan computed well after ``since`` already exists (the debounce). "Well
    after": an event is stamped inside its transaction, which commits a moment later, so a plan
    started within ``REPLAN_SLACK`` of it may not have seen the change."""
    if since is not None:
        current = FarmPlan.objects.filter(user_id=user_id).values_list("computed_at", flat=True)
        computed = current.first()
        if computed is not None and computed >= since + REPLAN_SLACK:
            return None
    return farm_replan(user_id=user_id)


def plan_view(*, user: Any) -> dict[str, Any]:
    """The stored plan of ``user`` shaped for GET /api/plan (three queries, whatever the size):
    every printer with its planned jobs in order, and the open jobs that wait, with why."""
    farm_plan = FarmPlan.objects.filter(user=user).first()
    printers = list(Printer.objects.for_owner(user).order_by("id"))
    jobs = list(
        ScheduledPrint.objects.for_owner(user)
        .unfinished()
        .order_by("expected_start", "id")
        .only(
            "id",
            "job_name",
            "status",
            "planned_printer_id",
            "expected_start",
            "expected_end",
            "planned_swap",
            "planned_slot",
            "waiting_reason",
            "dispatch_error",
            "dispatch_failed_at",
        )
    )
    by_printer: dict[int, list[ScheduledPrint]] = {p.pk: [] for p in printers}
    unplaced = []
    for job in jobs:
        if job.planned_printer_id in by_printer and job.expected_start is not None:
            by_printer[job.planned_printer_id].append(job)
        elif job.waiting_reason:
            unplaced.append(job)
    return {
        "computed_at": farm_plan.computed_at if farm_plan else None,
        "printers": [
            {"printer_id": p.pk, "name": p.name, "jobs": by_printer[p.pk]} for p in printers
        ],
        "unplaced": sorted(unplaced, key=lambda j: j.pk),
    }


@transaction.atomic
def printer_plate_cleared(*, printer: Printer, by: str = "person") -> PrinterPlanning:
    """A person (or the plate-swapping hardware) says the build plate is empty: the printer may
    take its next job. Announced as ``plate.cleared`` (the plan and the dispatcher listen)."""
    planning, _ = PrinterPlanning.objects.select_for_update().get_or_create(
        printer=printer, defaults={"user_id": printer.user_id}
    )
    if not planning.plate_clear:
        planning.plate_clear = True
        planning.save(update_fields=["plate_clear", "updated_at"])
    events.publish(events.PlateCleared(user_id=printer.user_id, printer_id=printer.pk, by=by))
    return planning

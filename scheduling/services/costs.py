"""What each print attempt used and cost, recorded when it starts and ends.

``print_record_start`` and ``print_record_finish`` follow a job's status (scheduling/receivers.py
calls them on job.status_changed) and are idempotent: an attempt is its job and its start time,
so a replayed event finds the record it made. The grams come from the product profile's slicer
figures (pro rata to progress for a failed or cancelled attempt); the AMS remain change, where the
AMS measures the spool, is recorded beside them as a cross-check. Spools the AMS cannot measure
(third-party, external) lose the grams used, so the material list stays true between syncs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from j3d import events
from j3d.lib.validation import save_validated
from orders.models import ProductProfile
from printers.models import BambuMaterial, PrinterStatus
from scheduling.models import FarmSettings, MaterialUse, PrintRecord, ScheduledPrint

logger = logging.getLogger(__name__)

Outcome = PrintRecord.Outcome
CENT = Decimal("0.01")
FOUR = Decimal("0.0001")
# The AMS reads remain in whole percent: within a point of the spool plus a tenth of the slicer's
# figure, the two agree.
AMS_TOLERANCE_PCT = Decimal(1)


def farm_settings_for(*, user: Any) -> FarmSettings:
    farm, _created = FarmSettings.objects.get_or_create(user=user)
    return farm


def farm_settings_update(*, user: Any, **fields: Any) -> FarmSettings:
    """Change the owner's farm settings (rates, Etsy fees, reorder lead time, ...); the model's
    validators are the rules. Costs already recorded keep the rates of their day."""
    return save_validated(farm_settings_for(user=user), **fields)


@dataclass(frozen=True)
class _Filament:
    slot: int  # the slicer's filament number
    type: str
    color: str
    grams: Decimal  # per plate, whole attempt


def print_record_start(*, job_id: int) -> PrintRecord | None:
    """Open the record of the attempt a started job is making, with the AMS readings now."""
    job = ScheduledPrint.objects.select_related("printer").filter(pk=job_id).first()
    if job is None or job.status != ScheduledPrint.Status.STARTED or job.started_at is None:
        return None
    return _record_for(job, ams_at_start=_measured_remain(job.printer_id))


@transaction.atomic
def print_record_finish(*, job_id: int) -> PrintRecord | None:
    """Close the attempt of an ended job: grams per spool, hours, costs; take the grams off the
    spools the AMS cannot measure. None when the job never started (nothing was printed)."""
    job = (
        ScheduledPrint.objects.select_related("printer", "product_profile")
        .filter(pk=job_id)
        .first()
    )
    if job is None or job.status not in ScheduledPrint.ENDED or job.started_at is None:
        return None
    record = _record_for(job, ams_at_start={})
    record = PrintRecord.objects.select_for_update().get(pk=record.pk)
    if record.outcome != Outcome.PRINTING:
        return record  # already closed: a replayed event
    ended = job.completed_at or timezone.now()
    record.outcome = job.status
    record.ended_at = ended
    record.failure_reason = (job.failed_reason or "")[:255]
    record.print_hours = _hours(job.started_at, ended)
    record.progress_pct = _progress(job, record)
    record.units = _units(job.product_profile) if job.status == Outcome.COMPLETED else 0
    farm = farm_settings_for(user=job.user)
    uses = _material_uses(job, record)
    record.material_cost = sum((use.cost for use in uses), Decimal(0))
    record.machine_cost, record.energy_cost = _machine_and_energy(job, record.print_hours, farm)
    record.full_clean(exclude=["job", "printer", "order", "product_profile", "user"])
    record.save()
    MaterialUse.objects.bulk_create(uses)
    return record


def _record_for(job: ScheduledPrint, *, ams_at_start: dict[str, Any]) -> PrintRecord:
    values = {
        "user_id": job.user_id,
        "printer_id": job.printer_id,
        "order_id": job.order_id,
        "product_profile_id": job.product_profile_id,
        "job_name": job.job_name[:255],
        "ams_at_start": ams_at_start,
    }
    try:
        with transaction.atomic():
            record, _created = PrintRecord.objects.get_or_create(
                job=job, started_at=job.started_at, defaults=values
            )
    except IntegrityError:  # another worker made it between our read and insert
        record = PrintRecord.objects.get(job=job, started_at=job.started_at)
    return record


def _hours(start: datetime, end: datetime) -> Decimal:
    seconds = max((end - start).total_seconds(), 0)
    return (Decimal(seconds) / 3600).quantize(FOUR, ROUND_HALF_UP)


def _progress(job: ScheduledPrint, record: PrintRecord) -> Decimal:
    """100 for a completed print; else the printer's last percent for this job, else the share of
    the estimated time that passed."""
    if job.status == ScheduledPrint.Status.COMPLETED:
        return Decimal(100)
    snapshot = _snapshot(job.printer_id)
    percent = snapshot.get("progress_pct")
    same_job = job.printer_subtask_id and snapshot.get("subtask_id") == job.printer_subtask_id
    if same_job and isinstance(percent, int) and 0 <= percent <= 100:
        return Decimal(percent)
    minutes = job.estimated_duration_minutes or (
        job.product_profile.estimated_duration_minutes if job.product_profile else None
    )
    if not minutes:
        return Decimal(0)
    share = record.print_hours * 60 / Decimal(minutes) * 100
    return min(share, Decimal(100)).quantize(CENT, ROUND_HALF_UP)


def _units(profile: ProductProfile | None) -> int:
    return profile.units_per_plate if profile is not None else 1


def _plan(job: ScheduledPrint) -> list[_Filament]:
    """The filaments one plate of this job uses, from its profile's slicer figures."""
    profile = job.product_profile
    if profile is None:
        return []
    if profile.filaments:
        return [
            _Filament(
                slot=item.get("slot", number),
                type=item["type"],
                color=item.get("color", ""),
                grams=Decimal(str(item["grams"])),
            )
            for number, item in enumerate(profile.filaments, start=1)
        ]
    grams = profile.grams_per_plate
    if grams is None and profile.grams_per_unit is not None:
        grams = profile.grams_per_unit * profile.units_per_plate
    if grams is None:
        return []
    return [
        _Filament(slot=1, type=job.material_type or profile.material_type, color="", grams=grams)
    ]


def _material_uses(job: ScheduledPrint, record: PrintRecord) -> list[MaterialUse]:
    plan = _plan(job)
    if not plan:
        return []
    spools = list(BambuMaterial.objects.filter(printer_id=job.printer_id, is_empty=False))
    measured_now = _measured_remain(job.printer_id)
    share = record.progress_pct / 100
    uses = []
    for index, filament in enumerate(plan):
        spool = _spool_for(filament, index, job, spools)
        grams = (filament.grams * share).quantize(CENT, ROUND_HALF_UP)
        price = spool.cost_per_kg if spool is not None else None
        use = MaterialUse(
            user_id=job.user_id,
            record=record,
            material=spool,
            slot=spool.slot if spool is not None else None,
            material_type=filament.type[:32],
            color_hex=filament.color or (spool.color_hex if spool is not None else ""),
            grams=grams,
            slicer_grams=filament.grams,
            cost_per_kg=price,
            cost=(grams * price / 1000).quantize(FOUR, ROUND_HALF_UP) if price is not None else 0,
        )
        if spool is not None:
            use.ams_grams = _ams_grams(spool, record.ams_at_start, measured_now)
            if str(spool.slot) not in measured_now:
                _take_off(spool, grams)
            elif use.ams_grams is not None and _disagrees(use.ams_grams, grams, spool):
                logger.info(
                    "job %s slot %s: slicer says %s g, AMS says %s g",
                    job.pk,
                    spool.slot,
                    grams,
                    use.ams_grams,
                )
        uses.append(use)
    return uses


def _spool_for(
    filament: _Filament, index: int, job: ScheduledPrint, spools: list[BambuMaterial]
) -> BambuMaterial | None:
    """The job's slot feeds its first filament; others come from a spool of the same type and
    colour (else type) on that printer."""
    by_slot = {spool.slot: spool for spool in spools}
    if index == 0 and job.material_slot is not None and job.material_slot in by_slot:
        return by_slot[job.material_slot]
    kind = filament.type.lower()
    same_type = [spool for spool in spools if spool.material_type.lower() == kind]
    same_colour = [s for s in same_type if filament.color and s.color_hex.upper() == filament.color]
    return (same_colour or same_type or [None])[0]


def _ams_grams(
    spool: BambuMaterial, at_start: dict[str, Any], now: dict[str, Any]
) -> Decimal | None:
    key = str(spool.slot)
    if key not in at_start or key not in now or spool.weight_grams is None:
        return None
    used_pct = Decimal(str(at_start[key])) - Decimal(str(now[key]))
    return max((used_pct * spool.weight_grams / 100).quantize(CENT), Decimal(0))


def _disagrees(ams: Decimal, slicer: Decimal, spool: BambuMaterial) -> bool:
    tolerance = (spool.weight_grams or 0) * AMS_TOLERANCE_PCT / 100 + slicer / 10
    return abs(ams - slicer) > tolerance


def _take_off(spool: BambuMaterial, grams: Decimal) -> None:
    """The AMS does not measure this spool: its percentage drops by the grams printed."""
    if not grams or not spool.weight_grams:
        return
    locked = BambuMaterial.objects.select_for_update().get(pk=spool.pk)
    if locked.remaining_pct is None:
        return
    before = locked.remaining_pct
    left = before - grams * 100 / locked.weight_grams
    locked.remaining_pct = max(left, Decimal(0)).quantize(CENT, ROUND_HALF_UP)
    locked.save(update_fields=["remaining_pct", "updated_at"])
    threshold = settings.PRINTER_MATERIAL_LOW_PCT
    if before >= threshold > locked.remaining_pct:  # the AMS would have said so; it cannot here
        events.publish(
            events.MaterialLow(
                user_id=locked.user_id,
                printer_id=locked.printer_id,
                slot=locked.slot,
                remaining_pct=int(locked.remaining_pct),
                material_type=locked.material_type,
                color_hex=locked.color_hex,
            )
        )


def _machine_and_energy(
    job: ScheduledPrint, hours: Decimal, farm: FarmSettings
) -> tuple[Decimal, Decimal]:
    printer = job.printer
    rate = farm.machine_hourly_rate
    if printer is not None and printer.hourly_rate is not None:
        rate = printer.hourly_rate
    machine = (hours * rate).quantize(FOUR, ROUND_HALF_UP)
    energy = Decimal(0)
    watts = printer.power_watts if printer is not None else None
    if watts and farm.energy_price_per_kwh is not None:
        energy = (hours * watts / 1000 * farm.energy_price_per_kwh).quantize(FOUR, ROUND_HALF_UP)
    return machine, energy


def _snapshot(printer_id: int | None) -> dict[str, Any]:
    if printer_id is None:
        return {}
    snapshot = (
        PrinterStatus.objects.filter(printer_id=printer_id)
        .values_list("snapshot", flat=True)
        .first()
    )
    return snapshot if isinstance(snapshot, dict) else {}


def _measured_remain(printer_id: int | None) -> dict[str, Any]:
    """{slot: remain %} for the trays whose remain the AMS reports now (None = cannot measure)."""
    snapshot = _snapshot(printer_id)
    trays: list[dict[str, Any]] = []
    for unit in snapshot.get("ams") or ():
        trays.extend(unit.get("trays") or ())
    trays.extend(snapshot.get("external") or ())
    return {
        str(tray["slot"]): tray["remaining_pct"]
        for tray in trays
        if isinstance(tray, dict)
        and isinstance(tray.get("slot"), int)
        and isinstance(tray.get("remaining_pct"), int)
    }

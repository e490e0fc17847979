"""What an attempt used and cost: grams per spool, hours, machine and energy, spools going down."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from j3d.tests.factories import make_job, make_material, make_order, make_printer, make_profile
from printers.models import PrinterStatus
from scheduling.models import FarmSettings, MaterialUse, PrintRecord, ScheduledPrint
from scheduling.services.costs import print_record_finish, print_record_start

pytestmark = pytest.mark.django_db
Status = ScheduledPrint.Status
T0 = timezone.now().replace(microsecond=0) - timedelta(days=1)


@pytest.fixture
def farm(owner):
    FarmSettings.objects.create(user=owner, energy_price_per_kwh=Decimal("0.30"))
    printer = make_printer(owner, power_watts=150)
    spool = make_material(printer, slot=0, color_hex="#000000", cost_per_kg=Decimal("20.00"))
    profile = make_profile(
        owner,
        units_per_plate=2,
        estimated_duration_minutes=120,
        filaments=[{"slot": 1, "type": "PLA", "color": "#000000", "grams": 50}],
    )
    return printer, spool, profile


def ended_job(owner, printer, profile, status, hours, **fields):
    return make_job(
        owner,
        printer,
        product_profile=profile,
        status=status,
        material_slot=0,
        started_at=T0,
        completed_at=T0 + timedelta(hours=hours),
        **fields,
    )


def test_a_completed_print_costs_its_grams_hours_and_energy(owner, farm):
    printer, spool, profile = farm
    job = ended_job(owner, printer, profile, Status.COMPLETED, 2)

    record = print_record_finish(job_id=job.pk)

    assert (record.outcome, record.print_hours, record.progress_pct) == ("completed", 2, 100)
    assert record.units == 2
    assert record.material_cost == Decimal("1.00")  # 50 g x 20.00 / kg
    assert record.machine_cost == Decimal("1.00")  # 2 h x 0.50 (farm default)
    assert record.energy_cost == Decimal("0.09")  # 2 h x 0.150 kW x 0.30
    assert record.total_cost == Decimal("2.09")
    use = record.materials.get()
    assert (use.material_id, use.slot, use.grams, use.cost_per_kg) == (spool.pk, 0, 50, 20)


def test_the_spool_the_ams_cannot_measure_goes_down_by_the_grams(owner, farm):
    printer, spool, profile = farm
    job = ended_job(owner, printer, profile, Status.COMPLETED, 2)

    print_record_finish(job_id=job.pk)

    spool.refresh_from_db()
    assert spool.remaining_pct == Decimal("75.00")  # 80% of 1000 g, less 50 g
    assert spool.remaining_grams == 750


def test_a_failed_print_uses_grams_pro_rata_to_the_printers_progress(owner, farm):
    printer, spool, profile = farm
    job = ended_job(
        owner,
        printer,
        profile,
        Status.FAILED,
        1,
        printer_subtask_id="77",
        failed_reason="Spaghetti",
    )
    PrinterStatus.objects.filter(printer=printer).update(
        snapshot={"subtask_id": "77", "progress_pct": 40}
    )

    record = print_record_finish(job_id=job.pk)

    assert (record.outcome, record.progress_pct, record.units) == ("failed", 40, 0)
    assert record.failure_reason == "Spaghetti"
    assert record.materials.get().grams == Decimal("20.00")
    assert record.material_cost == Decimal("0.40")
    assert record.machine_cost == Decimal("0.50")
    spool.refresh_from_db()
    assert spool.remaining_pct == Decimal("78.00")


def test_without_the_printers_progress_a_cancelled_print_uses_the_time_share(owner, farm):
    printer, _spool, profile = farm
    job = ended_job(owner, printer, profile, Status.CANCELLED, 0.5)

    record = print_record_finish(job_id=job.pk)

    assert record.progress_pct == 25  # 30 of 120 estimated minutes
    assert record.materials.get().grams == Decimal("12.50")


def test_the_printers_own_rate_beats_the_farm_default(owner, farm):
    printer, _spool, profile = farm
    printer.hourly_rate = Decimal("1.25")
    printer.save()
    job = ended_job(owner, printer, profile, Status.COMPLETED, 2)

    assert print_record_finish(job_id=job.pk).machine_cost == Decimal("2.50")


def test_finishing_twice_records_and_takes_off_once(owner, farm):
    printer, spool, profile = farm
    job = ended_job(owner, printer, profile, Status.COMPLETED, 2)

    print_record_finish(job_id=job.pk)
    print_record_finish(job_id=job.pk)

    assert PrintRecord.objects.count() == 1 and MaterialUse.objects.count() == 1
    spool.refresh_from_db()
    assert spool.remaining_pct == Decimal("75.00")


def test_a_job_cancelled_before_it_started_records_nothing(owner, farm):
    printer, _spool, profile = farm
    job = make_job(owner, printer, product_profile=profile, status=Status.CANCELLED)

    assert print_record_finish(job_id=job.pk) is None
    assert not PrintRecord.objects.exists()


def test_a_reprint_is_a_second_record_for_the_same_order(owner, farm):
    printer, _spool, profile = farm
    order = make_order(owner)
    job = ended_job(owner, printer, profile, Status.FAILED, 1, order=order)
    print_record_finish(job_id=job.pk)
    ScheduledPrint.objects.filter(pk=job.pk).update(
        status=Status.COMPLETED,
        started_at=T0 + timedelta(hours=3),
        completed_at=T0 + timedelta(hours=5),
    )

    print_record_finish(job_id=job.pk)

    outcomes = sorted(PrintRecord.objects.filter(order=order).values_list("outcome", flat=True))
    assert outcomes == ["completed", "failed"]


def test_the_ams_remain_change_is_recorded_and_the_measured_spool_left_to_the_ams(owner, farm):
    printer, spool, profile = farm
    tray = {"slot": 0, "remaining_pct": 80}
    PrinterStatus.objects.filter(printer=printer).update(snapshot={"ams": [{"trays": [tray]}]})
    job = ended_job(owner, printer, profile, Status.STARTED, 0)
    ScheduledPrint.objects.filter(pk=job.pk).update(completed_at=None)
    print_record_start(job_id=job.pk)
    PrinterStatus.objects.filter(printer=printer).update(
        snapshot={"ams": [{"trays": [{"slot": 0, "remaining_pct": 74}]}]}
    )
    ScheduledPrint.objects.filter(pk=job.pk).update(
        status=Status.COMPLETED, completed_at=T0 + timedelta(hours=2)
    )

    record = print_record_finish(job_id=job.pk)

    use = record.materials.get()
    assert (use.grams, use.ams_grams) == (Decimal("50.00"), Decimal("60.00"))
    spool.refresh_from_db()
    assert spool.remaining_pct == 80  # the AMS's own reading stays


def test_moving_a_job_through_the_api_records_its_attempt(
    api, owner, farm, django_capture_on_commit_callbacks
):
    printer, spool, profile = farm
    job = make_job(owner, printer, product_profile=profile, material_slot=0)
    url = f"/api/bambu/scheduled-prints/{job.pk}"

    with django_capture_on_commit_callbacks(execute=True):
        started = api.put(url, {"status": "started"}, format="json")
    record = PrintRecord.objects.get(job=job)
    assert started.status_code == 200 and record.outcome == "printing"
    with django_capture_on_commit_callbacks(execute=True):
        ended = api.put(url, {"status": "completed"}, format="json")

    assert ended.status_code == 200
    record.refresh_from_db()
    assert (record.outcome, record.units, record.materials.get().grams) == ("completed", 2, 50)
    spool.refresh_from_db()
    assert spool.remaining_pct == Decimal("75.00")

"""Jobs follow the printer: POST /print uploads and starts, the printer's reports move the job."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from django_q.conf import Conf

from j3d import events
from j3d.lib.mosquitto import MosquittoBroker
from j3d.tests.factories import make_job, make_material, make_profile
from printers.bambu.mqtt import LinkState
from printers.bambu.simulator import SimulatedPrinter
from printers.models import BambuMaterial, PrinterCommand, PrinterStatus
from printers.tests.conftest import TEST_ACCESS_CODE
from printers.tests.fixtures_link import *  # noqa: F403
from printers.tests.fixtures_link import make_printer, wait_until
from scheduling.models import ScheduledPrint

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _tasks_inline(monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Any) -> None:
    """Run q2 tasks in-process (no cluster in tests) and keep uploaded files in a temp dir."""
    monkeypatch.setattr(Conf, "SYNC", True)
    settings.MEDIA_ROOT = str(tmp_path)


def _simulator(broker: MosquittoBroker, serial: str) -> SimulatedPrinter:
    return SimulatedPrinter(
        serial,
        host=broker.host,
        port=broker.port,
        access_code=TEST_ACCESS_CODE,
        ca_path=broker.ca_path,
        delta_interval=0.2,
        time_scale=60.0,
        prepare_duration=30.0,  # 0.5 s of real time
        job_duration=6000.0,  # 100 s of real time: tests skip ahead to the part they watch
    )


@pytest.fixture
def sim(mqtt_broker: MosquittoBroker) -> Iterator[SimulatedPrinter]:
    printer = _simulator(mqtt_broker, "DISPSIM01")
    printer.start()
    yield printer
    printer.stop()


def _job_with_file(user: Any, **fields: Any) -> ScheduledPrint:
    profile = make_profile(user, name=fields.get("job_name", "Dragon"))
    profile.print_file.save("dragon.gcode.3mf", ContentFile(b"PK\x03\x04 sliced dragon"))
    return make_job(user, None, product_profile=profile, material_slot=0, **fields)


def _connected_link(link_factory: Any, printer: Any) -> Any:
    link = link_factory()
    link.reconcile()
    assert wait_until(lambda: link.hub.status(printer.pk) is LinkState.CONNECTED)
    assert wait_until(lambda: PrinterStatus.objects.get(printer=printer).online, step=link.tick)
    return link


def _status(job: ScheduledPrint) -> str:
    job.refresh_from_db()
    return job.status


def test_print_lifecycle_moves_the_job_and_syncs_the_ams(
    api, owner, mqtt_broker, sim, link_factory
):
    printer = make_printer(owner, mqtt_broker, sim.serial, ftps_port=sim.ftps_port)
    make_material(printer, slot=0, cost_per_kg=Decimal("24.50"), notes="the good spool")
    job = _job_with_file(owner)
    link = _connected_link(link_factory, printer)
    seen: list[str] = []

    response = api.post(
        f"/api/printers/{printer.pk}/print", {"scheduled_print_id": job.pk}, format="json"
    )

    assert response.status_code == 202, response.content
    job.refresh_from_db()
    assert job.printer_id == printer.pk and job.printer_subtask_id
    assert sim.ftps.exists(f"/j3d-{job.pk}-dragon.gcode.3mf")

    def watch() -> bool:
        status = _status(job)
        if not seen or seen[-1] != status:
            seen.append(status)
        return status == "completed"

    assert wait_until(lambda: watch() or seen[-1] == "started", step=link.tick, timeout=20), seen
    sim.skip_ahead(3000)  # half the print: the printer reports progress on the way
    assert wait_until(lambda: sim.report()["mc_percent"] >= 50)
    sim.skip_ahead(3000)
    assert wait_until(watch, step=link.tick, timeout=20), seen
    assert seen[0] == "queued" and "started" in seen and seen[-1] == "completed"
    assert job.started_at is not None and job.completed_at is not None
    command = PrinterCommand.objects.get(printer=printer, action="project_file")
    assert command.status == "acknowledged"
    slot0 = BambuMaterial.objects.get(printer=printer, slot=0)
    assert slot0.cost_per_kg == Decimal("24.50") and slot0.notes == "the good spool"
    assert slot0.last_synced is not None
    assert slot0.material_type == (sim.tray(0).get("tray_type") or slot0.material_type)


def test_a_failed_print_fails_the_job_with_the_decoded_reason(
    api, owner, mqtt_broker, sim, link_factory
):
    printer = make_printer(owner, mqtt_broker, sim.serial, ftps_port=sim.ftps_port)
    job = _job_with_file(owner)
    link = _connected_link(link_factory, printer)
    api.post(f"/api/printers/{printer.pk}/print", {"scheduled_print_id": job.pk}, format="json")
    assert wait_until(lambda: _status(job) == "started", step=link.tick, timeout=15)

    sim.fail_job(print_error=0x07008006)

    assert wait_until(lambda: _status(job) == "failed", step=link.tick, timeout=10)
    assert "0700_8006" in job.failed_reason or "Unable to feed" in job.failed_reason


def test_print_while_the_printer_is_running_is_409(api, owner, mqtt_broker):
    printer = make_printer(owner, mqtt_broker, "BUSY01")
    PrinterStatus.objects.filter(printer=printer).update(state="running", online=True)
    job = _job_with_file(owner)
    response = api.post(
        f"/api/printers/{printer.pk}/print", {"scheduled_print_id": job.pk}, format="json"
    )
    assert response.status_code == 409
    assert _status(job) == "queued"
    assert not PrinterCommand.objects.exists()


def test_print_of_a_job_without_sliced_file_is_400(api, owner, mqtt_broker):
    printer = make_printer(owner, mqtt_broker, "NOFILE01")
    job = make_job(owner, None, product_profile=make_profile(owner))
    response = api.post(
        f"/api/printers/{printer.pk}/print", {"scheduled_print_id": job.pk}, format="json"
    )
    assert response.status_code == 400
    assert "scheduled_print_id" in response.json()


@pytest.mark.parametrize(
    "body",
    [{}, {"scheduled_print_id": "x"}, {"scheduled_print_id": -1}, {"scheduled_print_id": "\ud800"}],
)
def test_print_with_bad_input_is_400(api, owner, mqtt_broker, body):
    printer = make_printer(owner, mqtt_broker, "BADIN01")
    raw = json.dumps(body)  # escapes lone surrogates as a hostile client would send them
    response = api.post(f"/api/printers/{printer.pk}/print", raw, content_type="application/json")
    assert response.status_code == 400
    assert {"scheduled_print_id", "detail"} & set(response.json())


def test_print_to_another_users_printer_or_job_is_404(api, owner, other_owner, mqtt_broker):
    mine = make_printer(owner, mqtt_broker, "ISO01")
    theirs = make_printer(other_owner, mqtt_broker, "ISO02")
    my_job, their_job = _job_with_file(owner), _job_with_file(other_owner)
    to_their_printer = api.post(
        f"/api/printers/{theirs.pk}/print", {"scheduled_print_id": my_job.pk}, format="json"
    )
    their_job_on_mine = api.post(
        f"/api/printers/{mine.pk}/print", {"scheduled_print_id": their_job.pk}, format="json"
    )
    assert to_their_printer.status_code == 404
    assert their_job_on_mine.status_code == 404
    assert _status(my_job) == _status(their_job) == "queued"


def test_replayed_printer_events_never_start_a_job_twice(owner, mqtt_broker):
    printer = make_printer(owner, mqtt_broker, "REPLAY01")
    job = make_job(owner, printer, printer_subtask_id="4242", printer_task_id="4241")
    started = events.PrintStarted(printer_id=printer.pk, user_id=owner.pk, subtask_id="4242")
    events.publish(started)
    job.refresh_from_db()
    first_start = job.started_at
    events.publish(started)
    events.publish(events.PrintFinished(printer_id=printer.pk, user_id=owner.pk, subtask_id="4242"))
    events.publish(started)  # a late replay after the finish
    job.refresh_from_db()
    assert first_start is not None and job.started_at == first_start
    assert job.status == "completed"


def test_events_for_jobs_j3d_did_not_start_change_nothing(owner, mqtt_broker):
    printer = make_printer(owner, mqtt_broker, "FOREIGN01")
    job = make_job(owner, printer, printer_subtask_id="777")
    events.publish(events.PrintStarted(printer_id=printer.pk, user_id=owner.pk, subtask_id="0"))
    events.publish(events.PrintStarted(printer_id=printer.pk, user_id=owner.pk, subtask_id="778"))
    assert _status(job) == "queued"


def test_broker_restart_mid_print_recovers_without_starting_twice(
    api, owner, fresh_broker, link_factory
):
    sim = _simulator(fresh_broker, "RESTART01")
    sim.reconnect_delay = (0.1, 0.5)
    sim.start()
    try:
        printer = make_printer(owner, fresh_broker, sim.serial, ftps_port=sim.ftps_port)
        job = _job_with_file(owner)
        link = _connected_link(link_factory, printer)
        starts: list[events.PrintStarted] = []
        events.subscribe(events.PrintStarted, starts.append)
        api.post(f"/api/printers/{printer.pk}/print", {"scheduled_print_id": job.pk}, format="json")
        assert wait_until(lambda: _status(job) == "started", step=link.tick, timeout=15)
        started_at = job.started_at

        fresh_broker.kill()
        assert wait_until(
            lambda: not sim.connected and link.hub.status(printer.pk) is not LinkState.CONNECTED
        )
        fresh_broker.restart()

        assert wait_until(
            lambda: link.hub.status(printer.pk) is LinkState.CONNECTED, step=link.tick, timeout=15
        )
        sim.wait_connected()
        sim.skip_ahead(6000)  # the rest of the print
        assert wait_until(lambda: _status(job) == "completed", step=link.tick, timeout=30)
        assert job.started_at == started_at
        assert PrinterStatus.objects.get(printer=printer).state == "finish"
        assert len([e for e in starts if e.subtask_id == job.printer_subtask_id]) == 1
        events.unsubscribe(events.PrintStarted, starts.append)
    finally:
        sim.stop()


def test_a_second_dispatch_while_one_is_in_flight_is_409(api, owner, mqtt_broker):
    printer = make_printer(owner, mqtt_broker, "TWICE01")
    first, second = _job_with_file(owner), _job_with_file(owner, job_name="Second")
    PrinterStatus.objects.filter(printer=printer).update(state="idle", online=True)
    ScheduledPrint.objects.filter(pk=first.pk).update(
        printer=printer, printer_subtask_id="55", dispatched_at=timezone.now()
    )
    again = api.post(
        f"/api/printers/{printer.pk}/print", {"scheduled_print_id": first.pk}, format="json"
    )
    other = api.post(
        f"/api/printers/{printer.pk}/print", {"scheduled_print_id": second.pk}, format="json"
    )
    assert again.status_code == other.status_code == 409
    assert not PrinterCommand.objects.exists()

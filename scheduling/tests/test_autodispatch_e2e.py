"""Auto-dispatch end to end: simulated printers (MQTT over TLS + FTPS on loopback), the live link,
the planner and the dispatcher, with people clearing plates."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db import OperationalError, close_old_connections
from django_q.conf import Conf

from j3d import events
from j3d.lib.mosquitto import MosquittoBroker
from j3d.tests.factories import make_job, make_profile
from printers.bambu.mqtt import LinkState
from printers.bambu.simulator import SimulatedPrinter
from printers.models import PrinterCommand, PrinterStatus
from printers.tests.conftest import TEST_ACCESS_CODE
from printers.tests.fixtures_link import *  # noqa: F403
from printers.tests.fixtures_link import make_printer, wait_until
from scheduling.models import PrinterPlanning, ScheduledPrint
from scheduling.services.autodispatch import farm_dispatch
from scheduling.services.planning import farm_replan, printer_plate_cleared

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _tasks_inline(monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Any) -> None:
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
        time_scale=240.0,
        prepare_duration=30.0,
        job_duration=120.0,  # 0.5 s of real time: a few reports while running
    )


@pytest.fixture
def sims(mqtt_broker: MosquittoBroker) -> Iterator[list[SimulatedPrinter]]:
    made = [_simulator(mqtt_broker, f"AUTOSIM0{n}") for n in (1, 2)]
    for sim in made:
        sim.start()
    yield made
    for sim in made:
        sim.stop()


def _farm(owner: Any, broker: MosquittoBroker, sims: list[SimulatedPrinter], link_factory: Any):
    printers = [
        make_printer(owner, broker, sim.serial, name=f"P{n}", ftps_port=sim.ftps_port)
        for n, sim in enumerate(sims)
    ]
    for printer in printers:  # a person checked the plates before switching the farm on
        PrinterPlanning.objects.create(user=owner, printer=printer, plate_clear=True)
    link = link_factory()
    link.reconcile()
    for printer in printers:
        assert wait_until(lambda p=printer: link.hub.status(p.pk) is LinkState.CONNECTED)
        assert wait_until(
            lambda p=printer: PrinterStatus.objects.get(printer=p).online, step=link.tick
        )
    return printers, link


def _jobs(owner: Any, count: int) -> list[ScheduledPrint]:
    profile = make_profile(owner, name="Cube")
    profile.print_file.save("cube.gcode.3mf", ContentFile(b"PK\x03\x04 sliced cube"))
    return [
        make_job(
            owner,
            None,
            job_name=f"Cube {n}",
            product_profile=profile,
            estimated_duration_minutes=2,
        )
        for n in range(count)
    ]


def _statuses(jobs: list[ScheduledPrint]) -> list[str]:
    return list(
        ScheduledPrint.objects.filter(pk__in=[j.pk for j in jobs])
        .order_by("id")
        .values_list("status", flat=True)
    )


def _clear_plates_when_done(printers: list[Any]) -> None:
    """A person at the farm: a plate with a finished print on it gets cleared."""
    for printer in printers:
        planning = PrinterPlanning.objects.filter(printer=printer).first()
        state = PrinterStatus.objects.get(printer=printer).state
        if planning and not planning.plate_clear and state in ("finish", "idle"):
            printer_plate_cleared(printer=printer)


def test_jobs_flow_through_two_printers_with_plate_clearing(owner, mqtt_broker, sims, link_factory):
    printers, link = _farm(owner, mqtt_broker, sims, link_factory)
    jobs = _jobs(owner, 4)
    farm_replan(user_id=owner.pk)
    assert len(farm_dispatch(user_id=owner.pk)) == 2  # one per printer; the rest wait

    def step() -> None:
        link.tick()
        _clear_plates_when_done(printers)

    assert wait_until(lambda: _statuses(jobs) == ["completed"] * 4, step=step, timeout=60), (
        _statuses(jobs)
    )
    starts = PrinterCommand.objects.filter(action="project_file")
    assert starts.count() == 4  # every job sent exactly once
    used = set(
        ScheduledPrint.objects.filter(pk__in=[j.pk for j in jobs]).values_list("printer", flat=True)
    )
    assert used == {p.pk for p in printers}


def test_a_printer_going_offline_mid_queue_has_its_jobs_planned_onto_the_other(
    owner, mqtt_broker, sims, link_factory
):
    printers, link = _farm(owner, mqtt_broker, sims, link_factory)
    first, second = printers
    jobs = _jobs(owner, 4)
    farm_replan(user_id=owner.pk)
    farm_dispatch(user_id=owner.pk)
    # The second printer drops out: the link would notice after a minute of silence.
    PrinterStatus.objects.filter(printer=second).update(online=False, state="offline")
    PrinterPlanning.objects.filter(printer=second).update(auto_dispatch=False)
    events.publish(events.PrinterOffline(user_id=owner.pk, printer_id=second.pk))
    waiting = ScheduledPrint.objects.filter(pk__in=[j.pk for j in jobs], status="queued")
    waiting = waiting.filter(dispatched_at=None)
    assert waiting.exists()
    assert set(waiting.values_list("planned_printer", flat=True)) == {first.pk}

    def step() -> None:
        link.tick()
        _clear_plates_when_done([first])

    done = lambda: all(  # noqa: E731
        s == "completed" for s in _statuses([j for j in jobs if j.pk in {w.pk for w in waiting}])
    )
    assert wait_until(done, step=step, timeout=60), _statuses(jobs)


def test_no_job_starts_twice_when_two_dispatchers_race(owner, mqtt_broker, sims, link_factory):
    printers, link = _farm(owner, mqtt_broker, sims, link_factory)
    _jobs(owner, 1)
    farm_replan(user_id=owner.pk)
    barrier = threading.Barrier(2)
    sent: list[int] = []

    def dispatcher() -> None:
        close_old_connections()
        barrier.wait()
        try:
            sent.extend(farm_dispatch(user_id=owner.pk))
        except OperationalError:
            pass  # SQLite refused the concurrent write: this dispatcher sent nothing
        finally:
            close_old_connections()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(sent) == 1
    assert PrinterCommand.objects.filter(action="project_file").count() == 1

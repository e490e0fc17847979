"""The q2 fallback: printers no link holds are refreshed by a short poll."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from j3d.lib.mosquitto import MosquittoBroker
from printers.bambu.mqtt import LinkState
from printers.bambu.simulator import SimulatedPrinter
from printers.models import PrinterCommand, PrinterLease, PrinterStatus
from printers.services.commands import NO_REPLY_REASON, command_enqueue
from printers.tasks import printers_poll
from printers.tests.conftest import TEST_ACCESS_CODE
from printers.tests.fixtures_link import *  # noqa: F403
from printers.tests.fixtures_link import make_printer, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sim(mqtt_broker: MosquittoBroker) -> Iterator[SimulatedPrinter]:
    printer = SimulatedPrinter(
        "POLLSIM01",
        host=mqtt_broker.host,
        port=mqtt_broker.port,
        access_code=TEST_ACCESS_CODE,
        ca_path=mqtt_broker.ca_path,
        ftps=False,
    )
    printer.start()
    yield printer
    printer.stop()


def test_poll_refreshes_an_unheld_printer_and_runs_its_commands(owner, mqtt_broker, sim):
    printer = make_printer(owner, mqtt_broker, sim.serial)
    command = command_enqueue(printer=printer, action="speed", params={"level": 4})

    refreshed = printers_poll(timeout=10)

    assert refreshed == 1
    status = PrinterStatus.objects.get(printer=printer)
    assert status.online is True
    assert status.state == "idle"
    assert status.snapshot.get("ams")
    command.refresh_from_db()
    assert command.status == "acknowledged"
    assert PrinterLease.objects.get(printer=printer).holder == ""


def test_poll_leaves_printers_a_live_link_holds_alone(owner, mqtt_broker, sim, link_factory):
    printer = make_printer(owner, mqtt_broker, sim.serial)
    link = link_factory()
    link.reconcile()
    assert wait_until(lambda: link.hub.status(printer.pk) is LinkState.CONNECTED)

    assert printers_poll(timeout=3) == 0
    assert PrinterLease.objects.get(printer=printer).holder == link.holder


def test_poll_marks_a_printer_that_does_not_answer_offline(owner, mqtt_broker):
    printer = make_printer(owner, mqtt_broker, "NOBODY01")  # nothing plays this printer
    PrinterStatus.objects.filter(printer=printer).update(online=True, state="idle")
    pending = command_enqueue(printer=printer, action="pause")

    assert printers_poll(timeout=1.5) == 0
    status = PrinterStatus.objects.get(printer=printer)
    assert status.online is False and status.state == "offline"
    # The broker took the command but no printer answered before the poll hung up.
    command = PrinterCommand.objects.get(pk=pending.pk)
    assert (command.status, command.reason) == ("failed", NO_REPLY_REASON)

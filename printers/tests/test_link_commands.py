"""The command outbox: API doors, sending once, replies matched, refusals explained."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from j3d.lib.mosquitto import MosquittoBroker
from printers.bambu.mqtt import LinkState
from printers.bambu.simulator import SimulatedPrinter
from printers.models import PrinterCommand, PrinterStatus
from printers.services.commands import DEVELOPER_MODE_REASON, NO_REPLY_REASON, command_enqueue
from printers.tests.conftest import TEST_ACCESS_CODE
from printers.tests.fixtures_link import *  # noqa: F403
from printers.tests.fixtures_link import FakePrinter, make_printer, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sim(mqtt_broker: MosquittoBroker) -> Iterator[SimulatedPrinter]:
    printer = SimulatedPrinter(
        "CMDSIM01",
        host=mqtt_broker.host,
        port=mqtt_broker.port,
        access_code=TEST_ACCESS_CODE,
        ca_path=mqtt_broker.ca_path,
        delta_interval=0.3,
        ftps=False,
    )
    printer.start()
    yield printer
    printer.stop()


def _live_link(link_factory, printer):
    link = link_factory()
    link.reconcile()
    assert wait_until(lambda: link.hub.status(printer.pk) is LinkState.CONNECTED)
    assert wait_until(lambda: PrinterStatus.objects.get(printer=printer).online, step=link.tick)
    return link


def _settled(command: PrinterCommand, link) -> PrinterCommand:
    def done() -> bool:
        command.refresh_from_db()
        return command.status in {"acknowledged", "failed"}

    wait_until(done, step=link.tick, timeout=10)
    return command


def test_post_command_answers_202_pending(api, owner, mqtt_broker):
    printer = make_printer(owner, mqtt_broker, "APICMD1")
    response = api.post(f"/api/printers/{printer.pk}/commands", {"action": "pause"}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending"
    assert body["action"] == "pause"
    assert PrinterCommand.objects.get(pk=body["id"]).printer == printer


def test_speed_without_a_level_is_400_naming_the_field(api, owner, mqtt_broker):
    printer = make_printer(owner, mqtt_broker, "APICMD2")
    response = api.post(f"/api/printers/{printer.pk}/commands", {"action": "speed"}, format="json")
    assert response.status_code == 400
    assert "level" in response.json()


@pytest.mark.parametrize(
    "body",
    [
        {"action": "explode"},
        {"action": "speed", "level": 9},
        {"action": ["pause"]},
        {"action": "\ud800", "level": "\ud800"},
        {"action": "speed", "level": "\ud800"},
        {},
    ],
)
def test_bad_command_input_is_400(api, owner, mqtt_broker, body):
    printer = make_printer(owner, mqtt_broker, "APICMD3")
    # json.dumps escapes lone surrogates (\ud800) the way a hostile client would send them.
    raw = json.dumps(body)
    response = api.post(
        f"/api/printers/{printer.pk}/commands", raw, content_type="application/json"
    )
    assert response.status_code == 400
    assert set(response.json()) <= {"action", "level", "detail"}


def test_non_json_command_body_is_400(api, owner, mqtt_broker):
    printer = make_printer(owner, mqtt_broker, "APICMD4")
    response = api.post(
        f"/api/printers/{printer.pk}/commands", b"\xff\x00", content_type="application/json"
    )
    assert response.status_code == 400


def test_other_users_printer_commands_are_404(api, other_owner, mqtt_broker):
    theirs = make_printer(other_owner, mqtt_broker, "THEIRS1")
    command = command_enqueue(printer=theirs, action="pause")
    post = api.post(f"/api/printers/{theirs.pk}/commands", {"action": "stop"}, format="json")
    get = api.get(f"/api/printers/{theirs.pk}/commands/{command.pk}")
    assert post.status_code == 404
    assert get.status_code == 404
    assert PrinterCommand.objects.filter(printer=theirs).count() == 1


def test_a_command_of_another_printer_is_404_under_mine(api, owner, mqtt_broker):
    mine = make_printer(owner, mqtt_broker, "MINE01")
    other = make_printer(owner, mqtt_broker, "MINE02")
    command = command_enqueue(printer=other, action="pause")
    assert api.get(f"/api/printers/{mine.pk}/commands/{command.pk}").status_code == 404
    assert api.get(f"/api/printers/{other.pk}/commands/{command.pk}").status_code == 200
    assert api.get(f"/api/printers/{mine.pk}/commands/abc").status_code == 404


def test_refresh_is_acknowledged_by_the_printer(api, owner, mqtt_broker, sim, link_factory):
    printer = make_printer(owner, mqtt_broker, sim.serial)
    link = _live_link(link_factory, printer)
    response = api.post(
        f"/api/printers/{printer.pk}/commands", {"action": "refresh"}, format="json"
    )
    command = PrinterCommand.objects.get(pk=response.json()["id"])
    # pushall has no reply of its own: the full report that follows is the answer.
    _settled(command, link)
    assert command.status == "acknowledged"
    assert command.sequence_id


def test_speed_command_is_acknowledged_and_status_follows(
    api, owner, mqtt_broker, sim, link_factory
):
    printer = make_printer(owner, mqtt_broker, sim.serial)
    link = _live_link(link_factory, printer)
    response = api.post(
        f"/api/printers/{printer.pk}/commands", {"action": "speed", "level": 3}, format="json"
    )
    command = _settled(PrinterCommand.objects.get(pk=response.json()["id"]), link)
    assert command.status == "acknowledged", command.reason
    assert command.acked_at is not None
    body = api.get(f"/api/printers/{printer.pk}/commands/{command.pk}").json()
    assert body["status"] == "acknowledged"


def test_refused_control_is_reported_as_needing_developer_mode(
    api, owner, mqtt_broker, sim, link_factory
):
    sim.set_refuse_control(True)
    printer = make_printer(owner, mqtt_broker, sim.serial)
    link = _live_link(link_factory, printer)
    response = api.post(
        f"/api/printers/{printer.pk}/commands", {"action": "speed", "level": 2}, format="json"
    )
    command = _settled(PrinterCommand.objects.get(pk=response.json()["id"]), link)
    assert command.status == "failed"
    assert command.reason == DEVELOPER_MODE_REASON
    body = api.get(f"/api/printers/{printer.pk}/commands/{command.pk}").json()
    assert body == {**body, "status": "failed", "reason": DEVELOPER_MODE_REASON}


def test_a_command_without_reply_fails_with_no_reply(owner, mqtt_broker, link_factory):
    printer = make_printer(owner, mqtt_broker, "SILENT01")
    fake = FakePrinter(mqtt_broker, "SILENT01")  # receives requests, never answers
    link = link_factory(command_timeout=0.5)
    link.reconcile()
    assert wait_until(lambda: link.hub.status(printer.pk) is LinkState.CONNECTED)
    command = command_enqueue(printer=printer, action="pause")
    assert wait_until(lambda: fake.requests, step=link.send_commands, timeout=5)

    def failed() -> bool:
        link.expire_commands()
        command.refresh_from_db()
        return command.status == "failed"

    assert wait_until(failed, timeout=5)
    fake.close()
    assert command.reason == NO_REPLY_REASON


def test_two_links_send_a_command_once(owner, mqtt_broker, link_factory):
    printer = make_printer(owner, mqtt_broker, "ONCE01")
    fake = FakePrinter(mqtt_broker, "ONCE01")
    first, second = link_factory(), link_factory()
    first.reconcile()
    # The second link cannot lease the printer; even if it could, the claim is conditional.
    second.reconcile()
    assert printer.pk in first.printers and printer.pk not in second.printers
    assert wait_until(lambda: first.hub.status(printer.pk) is LinkState.CONNECTED)
    command = command_enqueue(printer=printer, action="stop")
    sent = first.send_commands() + first.send_commands() + second.send_commands()
    assert sent == 1
    wait_until(lambda: [r for r in fake.requests if b'"stop"' in r], timeout=3)
    fake.close()
    assert len([r for r in fake.requests if b'"stop"' in r]) == 1
    command.refresh_from_db()
    assert command.status == "sent"

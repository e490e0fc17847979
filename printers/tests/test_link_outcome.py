"""A printer that cannot be reached says why: the connection outcome on its status.

The link runs on a FakeHub (printers/tests/fakes.py), which reports connects, failed connects (with
the hub's failure kind) and drops as the real hub does (test_bambu_mqtt.py checks the kinds on the
wire). The status shows since when the link is up, or the last error with its kind, since when it
fails and when the link retries; the printer is offline with that reason within the grace (30 s at
most), and printer.offline is recorded once per outage, not per retry.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from j3d.models import Event
from printers.bambu.mqtt import FailureKind
from printers.models import PrinterStatus
from printers.services.printers import printer_create
from printers.tests.fakes import fake_link, status_message

pytestmark = pytest.mark.django_db


def _printer(owner: Any, serial: str, name: str | None = None) -> Any:
    return printer_create(
        user=owner,
        name=name or serial,
        model="P1S",
        serial=serial,
        host="10.0.0.9",
        access_code="12345678",
    )


def _status(printer: Any) -> PrinterStatus:
    return PrinterStatus.objects.get(printer=printer)


def _offline_events(printer: Any) -> list[Event]:
    return list(Event.objects.filter(type="printer.offline", printer=printer))


@pytest.fixture
def link():
    return fake_link(link_down_grace=15.0)


def test_a_new_printer_nothing_answers_for_is_offline_with_why_at_the_first_failure(link, owner):
    printer = _printer(owner, "NOBODY01")
    link.reconcile()
    link.hub.fail(printer.pk, FailureKind.TIMEOUT, "TimeoutError: timed out", retry_in=8.0)
    link.tick()
    status = _status(printer)
    assert (status.state, status.online, status.link_error_kind) == ("offline", False, "timeout")
    assert status.link_error == "no answer (timeout): TimeoutError: timed out"
    assert status.failing_since is not None and status.connected_since is None
    assert timedelta(seconds=7) < status.retry_at - timezone.now() <= timedelta(seconds=8)
    [event] = _offline_events(printer)
    assert event.payload["reason"] == status.link_error


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        (FailureKind.NO_ROUTE, "no route to the printer"),
        (FailureKind.REFUSED, "connection refused"),
        (FailureKind.TLS, "TLS handshake failed"),
        (FailureKind.ERROR, "connection error"),
    ],
)
def test_each_failure_kind_is_named_on_the_status(link, owner, kind, label):
    printer = _printer(owner, "KIND01")
    link.reconcile()
    link.hub.fail(printer.pk, kind, "detail")
    link.handle_link_events()
    status = _status(printer)
    assert (status.state, status.link_error_kind) == ("offline", str(kind))
    assert status.link_error == f"{label}: detail"


def test_a_refused_access_code_is_offline_at_once_with_no_retry_and_fails_sent_commands(
    link, owner
):
    printer = _printer(owner, "CODE01")
    link.reconcile()
    link.hub.connect(printer.pk)
    link.hub.report(printer.pk, status_message(gcode_state="IDLE"))
    link.tick()
    assert _status(printer).online
    link.hub.fail(printer.pk, FailureKind.AUTH, "credentials rejected", retry_in=None)
    link.tick()
    status = _status(printer)
    assert (status.state, status.link_error_kind, status.retry_at) == ("offline", "auth", None)
    assert status.link_error == "access denied: check the access code"


def test_retries_do_not_repeat_the_offline_event(link, owner):
    printer = _printer(owner, "RETRY01")
    link.reconcile()
    for attempt in range(5):
        link.hub.fail(printer.pk, FailureKind.REFUSED, f"attempt {attempt}")
        link.tick()
    assert len(_offline_events(printer)) == 1
    assert _status(printer).link_error == "connection refused: attempt 4"


def test_an_online_printer_whose_link_drops_is_offline_after_the_grace_not_at_once(link, owner):
    printer = _printer(owner, "DROP01")
    link.reconcile()
    link.hub.connect(printer.pk)
    link.hub.report(printer.pk, status_message(gcode_state="RUNNING"))
    link.tick()
    link.hub.drop(printer.pk, "connection lost: keep-alive timeout")
    link.hub.fail(printer.pk, FailureKind.REFUSED, "ConnectionRefusedError")
    link.tick()
    assert _status(printer).online  # a Wi-Fi blip is not an outage yet
    assert _status(printer).link_error_kind == "refused"
    link.printers[printer.pk].down_since -= link.link_down_grace  # the grace is over
    link.tick()
    status = _status(printer)
    assert (status.state, status.link_error_kind) == ("offline", "refused")
    assert len(_offline_events(printer)) == 1


def test_the_grace_is_at_most_thirty_seconds_by_default(owner, settings):
    assert fake_link().link_down_grace <= 30


def test_a_reconnect_records_connected_since_and_clears_the_error(link, owner):
    printer = _printer(owner, "BACK01")
    link.reconcile()
    link.hub.fail(printer.pk, FailureKind.TIMEOUT)
    link.tick()
    link.hub.connect(printer.pk)
    link.tick()
    status = _status(printer)
    assert status.connected_since is not None
    assert (status.link_error, status.link_error_kind, status.failing_since) == ("", "", None)
    link.hub.report(printer.pk, status_message(gcode_state="IDLE"))
    link.tick()
    assert (_status(printer).state, _status(printer).online) == ("idle", True)
    # A later outage is a new outage: announced again, once.
    link.hub.fail(printer.pk, FailureKind.TIMEOUT)
    link.tick()
    assert _status(printer).online  # within the grace
    link.printers[printer.pk].down_since -= link.link_down_grace
    link.tick()
    assert len(_offline_events(printer)) == 2


def test_silence_is_a_reason_too(link, owner):
    printer = _printer(owner, "QUIET02")
    link.reconcile()
    link.hub.connect(printer.pk)
    link.hub.report(printer.pk, status_message(gcode_state="IDLE"))
    link.tick()
    link.printers[printer.pk].last_report -= link.offline_after
    link.tick()
    status = _status(printer)
    assert (status.state, status.link_error_kind) == ("offline", "silent")
    assert status.link_error.startswith("no report for ")


def test_the_api_shows_the_outcome(link, owner, api):
    printer = _printer(owner, "API01")
    link.reconcile()
    link.hub.fail(printer.pk, FailureKind.NO_ROUTE, "OSError: [Errno 113] No route to host")
    link.tick()
    status = api.get(f"/api/printers/{printer.pk}/").json()["status"]
    assert status["state"] == "offline"
    assert status["link_error_kind"] == "no_route"
    assert status["link_error"].startswith("no route to the printer: ")
    assert status["failing_since"] and status["retry_at"] and status["connected_since"] is None


def test_the_farm_page_shows_an_unreachable_printer_first_with_its_reason(link, owner, client):
    fine = _printer(owner, "FINE01", name="Aardvark")
    lost = _printer(owner, "LOST01", name="Zebra")
    link.reconcile()
    link.hub.connect(fine.pk)
    link.hub.report(fine.pk, status_message(gcode_state="IDLE"))
    link.hub.fail(lost.pk, FailureKind.TIMEOUT, "timed out")
    link.tick()
    client.force_login(owner)
    page = client.get("/").content.decode()
    assert page.index("Zebra") < page.index("Aardvark")
    assert "no answer (timeout): timed out" in page


def test_the_admin_shows_the_outcome(link, owner, admin_client):
    printer = _printer(owner, "ADMIN01")
    link.reconcile()
    link.hub.fail(printer.pk, FailureKind.TLS, "SSLError: wrong version number")
    link.tick()
    listing = admin_client.get("/admin/printers/printer/").content.decode()
    assert "offline (TLS handshake failed)" in listing
    page = admin_client.get(f"/admin/printers/printer/{printer.pk}/change/").content.decode()
    assert "SSLError: wrong version number" in page

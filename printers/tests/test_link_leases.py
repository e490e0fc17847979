"""Leases: no two link processes (nor the poller) hold a printer; expiry hands a dead one's over."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from printers.bambu.mqtt import LinkState
from printers.models import PrinterLease, PrinterStatus
from printers.services.leases import leases_claim, leases_release, printers_unleased
from printers.tests.fixtures_link import *  # noqa: F403
from printers.tests.fixtures_link import FakePrinter, make_printer, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_held_lease_cannot_be_claimed_until_it_expires(owner, mqtt_broker):
    printer = make_printer(owner, mqtt_broker, "LEASE01")
    ids, now = [printer.pk], timezone.now()
    assert leases_claim(printer_ids=ids, holder="a", seconds=30, now=now) == {printer.pk}
    assert leases_claim(printer_ids=ids, holder="b", seconds=30, now=now) == set()
    later = now + timedelta(seconds=31)
    assert leases_claim(printer_ids=ids, holder="b", seconds=30, now=later) == {printer.pk}
    assert PrinterLease.objects.get(printer=printer).holder == "b"


def test_batch_claims_split_printers_between_holders(owner, mqtt_broker):
    printers = [make_printer(owner, mqtt_broker, f"BATCH{n}") for n in range(4)]
    ids = [p.pk for p in printers]
    first = leases_claim(printer_ids=ids[:2], holder="a")
    second = leases_claim(printer_ids=ids, holder="b")
    assert first == set(ids[:2])
    assert second == set(ids[2:])
    assert printers_unleased(printer_ids=ids) == set()
    assert leases_release(holder="a") == 2
    assert printers_unleased(printer_ids=ids) == set(ids[:2])


def test_two_links_never_hold_the_same_printer(owner, mqtt_broker, link_factory):
    printers = [make_printer(owner, mqtt_broker, f"TWO{n}") for n in range(3)]
    first, second = link_factory(), link_factory()
    first.reconcile()
    second.reconcile()
    first.reconcile()
    assert set(first.printers) == {p.pk for p in printers}
    assert second.printers == {}
    holders = set(PrinterLease.objects.values_list("holder", flat=True))
    assert holders == {first.holder}


def test_a_link_capped_by_max_printers_leaves_the_rest_to_another(owner, mqtt_broker, link_factory):
    printers = [make_printer(owner, mqtt_broker, f"CAP{n}") for n in range(4)]
    first, second = link_factory(max_printers=3), link_factory()
    first.reconcile()
    second.reconcile()
    assert len(first.printers) == 3
    assert len(second.printers) == 1
    assert set(first.printers).isdisjoint(second.printers)
    assert set(first.printers) | set(second.printers) == {p.pk for p in printers}


def test_a_dead_links_printers_are_taken_over_after_lease_expiry(owner, mqtt_broker, link_factory):
    printer = make_printer(owner, mqtt_broker, "DEAD01")
    dying, survivor = link_factory(), link_factory()
    dying.reconcile()
    assert wait_until(lambda: dying.hub.status(printer.pk) is LinkState.CONNECTED)
    survivor.reconcile()
    assert survivor.printers == {}
    dying.stop_event.set()  # dies: its hub stops, nobody releases or renews its leases
    survivor.reconcile()
    assert survivor.printers == {}  # not yet expired
    # Time passes and the lease runs out (moved, not waited for).
    PrinterLease.objects.filter(printer=printer).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    survivor.reconcile()
    assert printer.pk in survivor.printers
    assert wait_until(lambda: survivor.hub.status(printer.pk) is LinkState.CONNECTED)
    fake = FakePrinter(mqtt_broker, "DEAD01")
    fake.publish({"print": {"command": "push_status", "msg": 0, "gcode_state": "RUNNING"}})
    fake.close()
    assert wait_until(
        lambda: PrinterStatus.objects.get(printer=printer).state == "running",
        step=survivor.flush,
    )
    assert PrinterLease.objects.get(printer=printer).holder == survivor.holder


def test_a_clean_shutdown_releases_leases_at_once(owner, mqtt_broker, link_factory):
    printer = make_printer(owner, mqtt_broker, "CLEAN01")
    leaving, staying = link_factory(), link_factory()
    leaving.reconcile()
    leaving.shutdown()
    assert PrinterLease.objects.get(printer=printer).holder == ""
    staying.reconcile()
    assert printer.pk in staying.printers

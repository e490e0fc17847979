"""Low stock reaches the owner: a kind that enters the reorder list is announced once
(material.stock_low), re-armed when restocked; a slot a job takes below the low mark is announced
as material.low. Both through the real event handling (handled inline at commit in tests)."""

from decimal import Decimal

import pytest
from django.core import mail

from j3d.models import Event
from j3d.tests.factories import make_job, make_material, make_printer, make_profile
from notifications.models import Delivery, PrintNotification
from printers.models import SpareSpool
from scheduling.models import FarmSettings, StockAlert
from scheduling.services.stock import stock_alerts_check

pytestmark = pytest.mark.django_db


@pytest.fixture
def farm(owner):
    """Black PLA: the external spool (the AMS cannot measure it) holds 300 g; each plate takes
    100 g. Lead time 7 days, 1 kg spools."""
    FarmSettings.objects.create(user=owner, reorder_lead_days=7, spool_grams=1000)
    printer = make_printer(owner)
    make_material(printer, slot=254, color_hex="#000000", remaining_pct=30)
    profile = make_profile(owner, filaments=[{"type": "PLA", "color": "#000000", "grams": 100}])
    return printer, profile


def print_plate(api, owner, farm, capture):
    """Start and complete one plate through the API, as a person would; events handled inline."""
    printer, profile = farm
    job = make_job(owner, printer, product_profile=profile, material_slot=254)
    url = f"/api/bambu/scheduled-prints/{job.pk}"
    with capture(execute=True):
        assert api.put(url, {"status": "started"}, format="json").status_code == 200
    with capture(execute=True):
        assert api.put(url, {"status": "completed"}, format="json").status_code == 200
    return job


def stock_low_events():
    return list(Event.objects.filter(type="material.stock_low").order_by("id"))


def test_stock_running_out_is_announced_once_to_the_owner(
    api, owner, farm, django_capture_on_commit_callbacks
):
    # 300 g on hand. After one plate: 200 g, 100 g used in 30 days (3.33 g/day): fine.
    print_plate(api, owner, farm, django_capture_on_commit_callbacks)
    assert stock_low_events() == []

    # Two more plates planned (200 g) against 200 g on hand plus a week of use: short as soon as
    # the next plate starts (the check runs on every job move), with three plates still to print.
    printer, profile = farm
    make_job(owner, printer, product_profile=profile)
    make_job(owner, printer, product_profile=profile)
    print_plate(api, owner, farm, django_capture_on_commit_callbacks)

    (event,) = stock_low_events()
    assert (event.payload["material_type"], event.payload["color_hex"]) == ("PLA", "#000000")
    assert (event.payload["on_hand_grams"], event.payload["planned_grams"]) == ("200.00", "300.00")
    assert event.payload["spools_to_order"] == 1
    delivery = Delivery.objects.get(event_id=event.pk)
    assert (delivery.channel, delivery.status) == ("email", "delivered")
    (email,) = [m for m in mail.outbox if "Reorder" in m.subject]
    assert "PLA #000000" in email.subject and "7 days" in email.subject
    assert "Order 1 spool(s)" in email.body

    # Still short after another plate and a spool change: nothing new.
    print_plate(api, owner, farm, django_capture_on_commit_callbacks)
    assert stock_alerts_check(user_id=owner.pk) == []
    assert len(stock_low_events()) == 1


def test_a_restock_rearms_the_alert(owner, farm, django_capture_on_commit_callbacks):
    printer, profile = farm
    for _ in range(4):  # 400 g planned against 300 g
        make_job(owner, printer, product_profile=profile)
    with django_capture_on_commit_callbacks(execute=True):
        assert stock_alerts_check(user_id=owner.pk) == [("PLA", "#000000")]
    spare = SpareSpool.objects.create(
        user=owner, material_type="PLA", color_hex="#000000", quantity=1
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert stock_alerts_check(user_id=owner.pk) == []  # restocked: 1300 g on hand
    assert not StockAlert.objects.exists()
    spare.delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert stock_alerts_check(user_id=owner.pk) == [("PLA", "#000000")]

    assert len(stock_low_events()) == 2


def test_another_owners_stock_raises_nothing_for_this_owner(
    owner, other_owner, farm, django_capture_on_commit_callbacks
):
    other_printer = make_printer(other_owner, serial="OTHER1")
    other_profile = make_profile(
        other_owner, filaments=[{"type": "PLA", "color": "#000000", "grams": 5000}]
    )
    make_job(other_owner, other_printer, product_profile=other_profile)

    with django_capture_on_commit_callbacks(execute=True):
        assert stock_alerts_check(user_id=owner.pk) == []
        assert stock_alerts_check(user_id=other_owner.pk) == [("PLA", "#000000")]

    (event,) = stock_low_events()
    assert event.user_id == other_owner.pk


def test_a_slot_a_job_takes_below_the_low_mark_reaches_the_owner(
    api, owner, farm, django_capture_on_commit_callbacks
):
    printer, profile = farm
    PrintNotification.objects.create(user=owner, printer=printer, notify_material_change=True)
    printer.materials.filter(slot=254).update(remaining_pct=Decimal("15"))
    print_plate(api, owner, farm, django_capture_on_commit_callbacks)

    # 15 % of 1000 g less 100 g is 5 %: under the 10 % mark.
    low = Event.objects.get(type="material.low")
    assert (low.payload["slot"], low.payload["remaining_pct"]) == (254, 5)
    delivery = Delivery.objects.get(event_id=low.pk)
    assert (delivery.event_type, delivery.status) == ("material.low", "delivered")
    assert any("slot 254 running low (5% left)" in m.subject for m in mail.outbox)


def test_the_periodic_pass_announces_what_no_event_did(
    owner, farm, django_capture_on_commit_callbacks
):
    from scheduling.tasks import stock_alerts_check as periodic

    printer, profile = farm
    for _ in range(4):  # 400 g planned against 300 g, and no event since
        make_job(owner, printer, product_profile=profile)

    with django_capture_on_commit_callbacks(execute=True):
        assert periodic() == 1
        assert periodic() == 0  # latched

    assert len(stock_low_events()) == 1

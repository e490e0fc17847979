"""The staff admin of notifications: the pages load, the actions work, no secret is rendered."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from j3d.tests.factories import make_printer
from notifications.models import AppriseChannel, Delivery, MaintenanceTask, PrintNotification

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    staff = get_user_model().objects.create_superuser("staff", "staff@example.com", "staff-pass-1")
    client.force_login(staff)
    return client


@pytest.fixture(autouse=True)
def _locmem_mail(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.mark.parametrize(
    "page",
    [
        "notificationpreferences/",
        "notificationpreferences/add/",
        "apprisechannel/",
        "apprisechannel/add/",
        "maintenancetask/",
        "maintenancetask/add/",
        "delivery/",
    ],
)
def test_pages_load(staff_client, owner, page) -> None:
    printer = make_printer(owner)
    Delivery.objects.create(
        user=owner, event_type="print.failed", printer=printer, channel="email", channel_key="e"
    )
    assert staff_client.get(f"/admin/notifications/{page}").status_code == 200


def test_channel_page_never_shows_the_url_and_blank_keeps_it(staff_client, owner) -> None:
    channel = AppriseChannel.objects.create(
        user=owner, name="Discord", url="discord://123/SeCrEtToKeN99"
    )
    page = staff_client.get(f"/admin/notifications/apprisechannel/{channel.pk}/change/")
    assert "SeCrEtToKeN99" not in page.content.decode()
    staff_client.post(
        f"/admin/notifications/apprisechannel/{channel.pk}/change/",
        {"user": owner.pk, "name": "Discord alerts", "url": "", "enabled": "on"},
    )
    channel.refresh_from_db()
    assert (channel.name, channel.url) == ("Discord alerts", "discord://123/SeCrEtToKeN99")


def test_send_test_action_reports_the_outcome(staff_client, owner) -> None:
    printer = make_printer(owner, name="P1P #4")
    row = PrintNotification.objects.create(user=owner, printer=printer)
    response = staff_client.post(
        "/admin/notifications/printnotification/",
        {"action": "send_test", "_selected_action": [row.pk]},
        follow=True,
    )
    assert "email: delivered" in response.content.decode()
    assert mail.outbox[0].subject == "[J3D] P1P #4: test notification"


def test_mark_done_action_resets_the_counters(staff_client, owner) -> None:
    printer = make_printer(owner)
    task = MaintenanceTask.objects.create(
        user=owner, printer=printer, name="Rods", every_print_hours=5, print_hours_since_done=9
    )
    staff_client.post(
        "/admin/notifications/maintenancetask/",
        {"action": "mark_done", "_selected_action": [task.pk]},
    )
    task.refresh_from_db()
    assert task.print_hours_since_done == 0

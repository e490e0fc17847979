"""The notification endpoints: preferences, the signing secret, channels, maintenance, the test
message and the delivery log; validation, secrets that never come back, and isolation."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection

from j3d.tests.factories import make_printer
from notifications.models import AppriseChannel, Delivery, MaintenanceTask
from notifications.tests.receivers import http_receiver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _locmem_mail(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def printer(owner):
    return make_printer(owner, name="P1S #1")


@pytest.fixture
def other_printer(other_owner):
    return make_printer(other_owner, name="Theirs", serial="01S00A000000009")


# ---- SSRF: refused at save time -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "https://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "http://100.100.100.200/hook",
    ],
)
def test_webhook_url_on_the_farms_network_is_refused_naming_the_field(api, printer, url) -> None:
    response = api.put(f"/api/bambu/notifications/{printer.id}", {"webhook_url": url}, "json")
    assert response.status_code == 400
    assert "webhook_url" in response.json()


def test_public_webhook_url_is_accepted(api, printer) -> None:
    response = api.put(
        f"/api/bambu/notifications/{printer.id}",
        {"webhook_url": "https://203.0.113.7/hooks/j3d"},  # TEST-NET-3: public-shaped, offline
        "json",
    )
    # 203.0.113.0/24 is documentation space, which Python counts as not global: refused too.
    assert response.status_code == 400
    response = api.put(
        f"/api/bambu/notifications/{printer.id}",
        {"webhook_url": "https://hooks.j3d-test.invalid/x"},  # no DNS here: checked at send time
        "json",
    )
    assert response.status_code == 200


def test_apprise_channel_on_the_farms_network_is_refused(api) -> None:
    response = api.post(
        "/api/notifications/channels",
        {"name": "local", "url": "json://192.168.1.5:8080/hook"},
        "json",
    )
    assert response.status_code == 400
    assert "url" in response.json()


# ---- preferences and the signing secret ---------------------------------------------------------


def test_preferences_defaults_and_validation(api) -> None:
    body = api.get("/api/notifications/preferences").json()
    assert body["time_zone"] == "UTC" and body["offline_after_minutes"] == 10
    assert body["has_webhook_secret"] is False
    for zone in ("Mars/Olympus", "x" * 60, "../../../etc/passwd", "\x7fé" * 150):
        bad = api.put("/api/notifications/preferences", {"time_zone": zone}, "json")
        assert bad.status_code == 400 and "time_zone" in bad.json()
    half = api.put("/api/notifications/preferences", {"quiet_hours_start": "22:00"}, "json")
    assert half.status_code == 400 and "quiet_hours_end" in half.json()
    ok = api.put(
        "/api/notifications/preferences",
        {"quiet_hours_start": "22:00", "quiet_hours_end": "07:00", "time_zone": "Europe/Berlin"},
        "json",
    )
    assert ok.status_code == 200 and ok.json()["quiet_hours_end"] == "07:00"
    # A local time of day: seconds are taken and dropped, an offset or an hour past 23 is refused.
    seconds = api.put(
        "/api/notifications/preferences",
        {"quiet_hours_start": "21:30:15", "quiet_hours_end": "07:00"},
        "json",
    )
    assert seconds.status_code == 200 and seconds.json()["quiet_hours_start"] == "21:30"
    for moment in ("07:00Z", "07:00+02:00", "24:00", "7h"):
        bad = api.put(
            "/api/notifications/preferences",
            {"quiet_hours_start": "22:00", "quiet_hours_end": moment},
            "json",
        )
        assert bad.status_code == 400 and "quiet_hours_end" in bad.json(), moment
    zero = api.put("/api/notifications/preferences", {"offline_after_minutes": 0}, "json")
    assert zero.status_code == 400 and "offline_after_minutes" in zero.json()


def test_webhook_secret_is_shown_once_and_rotates(api, other_api) -> None:
    first = api.post("/api/notifications/webhook-secret")
    assert first.status_code == 201
    secret = first.json()["webhook_secret"]
    assert secret.startswith("whsec_")
    preferences = api.get("/api/notifications/preferences")
    assert preferences.json()["has_webhook_secret"] is True
    assert secret not in preferences.content.decode()
    second = api.post("/api/notifications/webhook-secret").json()["webhook_secret"]
    assert second != secret
    assert other_api.get("/api/notifications/preferences").json()["has_webhook_secret"] is False


# ---- chat channels ------------------------------------------------------------------------------


def test_channel_url_is_written_never_shown(api, owner) -> None:
    created = api.post(
        "/api/notifications/channels",
        {"name": "Discord", "url": "discord://1234567890/SeCrEt-ToKeN_abcdef"},
        "json",
    )
    assert created.status_code == 201
    listed = api.get("/api/notifications/channels")
    assert "SeCrEt" not in listed.content.decode()
    assert listed.json()[0]["url_hint"].startswith("discord://")
    assert AppriseChannel.objects.get().url.endswith("abcdef")
    with connection.cursor() as cursor:  # encrypted at rest
        cursor.execute("SELECT url FROM notifications_apprisechannel")
        assert "SeCrEt" not in cursor.fetchone()[0]


def test_channel_url_apprise_does_not_know_is_a_400(api) -> None:
    response = api.post(
        "/api/notifications/channels", {"name": "x", "url": "nosuchservice://abc"}, "json"
    )
    assert response.status_code == 400 and "url" in response.json()


def test_channel_names_are_unique_per_owner(api, other_api) -> None:
    body = {"name": "ntfy", "url": "ntfys://ntfy.sh/j3d-farm"}
    assert api.post("/api/notifications/channels", body, "json").status_code == 201
    again = api.post("/api/notifications/channels", body, "json")
    assert again.status_code == 400 and "name" in str(again.json())
    assert other_api.post("/api/notifications/channels", body, "json").status_code == 201


def test_other_owners_channel_is_a_404(api, other_owner) -> None:
    theirs = AppriseChannel.objects.create(user=other_owner, name="x", url="ntfys://ntfy.sh/t")
    assert api.get(f"/api/notifications/channels/{theirs.pk}").status_code == 404
    assert api.delete(f"/api/notifications/channels/{theirs.pk}").status_code == 404
    assert AppriseChannel.objects.filter(pk=theirs.pk).exists()


# ---- maintenance -------------------------------------------------------------------------------


def test_maintenance_task_lifecycle(api, printer) -> None:
    created = api.post(
        "/api/notifications/maintenance",
        {"printer_id": printer.id, "name": "Lubricate rods", "every_print_hours": 200},
        "json",
    )
    assert created.status_code == 201, created.json()
    task_id = created.json()["id"]
    MaintenanceTask.objects.filter(pk=task_id).update(print_hours_since_done=250)
    assert (
        "250 printing hours"
        in api.get(f"/api/notifications/maintenance/{task_id}").json()["due_reason"]
    )
    done = api.post(f"/api/notifications/maintenance/{task_id}/done")
    assert done.status_code == 200
    assert done.json()["print_hours_since_done"] == 0
    assert done.json()["due_reason"] == ""


def test_maintenance_needs_an_interval_and_your_own_printer(api, printer, other_printer) -> None:
    none = api.post(
        "/api/notifications/maintenance", {"printer_id": printer.id, "name": "x"}, "json"
    )
    assert none.status_code == 400 and "every_print_hours" in none.json()
    theirs = api.post(
        "/api/notifications/maintenance",
        {"printer_id": other_printer.id, "name": "x", "every_days": 14},
        "json",
    )
    assert theirs.status_code == 404


# ---- test message and the delivery log ---------------------------------------------------------


def test_test_endpoint_answers_each_channels_outcome(api, printer, settings) -> None:
    settings.NOTIFICATIONS_ALLOW_PRIVATE_TARGETS = True
    with http_receiver() as receiver:
        api.put(f"/api/bambu/notifications/{printer.id}", {"webhook_url": receiver.url}, "json")
        response = api.post(f"/api/bambu/notifications/{printer.id}/test")
        assert receiver.wait_for(1)
    assert response.status_code == 200
    outcome = {row["channel"]: row["status"] for row in response.json()}
    assert outcome == {"email": "delivered", "webhook": "delivered"}
    assert mail.outbox[0].subject == "[J3D] P1S #1: test notification"


def test_test_endpoint_for_another_owners_printer_is_a_404(api, other_printer) -> None:
    assert api.post(f"/api/bambu/notifications/{other_printer.id}/test").status_code == 404
    assert not Delivery.objects.exists()


def test_delivery_log_is_owner_scoped_filterable_and_paginated(
    api, printer, other_printer, owner, other_owner
) -> None:
    for n in range(3):
        Delivery.objects.create(
            user=owner,
            event_type="print.failed",
            printer=printer,
            channel="email",
            channel_key="email",
            target="o***@example.com",
            status="delivered" if n else "failed",
        )
    Delivery.objects.create(
        user=other_owner,
        event_type="print.failed",
        printer=other_printer,
        channel="email",
        channel_key="email",
        target="x",
    )
    body = api.get("/api/notifications/deliveries").json()
    assert len(body["results"]) == 3
    failed = api.get("/api/notifications/deliveries?status=failed").json()["results"]
    assert len(failed) == 1
    page = api.get("/api/notifications/deliveries?limit=2").json()
    assert len(page["results"]) == 2 and page["next"] and page["count"] == 3
    assert api.get("/api/notifications/deliveries?limit=0").status_code == 400
    theirs = api.get(f"/api/notifications/deliveries?printer={other_printer.id}").json()
    assert theirs["results"] == []
    bad = api.get("/api/notifications/deliveries?status=lost")
    assert bad.status_code == 400 and "status" in bad.json()
    bad_time = api.get("/api/notifications/deliveries?since=yesterday")
    assert bad_time.status_code == 400 and "since" in bad_time.json()
    empty = api.get("/api/notifications/deliveries?until=")
    assert empty.status_code == 400 and "until" in empty.json()

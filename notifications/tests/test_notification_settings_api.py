"""/api/bambu/notifications/<printer_id>: defaults on first read, partial updates, isolation."""

import pytest

from j3d.tests.factories import make_printer
from notifications.models import PrintNotification

pytestmark = pytest.mark.django_db

DEFAULTS = {
    "notify_print_start": True,
    "notify_print_complete": True,
    "notify_print_failed": True,
    "notify_material_change": False,
    "notify_maintenance": True,
    "email_enabled": True,
    "webhook_url": None,
}


@pytest.fixture
def printer(owner):
    return make_printer(owner)


def test_first_read_creates_the_guide_defaults(api, printer):
    response = api.get(f"/api/bambu/notifications/{printer.id}")

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in DEFAULTS} == DEFAULTS
    assert body["printer_id"] == printer.id
    assert PrintNotification.objects.filter(printer=printer).count() == 1


def test_second_read_returns_the_same_row(api, printer):
    first = api.get(f"/api/bambu/notifications/{printer.id}").json()
    second = api.get(f"/api/bambu/notifications/{printer.id}/").json()

    assert first["id"] == second["id"]
    assert PrintNotification.objects.count() == 1


def test_put_updates_and_returns_the_settings(api, printer):
    response = api.put(
        f"/api/bambu/notifications/{printer.id}",
        {"notify_material_change": True, "webhook_url": "https://hooks.example.com/j3d"},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["notify_material_change"] is True
    assert body["webhook_url"] == "https://hooks.example.com/j3d"
    assert body["notify_print_start"] is True
    stored = PrintNotification.objects.get(printer=printer)
    assert stored.webhook_url == "https://hooks.example.com/j3d"


@pytest.mark.parametrize("cleared", [None, ""])
def test_webhook_url_can_be_cleared(api, printer, cleared):
    api.put(
        f"/api/bambu/notifications/{printer.id}",
        {"webhook_url": "http://192.0.2.5/hook"},
        format="json",
    )

    response = api.put(
        f"/api/bambu/notifications/{printer.id}", {"webhook_url": cleared}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["webhook_url"] is None


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "javascript:alert(1)", "not a url", "file:///etc/passwd"]
)
def test_non_http_webhook_url_is_400(api, printer, url):
    response = api.put(
        f"/api/bambu/notifications/{printer.id}", {"webhook_url": url}, format="json"
    )

    assert response.status_code == 400
    assert "webhook_url" in response.json()
    assert not PrintNotification.objects.filter(webhook_url=url).exists()


@pytest.mark.parametrize("value", [None, "maybe", [True]])
def test_non_boolean_flag_is_400(api, printer, value):
    response = api.put(
        f"/api/bambu/notifications/{printer.id}", {"email_enabled": value}, format="json"
    )

    assert response.status_code == 400
    assert "email_enabled" in response.json()


@pytest.mark.parametrize("method", ["get", "put", "patch"])
def test_other_users_printer_is_404_and_creates_nothing(api, other_owner, method):
    printer = make_printer(other_owner)

    response = getattr(api, method)(
        f"/api/bambu/notifications/{printer.id}", {"email_enabled": False}, format="json"
    )

    assert response.status_code == 404
    assert not PrintNotification.objects.exists()

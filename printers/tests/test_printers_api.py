"""/api/printers/: CRUD, owner isolation, and the access code that is written but never shown."""

import pytest
from django.db import connection

from j3d.tests.factories import ACCESS_CODE, make_material, make_printer
from printers.models import Printer, PrinterStatus

pytestmark = pytest.mark.django_db

NEW_PRINTER = {
    "name": "Farm P1S #2",
    "model": "P1S",
    "serial": "01P00C123456789",
    "host": "192.0.2.20",
    "access_code": ACCESS_CODE,
}


def raw_access_code_column(printer_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_code FROM printers_printer WHERE id = %s", [printer_id])
        return cursor.fetchone()[0]


def test_create_printer_returns_201_with_status_row_and_has_access_code(api, owner):
    response = api.post("/api/printers/", NEW_PRINTER, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Farm P1S #2"
    assert body["has_access_code"] is True
    assert "access_code" not in body
    assert "cloud_token" not in body
    printer = Printer.objects.get(pk=body["id"])
    assert printer.user == owner
    assert PrinterStatus.objects.filter(printer=printer).exists()


def test_list_shows_only_own_printers_with_materials(api, owner, other_owner):
    mine = make_printer(owner)
    make_material(mine, slot=2)
    make_printer(other_owner, name="Not mine")

    response = api.get("/api/printers/")

    assert response.status_code == 200
    assert [p["id"] for p in response.json()] == [mine.id]
    assert [m["slot"] for m in response.json()[0]["materials"]] == [2]


def test_detail_update_and_delete(api, owner):
    printer = make_printer(owner)

    assert api.get(f"/api/printers/{printer.id}/").json()["serial"] == printer.serial
    patched = api.patch(f"/api/printers/{printer.id}/", {"name": "Renamed"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["name"] == "Renamed"
    assert api.delete(f"/api/printers/{printer.id}/").status_code == 204
    assert not Printer.objects.filter(pk=printer.id).exists()


def test_update_without_access_code_keeps_the_stored_one(api, owner):
    printer = make_printer(owner)
    full = {**NEW_PRINTER, "serial": printer.serial}
    del full["access_code"]

    response = api.put(f"/api/printers/{printer.id}/", full, format="json")

    assert response.status_code == 200, response.content
    printer.refresh_from_db()
    assert printer.access_code == ACCESS_CODE


def test_access_code_appears_in_no_response_body(api, owner):
    created = api.post("/api/printers/", NEW_PRINTER, format="json")
    printer_id = created.json()["id"]
    responses = [
        created,
        api.get("/api/printers/"),
        api.get(f"/api/printers/{printer_id}/"),
        api.get(f"/api/printers/{printer_id}"),
        api.patch(f"/api/printers/{printer_id}/", {"access_code": ACCESS_CODE}, format="json"),
        api.put(f"/api/printers/{printer_id}/", NEW_PRINTER, format="json"),
        # A failing validation must not echo the secret either.
        api.post("/api/printers/", {**NEW_PRINTER, "mqtt_port": 0}, format="json"),
        api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"),
    ]

    for response in responses:
        assert response.status_code < 500
        assert ACCESS_CODE not in response.content.decode()


def test_schema_response_shape_of_printer_has_no_secrets(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    shown = schema["components"]["schemas"]["Printer"]["properties"]
    accepted = schema["components"]["schemas"]["PrinterRequest"]["properties"]
    assert "access_code" not in shown and "cloud_token" not in shown
    assert "has_access_code" in shown
    assert "access_code" in accepted


def test_access_code_is_encrypted_in_the_database(api):
    printer_id = api.post("/api/printers/", NEW_PRINTER, format="json").json()["id"]

    stored = raw_access_code_column(printer_id)

    assert ACCESS_CODE not in stored
    assert stored.startswith("fernet:")
    assert Printer.objects.get(pk=printer_id).access_code == ACCESS_CODE


def test_serial_is_unique_per_owner(api, owner):
    make_printer(owner, serial=NEW_PRINTER["serial"])

    response = api.post("/api/printers/", NEW_PRINTER, format="json")

    assert response.status_code == 400
    assert "serial" in response.json()


def test_two_owners_may_share_a_serial(api, other_owner):
    make_printer(other_owner, serial=NEW_PRINTER["serial"])

    response = api.post("/api/printers/", NEW_PRINTER, format="json")

    assert response.status_code == 201, response.content


def test_renaming_serial_to_another_own_printers_serial_is_400(api, owner):
    make_printer(owner, serial="TAKEN01")
    printer = make_printer(owner, serial="FREE01")

    response = api.patch(f"/api/printers/{printer.id}/", {"serial": "TAKEN01"}, format="json")

    assert response.status_code == 400
    assert "serial" in response.json()


@pytest.mark.parametrize("missing", ["host", "access_code"])
def test_lan_printer_without_host_or_access_code_is_400(api, missing):
    body = {key: value for key, value in NEW_PRINTER.items() if key != missing}

    response = api.post("/api/printers/", body, format="json")

    assert response.status_code == 400
    assert missing in response.json()
    assert not Printer.objects.exists()


def test_cloud_printer_needs_uid_and_token_not_host(api):
    body = {
        "name": "Cloud A1",
        "model": "A1",
        "serial": "03919A000000001",
        "connection_type": "cloud",
    }

    refused = api.post("/api/printers/", body, format="json")
    accepted = api.post(
        "/api/printers/",
        {**body, "cloud_user_id": "u_123", "cloud_token": "tok-secret-42"},
        format="json",
    )

    assert refused.status_code == 400
    assert {"cloud_user_id", "cloud_token"} <= refused.json().keys()
    assert accepted.status_code == 201, accepted.content
    assert "tok-secret-42" not in accepted.content.decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mqtt_port", 0),
        ("mqtt_port", 65536),
        ("model", "X9"),
        ("serial", "has spaces"),
        ("connection_type", "bluetooth"),
        ("ca_cert", "not a certificate"),
    ],
)
def test_bad_printer_field_is_400_naming_it(api, field, value):
    response = api.post("/api/printers/", {**NEW_PRINTER, field: value}, format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_tls_verify_without_ca_cert_is_400(api):
    response = api.post("/api/printers/", {**NEW_PRINTER, "tls_verify": True}, format="json")

    assert response.status_code == 400
    assert "ca_cert" in response.json()


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_other_users_printer_is_404(api, other_owner, method):
    printer = make_printer(other_owner)

    response = getattr(api, method)(
        f"/api/printers/{printer.id}/", {"name": "Stolen"}, format="json"
    )

    assert response.status_code == 404
    printer.refresh_from_db()
    assert printer.name == "Bench X1C"

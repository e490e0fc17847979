"""The printer's connection rules live on Printer (clean, constraints): every door answers the same,
and a partial change is judged with the stored values."""

import pytest
from django.core.exceptions import ValidationError

from j3d.tests.factories import make_printer
from printers.admin import PrinterAdminForm
from printers.models import Printer
from printers.services.printers import printer_create, printer_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def printer(owner):
    return make_printer(owner)


def patch(api, printer, body):
    return api.patch(f"/api/printers/{printer.id}/", body, format="json")


def test_switching_a_lan_printer_to_cloud_without_its_ids_is_400_naming_them(api, printer):
    response = patch(api, printer, {"connection_type": "cloud"})

    assert response.status_code == 400
    assert {"cloud_user_id", "cloud_token"} <= response.json().keys()
    printer.refresh_from_db()
    assert printer.connection_type == "lan"


def test_switching_to_cloud_with_its_ids_is_accepted(api, printer):
    response = patch(
        api, printer, {"connection_type": "cloud", "cloud_user_id": "u_1", "cloud_token": "t-1"}
    )

    assert response.status_code == 200, response.content
    assert response.json()["connection_type"] == "cloud"


def test_clearing_a_lan_printers_host_is_400_naming_it(api, printer):
    response = patch(api, printer, {"host": ""})

    assert response.status_code == 400
    assert "host" in response.json()


def test_verifying_tls_counts_the_stored_ca(api, printer, mqtt_broker):
    refused = patch(api, printer, {"tls_verify": True})
    patch(api, printer, {"ca_cert": mqtt_broker.ca_pem})
    accepted = patch(api, printer, {"tls_verify": True})

    assert refused.status_code == 400 and "ca_cert" in refused.json()
    assert accepted.status_code == 200, accepted.content
    printer.refresh_from_db()
    assert printer.tls_verify and printer.ca_cert.strip() == mqtt_broker.ca_pem.strip()


def test_a_cloud_printer_without_its_ids_is_refused_below_the_api(owner):
    with pytest.raises(ValidationError) as error:
        printer_create(user=owner, name="A1", model="A1", serial="CLOUD1", connection_type="cloud")

    assert {"cloud_user_id", "cloud_token"} <= error.value.message_dict.keys()
    assert not Printer.objects.exists()


def test_a_second_printer_with_the_same_serial_is_refused_naming_the_serial(owner, printer):
    other = make_printer(owner, serial="SECOND01")

    with pytest.raises(ValidationError) as error:
        printer_update(printer=other, serial=printer.serial)

    assert list(error.value.message_dict) == ["serial"]


def test_the_admin_applies_the_same_connection_rules(owner, printer):
    data = {name: getattr(printer, name) or "" for name in PrinterAdminForm.Meta.fields}
    data.update(user=owner.pk, connection_type="cloud", ca_cert="not a certificate")

    form = PrinterAdminForm(data, instance=printer)

    assert not form.is_valid()
    assert {"cloud_user_id", "cloud_token", "ca_cert"} <= form.errors.keys()

"""Tenant consistency below the API: a printer's notification settings are its owner's."""

import pytest
from django.core.exceptions import ValidationError

from j3d.tests.factories import make_printer
from notifications.models import PrintNotification
from notifications.services.preferences import notification_settings_update

pytestmark = pytest.mark.django_db


def test_settings_of_another_owners_printer_are_refused(owner, other_owner):
    with pytest.raises(ValidationError) as error:
        PrintNotification(user=owner, printer=make_printer(other_owner)).full_clean()

    assert "printer" in error.value.message_dict


def test_handing_a_printers_settings_to_another_owner_is_refused(owner, other_owner):
    printer = make_printer(owner)

    with pytest.raises(ValidationError) as error:
        notification_settings_update(printer=printer, user=other_owner)

    assert "printer" in error.value.message_dict
    assert not PrintNotification.objects.filter(user=other_owner).exists()

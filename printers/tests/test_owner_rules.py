"""Tenant consistency below the API: rows that hang off a printer belong to its owner."""

import pytest
from django.core.exceptions import ValidationError

from j3d.tests.factories import make_material, make_printer
from printers.models import BambuMaterial, PrinterCommand
from printers.services.commands import command_enqueue
from printers.services.materials import material_update

pytestmark = pytest.mark.django_db


def test_a_material_of_another_owners_printer_is_refused(owner, other_owner):
    theirs = make_printer(other_owner)

    with pytest.raises(ValidationError) as error:
        BambuMaterial(user=owner, printer=theirs, slot=1, material_type="PLA").full_clean()

    assert "printer" in error.value.message_dict


def test_moving_a_material_to_another_owners_printer_is_refused(owner, other_owner):
    material = make_material(make_printer(owner))
    theirs = make_printer(other_owner, serial="THEIRS01")

    with pytest.raises(ValidationError) as error:
        material_update(material=material, printer=theirs)

    assert "printer" in error.value.message_dict
    material.refresh_from_db()
    assert material.printer.user == owner


def test_a_command_for_another_owners_printer_is_refused(owner, other_owner):
    with pytest.raises(ValidationError) as error:
        command_enqueue(printer=make_printer(other_owner), action="pause", user=owner)

    assert "printer" in error.value.message_dict
    assert not PrinterCommand.objects.exists()


def test_a_row_added_under_a_printer_without_an_owner_takes_the_printers(owner):
    printer = make_printer(owner)
    material = BambuMaterial(printer=printer, slot=2, material_type="PETG")

    material.full_clean(exclude=["user"])

    assert material.user_id == owner.pk

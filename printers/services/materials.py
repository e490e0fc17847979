"""Materials in AMS slots, as typed by a person (the link's AMS sync lives in live.py)."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from printers.models import BambuMaterial, Printer


@transaction.atomic
def material_create(*, printer: Printer, **fields: Any) -> BambuMaterial:
    """Load a material into a free slot of `printer`; a taken slot is a validation error."""
    slot = fields.get("slot")
    if BambuMaterial.objects.filter(printer=printer, slot=slot).exists():
        raise ValidationError(
            {"slot": f"Slot {slot} of this printer already holds a material; update or unload it."}
        )
    fields.setdefault("remaining_pct", 100)
    material = BambuMaterial(user=printer.user, printer=printer, **fields)
    material.full_clean()
    try:
        material.save()
    except IntegrityError:  # a concurrent request took the slot first
        raise ValidationError({"slot": f"Slot {slot} of this printer is already taken."}) from None
    return material


@transaction.atomic
def material_update(*, material: BambuMaterial, **fields: Any) -> BambuMaterial:
    if "slot" in fields and fields["slot"] != material.slot:
        taken = BambuMaterial.objects.filter(printer_id=material.printer_id, slot=fields["slot"])
        if taken.exists():
            raise ValidationError({"slot": f"Slot {fields['slot']} of this printer is taken."})
    for name, value in fields.items():
        setattr(material, name, value)
    material.full_clean()
    material.save()
    return material


def material_unload(*, material: BambuMaterial) -> None:
    material.delete()

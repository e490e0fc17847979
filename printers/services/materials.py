"""Materials in AMS slots, as typed by a person (the link's AMS sync lives in live.py)."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from j3d.lib.validation import save_validated
from printers.models import SLOT_TAKEN, BambuMaterial, Printer, SpareSpool


@transaction.atomic
def material_create(*, printer: Printer, **fields: Any) -> BambuMaterial:
    """Load a material into a free slot of `printer`; a taken slot is a validation error."""
    fields.setdefault("remaining_pct", 100)
    return _save(BambuMaterial(user=printer.user, printer=printer), fields)


@transaction.atomic
def material_update(*, material: BambuMaterial, **fields: Any) -> BambuMaterial:
    return _save(material, fields)


def _save(material: BambuMaterial, fields: dict[str, Any]) -> BambuMaterial:
    # A taken slot is the one-per-slot constraint's error, under "slot"; IntegrityError is a
    # concurrent request that took the slot after the check.
    try:
        with transaction.atomic():
            return save_validated(material, **fields)
    except IntegrityError:
        raise ValidationError({"slot": SLOT_TAKEN}) from None


def material_unload(*, material: BambuMaterial) -> None:
    material.delete()


def spare_spool_save(*, spool: SpareSpool, **fields: Any) -> SpareSpool:
    """Record or change spools on the shelf (a colour is stored upper case, as the AMS says it)."""
    for name, value in fields.items():
        setattr(spool, name, value)
    spool.color_hex = spool.color_hex.upper()
    spool.full_clean()
    spool.save()
    return spool

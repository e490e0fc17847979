"""Adding and changing printers."""

from typing import Any

from django.db import transaction

from printers.models import Printer, PrinterStatus


@transaction.atomic
def printer_create(*, user: Any, **fields: Any) -> Printer:
    """Create a printer with an empty live status row (the link fills it)."""
    printer = Printer(user=user, **fields)
    printer.full_clean()
    printer.save()
    PrinterStatus.objects.create(printer=printer)
    return printer


@transaction.atomic
def printer_update(*, printer: Printer, **fields: Any) -> Printer:
    """Change a printer's settings; secrets left out of `fields` keep their stored value."""
    for name, value in fields.items():
        setattr(printer, name, value)
    printer.full_clean()
    printer.save()
    return printer

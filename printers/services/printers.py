"""Adding and changing printers."""

from typing import Any

from django.db import transaction

from j3d.lib.validation import save_validated
from printers.models import Printer, PrinterStatus


@transaction.atomic
def printer_create(*, user: Any, **fields: Any) -> Printer:
    """Create a printer with an empty live status row (the link fills it)."""
    printer = save_validated(Printer(user=user, **fields))
    PrinterStatus.objects.create(printer=printer)
    return printer


@transaction.atomic
def printer_update(*, printer: Printer, **fields: Any) -> Printer:
    """Change a printer's settings; secrets left out of `fields` keep their stored value."""
    return save_validated(printer, **fields)

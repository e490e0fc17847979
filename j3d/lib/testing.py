"""Row factories for tests: the smallest valid printer, material, order, profile and job.

Each takes the owner and keyword overrides; nothing here is used outside tests.
"""

from typing import Any

from orders.models import Order, OrderItem, ProductProfile
from printers.models import BambuMaterial, Printer, PrinterStatus
from scheduling.models import ScheduledPrint

ACCESS_CODE = "Zq7-secret-code-91"


def make_printer(user: Any, **fields: Any) -> Printer:
    values = {
        "name": "Bench X1C",
        "model": Printer.Model.X1C,
        "serial": "01S00A000000001",
        "host": "192.0.2.10",
        "access_code": ACCESS_CODE,
        **fields,
    }
    printer = Printer.objects.create(user=user, **values)
    PrinterStatus.objects.create(printer=printer)
    return printer


def make_material(printer: Printer, **fields: Any) -> BambuMaterial:
    values = {
        "slot": 0,
        "material_type": "PLA",
        "color": "Black",
        "weight_grams": 1000,
        "remaining_pct": 80,
        **fields,
    }
    return BambuMaterial.objects.create(user=printer.user, printer=printer, **values)


def make_profile(user: Any, **fields: Any) -> ProductProfile:
    return ProductProfile.objects.create(user=user, **{"name": "Dragon", **fields})


def make_order(user: Any, items: list[dict[str, Any]] | None = None, **fields: Any) -> Order:
    order = Order.objects.create(user=user, **{"order_number": "1001", **fields})
    for item in items if items is not None else [{"title": "Dragon"}]:
        OrderItem.objects.create(order=order, **item)
    return order


def make_job(user: Any, printer: Printer | None, **fields: Any) -> ScheduledPrint:
    return ScheduledPrint.objects.create(
        user=user, printer=printer, **{"job_name": "Benchy", **fields}
    )

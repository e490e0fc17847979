"""Row factories for tests: the smallest valid printer, material, order, profile and job.

Each takes the owner and keyword overrides. They write rows directly (no service, no full_clean),
so a test can set up any state, including ones the services refuse.
"""

import io
import zipfile
from decimal import Decimal
from hashlib import md5
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
    """An order numbered 1001, or the owner's next free number (numbers are unique per owner)."""
    if "order_number" not in fields:
        taken = set(Order.objects.filter(user=user).values_list("order_number", flat=True))
        fields["order_number"] = next(str(n) for n in range(1001, 10**6) if str(n) not in taken)
    order = Order.objects.create(user=user, **fields)
    for item in items if items is not None else [{"title": "Dragon"}]:
        OrderItem.objects.create(order=order, **item)
    return order


def make_job(user: Any, printer: Printer | None, **fields: Any) -> ScheduledPrint:
    return ScheduledPrint.objects.create(
        user=user, printer=printer, **{"job_name": "Benchy", **fields}
    )


def sliced_3mf(
    plates: list[dict[str, Any]] | None = None,
    *,
    version: str = "02.02.01.60",
    gcode_header: bool = True,
    slice_info: str | None = None,
) -> bytes:
    """A small sliced .gcode.3mf in Bambu Studio's layout (Metadata/slice_info.config, each
    plate's G-code with its header block and MD5, the 3MF model part).

    ``plates`` items: {"seconds": 5025, "grams": "23.45", "filaments": [("PLA", "#161616",
    "22.46"), ...]}; a None value leaves that metadata out, as an older slicer did. ``slice_info``
    replaces the generated config text.
    """
    plates = (
        plates
        if plates is not None
        else [{"seconds": 3600, "filaments": [("PLA", "#000000", "20")]}]
    )
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<config>",
        "  <header>",
        '    <header_item key="X-BBL-Client-Type" value="slicer"/>',
        f'    <header_item key="X-BBL-Client-Version" value="{version}"/>',
        "  </header>",
    ]
    gcodes = {}
    for index, plate in enumerate(plates, start=1):
        filaments = plate.get("filaments", [])
        grams = plate.get("grams", sum(Decimal(str(f[2])) for f in filaments))
        lines += ["  <plate>", f'    <metadata key="index" value="{index}"/>']
        lines.append('    <metadata key="printer_model_id" value="C12"/>')
        if plate.get("seconds") is not None:
            lines.append(f'    <metadata key="prediction" value="{plate["seconds"]}"/>')
        if grams is not None:
            lines.append(f'    <metadata key="weight" value="{grams}"/>')
        lines.append('    <object identify_id="75" name="part.stl" skipped="false" />')
        for number, (kind, colour, used) in enumerate(filaments, start=1):
            lines.append(
                f'    <filament id="{number}" tray_info_idx="GFA00" type="{kind}" color="{colour}"'
                f' used_m="{Decimal(str(used)) / 3:.2f}" used_g="{used}" />'
            )
        lines.append("  </plate>")
        seconds = plate.get("header_seconds", plate.get("seconds") or 0)
        weights = ",".join(str(f[2]) for f in filaments) or "0"
        header = (
            "; HEADER_BLOCK_START\n"
            f"; BambuStudio {version}\n"
            f"; model printing time: 1m 0s; total estimated time: {seconds // 3600}h"
            f" {seconds % 3600 // 60}m {seconds % 60}s\n"
            "; total layer number: 100\n"
            f"; total filament weight [g] : {weights}\n"
            "; HEADER_BLOCK_END\n"
            if gcode_header
            else ""
        )
        gcodes[index] = (header + "G28\nG1 Z5 F600\nM104 S0\n").encode()
    lines.append("</config>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="UTF-8"?><Types/>')
        archive.writestr("3D/3dmodel.model", '<?xml version="1.0" encoding="UTF-8"?><model/>')
        archive.writestr("Metadata/slice_info.config", slice_info or "\n".join(lines) + "\n")
        for index, gcode in gcodes.items():
            archive.writestr(f"Metadata/plate_{index}.gcode", gcode)
            archive.writestr(f"Metadata/plate_{index}.gcode.md5", md5(gcode).hexdigest().upper())
    return buffer.getvalue()

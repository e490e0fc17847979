"""The whole system on the embedded defaults, with simulated printers to watch.

Starts a TLS Mosquitto standing in for the printers' brokers, three simulated printers (each
with its FTPS server), the demo login with those printers, a product and an order, then the web
server, the q2 cluster and the printer link (see run_j3d) until Ctrl-C.
"""

import io
import os
import time
import zipfile
from decimal import Decimal
from hashlib import md5
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from j3d.lib.mosquitto import MosquittoBroker
from j3d.management.commands.run_j3d import supervise
from j3d.management.commands.setup_demo import DEMO_USERNAME
from orders.etsy.fake import FakeEtsy, example_response, make_receipt
from orders.models import Order, OrderItem, ProductProfile
from printers.bambu.simulator import SimulatedPrinter
from printers.models import Printer, PrinterStatus
from scheduling.services.planning import printer_plate_cleared

DEMO_ACCESS_CODE = "demo1234"
DEMO_PRINTERS = [
    ("Shelf A - X1 Carbon", "X1C", "SIMX1C000000001"),
    ("Shelf A - P1S", "P1S", "SIMP1S000000002"),
    ("Shelf B - A1 mini", "A1 mini", "SIMA1M000000003"),
]


class Command(BaseCommand):
    help = "Run J3D with simulated printers and a demo login (the README's first command)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="web server address")
        parser.add_argument(
            "--time-scale", type=float, default=60.0, help="simulated seconds per real second"
        )

    def handle(self, *args: Any, addr: str, time_scale: float, **options: Any) -> None:
        call_command("setup_demo", stdout=self.stdout)
        with MosquittoBroker(access_code=DEMO_ACCESS_CODE) as broker, demo_etsy(addr) as etsy:
            simulators = [
                SimulatedPrinter(
                    serial,
                    host=broker.host,
                    port=broker.port,
                    access_code=DEMO_ACCESS_CODE,
                    ca_pem=broker.ca_pem,
                    model=model,
                    time_scale=time_scale,
                )
                for _, model, serial in DEMO_PRINTERS
            ]
            for simulator in simulators:
                simulator.start()
            try:
                seed_demo_shop(broker, simulators)
                self.stdout.write(
                    f"simulated printers on the TLS broker 127.0.0.1:{broker.port}: "
                    + ", ".join(s.serial for s in simulators)
                )
                self.stdout.write(
                    f"a fake Etsy on {etsy.url} stands in for etsy.com: in the admin, Etsy"
                    " connections > Connect Etsy shop, then Sync orders from Etsy now"
                )
                supervise(self.stdout, addr=addr)
            finally:
                for simulator in simulators:
                    simulator.stop()


@transaction.atomic
def seed_demo_shop(broker: MosquittoBroker, simulators: list[SimulatedPrinter]) -> None:
    """Point the demo owner's printers at this run's simulators; add a product and an order."""
    user = get_user_model().objects.get(username=DEMO_USERNAME)
    for (name, model, serial), simulator in zip(DEMO_PRINTERS, simulators, strict=True):
        printer, _ = Printer.objects.update_or_create(
            user=user,
            serial=serial,
            defaults={
                "name": name,
                "model": model,
                "host": broker.host,
                "mqtt_port": broker.port,
                "ftps_port": simulator.ftps_port,
                "access_code": DEMO_ACCESS_CODE,
                "enabled": True,
            },
        )
        PrinterStatus.objects.get_or_create(printer=printer)
        # A simulator starts with nothing on its plate, so the planned jobs start by themselves.
        printer_plate_cleared(printer=printer, by="demo")
    profile, created = ProductProfile.objects.get_or_create(
        user=user,
        name="Cable Stand",
        defaults={"sku": "CS-01", "estimated_duration_minutes": 45, "grams_per_unit": 38},
    )
    if created or not profile.print_file:
        profile.print_file.save("cable_stand.gcode.3mf", ContentFile(demo_print_file()))
    if not Order.objects.filter(user=user).exists():
        order = Order.objects.create(
            user=user, order_number="1001", buyer_name="Ada Lovelace", total_amount=Decimal("29.00")
        )
        OrderItem.objects.create(
            order=order, title="Cable Stand", sku="CS-01", quantity=2, unit_price=Decimal("14.50")
        )


def demo_print_file() -> bytes:
    """A tiny sliced .gcode.3mf: one plate's G-code and its MD5, as the printer expects."""
    gcode = b"; J3D demo plate\nG28\nG1 Z5 F600\nM104 S0\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Metadata/plate_1.gcode", gcode)
        archive.writestr("Metadata/plate_1.gcode.md5", md5(gcode).hexdigest().upper())
    return buffer.getvalue()


DEMO_SHOP_ID = 33264519


def demo_etsy(addr: str) -> FakeEtsy:
    """A fake Etsy shop with a few dozen recent orders; the web server and the q2 cluster (child
    processes) reach it through the ETSY_* environment, so the demo works without the internet."""
    fake = FakeEtsy(redirect_uris=[f"http://{addr}/etsy/callback"])
    fake.add_shop(shop_id=DEMO_SHOP_ID, shop_name="LayerLineStudio")
    fake.put_receipts(DEMO_SHOP_ID, demo_receipts(int(time.time())))
    os.environ.update(
        ETSY_KEYSTRING=fake.keystring,
        ETSY_SHARED_SECRET=fake.shared_secret,
        ETSY_REDIRECT_URI=f"http://{addr}/etsy/callback",
    )
    fake.start()
    os.environ.update(ETSY_API_URL=fake.url, ETSY_CONNECT_URL=fake.connect_url)
    return fake


def demo_receipts(now: int) -> list[dict[str, Any]]:
    """The shared example's three receipts and 24 more, all from the last few days."""
    receipts = example_response()["results"]
    shift = now - 3600 - max(r["updated_timestamp"] for r in receipts)
    for receipt in receipts:
        for key in (
            "create_timestamp",
            "created_timestamp",
            "update_timestamp",
            "updated_timestamp",
        ):
            receipt[key] += shift
        for transaction_ in receipt["transactions"]:
            transaction_["expected_ship_date"] += shift
    for n in range(24):
        created = now - (24 - n) * 3 * 3600
        receipts.append(make_receipt(3500000000 + n, created=created, items=1 + n % 3, seed=n))
    return receipts

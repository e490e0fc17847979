"""Analytics API speed on a year of a busy farm: 100 printers, 20,000 finished jobs, 10,000 orders.

Run:  .venv/bin/python bench/bench_analytics.py
      DATABASE_URL=postgres://... to bench on PostgreSQL (default: a temp SQLite file).

Seeds one shop owner (a second owner with a small farm beside it, so every query filters), then
calls each /api/analytics/ endpoint (and the stock and reorder lists) in-process through DRF's
test client for 30-, 90- and 365-day ranges ending today, JSON and CSV. Each call is timed
BENCH_ROUNDS (default 3) rounds x CALLS times, rounds interleaved across endpoints so a burst of
load from elsewhere on the machine spreads over all of them; it prints the median and the
fastest wall time, the median CPU time of this process (SQLite runs in-process, so that is the
work J3D does, far less sensitive to other processes than wall time: on 2 shared cores at load 10
the wall time was 5-7x the CPU time) and the number of SQL queries. The bar: every
endpoint under 300 ms for 90 days on SQLite, and the query count the same for every range.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PRINTERS = 100
PROFILES = 40
ORDERS = 10_000
JOBS = 20_000
CALLS = 3
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
RANGES = (30, 90, 365)
ENDPOINTS = (
    "analytics/summary",
    "analytics/printers",
    "analytics/products",
    "analytics/orders",
    "analytics/materials",
    "analytics/materials?by=order",
    "analytics/summary?format=csv",
    "analytics/printers?format=csv",
    "analytics/products?format=csv",
    "analytics/orders?format=csv",
    "analytics/materials?format=csv",
    "materials/stock",
    "materials/reorder",
)
COLOURS = ["#000000", "#FFFFFF", "#FF0000", "#00AEEF", "#FFD700", "#8E8E8E"]
REASONS = ["Spaghetti", "Bed adhesion", "Filament runout", "Nozzle clog", "First layer"]


def setup_django() -> None:
    # BENCH_DB=/path/file.sqlite3 keeps the seeded farm for the next run (seeding takes minutes).
    path = os.environ.get("BENCH_DB") or Path(tempfile.mkdtemp(prefix="bench-analytics-")) / "b"
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{path}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "j3d.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(user, printers: int, profiles: int, orders: int, jobs: int, rng: random.Random) -> None:
    from django.utils import timezone

    from orders.models import Order, OrderItem, ProductProfile
    from printers.models import BambuMaterial, Printer, SpareSpool
    from scheduling.models import FarmSettings, MaterialUse, PrintRecord, ScheduledPrint

    now = timezone.now()
    FarmSettings.objects.get_or_create(user=user, defaults={"energy_price_per_kwh": Decimal("0.3")})
    farm = Printer.objects.bulk_create(
        Printer(
            user=user,
            name=f"P{n:03}",
            model="P1S",
            serial=f"{user.pk}S{n:05}",
            host="192.0.2.1",
            access_code="bench",
            power_watts=rng.choice([None, 120, 150, 350]),
        )
        for n in range(printers)
    )
    farm = list(Printer.objects.filter(user=user))
    spools = BambuMaterial.objects.bulk_create(
        BambuMaterial(
            user=user,
            printer=printer,
            slot=slot,
            material_type=rng.choice(["PLA", "PETG"]),
            color_hex=rng.choice(COLOURS),
            weight_grams=1000,
            remaining_pct=rng.randint(5, 100),
            cost_per_kg=Decimal(rng.choice(["18.99", "21.50", "25.00"])),
        )
        for printer in farm
        for slot in range(4)
    )
    SpareSpool.objects.bulk_create(
        SpareSpool(user=user, material_type="PLA", color_hex=c, quantity=3) for c in COLOURS
    )
    products = ProductProfile.objects.bulk_create(
        ProductProfile(
            user=user,
            name=f"Product {n}",
            units_per_plate=rng.randint(1, 4),
            filaments=[
                {"type": "PLA", "color": rng.choice(COLOURS), "grams": rng.randint(10, 200)}
            ],
        )
        for n in range(profiles)
    )
    products = list(ProductProfile.objects.filter(user=user))
    created = Order._meta.get_field("created_at")
    created.auto_now_add = False  # orders spread over the year
    try:
        order_rows = Order.objects.bulk_create(
            Order(
                user=user,
                order_number=f"{user.pk}-{n}",
                source=rng.choice(["etsy", "etsy", "manual"]),
                external_id=f"r{n}",
                created_at=now - timedelta(minutes=rng.randint(0, 365 * 24 * 60)),
            )
            for n in range(orders)
        )
    finally:
        created.auto_now_add = True
    order_rows = list(Order.objects.filter(user=user).order_by("id"))
    items = OrderItem.objects.bulk_create(
        OrderItem(
            order=order,
            title="Item",
            quantity=rng.randint(1, 3),
            unit_price=Decimal(rng.randint(800, 6000)) / 100,
            product_profile=rng.choice(products),
        )
        for order in order_rows
        for _ in range(rng.randint(1, 2))
    )
    items = list(OrderItem.objects.filter(order__user=user).select_related("order"))
    job_rows, record_rows = [], []
    for n in range(jobs):
        item = items[n % len(items)]
        printer = rng.choice(farm)
        start = item.order.created_at + timedelta(hours=rng.randint(1, 48))
        hours = rng.uniform(0.5, 10)
        failed = rng.random() < 0.08
        job_rows.append(
            ScheduledPrint(
                user=user,
                printer=printer,
                order=item.order,
                order_item=item,
                product_profile=item.product_profile,
                job_name=f"Job {n}",
                status="failed" if failed else "completed",
                started_at=start,
                completed_at=start + timedelta(hours=hours),
                failed_reason=rng.choice(REASONS) if failed else "",
            )
        )
    job_rows = ScheduledPrint.objects.bulk_create(job_rows, batch_size=2000)
    for job in job_rows:
        hours = Decimal((job.completed_at - job.started_at).total_seconds() / 3600).quantize(
            Decimal("0.0001")
        )
        record_rows.append(
            PrintRecord(
                user=user,
                job=job,
                printer=job.printer,
                order=job.order,
                product_profile=job.product_profile,
                job_name=job.job_name,
                outcome=job.status,
                started_at=job.started_at,
                ended_at=job.completed_at,
                progress_pct=100 if job.status == "completed" else 40,
                print_hours=hours,
                units=job.product_profile.units_per_plate if job.status == "completed" else 0,
                failure_reason=job.failed_reason,
                material_cost=Decimal(rng.randint(20, 400)) / 100,
                machine_cost=hours / 2,
                energy_cost=Decimal(rng.randint(0, 50)) / 100,
            )
        )
    record_rows = PrintRecord.objects.bulk_create(record_rows, batch_size=2000)
    MaterialUse.objects.bulk_create(
        (
            MaterialUse(
                user=user,
                record=record,
                material=rng.choice(spools),
                slot=0,
                material_type="PLA",
                color_hex=rng.choice(COLOURS),
                grams=Decimal(rng.randint(10, 200)),
                slicer_grams=Decimal(200),
                cost_per_kg=Decimal("21.50"),
                cost=record.material_cost,
            )
            for record in record_rows
        ),
        batch_size=2000,
    )
    # A queue of unfinished jobs for the stock figures.
    ScheduledPrint.objects.bulk_create(
        ScheduledPrint(user=user, printer=rng.choice(farm), product_profile=rng.choice(products))
        for _ in range(200)
    )


def main() -> int:
    setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from rest_framework.test import APIClient

    rng = random.Random(11)
    users = get_user_model().objects
    started = time.perf_counter()
    owner = users.filter(username="bench").first()
    if owner is None:
        owner = users.create_user("bench", "bench@example.com", "bench-pass-1")
        other = users.create_user("other", "other@example.com", "other-pass-1")
        seed(owner, PRINTERS, PROFILES, ORDERS, JOBS, rng)
        seed(other, 5, 3, 200, 400, rng)
    print(
        f"seeded {PRINTERS} printers, {JOBS} finished jobs, {ORDERS} orders over a year"
        f" in {time.perf_counter() - started:.1f} s; db {connection.vendor}"
    )
    client = APIClient(SERVER_NAME="localhost")
    client.force_authenticate(owner)
    today = timezone.localdate()
    wall: dict[tuple[str, int], list[float]] = defaultdict(list)
    cpu: dict[tuple[str, int], list[float]] = defaultdict(list)
    queries: dict[tuple[str, int], set[int]] = defaultdict(set)
    rows: dict[str, str] = {}
    for _round in range(ROUNDS):
        for endpoint in ENDPOINTS:
            for days in RANGES:
                url = _url(endpoint, today - timedelta(days=days - 1), today)
                for _ in range(CALLS):
                    reset_queries()
                    with CaptureQueriesContext(connection) as captured:
                        tick, cpu_tick = time.perf_counter(), time.process_time()
                        response = client.get(url)
                        cpu[endpoint, days].append((time.process_time() - cpu_tick) * 1000)
                        wall[endpoint, days].append((time.perf_counter() - tick) * 1000)
                    assert response.status_code == 200, (url, response.content[:300])
                    queries[endpoint, days].add(len(captured))
                if days == 90:
                    rows[endpoint] = _rows(response)
    samples = ROUNDS * CALLS
    load = " / ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"load average {load} on {os.cpu_count()} cores")
    print(f"per cell: median wall ms, fastest wall ms, median CPU ms, queries ({samples} calls)")
    print(
        f"{'endpoint':32} "
        + "".join(f"{f'{d}d wall best  cpu  q':>27}" for d in RANGES)
        + "  rows(90d)"
    )
    worst = 0.0
    for endpoint in ENDPOINTS:
        cells = []
        for days in RANGES:
            median = statistics.median(wall[endpoint, days])
            if days == 90:
                worst = max(worst, median)
            counts = "/".join(str(n) for n in sorted(queries[endpoint, days]))
            best = min(wall[endpoint, days])
            cpu_ms = statistics.median(cpu[endpoint, days])
            cells.append(f"{median:12.1f} {best:5.1f} {cpu_ms:5.1f} {counts:>3}")
        print(f"{endpoint:32} " + "".join(cells) + f"  {rows[endpoint]:>9}")
    verdict = "meets" if worst < 300 else "MISSES"
    print(f"slowest endpoint at 90 days: {worst:.1f} ms ({verdict} the 300 ms bar)")
    return 0


def _url(endpoint: str, first: date, last: date) -> str:
    if endpoint.startswith("materials/"):
        return f"/api/{endpoint}"  # stock has no range
    glue = "&" if "?" in endpoint else "?"
    return f"/api/{endpoint}{glue}from={first}&to={last}"


def _rows(response: Any) -> str:
    if response["Content-Type"].startswith("text/csv"):
        return str(response.content.count(b"\n") - 1)
    body = response.json()
    return str(len(body) if isinstance(body, list) else 1)


if __name__ == "__main__":
    raise SystemExit(main())

"""Bench of the Etsy order sync: 5,000 receipts from the fake Etsy at 10 requests/s.

The fake (orders/etsy/fake.py) serves real HTTP on loopback, in a process of its own as Etsy is
(so its CPU is not counted as the sync's), with Etsy's per-second limit set to 10: the sync's
floor is the rate limit, 5,000 receipts are 50 pages of 100, 5 s at 10/s. The bar (issue #10):
the first sync within 1.5x of that bound, memory flat, and a re-sync with nothing changed reading
one page (per pass). Each run starts from an empty database; the figures are per run and the
median. ``--trace-memory`` adds one untimed run under tracemalloc (peak Python allocations).

Usage:  .venv/bin/python bench/bench_etsy.py [--receipts 5000] [--per-second 10] [--runs 3]
                                             [--trace-memory] [--profile]
        DATABASE_URL=postgres://... to bench on PostgreSQL (default: a temp SQLite file).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
SHOP_ID = 1001


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class RssSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.samples.append(rss_mib())


def serve_fake(pipe: multiprocessing.connection.Connection, receipts: int, per_second: int) -> None:
    """The fake Etsy's process: serve, and answer the bench's questions about what it served."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from orders.etsy.fake import FakeEtsy, generate_receipts

    with FakeEtsy(per_second=per_second) as fake:
        fake.add_shop(shop_id=SHOP_ID)
        fake.put_receipts(SHOP_ID, generate_receipts(receipts))
        pipe.send((fake.url, fake.connect_url, fake.keystring, fake.shared_secret))
        while True:
            command, since = pipe.recv()
            if command == "stop":
                return
            with fake._lock:
                seen = list(fake.requests)
            pages = len(fake.receipt_pages_served(since=since))
            limited = sum(1 for s in seen[since:] if s.status == 429)
            pipe.send((len(seen), pages, limited, time.process_time()))


class FakeProcess:
    def __init__(self, receipts: int, per_second: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(
            target=serve_fake, args=(child, receipts, per_second), daemon=True
        )
        self.process.start()
        self.url, self.connect_url, self.keystring, self.shared_secret = self.pipe.recv()

    def stats(self, since: int = 0) -> tuple[int, int, int, float]:
        """(requests so far, receipt pages served since, answered 429 since, the fake's CPU s)."""
        self.pipe.send(("stats", since))
        return self.pipe.recv()

    def stop(self) -> None:
        self.pipe.send(("stop", 0))
        self.process.join(timeout=10)


@dataclass
class Run:
    wall: float
    cpu: float
    fake_cpu: float
    orders: int
    items: int
    complete: bool
    pages: int
    requests: int
    limited: int
    rss_start: float
    rss_peak: float
    resync_pages: int
    resync_requests: int
    resync_written: int
    resync_wall: float
    traced_peak: float = float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=5000)
    parser.add_argument("--per-second", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--trace-memory", action="store_true", help="one more run, tracemalloc")
    parser.add_argument("--profile", action="store_true", help="pyinstrument the first sync")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-etsy-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{work / 'bench.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "j3d.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # As in production: with DEBUG, Django keeps every query and, on SQLite, quotes each
    # parameter again in a second query, which doubles the cost of a large INSERT.
    os.environ["DEBUG"] = "False"
    fake = FakeProcess(args.receipts, args.per_second)
    import django

    django.setup()
    import httpx
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone

    from orders.etsy.client import EtsyClient, authorize_url, pkce_challenge, pkce_verifier
    from orders.models import EtsyConnection, Order, OrderItem
    from orders.services.etsy import etsy_sync_orders

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench-etsy")
    settings.ETSY_KEYSTRING, settings.ETSY_SHARED_SECRET = fake.keystring, fake.shared_secret
    settings.ETSY_API_URL, settings.ETSY_CONNECT_URL = fake.url, fake.connect_url

    verifier, redirect = pkce_verifier(), "http://127.0.0.1/etsy/callback"
    url = authorize_url(
        fake.connect_url,
        client_id=fake.keystring,
        redirect_uri=redirect,
        scopes=["transactions_r", "shops_r"],
        state="bench",
        code_challenge=pkce_challenge(verifier),
    )
    code = httpx.URL(httpx.get(url).headers["location"]).params["code"]
    with EtsyClient(
        api_url=fake.url, keystring=fake.keystring, shared_secret=fake.shared_secret
    ) as client:
        tokens = client.exchange_code(code=code, code_verifier=verifier, redirect_uri=redirect)

    def fresh_start() -> None:
        Order.objects.filter(user=user).delete()
        EtsyConnection.objects.filter(user=user).delete()
        EtsyConnection.objects.create(
            user=user,
            etsy_user_id=tokens.etsy_user_id,
            shop_id=SHOP_ID,
            shop_name="Bench",
            scopes="transactions_r shops_r",
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            access_expires_at=timezone.now() + timezone.timedelta(seconds=tokens.expires_in),
            connected_at=timezone.now(),
        )
        time.sleep(1.1)  # earlier requests leave the per-second window

    def one_run(*, profile: bool = False, trace: bool = False) -> Run:
        fresh_start()
        sampler = RssSampler()
        rss_start = rss_mib()
        sampler.start()
        seen, _, _, fake_cpu_before = fake.stats()
        if trace:
            import tracemalloc

            tracemalloc.start()
        started, cpu = time.monotonic(), time.process_time()
        if profile:
            from pyinstrument import Profiler

            with Profiler(interval=0.001) as profiler:
                first = etsy_sync_orders(user=user)
            print(profiler.output_text(unicode=True))
        else:
            first = etsy_sync_orders(user=user)
        wall, cpu = time.monotonic() - started, time.process_time() - cpu
        traced = float("nan")
        if trace:
            traced = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        sampler.done.set()
        sampler.join()
        total, pages, limited, fake_cpu_after = fake.stats(seen)
        started = time.monotonic()
        again = etsy_sync_orders(user=user)
        resync_wall = time.monotonic() - started
        resync_pages = fake.stats(total)[1]
        return Run(
            wall=wall,
            cpu=cpu,
            fake_cpu=fake_cpu_after - fake_cpu_before,
            orders=first.created,
            items=OrderItem.objects.filter(order__user=user).count(),
            complete=first.complete,
            pages=pages,
            requests=first.requests,
            limited=limited,
            rss_start=rss_start,
            rss_peak=max(sampler.samples, default=rss_mib()),
            resync_pages=resync_pages,
            resync_requests=again.requests,
            resync_written=again.created + again.updated,
            resync_wall=resync_wall,
            traced_peak=traced,
        )

    try:
        runs = [one_run(profile=args.profile and n == 0) for n in range(args.runs)]
        traced = one_run(trace=True) if args.trace_memory else None
    finally:
        fake.stop()

    bound = args.receipts / 100 / args.per_second
    load = os.getloadavg()[0]
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} cores")
    for n, run in enumerate(runs, 1):
        print(
            f"run {n}: {run.orders} orders, {run.items} items, complete={run.complete}, "
            f"{run.pages} receipt pages, {run.requests} requests, {run.limited} answered 429; "
            f"{run.wall:.2f} s wall ({run.wall / bound:.2f}x the bound), {run.cpu:.2f} CPU s "
            f"(the fake's: {run.fake_cpu:.2f}); "
            f"RSS {run.rss_start:.0f} -> peak {run.rss_peak:.0f} MiB; re-sync: "
            f"{run.resync_pages} receipt page(s), {run.resync_requests} requests, "
            f"{run.resync_written} orders written, {run.resync_wall:.2f} s"
        )
    wall = statistics.median(r.wall for r in runs)
    cpu = statistics.median(r.cpu for r in runs)
    print(
        f"median of {len(runs)}: {wall:.2f} s wall against the rate-limit bound {bound:.1f} s "
        f"({args.receipts // 100} pages at {args.per_second}/s): {wall / bound:.2f}x (bar: 1.5x); "
        f"{cpu:.2f} CPU s in the syncing process (the fake Etsy runs in its own)"
    )
    print(
        f"RSS growth during a sync (peak - start), median: "
        f"{statistics.median(r.rss_peak - r.rss_start for r in runs):.1f} MiB"
    )
    if traced is not None:
        print(
            f"tracemalloc peak during a sync of {args.receipts} receipts: "
            f"{traced.traced_peak:.1f} MiB (untimed run)"
        )


if __name__ == "__main__":
    main()

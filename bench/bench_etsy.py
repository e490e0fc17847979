"""Bench of the Etsy order sync: 5,000 receipts from the fake Etsy at 10 requests/s.

The fake (orders/etsy/fake.py) serves real HTTP on loopback with Etsy's per-second limit set to
10, so the sync's floor is the rate limit: 5,000 receipts are 50 pages of 100, 5 s at 10/s. The
bar (issue #10): the first sync within 1.5x of that bound, memory flat while it runs (RSS sampled
every 50 ms), and a re-sync with nothing changed reading one page (per pass).

Usage:  .venv/bin/python bench/bench_etsy.py [--receipts 5000] [--per-second 10]
        DATABASE_URL=postgres://... to bench on PostgreSQL (default: a temp SQLite file).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class RssSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self.done = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        while not self.done.wait(0.05):
            self.samples.append((time.monotonic() - start, rss_mib()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=5000)
    parser.add_argument("--per-second", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="cProfile the first sync")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-etsy-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{work / 'bench.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "j3d.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from orders.etsy.client import EtsyClient, authorize_url, pkce_challenge, pkce_verifier
    from orders.etsy.fake import FakeEtsy, generate_receipts
    from orders.models import EtsyConnection, Order, OrderItem
    from orders.services.etsy import etsy_sync_orders

    call_command("migrate", verbosity=0)
    Order.objects.all().delete()
    EtsyConnection.objects.all().delete()
    user, _ = get_user_model().objects.get_or_create(username="bench-etsy")

    with FakeEtsy(per_second=args.per_second) as fake:
        fake.add_shop(shop_id=1001)
        fake.put_receipts(1001, generate_receipts(args.receipts))
        settings.ETSY_KEYSTRING, settings.ETSY_SHARED_SECRET = fake.keystring, fake.shared_secret
        settings.ETSY_API_URL, settings.ETSY_CONNECT_URL = fake.url, fake.connect_url

        import httpx
        from django.utils import timezone

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
        EtsyConnection.objects.create(
            user=user,
            etsy_user_id=tokens.etsy_user_id,
            shop_id=1001,
            shop_name="Bench",
            scopes="transactions_r shops_r",
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            access_expires_at=timezone.now() + timezone.timedelta(seconds=tokens.expires_in),
            connected_at=timezone.now(),
        )
        time.sleep(1.1)  # the token exchange's requests leave the per-second window

        sampler = RssSampler()
        sampler.start()
        seen = len(fake.requests)
        started, cpu = time.monotonic(), time.process_time()
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            first = profiler.runcall(etsy_sync_orders, user=user)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        else:
            first = etsy_sync_orders(user=user)
        took, cpu = time.monotonic() - started, time.process_time() - cpu
        sampler.done.set()
        sampler.join()
        pages = len(fake.receipt_pages_served(since=seen))
        limited = sum(1 for s in fake.requests[seen:] if s.status == 429)

        seen = len(fake.requests)
        started = time.monotonic()
        again = etsy_sync_orders(user=user)
        resync = time.monotonic() - started
        resync_pages = len(fake.receipt_pages_served(since=seen))

    bound = args.receipts / 100 / args.per_second
    rss = [value for _, value in sampler.samples]
    early = rss[len(rss) // 10] if rss else float("nan")
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
    print(
        f"first sync: {first.created} orders, {OrderItem.objects.count()} items, "
        f"complete={first.complete}, {pages} receipt pages, {first.requests} requests, "
        f"{limited} answered 429"
    )
    print(
        f"first sync took {took:.2f} s; rate-limit bound {bound:.1f} s "
        f"({args.receipts // 100} pages at {args.per_second}/s): {took / bound:.2f}x (bar: 1.5x); "
        f"{cpu:.2f} CPU s in this process (the fake Etsy's threads included)"
    )
    print(
        f"RSS during the sync: {early:.1f} MiB at 10% of the run, {rss[-1]:.1f} MiB at the end, "
        f"peak {max(rss):.1f} MiB ({len(rss)} samples)"
    )
    print(
        f"re-sync with nothing changed: {resync_pages} receipt page(s) ({again.requests} "
        f"requests, one per pass), {again.created + again.updated} orders written, "
        f"{resync:.2f} s"
    )


if __name__ == "__main__":
    main()

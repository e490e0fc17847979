"""Bench of notifications on the embedded defaults (SQLite, django-q2's ORM broker).

1. Latency: a simulated printer's FAILED report -> the signed webhook at a receiver, through the
   real path: TLS Mosquitto -> ``run_printer_link`` (a process) -> the event row -> the q2 cluster
   (a process) -> the notifications subscriber -> the delivery task -> the receiver (here). Each
   round starts a "print" on the simulator, waits until the link has stored it as running, then
   fails it and times the webhook's arrival. Bar: p50 < 1 s, p99 < 3 s.
2. Fan-out: 1,000 events published at once for 20 owners (each with a webhook and an Apprise
   JSON channel) -> every delivery arrives exactly once (counted by webhook-id / delivery id),
   none lost, none doubled; deliveries per second.

Usage:  .venv/bin/python bench/bench_notify.py [--rounds 30] [--events 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ACCESS_CODE = "12345678"


class Receiver:
    """A loopback HTTP server that records (arrival time, path, headers, body) of every POST."""

    def __init__(self) -> None:
        self.hits: list[tuple[float, str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.hits.append((time.time(), self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def count(self, path_prefix: str = "") -> int:
        with self.lock:
            return sum(1 for hit in self.hits if hit[1].startswith(path_prefix))

    def failures(self) -> list[float]:
        """Arrival times of the print.failed webhooks (a failure also raises printer.hms)."""
        with self.lock:
            return [t for t, path, _, body in self.hits if path == "/failed" and _is_failure(body)]

    def close(self) -> None:
        self.server.shutdown()


def _is_failure(body: bytes) -> bool:
    return json.loads(body).get("type") == "print.failed"


def _django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "j3d.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["NOTIFICATIONS_ALLOW_PRIVATE_TARGETS"] = "True"
    import django

    django.setup()


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.01)


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def latency(args: argparse.Namespace, env: dict[str, str], receiver: Receiver) -> list[float]:
    from django.contrib.auth import get_user_model

    from j3d.lib.mosquitto import MosquittoBroker
    from notifications.models import PrintNotification
    from printers.bambu.simulator import SimulatedPrinter
    from printers.models import PrinterStatus
    from printers.services.printers import printer_create

    user = get_user_model().objects.create_user("bench", "bench@example.com", "bench-pass-1")
    with MosquittoBroker(ACCESS_CODE) as broker:
        sim = SimulatedPrinter(
            "BENCHNOTIFY01",
            port=broker.port,
            access_code=ACCESS_CODE,
            ca_pem=broker.ca_pem,
            ftps=False,
            delta_interval=5.0,
        )
        sim.start()
        printer = printer_create(
            user=user,
            name="Bench X1C",
            model="X1C",
            serial=sim.serial,
            host="127.0.0.1",
            mqtt_port=broker.port,
            access_code=ACCESS_CODE,
        )
        PrintNotification.objects.create(
            user=user,
            printer=printer,
            webhook_url=f"http://127.0.0.1:{receiver.port}/failed",
            email_enabled=False,
            notify_print_start=False,
        )
        link = _spawn(["run_printer_link"], env)
        cluster = _spawn(["qcluster"], env)
        samples: list[float] = []
        try:
            state = PrinterStatus.objects.filter(printer=printer).values_list("state", flat=True)
            _wait(lambda: state.first() not in (None, "unknown", "offline"), 60, "link online")
            for n in range(args.rounds):
                sim.set_fields(
                    gcode_state="RUNNING",
                    print_error=0,
                    hms=[],
                    task_id=str(5000 + n),
                    subtask_id=str(6000 + n),
                    subtask_name=f"bench {n}",
                )
                _wait(lambda: state.first() == "running", 30, "running stored")
                before = len(receiver.failures())
                started = time.time()
                sim.fail_job()
                _wait(lambda b=before: len(receiver.failures()) > b, 30, "webhook arrival")
                samples.append(receiver.failures()[-1] - started)
        finally:
            for process in (link, cluster):
                process.terminate()
            for process in (link, cluster):
                process.wait(20)
            sim.stop()
    return samples


def fan_out(args: argparse.Namespace, env: dict[str, str], receiver: Receiver) -> None:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from j3d import events
    from notifications.models import AppriseChannel, Delivery, PrintNotification
    from printers.services.printers import printer_create

    owners = []
    for n in range(20):
        user = get_user_model().objects.create_user(f"fan{n}", "", "bench-pass-1")
        printer = printer_create(
            user=user,
            name=f"Fan {n}",
            model="P1S",
            serial=f"FAN{n:05d}",
            host="127.0.0.1",
            access_code=ACCESS_CODE,
            enabled=False,  # no link: only the notifications are benched
        )
        PrintNotification.objects.create(
            user=user,
            printer=printer,
            webhook_url=f"http://127.0.0.1:{receiver.port}/fan/webhook",
            email_enabled=False,
        )
        AppriseChannel.objects.create(
            user=user, name="json", url=f"json://127.0.0.1:{receiver.port}/fan/apprise"
        )
        owners.append((user, printer))
    cluster = _spawn(["qcluster"], env)
    expected = 2 * args.events
    try:
        time.sleep(2)  # the cluster's workers start
        started = time.time()
        with transaction.atomic():
            for n in range(args.events):
                user, printer = owners[n % len(owners)]
                events.publish(
                    events.PrintFailed(
                        user_id=user.pk, printer_id=printer.pk, reason=f"bench {n}", job_name="x"
                    )
                )
        _wait(lambda: receiver.count("/fan/") >= expected, 600, "every delivery")
        elapsed = time.time() - started
        time.sleep(3)  # a doubled delivery would arrive now
    finally:
        cluster.terminate()
        cluster.wait(30)
    with receiver.lock:
        hits = [hit for hit in receiver.hits if hit[1].startswith("/fan/")]
    webhook_ids = Counter(hit[2].get("webhook-id") for hit in hits if hit[1] == "/fan/webhook")
    apprise_bodies = Counter(hit[3] for hit in hits if hit[1] == "/fan/apprise")
    doubled = sum(c - 1 for c in webhook_ids.values() if c > 1)
    doubled += sum(c - 1 for c in apprise_bodies.values() if c > 1)
    fan_out_rows = Delivery.objects.filter(user__username__startswith="fan", event__isnull=False)
    statuses = Counter(fan_out_rows.values_list("status", flat=True))
    print(f"\nfan-out: {args.events} events x 2 channels = {expected} deliveries expected")
    print(f"  received {len(hits)} ({len(webhook_ids)} distinct webhook ids), doubled {doubled}")
    print(f"  delivery rows: {dict(statuses)}")
    print(f"  {len(hits) / elapsed:.0f} deliveries/s ({elapsed:.1f} s from publish to last)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/bench.sqlite3"
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "LOG_LEVEL": "WARNING",
            "NOTIFICATIONS_ALLOW_PRIVATE_TARGETS": "True",
            "Q_WORKERS": os.environ.get("Q_WORKERS", "2"),
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        _django(db_url)
        receiver = Receiver()
        try:
            samples = latency(args, env, receiver)
            print(f"FAILED report -> signed webhook, {len(samples)} rounds (SQLite, ORM broker):")
            print(
                f"  p50 {statistics.median(samples) * 1000:.0f} ms, "
                f"p99 {_percentile(samples, 99) * 1000:.0f} ms, "
                f"max {max(samples) * 1000:.0f} ms"
            )
            fan_out(args, env, receiver)
        finally:
            receiver.close()


if __name__ == "__main__":
    main()

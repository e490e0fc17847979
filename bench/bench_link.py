"""End-to-end bench of the printer link: one link process keeps N simulated printers live.

Three processes, so the link's CPU is measured honestly:

- this one: starts a throwaway TLS Mosquitto, prepares a database with N printers, samples the
  link process's CPU and RSS from /proc, and prints the figures;
- ``--role sims``: N ``SimulatedPrinter`` (one SimLoop thread), each publishing a delta every
  second (temperatures and Wi-Fi wobble: nothing a person would notice) with its send time inside;
- ``--role link``: ``PrinterLink.run()`` as ``run_printer_link`` runs it, plus a hook that records
  the lag from the send time to "applied to the PrinterState" and the link's DB write counter.

Figures: lag p50/p99, the link's CPU fraction of one core, its RSS over time, and status writes
per printer per 5 s while nothing notable changes (the bar: <= 1).

Usage:  .venv/bin/python bench/bench_link.py [--printers 500] [--seconds 60]
        DATABASE_URL=postgres://... to bench on PostgreSQL (default: a temp SQLite file).
"""

from __future__ import annotations

import argparse
import array
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ACCESS_CODE = "12345678"
PREFIX = "BEN"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 8192), hard), hard))


def _django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "j3d.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---- role: the simulated printers ----------------------------------------------------------------


def run_sims(args: argparse.Namespace) -> None:
    _raise_fd_limit()
    from j3d.lib.signals import StopRequest
    from printers.bambu import simulator
    from printers.bambu.simulator import SimulatedFarm, SimulatedPrinter

    original = SimulatedPrinter._publish_delta

    def stamped(self: SimulatedPrinter) -> None:
        # The send time rides inside the delta; the link's hook reads it back.
        self._set("bench_sent_at", time.time())
        original(self)

    SimulatedPrinter._publish_delta = stamped  # type: ignore[method-assign]
    farm = SimulatedFarm(
        args.printers,
        serial_prefix=PREFIX,
        host=args.host,
        port=args.port,
        access_code=ACCESS_CODE,
        ca_path=args.ca_path,
        ftps=False,
        delta_interval=1.0,
        jitter=0.0,
        keepalive=60,
    )
    farm.start(timeout=180)
    print("sims ready", flush=True)
    StopRequest().install().wait()
    farm.stop()
    del simulator


# ---- role: the link ------------------------------------------------------------------------------


def run_link(args: argparse.Namespace) -> None:
    _raise_fd_limit()
    _django(args.db_url)
    from j3d.lib.signals import StopRequest
    from printers.link import PrinterLink

    # Flat float arrays (16 bytes a sample) so the recorder itself does not inflate the RSS.
    applied: array.array[float] = array.array("d")
    lags: array.array[float] = array.array("d")

    def on_applied(key: Any, message: dict[str, Any], applied_at: float) -> None:
        body = message.get("print")
        sent = body.get("bench_sent_at") if isinstance(body, dict) else None
        if isinstance(sent, float):
            applied.append(applied_at)
            lags.append(applied_at - sent)

    link = PrinterLink(on_applied=on_applied)
    stop = StopRequest().install()
    stats = Path(args.stats)

    def report() -> None:
        while not link.stop_event.wait(1.0):
            tmp = stats.with_suffix(".tmp")
            tmp.write_text(
                json.dumps(
                    {
                        "db_writes": link.db_writes,
                        "printers": len(link.printers),
                        "malformed": link.malformed,
                    }
                )
            )
            tmp.replace(stats)

    threading.Thread(target=report, daemon=True).start()
    link.run(until=stop)
    Path(args.lags).write_text(json.dumps(list(zip(applied, lags, strict=True))))


# ---- role: the bench itself ----------------------------------------------------------------------


def prepare_db(db_url: str, count: int, host: str, port: int) -> None:
    _django(db_url)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from printers.models import Printer, PrinterStatus

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench")
    Printer.objects.filter(user=user).delete()
    printers = Printer.objects.bulk_create(
        Printer(
            user=user,
            name=f"Bench {n}",
            model="X1C",
            serial=f"{PREFIX}{n:08d}",
            host=host,
            mqtt_port=port,
            access_code=ACCESS_CODE,
        )
        for n in range(1, count + 1)
    )
    PrinterStatus.objects.bulk_create(PrinterStatus(printer=p) for p in printers)


def online_count() -> int:
    from printers.models import PrinterStatus

    return PrinterStatus.objects.filter(online=True, printer__serial__startswith=PREFIX).count()


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["bench", "sims", "link"], default="bench")
    parser.add_argument("--printers", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--ca-path")
    parser.add_argument("--db-url")
    parser.add_argument("--stats")
    parser.add_argument("--lags")
    args = parser.parse_args()
    if args.role == "sims":
        return run_sims(args)
    if args.role == "link":
        return run_link(args)

    _raise_fd_limit()
    from j3d.lib.mosquitto import MosquittoBroker

    work = Path(tempfile.mkdtemp(prefix="bench-link-"))
    db_url = os.environ.get("DATABASE_URL") or f"sqlite:///{work / 'bench.sqlite3'}"
    me = [sys.executable, str(Path(__file__).resolve())]
    with MosquittoBroker(ACCESS_CODE) as broker:
        common = ["--host", broker.host, "--port", str(broker.port), "--printers"]
        common += [str(args.printers)]
        prepare_db(db_url, args.printers, broker.host, broker.port)
        print(f"{args.printers} printers, broker {broker.host}:{broker.port}, db {db_url}")
        sims = subprocess.Popen(
            [*me, "--role", "sims", *common, "--ca-path", str(broker.ca_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert sims.stdout is not None
        sims.stdout.readline()  # "sims ready"
        stats, lags_file = work / "stats.json", work / "lags.json"
        started = time.monotonic()
        link = subprocess.Popen(
            [*me, "--role", "link", "--db-url", db_url, "--stats", str(stats)]
            + ["--lags", str(lags_file)],
        )
        try:
            while online_count() < args.printers and time.monotonic() - started < 180:
                time.sleep(0.5)
            print(f"all online after {time.monotonic() - started:.1f} s: {online_count()}")
            time.sleep(6)  # let the first writes after connect settle
            window_start = time.time()
            cpu0, writes0 = cpu_seconds(link.pid), read_json(stats).get("db_writes", 0)
            rss: list[tuple[float, float]] = []
            t0 = time.monotonic()
            while time.monotonic() - t0 < args.seconds:
                rss.append((time.monotonic() - t0, rss_mib(link.pid)))
                time.sleep(5)
            elapsed = time.monotonic() - t0
            cpu1, writes1 = cpu_seconds(link.pid), read_json(stats).get("db_writes", 0)
            online_at_end = online_count()
        finally:
            link.send_signal(signal.SIGTERM)
            link.wait(60)
            sims.send_signal(signal.SIGTERM)
            sims.wait(60)
    lags = [lag for at, lag in json.loads(lags_file.read_text()) if at >= window_start]
    windows = elapsed / 5
    print(f"window {elapsed:.0f} s, {len(lags)} reports applied ({len(lags) / elapsed:.0f}/s)")
    print(
        f"lag publish -> PrinterState applied: p50 {pct(lags, 0.5) * 1000:.1f} ms, "
        f"p99 {pct(lags, 0.99) * 1000:.1f} ms, max {max(lags) * 1000:.1f} ms"
    )
    print(f"link CPU: {(cpu1 - cpu0) / elapsed:.3f} of one core (bar < 0.5)")
    print("link RSS MiB over time: " + ", ".join(f"{t:.0f}s={m:.0f}" for t, m in rss))
    per_printer = (writes1 - writes0) / args.printers / windows
    print(f"status writes per printer per 5 s, nothing notable changing: {per_printer:.2f} (<= 1)")
    print(f"printers online at the end: {online_at_end}/{args.printers}")
    print(f"mean lag {statistics.fmean(lags) * 1000:.1f} ms")


if __name__ == "__main__":
    main()

"""Report -> job status latency through the durable event path, with a real q2 cluster.

The whole path a printer's report takes to move a J3D job, each part a real process:

- this one: a throwaway TLS Mosquitto, a database with one printer and its jobs, and a bare MQTT
  client standing in for the printer: it publishes a report (a job starts; then it finishes,
  fails, or is cancelled on the printer) and notes the send time;
- ``manage.py run_printer_link`` (its default tick): applies the report, writes the status and the
  event row in one transaction, and on commit queues the q2 task;
- ``manage.py qcluster`` on the ORM broker: a worker claims the row and runs the subscriber that
  moves the job (``scheduling.receivers``), which stamps ``started_at``/``completed_at``.

Per transition: link = event row committed - report sent (the link's tick and write), events =
job stamped - event row committed (q2 poll, claim, subscriber), total = job stamped - report sent.
All clocks are this machine's.

Usage:  .venv/bin/python bench/bench_events.py [--jobs 60] [--tick 0.2]
        DATABASE_URL=postgres://... to bench on PostgreSQL (default: a temp SQLite file).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ACCESS_CODE = "12345678"
SERIAL = "BENCHEV00000001"
CANCELLED = 50348044  # 0300_400C: stopped on the printer
RUNOUT = 50364420  # 0300_8004: filament ran out
ENDINGS = [
    ("completed", {"gcode_state": "FINISH", "print_error": 0}),
    ("failed", {"gcode_state": "FAILED", "print_error": RUNOUT}),
    ("cancelled", {"gcode_state": "FAILED", "print_error": CANCELLED}),
]


def _django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "j3d.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def prepare_db(host: str, port: int, jobs: int) -> tuple[Any, list[Any]]:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from j3d.tests.factories import make_job
    from printers.models import Printer, PrinterStatus

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench-events")
    Printer.objects.filter(user=user).delete()
    printer = Printer.objects.create(
        user=user,
        name="Bench events",
        model="X1C",
        serial=SERIAL,
        host=host,
        mqtt_port=port,
        access_code=ACCESS_CODE,
    )
    PrinterStatus.objects.create(printer=printer)
    made = [
        make_job(
            user,
            printer,
            job_name=f"Bench {n}",
            printer_task_id=str(100_000 + 2 * n),
            printer_subtask_id=str(100_001 + 2 * n),
        )
        for n in range(jobs)
    ]
    return printer, made


def printer_client(broker: Any) -> Any:
    import paho.mqtt.client as paho

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    client.tls_set(ca_certs=str(broker.ca_path))
    client.tls_insecure_set(True)
    client.username_pw_set("bblp", ACCESS_CODE)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def report(client: Any, fields: dict[str, Any]) -> float:
    """Publish a report on the printer's topic; returns when it was handed to the broker."""
    body = {"print": {"command": "push_status", "sequence_id": "1", **fields}}
    sent = time.time()
    client.publish(f"device/{SERIAL}/report", json.dumps(body), qos=1).wait_for_publish(5)
    return sent


def wait_for(condition: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError("the job did not follow the printer in time")
        time.sleep(0.002)
    return result


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=60, help="each gives a start and an end")
    parser.add_argument("--tick", type=float, default=0.2, help="the link's tick (its default)")
    args = parser.parse_args()

    from j3d.lib.mosquitto import MosquittoBroker

    work = Path(tempfile.mkdtemp(prefix="bench-events-"))
    db_url = os.environ.get("DATABASE_URL") or f"sqlite:///{work / 'bench.sqlite3'}"
    _django(db_url)
    from django.conf import settings

    from j3d.models import Event
    from printers.models import PrinterStatus
    from scheduling.models import ScheduledPrint

    env = {**os.environ, "DATABASE_URL": db_url, "LOG_LEVEL": "WARNING"}
    manage = [sys.executable, str(ROOT / "manage.py")]
    with MosquittoBroker(ACCESS_CODE) as broker:
        printer, jobs = prepare_db(broker.host, broker.port, args.jobs)
        print(
            f"{args.jobs} jobs on one printer; db {db_url.split('://')[0]}; q2 poll "
            f"{settings.Q_CLUSTER.get('poll', 0.2)} s, {settings.Q_CLUSTER['workers']} workers; "
            f"link tick {args.tick} s"
        )
        cluster = subprocess.Popen([*manage, "qcluster"], env=env, stderr=subprocess.DEVNULL)
        link = subprocess.Popen(
            [*manage, "run_printer_link", "--tick", str(args.tick)], env=env, cwd=ROOT
        )
        client = printer_client(broker)
        samples: dict[str, list[tuple[float, float, float]]] = {}
        try:
            online = PrinterStatus.objects.filter(printer=printer, online=True)
            deadline = time.monotonic() + 60
            while not online.exists() and time.monotonic() < deadline:
                report(client, {"gcode_state": "IDLE"})  # until the link has subscribed
                time.sleep(0.5)
            time.sleep(3)  # the cluster's workers are up; the first start is not a cold one

            def measure(kind: str, job: Any, fields: dict[str, Any], stamp: str) -> None:
                ids = {"task_id": job.printer_task_id, "subtask_id": job.printer_subtask_id}
                sent = report(client, {**fields, **ids, "subtask_name": job.job_name})
                row = ScheduledPrint.objects.filter(pk=job.pk, status=kind)
                stamped = wait_for(lambda: row.values_list(stamp, flat=True).first())
                committed = (
                    Event.objects.filter(
                        type__startswith="print.", printer=printer, occurred_at__gte=_dt(sent)
                    )
                    .order_by("id")
                    .values_list("created_at", flat=True)
                    .first()
                )
                at = stamped.timestamp()
                link_s = committed.timestamp() - sent if committed else float("nan")
                samples.setdefault(kind, []).append((at - sent, link_s, at - sent - link_s))
                time.sleep(random.uniform(0.05, 0.35))  # off the tick's and the poll's phase

            for n, job in enumerate(jobs):
                measure("started", job, {"gcode_state": "RUNNING", "print_error": 0}, "started_at")
                kind, fields = ENDINGS[n % len(ENDINGS)]
                measure(kind, job, fields, "completed_at")
        finally:
            client.loop_stop()
            client.disconnect()
            for process in (link, cluster):
                process.send_signal(signal.SIGTERM)
            for process in (link, cluster):
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()

    everything = [s for rows in samples.values() for s in rows]
    print(
        f"{len(everything)} transitions ({', '.join(f'{k} {len(v)}' for k, v in samples.items())})"
    )
    for label, index in (("report -> job status", 0), ("  link", 1), ("  events", 2)):
        values = [s[index] for s in everything]
        figures = [("p50", pct(values, 0.5)), ("p95", pct(values, 0.95))]
        figures += [("p99", pct(values, 0.99)), ("max", max(values))]
        print(f"{label:<22}" + "   ".join(f"{name} {v * 1000:5.0f} ms" for name, v in figures))


def _dt(ts: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts - 0.001, tz=UTC)


if __name__ == "__main__":
    main()

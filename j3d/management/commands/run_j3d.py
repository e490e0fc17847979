"""Run the whole system in one terminal: web server, the django-q2 clusters and the printer link."""

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

# name -> (manage.py arguments, extra environment)
PROCESSES: dict[str, tuple[list[str], dict[str, str]]] = {
    "web": (["runserver", "--noreload"], {}),
    "q2 cluster": (["qcluster"], {}),
    # Uploads to printers take minutes at printer speed: their own cluster (see Q_CLUSTER).
    "q2 uploads cluster": (["qcluster"], {"Q_CLUSTER_NAME": settings.UPLOADS_CLUSTER}),
    "printer link": (["run_printer_link"], {}),
}


class Command(BaseCommand):
    help = "Run the web server, the q2 clusters and the printer link until Ctrl-C."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="web server address")

    def handle(self, *args: Any, addr: str, **options: Any) -> None:
        supervise(self.stdout, addr=addr)


def supervise(out: Any, *, addr: str) -> None:
    """Start every process, stop them all when one ends or on SIGINT/SIGTERM."""
    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name, (argv, env) in PROCESSES.items():
        extra = [addr] if name == "web" else []
        children[name] = subprocess.Popen(
            [sys.executable, "manage.py", *argv, *extra], env={**os.environ, **env}
        )
        out.write(f"started {name} (pid {children[name].pid})")
    out.write(
        f"J3D is running: http://{addr}/  (admin: http://{addr}/admin/, API docs: /api/docs/)"
    )
    try:
        while not stopping:
            ended = [name for name, child in children.items() if child.poll() is not None]
            if ended:
                out.write(f"{', '.join(ended)} stopped; shutting the rest down")
                break
            time.sleep(0.5)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        for child in children.values():
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()

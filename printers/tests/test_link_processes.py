"""Real `run_printer_link` processes sharing one farm through lease rows."""

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from printers.bambu.simulator import SimulatedFarm
from printers.models import PrinterLease, PrinterStatus
from printers.tests.fixtures_link import TEST_ACCESS_CODE, make_printer, mqtt_broker, wait_until

__all__ = ["mqtt_broker"]

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 3


def _database_url() -> str:
    """The test database, as a URL a child process can open."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _start_link(*args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "PRINTER_LEASE_SECONDS": str(LEASE_SECONDS),
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "manage.py", "run_printer_link", "--tick", "0.1", *args]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def _holders() -> Counter:
    live = PrinterLease.objects.exclude(holder="").values_list("holder", flat=True)
    return Counter(live)


@pytest.mark.django_db(transaction=True)
def test_two_link_processes_split_the_farm_and_the_survivor_takes_over(mqtt_broker, owner):
    if connection.vendor == "sqlite" and "memory" in str(connection.settings_dict["NAME"]):
        pytest.skip("needs a test database other processes can open")
    farm = SimulatedFarm(
        6,
        serial_prefix="LEASE",
        host=mqtt_broker.host,
        port=mqtt_broker.port,
        access_code=TEST_ACCESS_CODE,
        ca_pem=mqtt_broker.ca_pem,
        ftps=False,
    )
    farm.start()
    for simulator in farm:
        make_printer(owner, mqtt_broker, simulator.serial)
    capped = _start_link("--max-printers", "3")
    rest = None
    try:
        assert wait_until(lambda: sum(_holders().values()) == 3, timeout=20)
        rest = _start_link()
        assert wait_until(lambda: sorted(_holders().values()) == [3, 3], timeout=20)
        assert wait_until(
            lambda: PrinterStatus.objects.filter(online=True).count() == 6, timeout=20
        )

        capped.send_signal(signal.SIGKILL)  # dies without releasing its leases
        capped.wait(10)
        # Its leases expire, and the uncapped survivor takes every printer over.
        assert wait_until(lambda: list(_holders().values()) == [6], timeout=LEASE_SECONDS + 20)

        rest.send_signal(signal.SIGTERM)
        assert rest.wait(20) == 0
        assert _holders() == Counter()  # a clean stop releases its leases at once
    finally:
        for process in (capped, rest):
            if process is not None and process.poll() is None:
                process.kill()
        farm.stop()

"""Fixtures and helpers for the printer-link tests: two shop owners, printers pointed at the test
broker, a paho client that plays a printer, and a link whose hub runs on its own thread.

Import the fixtures into a test module with ``from printers.tests.fixtures_link import *``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest

from j3d.lib.mosquitto import MosquittoBroker
from printers.bambu.mqtt import MqttHub
from printers.link import PrinterLink
from printers.models import Printer
from printers.services.printers import printer_create

# Re-exported so test modules outside printers/tests get the broker fixtures by the star import.
from printers.tests.conftest import TEST_ACCESS_CODE, fresh_broker, mqtt_broker

SAMPLES = Path(__file__).resolve().parent.parent / "bambu" / "samples"
# Fast reconnects so broker restarts heal within a test's time budget.
FAST_HUB = {"backoff_base": 0.05, "backoff_cap": 0.5, "connect_timeout": 3.0, "keepalive": 5}

__all__ = [
    "FAST_HUB",
    "FakePrinter",
    "fresh_broker",
    "mqtt_broker",
    "link_factory",
    "load_sample_messages",
    "make_printer",
    "wait_until",
]


def load_sample_messages(path: Path) -> list[dict[str, Any]]:
    """The report messages of one shared sample file, in order (wrapper formats unwrapped)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if path.suffix == ".jsonc":
        text = re.sub(r"(?m)^\s*//.*$|\s//[^\"\n]*$", "", text)
    data = json.loads(text)
    if "pushall" in data:  # ha-bambulab MOCK files: {"pushall": {...}, "get_version": {...}}
        return [data["pushall"]] + ([data["get_version"]] if "get_version" in data else [])
    if "push_all" in data:  # ha-bambulab diagnostics dumps: the print object's fields, unwrapped
        return [{"print": {"command": "push_status", "msg": 0, **data["push_all"]}}]
    if "message" in data and "_meta" in data:  # bambu-rs fixtures: {"_meta": ..., "message": ...}
        return [data["message"]]
    return [data]


def wait_until(
    condition: Callable[[], Any], *, timeout: float = 10.0, step: Callable[[], Any] | None = None
) -> Any:
    """Poll ``condition`` (running ``step`` in between, e.g. ``link.tick``) until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        if step is not None:
            step()
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.02)


class FakePrinter:
    """A bare paho client publishing on a printer's report topic (for raw, hostile payloads)."""

    def __init__(self, broker: MosquittoBroker, serial: str) -> None:
        self.serial = serial
        self.requests: list[bytes] = []
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        self.client.tls_set(ca_certs=str(broker.ca_path))
        self.client.tls_insecure_set(True)
        self.client.username_pw_set("bblp", TEST_ACCESS_CODE)
        self.client.on_message = lambda c, u, m: self.requests.append(m.payload)
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(f"device/{serial}/request", qos=1)
        self.client.loop_start()

    def publish(self, payload: bytes | dict[str, Any]) -> None:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.client.publish(f"device/{self.serial}/report", raw, qos=1).wait_for_publish(5)

    def close(self) -> None:
        # Disconnect first: the DISCONNECT wakes the loop thread, which then ends at once, where
        # loop_stop() first would wait out the loop's one-second select timeout.
        self.client.disconnect()
        self.client.loop_stop()


def make_printer(
    user: Any,
    broker: MosquittoBroker,
    serial: str,
    *,
    access_code: str = TEST_ACCESS_CODE,
    **kw: Any,
) -> Printer:
    return printer_create(
        user=user,
        name=kw.pop("name", f"Printer {serial}"),
        model=kw.pop("model", "X1C"),
        serial=serial,
        host=broker.host,
        mqtt_port=broker.port,
        access_code=access_code,
        **kw,
    )


@pytest.fixture
def link_factory() -> Iterator[Callable[..., PrinterLink]]:
    """Build links whose hub runs on a thread (fast reconnects); all are shut down afterwards."""
    made: list[PrinterLink] = []

    def make(**kwargs: Any) -> PrinterLink:
        kwargs.setdefault("hub_factory", lambda listener: MqttHub(listener, **FAST_HUB))
        kwargs.setdefault("reconcile_every", 0.5)
        link = PrinterLink(**kwargs)
        link.start_hub()
        made.append(link)
        return link

    yield make
    for link in made:
        if not link.stop_event.is_set():
            link.shutdown()
    for thread in threading.enumerate():
        if thread.name == "mqtt-hub":
            thread.join(timeout=2)

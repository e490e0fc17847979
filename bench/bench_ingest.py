"""Report-ingest throughput: J3D's report parser against three PyPI peers, same bytes, one core.

Run:  .venv/bin/pip install -r bench/requirements.txt && .venv/bin/python bench/bench_ingest.py

Every implementation is fed the same list of MQTT payloads (bytes, as paho hands them over),
in one process, one after the other, with no network. What each one does per message:

- J3D: ``decode_payload`` (orjson) + ``PrinterState.apply`` (deep merge, section change
  tracking) + ``PrinterState.snapshot()`` (the typed snapshot, recomputing changed sections).
  A second line shows parse + merge alone.
- bambulabs-api (``PrinterMQTTClient._on_message``): ``json.loads`` + a one-level
  ``dict |=`` merge per category + a firmware-version lookup. No typed state: its getters read
  the raw dict on demand, so a snapshot is not part of its per-message cost.
- bambu-mqtt-comms (``BambuMQTTClient._on_message``): ``json.loads`` of the decoded text + a
  recursive dict merge onto a deep copy of the last full report, under a lock. No typed state.
- bambu-printer-manager (``BambuPrinter._on_message``, fed ``payload.decode()`` as its paho
  callback does): ``json.loads`` + its field handlers + ``BambuState.fromJson`` (a full typed
  state per message). Its job-start hook would list the SD card over FTPS on a RUNNING report,
  so the bench marks that lookup as already attempted; its cache writes go to a temp dir.

Deltas: a print in progress on an X1 (the MOCK-MISC full report is applied first), mixing the
single-field temperature and Wi-Fi deltas seen from P1S printers, progress/layer deltas, and an
occasional AMS scalar delta (tray_now/tray_pre/tray_tar/version), all with changing values.
Full reports: two variants of MOCK-MISC (temperatures, progress, a tray's remain and the HMS
list differ) alternated, so every report really changes the state.
"""

from __future__ import annotations

import copy
import gc
import json
import logging
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from printers.bambu.report import PrinterState, decode_payload  # noqa: E402

SAMPLE = ROOT / "printers/bambu/samples/x1_pushall_running_hms_amsht_ha-bambulab-MOCK-MISC.json"
DELTA_COUNT = 20_000
FULL_COUNT = 2_000
REPEATS = 5

Feed = Callable[[bytes], None]


def dumps(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def full_reports() -> list[bytes]:
    base = json.loads(SAMPLE.read_text())["pushall"]
    other = copy.deepcopy(base)
    body = other["print"]
    body.update(nozzle_temper=221.0, bed_temper=59.5, mc_percent=23, layer_num=3, hms=[])
    body["ams"]["ams"][0]["tray"][0]["remain"] = 64
    return [dumps(base), dumps(other)]


def deltas(count: int) -> list[bytes]:
    """A realistic delta stream during a print (about one message per second per printer)."""
    out = []
    for i in range(count):
        fields: dict[str, Any]
        if i % 50 == 49:
            fields = {"ams": {"tray_now": "128", "tray_pre": "128", "tray_tar": "128"}}
            fields["ams"]["version"] = 61 + i
        elif i % 10 == 9:
            fields = {"mc_percent": 22 + i // 1000, "mc_remaining_time": 163 - i // 100}
            fields["layer_num"] = 2 + i // 500
        elif i % 3 == 2:
            fields = {"wifi_signal": f"-{44 + i % 5}dBm"}
        elif i % 2:
            fields = {"nozzle_temper": 219.0 + (i % 7) / 8}
        else:
            fields = {"bed_temper": 60.0 - (i % 5) / 16, "nozzle_temper": 219.5}
        fields.update(command="push_status", msg=1, sequence_id=str(4000 + i))
        out.append(dumps({"print": fields}))
    return out


def j3d_feed(snapshot: bool) -> Feed:
    state = PrinterState(model="X1")

    def feed(payload: bytes) -> None:
        state.apply(decode_payload(payload))
        if snapshot:
            state.snapshot()

    return feed


def bambulabs_api_feed() -> Feed:
    from bambulabs_api.mqtt_client import PrinterMQTTClient

    client = PrinterMQTTClient("127.0.0.1", "00000000", "BENCH")
    message = types.SimpleNamespace(payload=b"", topic="device/BENCH/report")

    def feed(payload: bytes) -> None:
        message.payload = payload
        client._on_message(None, None, message)

    return feed


def bambu_mqtt_comms_feed() -> Feed:
    from bambu_mqtt_comms.client import BambuMQTTClient
    from bambu_mqtt_comms.config import PrinterConfig

    client = BambuMQTTClient(PrinterConfig("127.0.0.1", "BENCH", "00000000"))
    message = types.SimpleNamespace(payload=b"", topic="device/BENCH/report")

    def feed(payload: bytes) -> None:
        message.payload = payload
        client._on_message(None, None, message)

    return feed


def bambu_printer_manager_feed() -> Feed:
    from bpm.bambuconfig import BambuConfig
    from bpm.bambuprinter import BambuPrinter

    cache = Path(tempfile.mkdtemp(prefix="bench-bpm-"))
    printer = BambuPrinter(BambuConfig("127.0.0.1", "00000000", "BENCH", bpm_cache_path=cache))
    printer._active_job_info.project_info_fetch_attempted = True  # no FTPS lookup

    def feed(payload: bytes) -> None:
        printer._on_message(payload.decode("utf-8"))

    return feed


def rate(make: Callable[[], Feed], prime: list[bytes], stream: list[bytes]) -> float:
    """Best messages/second over REPEATS runs of ``stream``, after priming a fresh instance."""
    feed = make()
    for payload in prime:
        feed(payload)
    best = 0.0
    for _ in range(REPEATS):
        gc.collect()
        start = time.perf_counter()
        for payload in stream:
            feed(payload)
        best = max(best, len(stream) / (time.perf_counter() - start))
    return best


IMPLEMENTATIONS: list[tuple[str, Callable[[], Feed]]] = [
    ("J3D parse+merge+snapshot", lambda: j3d_feed(snapshot=True)),
    ("J3D parse+merge only", lambda: j3d_feed(snapshot=False)),
    ("bambulabs-api 2.6.6", bambulabs_api_feed),
    ("bambu-mqtt-comms 0.1.0", bambu_mqtt_comms_feed),
    ("bambu-printer-manager 1.0.3", bambu_printer_manager_feed),
]


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("bpm").setLevel(logging.ERROR)  # it logs every unknown message
    fulls = full_reports()
    delta_stream = deltas(DELTA_COUNT)
    full_stream = [fulls[i % 2] for i in range(FULL_COUNT)]
    print(f"python {sys.version.split()[0]}, {DELTA_COUNT} deltas, {FULL_COUNT} full reports")
    print(f"{'implementation':32} {'deltas/s':>12} {'us/delta':>9} {'full/s':>10} {'us/full':>9}")
    results = {}
    for name, make in IMPLEMENTATIONS:
        try:
            make()
        except ImportError as error:
            print(
                f"{name:32} skipped: cannot import ({error}); pip install -r bench/requirements.txt"
            )
            continue
        delta_rate = rate(make, fulls[:1], delta_stream)
        full_rate = rate(make, fulls[:1], full_stream)
        results[name] = delta_rate
        print(
            f"{name:32} {delta_rate:12,.0f} {1e6 / delta_rate:9.2f}"
            f" {full_rate:10,.0f} {1e6 / full_rate:9.1f}"
        )
    peers = {name: r for name, r in results.items() if not name.startswith("J3D")}
    if peers:
        fastest = max(peers, key=peers.get)
        ours = results["J3D parse+merge+snapshot"]
        print(f"J3D (with snapshot) / fastest peer ({fastest}): {ours / peers[fastest]:.2f}x")


if __name__ == "__main__":
    main()

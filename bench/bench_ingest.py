"""Report-ingest throughput: J3D's report parser against three PyPI peers, same bytes, one core.

Run:  .venv/bin/pip install -r bench/requirements.txt && .venv/bin/python bench/bench_ingest.py

Every implementation is fed the same list of MQTT payloads (bytes, as paho hands them over),
in one process, one after the other, with no network. Rates are per CPU second of this process
(time.process_time), so other work on a shared machine does not skew the comparison.
What each one does per message:

- J3D: ``decode_payload`` (orjson) + ``PrinterState.apply`` (deep merge, section change
  tracking) + ``PrinterState.snapshot()`` (a new typed snapshot after every message, recomputing
  the sections and fields that message changed). These are the calls the live link makes
  (``printers/link.py``; it takes the snapshot once per coalesced write, so per message it does
  less than this). A second line shows parse + merge alone.
- bambulabs-api (``PrinterMQTTClient._on_message``): ``json.loads`` + a one-level
  ``dict |=`` merge per category + a firmware-version lookup. No typed state: its getters read
  the raw dict on demand, so a snapshot is not part of its per-message cost.
- bambu-mqtt-comms (``BambuMQTTClient._on_message``): ``json.loads`` of the decoded text + a
  recursive dict merge onto a deep copy of the last full report, under a lock. No typed state.
- bambu-printer-manager (``BambuPrinter._on_message``, fed ``payload.decode()`` as its paho
  callback does): ``json.loads`` + its field handlers + ``BambuState.fromJson`` (a full typed
  state per message). Its job-start hook would list the SD card over FTPS on a RUNNING report,
  so the bench marks that lookup as already attempted; its cache writes go to a temp dir.

Three streams:

- X1 deltas: a print in progress on an X1 (the MOCK-MISC full report is applied first), mixing the
  single-field temperature and Wi-Fi deltas seen from P1S printers, progress/layer deltas, and an
  occasional AMS scalar delta (tray_now/tray_pre/tray_tar/version), all with changing values.
- X1 full reports: two variants of MOCK-MISC (temperatures, progress, a tray's remain and the HMS
  list differ) alternated, so every report really changes the state.
- Mixed farm: six printers round-robin (A1, H2D, P1P, two X1, X1C, from the real samples), each
  starting with its full report, then one- to three-field deltas of the fields that printer really
  sends (the H2D's packed ``device`` temperatures and ``3D`` layers too), with changing values,
  their keys in the order the printer's full report has them (as firmware writes them).
  Every implementation keeps one instance per printer and routes each message to it.
"""

from __future__ import annotations

import copy
import gc
import json
import logging
import random
import re
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

SAMPLES = ROOT / "printers/bambu/samples"
SAMPLE = SAMPLES / "x1_pushall_running_hms_amsht_ha-bambulab-MOCK-MISC.json"
DELTA_COUNT = 20_000
FULL_COUNT = 2_000
MIXED_COUNT = 24_000
REPEATS = 5
# The mixed farm: (key, J3D model, sample file holding its full report).
FARM = [
    ("a1", "A1", "a1_pushall_idle_amslite_ha-bambulab-MOCK-A1.json"),
    ("h2d", "H2D", "h2d_pushall_running_ha-bambulab-MOCK-H2D.json"),
    ("p1p", "P1P", "p1p_pushall_failed_ha-bambulab-P1P.json"),
    ("x1-running", "X1", "x1_pushall_running_hms_amsht_ha-bambulab-MOCK-MISC.json"),
    ("x1-idle", "X1", "x1_pushall_idle_openbambuapi-mqtt-md.jsonc"),
    ("x1c", "X1C", "x1c_pushall_finish_multiams_ha-bambulab-MOCK-X1CMULTIAMS.json"),
]
# Fields printers send in deltas (P1S captures, and what changes during a print).
DELTA_FIELDS = (
    "nozzle_temper",
    "bed_temper",
    "wifi_signal",
    "mc_percent",
    "mc_remaining_time",
    "layer_num",
    "chamber_temper",
    "cooling_fan_speed",
    "spd_mag",
)

Feed = Callable[[bytes], None]
Route = Callable[[str, bytes], None]


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


def farm_full_report(name: str) -> dict[str, Any]:
    """The full report (``print`` wrapped, ``msg`` 0) of one shared sample file."""
    text = (SAMPLES / name).read_text()
    if name.endswith(".jsonc"):
        text = re.sub(r'^((?:[^"\n]|"(?:[^"\\\n]|\\.)*")*?)\s*//.*$', r"\1", text, flags=re.M)
    data = json.loads(text)
    if "pushall" in data:
        return data["pushall"]
    if "push_all" in data:
        return {"print": {"command": "push_status", "msg": 0, **data["push_all"]}}
    return data


def _farm_delta(rng: random.Random, full: dict[str, Any], i: int) -> dict[str, Any]:
    """One to three of the fields this printer's full report has, with new values."""
    body = full["print"]
    fields: dict[str, Any] = {}
    candidates = [key for key in DELTA_FIELDS if key in body]
    device = body.get("device") or {}
    if "bed" in device and "extruder" in device:  # H2D and X1C firmware: packed temperatures
        candidates += ["device.bed", "device.extruder"]
    if "3D" in body:
        candidates.append("3D")
    for key in rng.sample(candidates, rng.randint(1, min(3, len(candidates)))):
        if key == "wifi_signal":
            fields[key] = f"-{rng.randint(30, 70)}dBm"
        elif key == "device.bed":
            fields.setdefault("device", {})["bed"] = {
                "info": {"temp": 60 << 16 | rng.randint(55, 61)}
            }
        elif key == "device.extruder":
            temp = 220 << 16 | rng.randint(215, 221)
            extruder = {"info": [{"id": 0, "temp": temp}]}
            fields.setdefault("device", {})["extruder"] = extruder
        elif key == "3D":
            fields["3D"] = {"layer_num": 1 + i // 200}
        elif key in ("layer_num", "mc_percent", "mc_remaining_time"):
            fields[key] = 1 + (i // 200) % 100
        elif isinstance(body[key], str):
            fields[key] = str(rng.randint(0, 15))
        else:
            fields[key] = round(rng.uniform(20.0, 250.0), 2)
    # Firmware writes a delta's keys in the order its full report has them.
    order = {key: index for index, key in enumerate(body)}
    fields = dict(sorted(fields.items(), key=lambda item: order[item[0]]))
    fields.update(command="push_status", msg=1, sequence_id=str(i))
    return {"print": fields}


def farm_stream(count: int) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """(prime, stream): each printer's full report, then ``count`` deltas round-robin."""
    rng = random.Random(7)
    fulls = {key: farm_full_report(name) for key, _, name in FARM}
    prime = [(key, dumps(fulls[key])) for key, _, _ in FARM]
    stream = []
    for i in range(count):
        key = FARM[i % len(FARM)][0]
        stream.append((key, dumps(_farm_delta(rng, fulls[key], i))))
    return prime, stream


def routed(make: Callable[[str], Feed]) -> Route:
    """One instance per farm printer; each message goes to its printer's instance."""
    feeds = {key: make(model) for key, model, _ in FARM}

    def route(key: str, payload: bytes) -> None:
        feeds[key](payload)

    return route


def j3d_feed(snapshot: bool, model: str = "X1") -> Feed:
    state = PrinterState(model=model)

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
        start = time.process_time()
        for payload in stream:
            feed(payload)
        best = max(best, len(stream) / (time.process_time() - start))
    return best


def farm_rate(make: Callable[[], Route], prime: list[tuple[str, bytes]], stream: list) -> float:
    """Best messages/second over REPEATS runs of the mixed farm stream."""
    route = make()
    for key, payload in prime:
        route(key, payload)
    best = 0.0
    for _ in range(REPEATS):
        gc.collect()
        start = time.process_time()
        for key, payload in stream:
            route(key, payload)
        best = max(best, len(stream) / (time.process_time() - start))
    return best


# (name, single-printer feed, per-model feed for the farm)
IMPLEMENTATIONS: list[tuple[str, Callable[[], Feed], Callable[[str], Feed]]] = [
    (
        "J3D parse+merge+snapshot",
        lambda: j3d_feed(snapshot=True),
        lambda model: j3d_feed(snapshot=True, model=model),
    ),
    (
        "J3D parse+merge only",
        lambda: j3d_feed(snapshot=False),
        lambda model: j3d_feed(snapshot=False, model=model),
    ),
    ("bambulabs-api 2.6.6", bambulabs_api_feed, lambda model: bambulabs_api_feed()),
    ("bambu-mqtt-comms 0.1.0", bambu_mqtt_comms_feed, lambda model: bambu_mqtt_comms_feed()),
    (
        "bambu-printer-manager 1.0.3",
        bambu_printer_manager_feed,
        lambda model: bambu_printer_manager_feed(),
    ),
]


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("bpm").setLevel(logging.ERROR)  # it logs every unknown message
    fulls = full_reports()
    delta_stream = deltas(DELTA_COUNT)
    full_stream = [fulls[i % 2] for i in range(FULL_COUNT)]
    farm_prime, farm = farm_stream(MIXED_COUNT)
    print(
        f"python {sys.version.split()[0]}, {DELTA_COUNT} X1 deltas, {FULL_COUNT} X1 full reports,"
        f" {MIXED_COUNT} mixed-farm deltas (6 printers); best of {REPEATS}, messages/s"
    )
    print(f"{'implementation':30} {'X1 deltas':>11} {'X1 full':>9} {'mixed farm':>11}")
    results: dict[str, tuple[float, float, float]] = {}
    for name, make, make_for in IMPLEMENTATIONS:
        try:
            make()
        except ImportError as error:
            print(
                f"{name:30} skipped: cannot import ({error}); pip install -r bench/requirements.txt"
            )
            continue
        delta_rate = rate(make, fulls[:1], delta_stream)
        full_rate = rate(make, fulls[:1], full_stream)
        mixed_rate = farm_rate(lambda make_for=make_for: routed(make_for), farm_prime, farm)
        results[name] = (delta_rate, full_rate, mixed_rate)
        print(f"{name:30} {delta_rate:11,.0f} {full_rate:9,.0f} {mixed_rate:11,.0f}")
    peers = {name: r for name, r in results.items() if not name.startswith("J3D")}
    ours = results.get("J3D parse+merge+snapshot")
    if peers and ours:
        for index, stream in ((0, "X1 deltas"), (1, "X1 full reports"), (2, "mixed farm")):
            fastest = max(peers, key=lambda name: peers[name][index])
            ratio = ours[index] / peers[fastest][index]
            print(f"J3D with snapshot / fastest peer on {stream} ({fastest}): {ratio:.2f}x")


if __name__ == "__main__":
    main()

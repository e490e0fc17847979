"""A simulated Bambu Lab printer at the wire level, for tests and the bench.

``SimulatedPrinter`` plays the printer's firmware side of the LAN protocol (bambu-protocol.md
§1, §3–§6): it connects to a (Mosquitto) broker over TLS as ``bblp`` with the access code,
listens on ``device/<serial>/request`` and publishes on ``device/<serial>/report`` at QoS 0:
full reports (``msg: 0``) on pushall, deltas (``msg: 1``) every ``delta_interval`` seconds,
command ACKs, and jobs that run on an accelerated clock. It owns an ``FtpsServer`` that
stands in for the printer's vsftpd, and ``project_file`` only starts files found there.

All printers share one ``SimLoop``: a single thread with a selector that drives every paho
client through paho's external-loop API and runs every printer's timers, so 500 printers
cost one thread rather than 500. All printer state is touched only on that thread; the
control methods (``fail_job``, ``set_tray``, ...) hop onto it and wait, so they are
thread-safe for tests.
"""

from __future__ import annotations

import concurrent.futures
import copy
import functools
import heapq
import itertools
import json
import logging
import math
import random
import re
import selectors
import socket
import ssl
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt

from printers.bambu.ftps_server import FtpsServer
from printers.bambu.tls import client_context

log = logging.getLogger(__name__)

T = TypeVar("T")

SAMPLES = Path(__file__).parent / "samples"

# print_error / err_code values (§1.5, §3.1, §8).
ERR_USER_CANCEL = 50348044  # 0x0300400C "The task was canceled"
ERR_FILE_NOT_FOUND = 0x0500C010  # project_file ACKed, then the file could not be read
ERR_DEVICE_BUSY = 0x05004004  # 0500_4004 "Device is busy"
ERR_VERIFY_FAILED = 0x05024007  # "mqtt message verify failed", no signature envelope
HMS_VERIFY_FAILED = {"attr": 0x05000500, "code": 0x00010007}  # HMS_0500_0500_0001_0007
FUN_SIGNATURE_REQUIRED = 0x20000000  # bit of print.fun: control needs a signed envelope

BUSY_STATES = frozenset({"PREPARE", "RUNNING", "PAUSE", "SLICING"})
IDLE_STAGE = 255
PAUSED_BY_USER_STAGE = 16
PREPARE_STAGES = (2, 13, 1, 7)  # heatbed preheating, homing, bed leveling, heating hotend
SPEED_MAGNITUDE = {1: 50, 2: 100, 3: 124, 4: 166}
ROOM_TEMPERATURE = 24.0


# -- model templates ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Sample:
    report_file: str
    version_file: str | None = None  # when get_version comes from another capture


MODEL_SAMPLES: dict[str, _Sample] = {
    "X1C": _Sample("x1c_pushall_finish_multiams_ha-bambulab-MOCK-X1CMULTIAMS.json"),
    "X1": _Sample("x1c_pushall_finish_multiams_ha-bambulab-MOCK-X1CMULTIAMS.json"),
    "X1E": _Sample("x1c_pushall_finish_multiams_ha-bambulab-MOCK-X1CMULTIAMS.json"),
    "P1S": _Sample("p1p_pushall_failed_ha-bambulab-P1P.json"),
    "P1P": _Sample("p1p_pushall_failed_ha-bambulab-P1P.json"),
    "A1": _Sample("a1_pushall_idle_amslite_ha-bambulab-MOCK-A1.json"),
    "A1MINI": _Sample(
        "a1_pushall_idle_amslite_ha-bambulab-MOCK-A1.json",
        "a1mini_get_version_sksat-bambu-rs.json",
    ),
    "H2D": _Sample("h2d_pushall_running_ha-bambulab-MOCK-H2D.json"),
}


def normalize_model(model: str) -> str:
    """'A1 mini', 'a1-mini', 'A1M' -> 'A1MINI'; raises for models without a template."""
    key = re.sub(r"[\s_-]", "", model.upper())
    key = {"A1M": "A1MINI", "X1CARBON": "X1C"}.get(key, key)
    if key not in MODEL_SAMPLES:
        raise ValueError(f"no simulator template for model {model!r}; know {sorted(MODEL_SAMPLES)}")
    return key


def _unwrap_sample(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(print object, info object) from the capture wrappers listed in SOURCES.md."""
    if "message" in data:  # sksat/bambu-rs fixture
        data = data["message"]
    report = data.get("pushall") or data.get("push_all") or {}
    report = report.get("print", report)
    version = data.get("get_version") or data.get("info")
    if version is not None:
        version = version.get("info", version)
    return report, version


@functools.cache
def _load_template(model: str) -> tuple[str, str]:
    """The model's full report and get_version reply, as JSON text (copied per printer)."""
    sample = MODEL_SAMPLES[model]
    report, version = _unwrap_sample(json.loads((SAMPLES / sample.report_file).read_text()))
    if sample.version_file:
        _, version = _unwrap_sample(json.loads((SAMPLES / sample.version_file).read_text()))
    return json.dumps(report), json.dumps(version or {"command": "get_version", "module": []})


def _idle_report(model: str) -> dict[str, Any]:
    """The model's captured full report, reset to an idle printer with nothing loaded."""
    report = json.loads(_load_template(model)[0])
    report.update(command="push_status", msg=0, sequence_id="0")
    idle = {
        "gcode_state": "IDLE",
        "print_type": "idle",
        "print_error": 0,
        "hms": [],
        "mc_percent": 0,
        "mc_remaining_time": 0,
        "layer_num": 0,
        "total_layer_num": 0,
        "stg_cur": IDLE_STAGE,
        "gcode_file_prepare_percent": "0",
        "subtask_name": "",
        "gcode_file": "",
        "task_id": "0",
        "subtask_id": "0",
        "project_id": "0",
        "profile_id": "0",
        "mc_print_line_number": "0",
        "nozzle_target_temper": 0.0,
        "bed_target_temper": 0.0,
        "nozzle_temper": ROOM_TEMPERATURE + 2,
        "bed_temper": ROOM_TEMPERATURE,
        "spd_lvl": 2,
        "spd_mag": 100,
    }
    report.update(idle)
    for optional, value in (("percent", 0), ("remain_time", 0), ("prepare_per", 0)):
        if optional in report:
            report[optional] = value
    if "3D" in report:
        report["3D"] = {"layer_num": 0, "total_layer_num": 0}
    if "fun" in report:  # dev mode on: control works until refuse_control says otherwise
        report["fun"] = f"{int(report['fun'], 16) & ~FUN_SIGNATURE_REQUIRED:X}"
    ams = report.get("ams") or {}
    for key in ("tray_now", "tray_pre", "tray_tar"):
        if key in ams:
            ams[key] = "255"
    return report


def _version_reply(model: str, serial: str) -> dict[str, Any]:
    info = json.loads(_load_template(model)[1])
    info["command"] = "get_version"
    for module in info.get("module", []):
        if module.get("name") == "ota":
            module["sn"] = serial
    return info


# -- the shared loop ---------------------------------------------------------------------


class _Timer:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class SimLoop:
    """One thread running a selector over paho sockets plus a timer heap.

    Call ``attach(client)`` before ``client.connect()`` on the loop thread; paho then tells us
    through its socket callbacks which sockets to watch.
    """

    MISC_INTERVAL = 1.0  # paho's keepalive bookkeeping (PINGREQ) cadence

    def __init__(self, name: str = "sim-loop") -> None:
        self.name = name
        self._selector = selectors.DefaultSelector()
        self._timers: list[tuple[float, int, _Timer]] = []
        self._counter = itertools.count()
        self._calls: deque[Callable[[], None]] = deque()
        self._calls_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._clients: set[mqtt.Client] = set()
        self._thread: threading.Thread | None = None
        self._running = False

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._running = True
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        self._wake()
        if self._thread is not None and not self.in_loop():
            self._thread.join(5)

    def in_loop(self) -> bool:
        return self._thread is not None and threading.get_ident() == self._thread.ident

    # -- scheduling ----------------------------------------------------------------------

    def call_soon(self, callback: Callable[[], None]) -> None:
        with self._calls_lock:
            self._calls.append(callback)
        self._wake()

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(callback)
        entry = (time.monotonic() + delay, next(self._counter), timer)
        if self.in_loop():
            heapq.heappush(self._timers, entry)
        else:
            self.call_soon(lambda: heapq.heappush(self._timers, entry))
        return timer

    def run_sync(self, func: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``func`` on the loop thread and return its result (directly if already there)."""
        if self.in_loop():
            return func()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def call() -> None:
            try:
                future.set_result(func())
            except BaseException as exc:  # handed to the caller's thread
                future.set_exception(exc)

        self.call_soon(call)
        return future.result(timeout)

    # -- paho integration ----------------------------------------------------------------

    def attach(self, client: mqtt.Client) -> None:
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        self._clients.add(client)

    def detach(self, client: mqtt.Client) -> None:
        self._clients.discard(client)

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._watch(sock, selectors.EVENT_READ, client)

    def _on_socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass

    def _on_register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._watch(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)

    def _on_unregister_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._watch(sock, selectors.EVENT_READ, client)

    def _watch(self, sock: Any, events: int, client: mqtt.Client) -> None:
        try:
            self._selector.modify(sock, events, client)
        except KeyError:
            self._selector.register(sock, events, client)

    # -- the loop ------------------------------------------------------------------------

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # a wake-up is already pending, or the loop is gone

    def _run(self) -> None:
        next_misc = time.monotonic() + self.MISC_INTERVAL
        while self._running:
            now = time.monotonic()
            timeout = min(next_misc, self._timers[0][0] if self._timers else next_misc) - now
            for key, mask in self._selector.select(max(0.0, timeout)):
                if key.data is None:
                    self._drain_wake()
                else:
                    self._service(key.data, key.fileobj, mask)
            self._run_calls()
            self._run_timers()
            if time.monotonic() >= next_misc:
                next_misc = time.monotonic() + self.MISC_INTERVAL
                for client in list(self._clients):
                    self._guard(client.loop_misc)

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _service(self, client: mqtt.Client, sock: Any, mask: int) -> None:
        if mask & selectors.EVENT_READ:
            self._guard(client.loop_read)
            # TLS can hold decrypted bytes that select() will never report again.
            while isinstance(sock, ssl.SSLSocket) and client.socket() is sock and sock.pending():
                self._guard(client.loop_read)
        if mask & selectors.EVENT_WRITE and client.socket() is not None:
            self._guard(client.loop_write)

    def _run_calls(self) -> None:
        with self._calls_lock:
            calls, self._calls = self._calls, deque()
        for call in calls:
            self._guard(call)

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                self._guard(timer.callback)

    @staticmethod
    def _guard(func: Callable[[], object]) -> None:
        try:
            func()
        except Exception:
            log.exception("simulator loop callback failed")


_default_loop: SimLoop | None = None
_default_loop_lock = threading.Lock()


def default_loop() -> SimLoop:
    """The process-wide loop that printers use unless given one."""
    global _default_loop
    with _default_loop_lock:
        if _default_loop is None:
            _default_loop = SimLoop()
        _default_loop.start()
        return _default_loop


# -- the printer -------------------------------------------------------------------------


@dataclass
class _Job:
    """A job on the printer's own clock (simulated seconds = real seconds * time_scale)."""

    started: float  # time.monotonic()
    prepare_seconds: float
    print_seconds: float
    total_layers: int
    slot: int | None
    start_remain: int
    nozzle_target: float
    bed_target: float
    paused_at: float | None = None
    paused_total: float = 0.0

    def elapsed(self, now: float, time_scale: float) -> float:
        return ((self.paused_at or now) - self.started - self.paused_total) * time_scale


class SimulatedPrinter:
    """One simulated printer; see the module docstring. ``start()`` / ``stop()``."""

    def __init__(
        self,
        serial: str = "SIM00000001",
        *,
        host: str = "127.0.0.1",
        port: int = 8883,
        access_code: str = "12345678",
        ca_path: str | Path | None = None,
        ca_pem: str | None = None,
        tls: bool = True,
        model: str = "X1C",
        time_scale: float = 60.0,
        job_duration: float = 600.0,
        prepare_duration: float = 60.0,
        total_layers: int = 50,
        delta_interval: float = 1.5,
        jitter: float = 0.25,
        ftps: bool = True,
        ftps_server: FtpsServer | None = None,
        a1_data_channel_hangs: bool = False,
        reconnect_delay: tuple[float, float] = (0.2, 3.0),
        keepalive: int = 30,
        loop: SimLoop | None = None,
        seed: int | None = None,
    ) -> None:
        self.serial = serial
        self.model = normalize_model(model)
        self.host, self.port, self.access_code = host, port, access_code
        self.time_scale = time_scale
        self.job_duration = job_duration  # simulated seconds of printing
        self.prepare_duration = prepare_duration  # simulated seconds of PREPARE
        self.total_layers = total_layers
        self.delta_interval = delta_interval
        self.jitter = jitter
        self.keepalive = keepalive
        self.reconnect_delay = reconnect_delay
        self.request_topic = f"device/{serial}/request"
        self.report_topic = f"device/{serial}/report"
        self.refuse_control = False
        self.loop = loop or default_loop()
        self._random = random.Random(seed if seed is not None else serial)
        self._report = _idle_report(self.model)
        self._version = _version_reply(self.model, serial)
        self._dirty: dict[str, Any] = {}
        self._sequence = itertools.count(1)
        self._job: _Job | None = None
        self._resume_state = "RUNNING"  # what PAUSE returns to (PREPARE can be paused too)
        self._silent = False
        self._push_enabled = True
        self._running = False
        self._ever_connected = False
        self._backoff = reconnect_delay[0]
        self._tick_timer: _Timer | None = None
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self.connect_count = 0
        self._refusals = 0
        self._client = self._make_client(tls=tls, ca_path=ca_path, ca_pem=ca_pem)
        self.ftps: FtpsServer | None = ftps_server
        self._owns_ftps = ftps and ftps_server is None
        if self._owns_ftps:
            self.ftps = FtpsServer(
                access_code, serial=serial, a1_data_channel_hangs=a1_data_channel_hangs
            )

    # -- public API ----------------------------------------------------------------------

    @property
    def ftps_port(self) -> int | None:
        return self.ftps.port if self.ftps is not None else None

    @property
    def state(self) -> str:
        """The current ``gcode_state`` (IDLE, PREPARE, RUNNING, PAUSE, FINISH, FAILED)."""
        return str(self._report["gcode_state"])

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self, *, wait: bool = True, timeout: float = 10.0) -> None:
        """Start the FTPS server, connect to the broker and begin the delta timer."""
        if self.ftps is not None and self._owns_ftps:
            self.ftps.start()
        self._running = True
        self.loop.run_sync(self._start_in_loop)
        if wait:
            self.wait_connected(timeout)

    def wait_connected(self, timeout: float = 10.0) -> None:
        """Block until connected and subscribed to the request topic."""
        if not self._subscribed.wait(timeout):
            raise TimeoutError(f"{self.serial} did not connect to {self.host}:{self.port}")

    def stop(self) -> None:
        """Disconnect, stop the timers and the FTPS server."""
        self._running = False
        self.loop.run_sync(self._stop_in_loop)
        if self.ftps is not None and self._owns_ftps:
            self.ftps.close()

    def report(self) -> dict[str, Any]:
        """A deep copy of the printer's current full ``print`` object."""
        return self.loop.run_sync(lambda: copy.deepcopy(self._report))

    def fail_job(self, print_error: int = 117473284, hms: list[Any] | None = None) -> None:
        """End the current job (if any) in FAILED with this print_error and HMS entries.

        ``hms`` items are ``{"attr": int, "code": int}`` or display codes such as
        ``"0700_2000_0002_0001"``; by default one entry is derived from ``print_error``.
        """
        entries = [_hms_entry(h) for h in hms] if hms is not None else [_hms_for(print_error)]
        self.loop.run_sync(lambda: self._fail(print_error, entries))

    def skip_ahead(self, seconds: float) -> None:
        """Move the current job (if any) ``seconds`` of printer time on at once, as if they had
        passed: tests skip the part of a print they do not watch instead of waiting it out."""

        def apply() -> None:
            if self._job is not None:
                self._job.started -= seconds / self.time_scale
                self._advance_job()
                self._publish_delta()

        self.loop.run_sync(apply)

    def go_silent(self) -> None:
        """Stop publishing anything (reports, ACKs) while staying connected, like a P1 bug."""
        self._silent = True

    def resume_talking(self) -> None:
        self._silent = False
        self.loop.call_soon(self._publish_delta)

    def set_refuse_control(self, refuse: bool = True) -> None:
        """Like assigning ``refuse_control``; also flips the ``fun`` signature bit."""
        self.refuse_control = refuse
        self.loop.run_sync(self._apply_fun_bit)

    def set_tray(self, slot: int, **fields: Any) -> None:
        """Change a tray's fields (slot = unit*4+tray, 128+ for AMS HT, 254/255 external)."""
        self.loop.run_sync(lambda: self._update_tray(slot, fields, flush=True))

    def tray(self, slot: int) -> dict[str, Any]:
        return self.loop.run_sync(lambda: copy.deepcopy(self._find_tray(slot)))

    def set_fields(self, **fields: Any) -> None:
        """Set arbitrary top-level report fields and push them as a delta (test hook)."""

        def apply() -> None:
            for key, value in fields.items():
                self._set(key, value)
            self._publish_delta()

        self.loop.run_sync(apply)

    def __enter__(self) -> SimulatedPrinter:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<SimulatedPrinter {self.serial} {self.model} {self.state}>"

    # -- connection (loop thread) ----------------------------------------------------------

    def _make_client(
        self, *, tls: bool, ca_path: str | Path | None, ca_pem: str | None
    ) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"sim-{self.serial}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        client.username_pw_set("bblp", self.access_code)
        if tls:
            client.tls_set_context(_client_context(ca_path, ca_pem))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _start_in_loop(self) -> None:
        self.loop.attach(self._client)
        self._connect()
        self._schedule_tick()

    def _stop_in_loop(self) -> None:
        if self._tick_timer is not None:
            self._tick_timer.cancel()
        self._client.disconnect()
        self._client.loop_write()  # flush the DISCONNECT we just queued
        self.loop.detach(self._client)
        sock = self._client.socket()
        if sock is not None:
            self.loop._on_socket_close(self._client, None, sock)
        self._connected.clear()
        self._subscribed.clear()

    def _connect(self) -> None:
        if not self._running:
            return
        try:
            if self._ever_connected:
                self._client.reconnect()
            else:
                self._client.connect(self.host, self.port, keepalive=self.keepalive)
                self._ever_connected = True
        except (OSError, ssl.SSLError) as exc:
            log.debug("%s: connect failed (%s); retry in %.1fs", self.serial, exc, self._backoff)
            self._retry_connect()

    def _retry_connect(self) -> None:
        delay = self._backoff * (0.8 + 0.4 * self._random.random())
        self._backoff = min(self._backoff * 2, self.reconnect_delay[1])
        self.loop.call_later(delay, self._connect)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            # Once per streak: a wrong access code would otherwise log every retry.
            level = logging.DEBUG if self._refusals else logging.WARNING
            log.log(level, "%s: broker refused the connection: %s", self.serial, reason)
            self._refusals += 1
            return  # paho reports a disconnect next, which schedules the retry
        self._refusals = 0
        self.connect_count += 1
        self._backoff = self.reconnect_delay[0]
        self._connected.set()
        client.subscribe(self.request_topic, qos=1)

    def _on_subscribe(self, client: mqtt.Client, *args: Any) -> None:
        self._subscribed.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, *args: Any) -> None:
        self._connected.clear()
        self._subscribed.clear()
        if self._running:
            self._retry_connect()

    # -- publishing ------------------------------------------------------------------------

    def _publish(self, payload: dict[str, Any]) -> bool:
        if self._silent or not self._connected.is_set():
            return False
        info = self._client.publish(self.report_topic, json.dumps(payload), qos=0)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def _publish_full(self) -> None:
        report = copy.deepcopy(self._report)
        report.update(command="push_status", msg=0, sequence_id=str(next(self._sequence)))
        if self._publish({"print": report}):
            self._dirty.clear()  # a full report carries everything pending

    def _publish_delta(self) -> None:
        if not self._dirty or not self._push_enabled:
            return
        delta = {**self._dirty, "command": "push_status", "msg": 1}
        delta["sequence_id"] = str(next(self._sequence))
        if self._publish({"print": delta}):
            self._dirty.clear()  # kept while silent or offline, so nothing is lost

    def _reply(self, category: str, request: dict[str, Any], **fields: Any) -> None:
        reply = {"command": request.get("command"), "sequence_id": request.get("sequence_id")}
        if "param" in request:
            reply["param"] = request["param"]
        reply.update(fields)
        self._publish({category: reply})

    def _ack(self, category: str, request: dict[str, Any]) -> None:
        self._reply(category, request, result="success", reason="success")

    # -- state changes (loop thread) -------------------------------------------------------

    def _set(self, key: str, value: Any) -> None:
        if self._report.get(key) != value:
            self._report[key] = value
            self._dirty[key] = value

    def _set_ams(self, key: str, value: Any) -> None:
        ams = self._report.get("ams")
        if ams is None or ams.get(key) == value:
            return
        ams[key] = value
        self._dirty.setdefault("ams", {})[key] = value

    def _find_tray(self, slot: int) -> dict[str, Any]:
        if slot in (254, 255):
            return self._report["vt_tray"]
        unit_id, tray_id = (slot, 0) if slot >= 128 else divmod(slot, 4)
        for unit in self._report.get("ams", {}).get("ams", []):
            if int(unit.get("id", -1)) == unit_id:
                for tray in unit.get("tray", []):
                    if int(tray.get("id", -1)) == tray_id:
                        return tray
        raise KeyError(f"{self.serial} has no tray in slot {slot}")

    def _update_tray(self, slot: int, fields: dict[str, Any], *, flush: bool) -> None:
        tray = self._find_tray(slot)
        tray.update(fields)
        if slot in (254, 255):
            self._dirty.setdefault("vt_tray", {"id": tray["id"]}).update(fields)
        else:
            # A partial tray update merged by id, as the H2D sends (§1.3).
            unit_id, tray_id = (slot, 0) if slot >= 128 else divmod(slot, 4)
            units = self._dirty.setdefault("ams", {}).setdefault("ams", [])
            unit = next((u for u in units if u["id"] == str(unit_id)), None)
            if unit is None:
                unit = {"id": str(unit_id), "tray": []}
                units.append(unit)
            entry = next((t for t in unit["tray"] if t["id"] == str(tray_id)), None)
            if entry is None:
                entry = {"id": str(tray_id)}
                unit["tray"].append(entry)
            entry.update(fields)
        if flush:
            self._publish_delta()

    def _apply_fun_bit(self) -> None:
        if "fun" not in self._report:
            return  # A1 and P1 never send fun (§1.5)
        fun = int(self._report["fun"], 16) & ~FUN_SIGNATURE_REQUIRED
        if self.refuse_control:
            fun |= FUN_SIGNATURE_REQUIRED
        self._set("fun", f"{fun:X}")
        self._publish_delta()

    def _add_hms(self, entry: dict[str, int]) -> None:
        if entry not in self._report["hms"]:
            self._set("hms", [*self._report["hms"], entry])

    # -- the clock -------------------------------------------------------------------------

    def _schedule_tick(self) -> None:
        spread = 1 + self.jitter * (2 * self._random.random() - 1)
        self._tick_timer = self.loop.call_later(self.delta_interval * spread, self._tick)

    def _tick(self) -> None:
        if not self._running:
            return
        self._advance_job()
        self._wobble()
        self._publish_delta()
        self._schedule_tick()

    def _wobble(self) -> None:
        """Idle noise real printers report: Wi-Fi signal and temperatures drifting."""
        signal = int(str(self._report.get("wifi_signal", "-50dBm")).removesuffix("dBm") or -50)
        signal = max(-75, min(-35, signal + self._random.choice((-2, -1, 1, 2))))
        self._set("wifi_signal", f"{signal}dBm")
        for key, target_key in (
            ("nozzle_temper", "nozzle_target_temper"),
            ("bed_temper", "bed_target_temper"),
        ):
            target = float(self._report.get(target_key) or 0)
            current = float(self._report.get(key) or ROOM_TEMPERATURE)
            goal = target if target > 0 else ROOM_TEMPERATURE
            # Heat or cool a third of the way per tick, then hover with sensor noise.
            current += (goal - current) / 3 + self._random.uniform(-0.2, 0.2)
            self._set(key, round(current, 1))

    def _advance_job(self) -> None:
        job = self._job
        state = self.state
        if job is None or state not in ("PREPARE", "RUNNING"):
            return
        elapsed = job.elapsed(time.monotonic(), self.time_scale)
        if elapsed < job.prepare_seconds:
            self._show_prepare(job, elapsed / job.prepare_seconds)
        elif elapsed < job.prepare_seconds + job.print_seconds:
            self._show_running(job, (elapsed - job.prepare_seconds) / job.print_seconds)
        else:
            self._finish()

    def _show_prepare(self, job: _Job, fraction: float) -> None:
        self._set("gcode_file_prepare_percent", str(min(99, int(fraction * 100))))
        if "prepare_per" in self._report:
            self._set("prepare_per", min(99, int(fraction * 100)))
        self._set("stg_cur", PREPARE_STAGES[min(3, int(fraction * len(PREPARE_STAGES)))])
        self._set("nozzle_target_temper", job.nozzle_target)
        self._set("bed_target_temper", job.bed_target)

    def _show_running(self, job: _Job, fraction: float) -> None:
        if self.state != "RUNNING":
            self._set("gcode_state", "RUNNING")
            self._set("gcode_file_prepare_percent", "100")
            if job.slot is not None:
                self._set_ams("tray_tar", str(job.slot))
                self._set_ams("tray_now", str(job.slot))
        percent = min(99, int(fraction * 100))
        layer = max(1, min(job.total_layers, math.ceil(fraction * job.total_layers)))
        remaining = math.ceil(job.print_seconds * (1 - fraction) / 60)
        self._set("stg_cur", 0)
        self._set("mc_percent", percent)
        self._set("layer_num", layer)
        self._set("total_layer_num", job.total_layers)
        self._set("mc_remaining_time", remaining)
        self._set("mc_print_line_number", str(int(fraction * 100_000)))
        self._mirror_progress(percent, layer, job.total_layers, remaining)
        if job.slot is not None and job.start_remain > 0:
            used = math.ceil(fraction * min(10, job.start_remain))  # ~10% of a spool per job
            self._update_tray(job.slot, {"remain": job.start_remain - used}, flush=False)

    def _mirror_progress(self, percent: int, layer: int, total: int, remaining: int) -> None:
        """Newer firmware duplicates progress in other keys; keep them consistent."""
        if "percent" in self._report:
            self._set("percent", percent)
        if "remain_time" in self._report:
            self._set("remain_time", remaining * 60)
        if "3D" in self._report:
            self._set("3D", {"layer_num": layer, "total_layer_num": total})

    def _finish(self) -> None:
        job = self._job
        assert job is not None
        self._show_running(job, 1.0)
        self._set("mc_percent", 100)
        self._set("mc_remaining_time", 0)
        self._mirror_progress(100, job.total_layers, job.total_layers, 0)
        self._end_job("FINISH")

    def _end_job(self, state: str) -> None:
        """FINISH/FAILED keep progress, names and ids until the next job (§3.1)."""
        self._job = None
        self._set("gcode_state", state)
        self._set("stg_cur", IDLE_STAGE)
        self._set("nozzle_target_temper", 0.0)
        self._set("bed_target_temper", 0.0)
        self._set_ams("tray_now", "255")
        self._set_ams("tray_tar", "255")
        self._publish_delta()

    def _fail(self, print_error: int, hms: list[dict[str, int]]) -> None:
        self._set("print_error", print_error)
        self._set("hms", [*self._report["hms"], *hms])
        self._end_job("FAILED")

    # -- requests --------------------------------------------------------------------------

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            request = json.loads(message.payload)
        except (ValueError, UnicodeDecodeError):
            return  # firmware ignores what it cannot parse
        if not isinstance(request, dict):
            return
        # One message may carry several categories (BLA sends pushall + get_version together).
        for category, body in request.items():
            if isinstance(body, dict):
                self._handle(category, body)

    def _handle(self, category: str, body: dict[str, Any]) -> None:
        command = body.get("command")
        if category == "pushing":
            self._handle_pushing(command)
        elif category == "info" and command == "get_version":
            self._reply("info", body, module=self._version.get("module", []), result="success")
        elif category == "print":
            self._handle_print(str(command), body)
        elif category == "system" and command == "ledctrl":
            self._ledctrl(body)
            self._ack("system", body)

    def _handle_pushing(self, command: Any) -> None:
        if command == "pushall":
            self._publish_full()
        elif command in ("start", "stop"):
            self._push_enabled = command == "start"

    def _handle_print(self, command: str, body: dict[str, Any]) -> None:
        if self.refuse_control:
            self._reply(
                "print",
                body,
                result="fail",
                reason="mqtt message verify failed",
                err_code=ERR_VERIFY_FAILED,
            )
            self._add_hms(dict(HMS_VERIFY_FAILED))
            self._publish_delta()
            return
        handler = getattr(self, f"_cmd_{command}", None)
        if handler is None:
            self._ack("print", body)  # commands the simulator does not model are accepted
            return
        handler(body)

    def _cmd_project_file(self, body: dict[str, Any]) -> None:
        path = ftp_path_from_url(str(body.get("url") or body.get("file") or ""))
        self._start_job(body, path)

    def _cmd_gcode_file(self, body: dict[str, Any]) -> None:
        self._start_job(body, ftp_path_from_url(str(body.get("param") or "")))

    def _start_job(self, body: dict[str, Any], path: str) -> None:
        if self.state in BUSY_STATES:
            self._reply(
                "print", body, result="fail", reason="Device is busy", err_code=ERR_DEVICE_BUSY
            )
            return
        self._ack("print", body)
        names = {
            "subtask_name": str(body.get("subtask_name") or Path(path).name),
            "gcode_file": str(body.get("file") or Path(path).name),
            **{
                k: str(body.get(k, "0"))
                for k in ("task_id", "subtask_id", "project_id", "profile_id")
            },
        }
        for key, value in names.items():
            self._set(key, value)
        if self.ftps is not None and not self.ftps.exists(path):
            # What BRS observed: ACK success, then print_error 0x0500C010 and still IDLE.
            self._set("print_error", ERR_FILE_NOT_FOUND)
            self._publish_delta()
            return
        self._begin(body)

    def _begin(self, body: dict[str, Any]) -> None:
        slot = self._job_slot(body)
        remain = int(self._find_tray(slot).get("remain", -1)) if slot is not None else -1
        self._job = _Job(
            started=time.monotonic(),
            prepare_seconds=self.prepare_duration,
            print_seconds=self.job_duration,
            total_layers=self.total_layers,
            slot=slot,
            start_remain=remain,
            nozzle_target=220.0,
            bed_target=55.0,
        )
        for key, value in (
            ("gcode_state", "PREPARE"),
            ("print_type", "local"),
            ("print_error", 0),
            ("hms", []),
            ("mc_percent", 0),
            ("layer_num", 0),
            ("total_layer_num", 0),
            ("mc_remaining_time", math.ceil(self.job_duration / 60)),
            ("gcode_file_prepare_percent", "0"),
            ("gcode_start_time", str(int(time.time()))),
        ):
            self._set(key, value)
        self._mirror_progress(0, 0, 0, math.ceil(self.job_duration / 60))
        self._show_prepare(self._job, 0.0)
        self._publish_delta()

    def _job_slot(self, body: dict[str, Any]) -> int | None:
        """The tray that feeds the job: the first mapped tray, else the external spool."""
        mapping = body.get("ams_mapping") or []
        digits = [str(s) for s in mapping if type(s) in (int, str)]
        slots = [int(s) for s in digits if s.isascii() and s.isdigit()]
        if body.get("use_ams", True) and slots:
            try:
                self._find_tray(slots[0])
                return slots[0]
            except KeyError:
                pass
        return 254 if "vt_tray" in self._report else None

    def _cmd_pause(self, body: dict[str, Any]) -> None:
        self._ack("print", body)
        if self._job is not None and self.state in ("PREPARE", "RUNNING"):
            self._advance_job()
            self._job.paused_at = time.monotonic()
            self._resume_state = self.state
            self._set("gcode_state", "PAUSE")
            self._set("stg_cur", PAUSED_BY_USER_STAGE)
            self._publish_delta()

    def _cmd_resume(self, body: dict[str, Any]) -> None:
        self._ack("print", body)
        job = self._job
        if job is not None and self.state == "PAUSE" and job.paused_at is not None:
            job.paused_total += time.monotonic() - job.paused_at
            job.paused_at = None
            self._set("gcode_state", self._resume_state)
            self._set("stg_cur", 0)
            self._advance_job()
            self._publish_delta()

    def _cmd_stop(self, body: dict[str, Any]) -> None:
        self._ack("print", body)
        if self.state in BUSY_STATES:
            self._fail(ERR_USER_CANCEL, [])

    def _cmd_print_speed(self, body: dict[str, Any]) -> None:
        try:
            level = int(str(body.get("param", "")).strip())
        except ValueError:
            self._reply("print", body, result="fail", reason="invalid param")
            return
        self._ack("print", body)
        if level in SPEED_MAGNITUDE:
            self._set("spd_lvl", level)
            self._set("spd_mag", SPEED_MAGNITUDE[level])
            self._publish_delta()

    def _cmd_gcode_line(self, body: dict[str, Any]) -> None:
        self._ack("print", body)
        for line in str(body.get("param", "")).splitlines():
            match = re.match(r"\s*M(104|109|140|190)\b.*?\bS(\d+(?:\.\d+)?)", line.upper())
            if match:
                key = "nozzle_target_temper" if match[1] in ("104", "109") else "bed_target_temper"
                self._set(key, float(match[2]))
        self._publish_delta()

    def _cmd_ams_filament_setting(self, body: dict[str, Any]) -> None:
        ams_id = int(body.get("ams_id", 0))
        tray_id = int(body.get("slot_id", body.get("tray_id", 0)))
        slot = ams_id if ams_id >= 128 else ams_id * 4 + tray_id
        fields = {
            k: body[k] for k in ("tray_info_idx", "tray_type", "tray_sub_brands") if k in body
        }
        if "tray_color" in body:
            fields["tray_color"] = body["tray_color"]
            fields["cols"] = [body["tray_color"]]
        for key in ("nozzle_temp_min", "nozzle_temp_max"):
            if key in body:
                fields[key] = str(body[key])
        try:
            self._update_tray(slot, fields, flush=False)
        except KeyError:
            self._reply("print", body, result="fail", reason="invalid ams_id or tray_id")
            return
        self._ack("print", body)
        self._publish_delta()

    def _cmd_clean_print_error(self, body: dict[str, Any]) -> None:
        self._ack("print", body)
        self._set("print_error", 0)
        self._publish_delta()

    def _ledctrl(self, body: dict[str, Any]) -> None:
        node, mode = body.get("led_node"), body.get("led_mode")
        lights = [dict(light) for light in self._report.get("lights_report", [])]
        for light in lights:
            if light.get("node") == node:
                light["mode"] = mode
        self._set("lights_report", lights)
        self._publish_delta()


def ftp_path_from_url(url: str) -> str:
    """Map the URL forms clients send (§5.4) to a path in the printer's FTP root."""
    url = urllib.parse.unquote(url)
    for prefix in ("file:///mnt/sdcard", "file:///sdcard", "ftp://", "file://"):
        if url.startswith(prefix):
            url = url[len(prefix) :]
            break
    if url.startswith("/sdcard/"):
        url = url[len("/sdcard") :]
    return "/" + url.lstrip("/")


def _hms_entry(value: Any) -> dict[str, int]:
    if isinstance(value, dict):
        return {"attr": int(value["attr"]), "code": int(value["code"])}
    parts = str(value).upper().removeprefix("HMS_").replace("-", "_").split("_")
    if len(parts) != 4:
        raise ValueError(f"HMS code {value!r} is not like 0700_2000_0002_0001")
    a1, a2, c1, c2 = (int(p, 16) for p in parts)
    return {"attr": (a1 << 16) | a2, "code": (c1 << 16) | c2}


def _hms_for(print_error: int) -> dict[str, int]:
    """An HMS entry matching a print_error: same module, severity 'serious'."""
    module = (print_error >> 16) & 0xFFFF
    return {"attr": module << 16, "code": (2 << 16) | (print_error & 0xFFFF)}


def _client_context(ca_path: str | Path | None, ca_pem: str | None) -> ssl.SSLContext:
    """TLS 1.2 to the broker; trusts the given CA, or anything when none is given."""
    # The broker's CN is a serial-like name, not the address we dial.
    return client_context(ca_pem=ca_pem, ca_path=ca_path, check_hostname=False)


# -- many printers -----------------------------------------------------------------------


class SimulatedFarm:
    """N simulated printers (serials ``<prefix><8 digits>``) sharing one loop."""

    def __init__(
        self,
        count: int,
        *,
        serial_prefix: str = "SIM",
        first_number: int = 1,
        loop: SimLoop | None = None,
        **printer_options: Any,
    ) -> None:
        self.loop = loop or default_loop()
        self.printers = [
            SimulatedPrinter(f"{serial_prefix}{n:08d}", loop=self.loop, **printer_options)
            for n in range(first_number, first_number + count)
        ]

    def start(self, *, wait: bool = True, timeout: float = 60.0) -> None:
        """Start every printer; with ``wait``, block until all are connected and subscribed."""
        for printer in self.printers:
            printer.start(wait=False)
        if wait:
            self.wait_connected(timeout)

    def wait_connected(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for printer in self.printers:
            printer.wait_connected(max(0.1, deadline - time.monotonic()))

    def stop(self) -> None:
        for printer in self.printers:
            printer.stop()

    def __getitem__(self, serial: str) -> SimulatedPrinter:
        return next(p for p in self.printers if p.serial == serial)

    def __iter__(self) -> Iterator[SimulatedPrinter]:
        return iter(self.printers)

    def __len__(self) -> int:
        return len(self.printers)

    def __enter__(self) -> SimulatedFarm:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

"""The simulated printer through a real TLS Mosquitto, watched by a plain paho client."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from j3d.lib.mosquitto import MosquittoBroker
from printers.bambu import ftps
from printers.bambu.simulator import (
    ERR_USER_CANCEL,
    MODEL_SAMPLES,
    SimulatedFarm,
    SimulatedPrinter,
    _idle_report,
    ftp_path_from_url,
)

Message = dict[str, Any]
FAST = {"time_scale": 600.0, "job_duration": 600.0, "prepare_duration": 60.0}  # ~1.1 s a job
_serials = itertools.count(1)


class Watcher:
    """A plain paho client on one printer's topics that records every report."""

    def __init__(self, broker: MosquittoBroker, serial: str) -> None:
        self.serial = serial
        self.messages: list[Message] = []
        self._cond = threading.Condition()
        self._sequence = itertools.count(1)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self.client.tls_set_context(broker.client_ssl_context())
        self.client.username_pw_set(broker.username, broker.access_code)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(f"device/{serial}/report")
        self.client.loop_start()
        assert subscribed.wait(5), "watcher did not subscribe"

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(json.loads(msg.payload))
            self._cond.notify_all()

    def send(self, category: str, **body: Any) -> str:
        sequence_id = str(next(self._sequence))
        payload = {category: {"sequence_id": sequence_id, **body}}
        self.client.publish(f"device/{self.serial}/request", json.dumps(payload), qos=1)
        return sequence_id

    def wait_for(self, predicate: Callable[[Message], bool], timeout: float = 5.0) -> Message:
        """The first message (already received or arriving) that matches."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for message in self.messages[seen:]:
                    if predicate(message):
                        return message
                seen = len(self.messages)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching message in {timeout}s")
                self._cond.wait(left)

    def reply_to(self, sequence_id: str, category: str = "print") -> Message:
        return self.wait_for(
            lambda m: (
                m.get(category, {}).get("sequence_id") == sequence_id and "result" in m[category]
            )
        )[category]

    def wait_state(self, state: str, timeout: float = 5.0) -> Message:
        return self.wait_for(lambda m: m.get("print", {}).get("gcode_state") == state, timeout)[
            "print"
        ]

    def reports(self) -> list[Message]:
        with self._cond:
            return [m["print"] for m in self.messages if "result" not in m.get("print", {})]

    def close(self) -> None:
        # Disconnect first: the DISCONNECT wakes the loop thread, which then ends at once, where
        # loop_stop() first would wait out the loop's one-second select timeout.
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def printer_on(mqtt_broker: MosquittoBroker) -> Iterator[Callable[..., SimulatedPrinter]]:
    """Factory: a started simulated printer on the session broker (stopped afterwards)."""
    started: list[SimulatedPrinter] = []

    def make(broker: MosquittoBroker | None = None, **options: Any) -> SimulatedPrinter:
        broker = broker or mqtt_broker
        options = {"delta_interval": 0.1, **FAST, **options}
        printer = SimulatedPrinter(
            f"SIMT{next(_serials):07d}",
            port=broker.port,
            access_code=broker.access_code,
            ca_pem=broker.ca_pem,
            **options,
        )
        printer.start()
        started.append(printer)
        return printer

    yield make
    for printer in started:
        printer.stop()


@pytest.fixture
def watch(mqtt_broker: MosquittoBroker) -> Iterator[Callable[..., Watcher]]:
    watchers: list[Watcher] = []

    def make(printer: SimulatedPrinter, broker: MosquittoBroker | None = None) -> Watcher:
        watcher = Watcher(broker or mqtt_broker, printer.serial)
        watchers.append(watcher)
        return watcher

    yield make
    for watcher in watchers:
        watcher.close()


def _upload(printer: SimulatedPrinter, path: str = "/cache/job.gcode.3mf") -> str:
    assert printer.ftps_port is not None
    ftps.upload_file(
        host="127.0.0.1",
        port=printer.ftps_port,
        access_code=printer.access_code,
        source=b"PK\x03\x04 a sliced 3mf",
        remote_path=path,
        timeout=5,
    )
    return path


def _start_job(watcher: Watcher, path: str, **extra: Any) -> str:
    return watcher.send(
        "print",
        command="project_file",
        param="Metadata/plate_1.gcode",
        url=f"ftp://{path}",
        subtask_name="bracket",
        task_id="4242",
        subtask_id="4243",
        project_id="4241",
        use_ams=True,
        ams_mapping=[2],
        **extra,
    )


# -- the broker itself -------------------------------------------------------------------


def test_broker_refuses_wrong_access_code(mqtt_broker: MosquittoBroker) -> None:
    result: dict[str, Any] = {}
    done = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.tls_set_context(mqtt_broker.client_ssl_context())
    client.username_pw_set("bblp", "not-the-code")

    def on_connect(*args: Any) -> None:
        result["reason"] = args[3]
        client.disconnect()  # ends the loop thread now, not after its one-second select timeout
        done.set()

    client.on_connect = on_connect
    client.connect(mqtt_broker.host, mqtt_broker.port)
    client.loop_start()
    try:
        assert done.wait(5)
    finally:
        client.loop_stop()
    assert result["reason"].is_failure
    assert result["reason"].value in (4, 5, 134, 135)


def test_simulator_with_wrong_access_code_never_subscribes(mqtt_broker: MosquittoBroker) -> None:
    printer = SimulatedPrinter(
        "SIMBADCODE1", port=mqtt_broker.port, access_code="wrong123", ca_pem=mqtt_broker.ca_pem
    )
    try:
        with pytest.raises(TimeoutError):
            printer.start(timeout=1.0)
        assert not printer.connected
    finally:
        printer.stop()


# -- reports -----------------------------------------------------------------------------


def test_pushall_answers_with_full_idle_report(printer_on: Callable, watch: Callable) -> None:
    printer = printer_on()
    watcher = watch(printer)

    watcher.send("pushing", command="pushall", version=1, push_target=1)
    report = watcher.wait_for(lambda m: m.get("print", {}).get("msg") == 0)["print"]

    assert report["command"] == "push_status"
    assert report["gcode_state"] == "IDLE"
    assert report["print_error"] == 0 and report["hms"] == []
    assert len(report) > 60  # the X1C template's full field set
    assert {"ams", "vt_tray", "nozzle_temper", "wifi_signal", "lights_report"} <= report.keys()


def test_get_version_lists_modules_with_the_serial(printer_on: Callable, watch: Callable) -> None:
    printer = printer_on(model="A1 mini")
    watcher = watch(printer)

    reply = watcher.reply_to(watcher.send("info", command="get_version"), category="info")

    modules = {m["name"]: m for m in reply["module"]}
    assert modules["ota"]["sn"] == printer.serial
    assert modules["ota"]["product_name"] == "Bambu Lab A1 mini"
    assert "ams_f1/0" in modules


def test_deltas_carry_only_changes_with_rising_sequence_ids(
    printer_on: Callable, watch: Callable
) -> None:
    printer = printer_on()
    watcher = watch(printer)

    watcher.wait_for(lambda m: len(watcher.reports()) >= 4, timeout=3)

    deltas = watcher.reports()
    assert all(d["msg"] == 1 and d["command"] == "push_status" for d in deltas)
    assert all(len(d) < 10 for d in deltas)
    assert any("wifi_signal" in d for d in deltas)
    sequence_ids = [int(d["sequence_id"]) for d in deltas]
    assert sequence_ids == sorted(sequence_ids) and len(set(sequence_ids)) == len(sequence_ids)


@pytest.mark.parametrize("model", sorted(MODEL_SAMPLES))
def test_every_model_template_resets_to_idle(model: str) -> None:
    report = _idle_report(model)
    assert (report["gcode_state"], report["msg"], report["command"]) == ("IDLE", 0, "push_status")
    assert report["mc_percent"] == 0 and report["print_error"] == 0
    assert report["ams"]["tray_now"] == "255"


# -- jobs --------------------------------------------------------------------------------


def test_job_runs_prepare_running_finish_with_rising_progress(
    printer_on: Callable, watch: Callable
) -> None:
    printer = printer_on()
    watcher = watch(printer)
    start_remain = printer.tray(2)["remain"]

    ack = watcher.reply_to(_start_job(watcher, _upload(printer)))
    finished = watcher.wait_state("FINISH", timeout=6)

    assert (ack["command"], ack["result"]) == ("project_file", "success")
    reports = watcher.reports()
    states = [r["gcode_state"] for r in reports if "gcode_state" in r]
    assert states == ["PREPARE", "RUNNING", "FINISH"]
    percents = [r["mc_percent"] for r in reports if "mc_percent" in r]
    layers = [r["layer_num"] for r in reports if "layer_num" in r]
    assert percents == sorted(percents) and percents[-1] == 100 and len(set(percents)) > 3
    assert layers == sorted(layers) and layers[-1] == 50
    assert any(r.get("ams", {}).get("tray_now") == "2" for r in reports)
    assert finished["mc_percent"] == 100
    assert printer.tray(2)["remain"] < start_remain
    report = printer.report()
    assert (report["subtask_name"], report["task_id"], report["subtask_id"]) == (
        "bracket",
        "4242",
        "4243",
    )
    assert report["project_id"] == "4241" and report["gcode_file"] == "job.gcode.3mf"
    assert report["total_layer_num"] == 50 and report["mc_remaining_time"] == 0


def test_finish_persists_until_the_next_job(printer_on: Callable, watch: Callable) -> None:
    printer = printer_on(time_scale=6000.0)
    watcher = watch(printer)
    watcher.reply_to(_start_job(watcher, _upload(printer)))
    watcher.wait_state("FINISH")

    time.sleep(0.3)

    assert printer.state == "FINISH"
    assert printer.report()["mc_percent"] == 100


def test_project_file_while_busy_is_refused_as_device_busy(
    printer_on: Callable, watch: Callable
) -> None:
    printer = printer_on(time_scale=60.0)
    watcher = watch(printer)
    watcher.reply_to(_start_job(watcher, _upload(printer)))

    refused = watcher.reply_to(_start_job(watcher, "/cache/job.gcode.3mf"))

    assert refused["result"] == "fail"
    assert refused["reason"] == "Device is busy"
    assert refused["err_code"] == 0x05004004
    assert printer.state in ("PREPARE", "RUNNING")


def test_project_file_for_missing_file_sets_print_error_and_stays_idle(
    printer_on: Callable, watch: Callable
) -> None:
    printer = printer_on()
    watcher = watch(printer)

    ack = watcher.reply_to(_start_job(watcher, "/cache/not-uploaded.3mf"))
    error = watcher.wait_for(lambda m: m.get("print", {}).get("print_error") == 0x0500C010)

    assert ack["result"] == "success"  # the ACK is necessary but not sufficient (§5.1)
    assert "gcode_state" not in error["print"]
    assert printer.state == "IDLE"


def test_pause_resume_and_stop_drive_the_state(printer_on: Callable, watch: Callable) -> None:
    printer = printer_on(time_scale=120.0)  # 5 real seconds of printing, plenty to act in
    watcher = watch(printer)
    watcher.reply_to(_start_job(watcher, _upload(printer)))
    watcher.wait_state("RUNNING")

    pause = watcher.reply_to(watcher.send("print", command="pause", param=""))
    watcher.wait_state("PAUSE")
    paused_percent = printer.report()["mc_percent"]
    time.sleep(0.4)
    assert printer.report()["mc_percent"] == paused_percent  # the clock stops while paused

    resume = watcher.reply_to(watcher.send("print", command="resume", param=""))
    watcher.wait_for(
        lambda m: (
            m.get("print", {}).get("gcode_state") == "RUNNING"
            and int(m["print"]["sequence_id"]) > 0
            and printer.state == "RUNNING"
        )
    )
    stop = watcher.reply_to(watcher.send("print", command="stop", param=""))
    failed = watcher.wait_state("FAILED")

    for ack, command in ((pause, "pause"), (resume, "resume"), (stop, "stop")):
        assert (ack["command"], ack["result"], ack["reason"]) == (command, "success", "success")
    assert failed["print_error"] == ERR_USER_CANCEL == 0x0300400C


def test_print_speed_gcode_and_filament_setting_update_the_report(
    printer_on: Callable, watch: Callable
) -> None:
    printer = printer_on()
    watcher = watch(printer)

    watcher.reply_to(watcher.send("print", command="print_speed", param="3"))
    watcher.reply_to(watcher.send("print", command="gcode_line", param="M140 S60\nM104 S210\n"))
    setting = watcher.reply_to(
        watcher.send(
            "print",
            command="ams_filament_setting",
            ams_id=0,
            tray_id=1,
            slot_id=1,
            tray_info_idx="GFG99",
            tray_color="FF0000FF",
            nozzle_temp_min=220,
            nozzle_temp_max=260,
            tray_type="PETG",
        )
    )
    watcher.wait_for(lambda m: "ams" in m.get("print", {}) and "tray" in str(m))

    assert setting["result"] == "success"
    report = printer.report()
    assert (report["spd_lvl"], report["spd_mag"]) == (3, 124)
    assert (report["bed_target_temper"], report["nozzle_target_temper"]) == (60.0, 210.0)
    tray = printer.tray(1)
    assert (tray["tray_type"], tray["tray_color"], tray["nozzle_temp_max"]) == (
        "PETG",
        "FF0000FF",
        "260",
    )


# -- test controls -----------------------------------------------------------------------


def test_refuse_control_fails_commands_but_reads_still_work(
    printer_on: Callable, watch: Callable
) -> None:
    printer = printer_on()
    watcher = watch(printer)
    printer.set_refuse_control(True)

    refused = watcher.reply_to(watcher.send("print", command="pause", param=""))
    watcher.send("pushing", command="pushall")
    full = watcher.wait_for(lambda m: m.get("print", {}).get("msg") == 0)["print"]

    assert refused == {
        "command": "pause",
        "sequence_id": refused["sequence_id"],
        "param": "",
        "result": "fail",
        "reason": "mqtt message verify failed",
        "err_code": 0x05024007,  # the reference (§1.5); the brief's decimal 83902471 is 0x05004007
    }
    assert {"attr": 0x05000500, "code": 0x00010007} in full["hms"]
    assert int(full["fun"], 16) & 0x20000000  # the X1C template signals signature mode


def test_fail_job_reports_failed_with_print_error_and_hms(
    printer_on: Callable, watch: Callable
) -> None:
    printer = printer_on(time_scale=60.0)
    watcher = watch(printer)
    watcher.reply_to(_start_job(watcher, _upload(printer)))
    watcher.wait_state("PREPARE")

    printer.fail_job(print_error=117473284, hms=["0700_2000_0002_0001"])
    failed = watcher.wait_state("FAILED")

    assert printer.state == "FAILED"
    assert failed["print_error"] == 117473284
    assert failed["hms"] == [{"attr": 0x07002000, "code": 0x00020001}]


def test_clean_print_error_clears_it(printer_on: Callable, watch: Callable) -> None:
    printer = printer_on()
    watcher = watch(printer)
    printer.fail_job()

    watcher.reply_to(
        watcher.send("print", command="clean_print_error", subtask_id="", print_error=117473284)
    )

    watcher.wait_for(lambda m: m.get("print", {}).get("print_error") == 0)
    assert printer.report()["print_error"] == 0


def test_go_silent_stops_reports_until_resume_talking(
    printer_on: Callable, watch: Callable
) -> None:
    printer = printer_on()
    watcher = watch(printer)
    watcher.wait_for(lambda m: "print" in m)

    printer.go_silent()
    time.sleep(0.2)  # let an in-flight delta land
    count = len(watcher.messages)
    watcher.send("pushing", command="pushall")
    time.sleep(0.6)
    assert len(watcher.messages) == count
    assert printer.connected

    printer.resume_talking()
    watcher.wait_for(lambda m: len(watcher.messages) > count)


def test_simulator_reconnects_after_broker_crash_and_restart(
    fresh_broker: MosquittoBroker, printer_on: Callable
) -> None:
    printer = printer_on(fresh_broker, reconnect_delay=(0.1, 0.5))

    fresh_broker.kill()
    deadline = time.monotonic() + 3
    while printer.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not printer.connected
    fresh_broker.restart()
    printer.wait_connected(5)

    watcher = Watcher(fresh_broker, printer.serial)
    try:
        watcher.send("pushing", command="pushall")
        full = watcher.wait_for(lambda m: m.get("print", {}).get("msg") == 0)["print"]
        assert full["gcode_state"] == "IDLE"
        watcher.wait_for(lambda m: m.get("print", {}).get("msg") == 1)
    finally:
        watcher.close()
    assert printer.connect_count == 2


def test_job_keeps_running_on_its_own_clock_while_broker_is_down(
    fresh_broker: MosquittoBroker, printer_on: Callable
) -> None:
    printer = printer_on(fresh_broker, reconnect_delay=(0.1, 0.3))
    watcher = Watcher(fresh_broker, printer.serial)
    watcher.reply_to(_start_job(watcher, _upload(printer)))
    watcher.close()

    fresh_broker.kill()
    # The job ends on the printer's own clock while no broker is there to hear of it (~1.1 s).
    deadline = time.monotonic() + 10
    while printer.state != "FINISH" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert printer.state == "FINISH"
    fresh_broker.restart()
    printer.wait_connected(5)

    assert printer.state == "FINISH"


def test_farm_runs_printers_with_sequential_serials(mqtt_broker: MosquittoBroker) -> None:
    farm = SimulatedFarm(
        3,
        serial_prefix="SIMF",
        port=mqtt_broker.port,
        access_code=mqtt_broker.access_code,
        ca_pem=mqtt_broker.ca_pem,
        delta_interval=0.1,
    )
    with farm:
        assert [p.serial for p in farm] == ["SIMF00000001", "SIMF00000002", "SIMF00000003"]
        assert all(p.connected for p in farm)
        assert len({p.ftps_port for p in farm}) == 3
        watcher = Watcher(mqtt_broker, "SIMF00000002")
        try:
            watcher.send("pushing", command="pushall")
            assert watcher.wait_for(lambda m: m.get("print", {}).get("msg") == 0)
        finally:
            watcher.close()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("ftp:///cache/model.gcode.3mf", "/cache/model.gcode.3mf"),
        ("ftp://model.gcode.3mf", "/model.gcode.3mf"),
        ("file:///sdcard/cache/a%20b.3mf", "/cache/a b.3mf"),
        ("file:///mnt/sdcard/x.3mf", "/x.3mf"),
        ("ftp:///model/Bed scraper.gcode.3mf", "/model/Bed scraper.gcode.3mf"),
    ],
)
def test_project_file_urls_map_into_the_ftp_root(url: str, path: str) -> None:
    assert ftp_path_from_url(url) == path

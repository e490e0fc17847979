"""Command payloads, sequence ids and reply parsing (printers/bambu/commands.py)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from printers.bambu.commands import (
    DEVELOPER_MODE_REQUIRED_MESSAGE,
    MAX_ID,
    Command,
    CommandBuilder,
    parse_reply,
    report_topic,
    request_topic,
)

SAMPLES = Path(__file__).resolve().parent.parent / "bambu" / "samples"


def body(command: Command) -> dict[str, Any]:
    decoded = json.loads(command.payload)
    assert list(decoded) == [command.category]
    inner = decoded[command.category]
    assert inner["sequence_id"] == command.sequence_id
    assert inner["command"] == command.name
    return inner


@pytest.fixture
def builder() -> CommandBuilder:
    return CommandBuilder(start=100)


def test_topics() -> None:
    assert report_topic("01S00A000000001") == "device/01S00A000000001/report"
    assert request_topic("01S00A000000001") == "device/01S00A000000001/request"


@pytest.mark.parametrize("serial", ["", "a/b", "a+", "#", None])
def test_topic_rejects_bad_serial(serial: Any) -> None:
    with pytest.raises(ValueError, match="serial"):
        request_topic(serial)


def test_sequence_ids_are_increasing_strings(builder: CommandBuilder) -> None:
    ids = [builder.pause().sequence_id, builder.resume().sequence_id, builder.stop().sequence_id]
    assert ids == ["100", "101", "102"]


def test_sequence_ids_wrap_below_2_pow_31() -> None:
    builder = CommandBuilder(start=MAX_ID)
    assert [builder.next_sequence_id() for _ in range(2)] == [str(MAX_ID), "1"]
    assert MAX_ID == 2**31 - 1


def test_default_start_is_random_and_valid() -> None:
    first = int(CommandBuilder().next_sequence_id())
    assert 0 < first < 2**31


def test_sequence_ids_are_unique_across_threads(builder: CommandBuilder) -> None:
    seen: list[str] = []

    def worker() -> None:
        ids = [builder.next_sequence_id() for _ in range(2000)]
        seen.extend(ids)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 16_000


def test_pushall_and_get_version_payloads(builder: CommandBuilder) -> None:
    pushall = builder.pushall()
    assert json.loads(pushall.payload) == {
        "pushing": {"sequence_id": "100", "command": "pushall", "version": 1, "push_target": 1}
    }
    assert pushall.qos == 1
    assert json.loads(builder.get_version().payload) == {
        "info": {"sequence_id": "101", "command": "get_version"}
    }


@pytest.mark.parametrize("name", ["pause", "resume", "stop"])
def test_print_control_payloads(builder: CommandBuilder, name: str) -> None:
    command = getattr(builder, name)()
    assert (command.category, command.name, command.qos) == ("print", name, 1)
    assert json.loads(command.payload) == {
        "print": {"sequence_id": "100", "command": name, "param": ""}
    }


@pytest.mark.parametrize(("level", "param"), [(1, "1"), (4, "4"), ("sport", "3"), ("Silent", "1")])
def test_print_speed_param_is_a_string(builder: CommandBuilder, level: Any, param: str) -> None:
    assert body(builder.print_speed(level))["param"] == param


@pytest.mark.parametrize("level", [0, 5, "turbo", 2.0, True, None])
def test_print_speed_rejects_unknown_levels(builder: CommandBuilder, level: Any) -> None:
    with pytest.raises(ValueError, match="level"):
        builder.print_speed(level)


def test_gcode_line_joins_lines_with_trailing_newline(builder: CommandBuilder) -> None:
    assert body(builder.gcode_line("M104 S200"))["param"] == "M104 S200\n"
    assert body(builder.gcode_line(["M104 S200", "M140 S60\n"]))["param"] == "M104 S200\nM140 S60\n"


@pytest.mark.parametrize("lines", ["", "  \n", [], [5], None])
def test_gcode_line_rejects_empty_or_non_text(builder: CommandBuilder, lines: Any) -> None:
    with pytest.raises(ValueError, match="lines"):
        builder.gcode_line(lines)


@pytest.mark.parametrize(
    ("slot", "ams_id", "tray_id"),
    [(0, 0, 0), (5, 1, 1), (15, 3, 3), (128, 128, 0), (135, 135, 0), (254, 255, 0)],
)
def test_ams_filament_setting_maps_global_slot(
    builder: CommandBuilder, slot: int, ams_id: int, tray_id: int
) -> None:
    command = builder.ams_filament_setting(slot, "PLA", "#ff0000", 190, 230, "GFA00")
    assert json.loads(command.payload) == {
        "print": {
            "sequence_id": "100",
            "command": "ams_filament_setting",
            "ams_id": ams_id,
            "slot_id": tray_id,
            "tray_id": tray_id,
            "tray_info_idx": "GFA00",
            "tray_color": "FF0000FF",
            "nozzle_temp_min": 190,
            "nozzle_temp_max": 230,
            "tray_type": "PLA",
        }
    }


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((16, "PLA", "#FF0000", 190, 230), "slot"),
        ((255, "PLA", "#FF0000", 190, 230), "slot"),
        ((-1, "PLA", "#FF0000", 190, 230), "slot"),
        ((0, "PLA", "red", 190, 230), "color_hex"),
        ((0, "PLA", "#FF00", 190, 230), "color_hex"),
        ((0, "PLA", "#FF0000", 240, 230), "nozzle_temp_min"),
        ((0, "PLA", "#FF0000", 190, 999), "nozzle_temp_max"),
        ((0, "PLA", "#FF0000", "190", 230), "nozzle_temp_min"),
        ((0, None, "#FF0000", 190, 230), "tray_type"),
    ],
)
def test_ams_filament_setting_validates(builder: CommandBuilder, args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        builder.ams_filament_setting(*args)


def test_ams_filament_setting_keeps_given_alpha(builder: CommandBuilder) -> None:
    assert body(builder.ams_filament_setting(3, "PETG", "1a2b3c80", 230, 260))["tray_color"] == (
        "1A2B3C80"
    )


def test_clean_print_error_payload(builder: CommandBuilder) -> None:
    assert json.loads(builder.clean_print_error(50348044).payload) == {
        "print": {
            "sequence_id": "100",
            "command": "clean_print_error",
            "subtask_id": "",
            "print_error": 50348044,
        }
    }
    with pytest.raises(ValueError, match="code"):
        builder.clean_print_error(0)


def test_project_file_payload(builder: CommandBuilder) -> None:
    command = builder.project_file(
        url="ftp:///model.gcode.3mf",
        subtask_name="model",
        use_ams=True,
        ams_mapping=[0, 5, -1, 128, 254],
        plate=2,
        task_id=1234,
        subtask_id="5678",
    )
    inner = body(command)
    project_id = inner.pop("project_id")
    assert 0 < int(project_id) < 2**31
    assert inner == {
        "sequence_id": "100",
        "command": "project_file",
        "param": "Metadata/plate_2.gcode",
        "url": "ftp:///model.gcode.3mf",
        "subtask_name": "model",
        "md5": "",
        "bed_type": "auto",
        "timelapse": False,
        "bed_leveling": True,
        "flow_cali": True,
        "vibration_cali": True,
        "layer_inspect": False,
        "use_ams": True,
        "ams_mapping": [0, 5, -1, 128, -1],
        "ams_mapping2": [
            {"ams_id": 0, "slot_id": 0},
            {"ams_id": 1, "slot_id": 1},
            {"ams_id": 255, "slot_id": 255},
            {"ams_id": 128, "slot_id": 0},
            {"ams_id": 255, "slot_id": 0},
        ],
        "profile_id": "0",
        "subtask_id": "5678",
        "task_id": "1234",
    }


def test_project_file_mints_fresh_nonzero_ids(builder: CommandBuilder) -> None:
    def ids() -> tuple[str, str, str]:
        inner = body(
            builder.project_file(
                url="file:///sdcard/a.gcode.3mf",
                subtask_name="a",
                use_ams=False,
                ams_mapping=[254],
            )
        )
        assert inner["ams_mapping"] == [-1]
        return inner["task_id"], inner["subtask_id"], inner["project_id"]

    first, second = ids(), ids()
    assert first != second
    assert all(0 < int(value) < 2**31 for value in first + second)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"use_ams": False}, "use_ams"),
        ({"ams_mapping": [254], "use_ams": True}, "use_ams"),
        ({"ams_mapping": []}, "ams_mapping"),
        ({"ams_mapping": "0"}, "ams_mapping"),
        ({"ams_mapping": [16]}, "slot"),
        ({"ams_mapping": [255]}, "slot"),
        ({"timelapse": 0}, "timelapse"),
        ({"bed_leveling": 1}, "bed_leveling"),
        ({"use_ams": 1}, "use_ams"),
        ({"url": "http://x/a.3mf"}, "url"),
        ({"subtask_name": " "}, "subtask_name"),
        ({"plate": 0}, "plate"),
        ({"bed_type": "glass"}, "bed_type"),
        ({"task_id": 0}, "task_id"),
        ({"subtask_id": 2**31}, "subtask_id"),
        ({"md5": "abc"}, "md5"),
    ],
)
def test_project_file_validates(
    builder: CommandBuilder, changes: dict[str, Any], match: str
) -> None:
    arguments: dict[str, Any] = {
        "url": "ftp:///a.gcode.3mf",
        "subtask_name": "a",
        "use_ams": True,
        "ams_mapping": [0],
    }
    arguments.update(changes)
    with pytest.raises(ValueError, match=match):
        builder.project_file(**arguments)


# ---- replies ----------------------------------------------------------------------------------


def test_h2d_failed_reply_sample() -> None:
    message = json.loads((SAMPLES / "h2d_command_reply_fail_synman-bpm-docs.json").read_text())
    reply = parse_reply(message)
    assert reply is not None
    assert (reply.category, reply.sequence_id, reply.command) == (
        "print",
        "0",
        "ams_change_filament",
    )
    assert (reply.ok, reply.result) == (False, "fail")
    assert (reply.err_code, reply.err_hex) == (83935311, "0500_C04F")
    assert reply.needs_developer_mode is False


@pytest.mark.parametrize(
    "inner",
    [
        {"result": "failed", "reason": "mqtt message verify failed", "sequence_id": "3"},
        {"result": "fail", "err_code": 0x05024007, "sequence_id": "3"},
        {"result": "failed", "err_code": 84033545, "sequence_id": "3"},
    ],
)
def test_refused_for_signature_needs_developer_mode(inner: dict[str, Any]) -> None:
    reply = parse_reply({"print": {"command": "pause", **inner}})
    assert reply is not None
    assert reply.ok is False
    assert reply.needs_developer_mode is True
    assert DEVELOPER_MODE_REQUIRED_MESSAGE == (
        "this printer needs LAN mode + Developer Mode for control"
    )


@pytest.mark.parametrize("result", ["success", "SUCCESS"])
def test_success_reply_is_ok(result: str) -> None:
    reply = parse_reply(
        {"print": {"command": "project_file", "sequence_id": "12", "result": result}}
    )
    assert reply is not None and reply.ok is True and reply.needs_developer_mode is False


def test_bare_ack_without_command() -> None:
    reply = parse_reply({"print": {"sequence_id": "1", "param": "G28", "result": "success"}})
    assert reply is not None
    assert (reply.command, reply.sequence_id, reply.ok) == (None, "1", True)


def test_probe_echo_without_result_is_a_reply_of_unknown_outcome() -> None:
    reply = parse_reply({"print": {"command": "ams_filament_setting", "sequence_id": "3"}})
    assert reply is not None
    assert (reply.command, reply.ok, reply.result) == ("ams_filament_setting", None, None)


def test_system_reply_keeps_its_category() -> None:
    reply = parse_reply(
        {
            "system": {
                "command": "ledctrl",
                "sequence_id": "8",
                "result": "fail",
                "reason": "did not find the valid led: chamber_light2",
            }
        }
    )
    assert reply is not None
    assert (reply.category, reply.ok, reply.reason) == (
        "system",
        False,
        "did not find the valid led: chamber_light2",
    )


@pytest.mark.parametrize(
    "message",
    [
        {"print": {"command": "push_status", "msg": 1, "sequence_id": "5", "bed_temper": 20}},
        {"print": {"gcode_state": "IDLE"}},
        {"mc_print": {"command": "push_info", "sequence_id": "1", "result": "success"}},
        {"print": []},
        None,
        [],
    ],
)
def test_non_replies_parse_to_none(message: Any) -> None:
    assert parse_reply(message) is None

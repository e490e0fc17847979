"""MQTT command builders and command-reply parsing (bambu-protocol.md §1.5, §5).

Every builder returns a :class:`Command` whose ``payload`` is ready to publish on
:func:`request_topic` at QoS 1 (the printer ignores QoS 0 commands while busy). Sequence ids are
per-printer, increasing, and kept below 2**31 because firmware may parse them as int32.

Replies arrive on the report topic under the request's category, carrying the same
``sequence_id`` and a ``result``; :func:`parse_reply` reads them. Control commands need LAN mode
plus Developer Mode on current firmware; a refusal is flagged as ``needs_developer_mode``.
"""

from __future__ import annotations

import secrets
import string
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from printers.bambu.errors import as_u32, error_hex

DEVELOPER_MODE_REQUIRED_MESSAGE = "this printer needs LAN mode + Developer Mode for control"

MAX_ID = 2**31 - 1
QOS = 1

# Categories a client sends requests under; a reply comes back under the same one.
REQUEST_CATEGORIES = ("print", "pushing", "info", "system", "camera", "xcam", "upgrade", "security")

VERIFY_FAILED_REASON = "mqtt message verify failed"
VERIFY_FAILED_ERR_CODES = frozenset({0x05024007, 0x05024009})

SPEED_LEVELS = {"silent": 1, "standard": 2, "sport": 3, "ludicrous": 4}
BED_TYPES = frozenset({"auto", "textured_plate", "cool_plate", "eng_plate", "hot_plate"})
EXTERNAL_SLOT = 254
# The wire form of the single external spool: the A1 ignores ams_id 254 (§5.3).
EXTERNAL_AMS_ID = 255
UNMAPPED = {"ams_id": 255, "slot_id": 255}
MAX_NOZZLE_TEMP = 350


def _check_serial(serial: str) -> str:
    if not isinstance(serial, str) or not serial or any(c in serial for c in "/+#\0"):
        raise ValueError("serial must be a non-empty string without MQTT topic characters")
    return serial


def report_topic(serial: str) -> str:
    """Topic the printer publishes status pushes and command replies on."""
    return f"device/{_check_serial(serial)}/report"


def request_topic(serial: str) -> str:
    """Topic the printer reads commands from."""
    return f"device/{_check_serial(serial)}/request"


@dataclass(frozen=True, slots=True)
class Command:
    """One command ready to publish on ``request_topic(serial)`` at ``qos``.

    The printer's reply carries the same ``category`` and ``sequence_id``.
    """

    sequence_id: str
    category: str
    name: str
    payload: bytes
    qos: int = QOS


@dataclass(frozen=True, slots=True)
class Reply:
    """A command reply (or bare ACK) read from the report topic.

    ok: True for result success/SUCCESS, False for any other result, None when the message has no
    ``result`` at all. P1S 01.10 answers a control command it silently drops with a bare
    ``{"command", "sequence_id"}`` echo, so "no result" must not read as success; the caller
    verifies the effect from the status instead. needs_developer_mode: the printer refused the
    command because it wants signed commands (result fail with "mqtt message verify failed", or
    err_code 0x05024007/0x05024009): show DEVELOPER_MODE_REQUIRED_MESSAGE.
    """

    category: str
    sequence_id: str | None
    command: str | None
    ok: bool | None
    result: str | None
    reason: str | None
    err_code: int | None
    needs_developer_mode: bool

    @property
    def err_hex(self) -> str | None:
        """``err_code`` as "MMMM_EEEE" (83935311 → "0500_C04F"), None without one."""
        return error_hex(self.err_code) if self.err_code else None


def parse_reply(message: Any) -> Reply | None:
    """Read a command reply out of a decoded report message; None when it is not one.

    A category object is a reply when it has a ``result``, or when it echoes a ``command`` other
    than a status push together with a ``sequence_id`` (the P1S probe answer, ``ok=None``).
    Status pushes (``print.command == "push_status"`` without ``result``) are never replies.
    """
    if type(message) is not dict:
        return None
    for category in REQUEST_CATEGORIES:
        body = message.get(category)
        if type(body) is dict:
            reply = _reply_from(category, body)
            if reply is not None:
                return reply
    return None


def _reply_from(category: str, body: dict[str, Any]) -> Reply | None:
    command = body.get("command")
    command = command if type(command) is str else None
    has_result = "result" in body
    if not has_result:
        if command is None or command.startswith("push_") or "sequence_id" not in body:
            return None
    result = body.get("result")
    result = str(result) if result is not None else None
    reason = body.get("reason")
    reason = reason if type(reason) is str else None
    err_code = as_u32(body.get("err_code"))
    ok = None if result is None else result.lower() == "success"
    refused = (ok is False and reason is not None and VERIFY_FAILED_REASON in reason.lower()) or (
        err_code in VERIFY_FAILED_ERR_CODES
    )
    sequence_id = body.get("sequence_id")
    return Reply(
        category=category,
        sequence_id=None if sequence_id is None else str(sequence_id),
        command=command,
        ok=ok,
        result=result,
        reason=reason,
        err_code=err_code or None,
        needs_developer_mode=refused,
    )


def _mint_id() -> str:
    """A fresh non-zero id below 2**31 (§5.4: reusing ids makes a reprint look like a resume)."""
    return str(secrets.randbelow(MAX_ID) + 1)


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def _check_id(name: str, value: Any) -> str:
    text = str(value) if type(value) is int else value
    digits = isinstance(text, str) and text.isascii() and text.isdigit()
    if not digits or not 0 < int(text) <= MAX_ID:
        raise ValueError(f"{name} must be a positive integer below 2**31, got {value!r}")
    return str(int(text))


def _color_rgba(value: Any) -> str:
    """'#RRGGBB', 'RRGGBB' or 'RRGGBBAA' → 'RRGGBBAA' (opaque when no alpha is given)."""
    text = value.removeprefix("#") if isinstance(value, str) else ""
    if len(text) not in (6, 8) or any(c not in string.hexdigits for c in text):
        raise ValueError(f"color_hex must look like #RRGGBB or RRGGBBAA, got {value!r}")
    return (text + "FF" if len(text) == 6 else text).upper()


def _slot_wire(slot: Any) -> tuple[int, int]:
    """J3D slot → (ams_id, tray/slot id) as the printer wants them in AMS commands."""
    if type(slot) is int:
        if 0 <= slot <= 15:
            return slot // 4, slot % 4
        if 128 <= slot <= 135:
            return slot, 0
        if slot == EXTERNAL_SLOT:
            return EXTERNAL_AMS_ID, 0
    raise ValueError(
        f"slot must be 0–15 (AMS), 128–135 (AMS HT) or 254 (external spool), got {slot!r}"
        " (the H2D second external spool, 255, has no verified command form)"
    )


def _mapping_entry(slot: Any) -> tuple[int, dict[str, int]]:
    """One filament's ams_mapping value and its ams_mapping2 entry (§5.4)."""
    if slot == -1:
        return -1, UNMAPPED
    ams_id, tray_id = _slot_wire(slot)
    flat = -1 if slot == EXTERNAL_SLOT else slot  # raw 254 in the flat list fails on H2D
    return flat, {"ams_id": ams_id, "slot_id": tray_id}


class CommandBuilder:
    """Builds one printer's commands with increasing sequence ids (thread-safe).

    ``start`` is the first id; by default a random one, so a restarted link does not reuse the ids
    of replies still in flight from before.
    """

    def __init__(self, start: int | None = None) -> None:
        first = secrets.randbelow(2**24) + 1 if start is None else start
        self._next = _check_int("start", first, 1, MAX_ID)
        self._lock = threading.Lock()

    def next_sequence_id(self) -> str:
        """The next id, wrapping to 1 after 2**31 - 1."""
        with self._lock:
            value = self._next
            self._next = 1 if value >= MAX_ID else value + 1
        return str(value)

    def _build(self, category: str, name: str, **fields: Any) -> Command:
        sequence_id = self.next_sequence_id()
        body = {"sequence_id": sequence_id, "command": name, **fields}
        return Command(sequence_id, category, name, orjson.dumps({category: body}))

    def pushall(self) -> Command:
        """Ask for a full report (msg 0). Sparingly: every 5 min at most on a P1P."""
        return self._build("pushing", "pushall", version=1, push_target=1)

    def get_version(self) -> Command:
        """Ask for the module list (firmware version, AMS units)."""
        return self._build("info", "get_version")

    def pause(self) -> Command:
        return self._build("print", "pause", param="")

    def resume(self) -> Command:
        return self._build("print", "resume", param="")

    def stop(self) -> Command:
        return self._build("print", "stop", param="")

    def print_speed(self, level: int | str) -> Command:
        """Speed profile: 1–4 or silent|standard|sport|ludicrous; sent as a string param."""
        number = SPEED_LEVELS.get(level.lower()) if isinstance(level, str) else level
        if number is None:
            raise ValueError(f"unknown speed level {level!r}; use 1–4 or {sorted(SPEED_LEVELS)}")
        _check_int("level", number, 1, 4)
        return self._build("print", "print_speed", param=str(number))

    def gcode_line(self, lines: str | Iterable[str]) -> Command:
        """Raw G-code, one string or several lines; sent newline-separated with a final newline."""
        if isinstance(lines, str):
            items = [lines]
        elif isinstance(lines, Iterable):
            items = list(lines)
        else:
            items = []
        if not items or not all(isinstance(line, str) for line in items):
            raise ValueError("lines must be a string or a list of strings")
        text = "\n".join(line.strip("\n") for line in items).strip()
        if not text:
            raise ValueError("lines must contain G-code")
        return self._build("print", "gcode_line", param=text + "\n")

    def ams_filament_setting(
        self,
        slot: int,
        tray_type: str,
        color_hex: str,
        nozzle_temp_min: int,
        nozzle_temp_max: int,
        tray_info_idx: str = "",
    ) -> Command:
        """Set a slot's material, colour and nozzle range (§5.3).

        ``slot`` is a J3D slot: 0–15 → ams_id slot//4, tray slot%4; AMS HT 128–135 → ams_id =
        slot, tray 0; external spool 254 → ams_id 255, tray 0.
        """
        ams_id, tray_id = _slot_wire(slot)
        if not isinstance(tray_type, str) or len(tray_type) > 32:
            raise ValueError("tray_type must be a material name such as 'PLA'")
        if not isinstance(tray_info_idx, str) or len(tray_info_idx) > 32:
            raise ValueError("tray_info_idx must be a filament preset id such as 'GFA00'")
        low = _check_int("nozzle_temp_min", nozzle_temp_min, 0, MAX_NOZZLE_TEMP)
        high = _check_int("nozzle_temp_max", nozzle_temp_max, 0, MAX_NOZZLE_TEMP)
        if low > high:
            raise ValueError("nozzle_temp_min must not exceed nozzle_temp_max")
        return self._build(
            "print",
            "ams_filament_setting",
            ams_id=ams_id,
            slot_id=tray_id,
            tray_id=tray_id,
            tray_info_idx=tray_info_idx,
            tray_color=_color_rgba(color_hex),
            nozzle_temp_min=low,
            nozzle_temp_max=high,
            tray_type=tray_type,
        )

    def clean_print_error(self, code: int, subtask_id: str = "") -> Command:
        """Acknowledge a latched ``print_error`` so the printer can start the next job."""
        _check_int("code", code, 1, 0xFFFFFFFF)
        if not isinstance(subtask_id, str):
            raise ValueError("subtask_id must be a string")
        return self._build("print", "clean_print_error", subtask_id=subtask_id, print_error=code)

    def project_file(
        self,
        *,
        url: str,
        subtask_name: str,
        use_ams: bool,
        ams_mapping: Sequence[int],
        plate: int = 1,
        bed_leveling: bool = True,
        flow_cali: bool = True,
        vibration_cali: bool = True,
        layer_inspect: bool = False,
        timelapse: bool = False,
        bed_type: str = "auto",
        task_id: int | str | None = None,
        subtask_id: int | str | None = None,
        md5: str = "",
    ) -> Command:
        """Start plate ``plate`` of an uploaded sliced 3MF (§5.4).

        ``ams_mapping`` has one J3D slot per filament of the file (−1 unused; 254 external spool,
        written as −1 in the flat list and spelled out in ``ams_mapping2``). ``use_ams`` must be
        True exactly when a real AMS tray is used. task/subtask/project ids are minted fresh when
        not given, so the printer never mistakes a reprint for the previous job.
        """
        _check_start_args(url, subtask_name, plate, bed_type, md5)
        for name, flag in (
            ("use_ams", use_ams),
            ("bed_leveling", bed_leveling),
            ("flow_cali", flow_cali),
            ("vibration_cali", vibration_cali),
            ("layer_inspect", layer_inspect),
            ("timelapse", timelapse),
        ):
            if type(flag) is not bool:
                raise ValueError(f"{name} must be a boolean (integers change meaning on H2D)")
        flat, detailed = _check_mapping(ams_mapping, use_ams)
        return self._build(
            "print",
            "project_file",
            param=f"Metadata/plate_{plate}.gcode",
            url=url,
            subtask_name=subtask_name,
            md5=md5,
            bed_type=bed_type,
            timelapse=timelapse,
            bed_leveling=bed_leveling,
            flow_cali=flow_cali,
            vibration_cali=vibration_cali,
            layer_inspect=layer_inspect,
            use_ams=use_ams,
            ams_mapping=flat,
            ams_mapping2=detailed,
            profile_id="0",
            project_id=_mint_id(),
            subtask_id=_mint_id() if subtask_id is None else _check_id("subtask_id", subtask_id),
            task_id=_mint_id() if task_id is None else _check_id("task_id", task_id),
        )


def _check_start_args(url: Any, subtask_name: Any, plate: Any, bed_type: Any, md5: Any) -> None:
    if not isinstance(url, str) or not url.startswith(("ftp://", "file://")):
        raise ValueError("url must start with ftp:// or file://")
    if not isinstance(subtask_name, str) or not subtask_name.strip():
        raise ValueError("subtask_name must be a non-empty string")
    _check_int("plate", plate, 1, 99)
    if bed_type not in BED_TYPES:
        raise ValueError(f"bed_type must be one of {sorted(BED_TYPES)}")
    if not isinstance(md5, str) or (md5 and len(md5) != 32):
        raise ValueError("md5 must be empty or 32 hex digits")


def _check_mapping(ams_mapping: Any, use_ams: bool) -> tuple[list[int], list[dict[str, int]]]:
    if isinstance(ams_mapping, str | bytes) or not isinstance(ams_mapping, Sequence):
        raise ValueError("ams_mapping must be a list of slots")
    if not ams_mapping:
        raise ValueError("ams_mapping must list one slot per filament")
    entries = [_mapping_entry(slot) for slot in ams_mapping]
    uses_ams_tray = any(0 <= slot <= 135 for slot in ams_mapping)
    if use_ams != uses_ams_tray:
        raise ValueError("use_ams must be True exactly when ams_mapping uses an AMS tray")
    return [flat for flat, _ in entries], [detail for _, detail in entries]

"""Decoding of the printer's two error channels: ``print_error`` and ``hms``.

``print_error`` is one 32-bit integer shown as ``MMMM_EEEE`` (``0300_400C``); ``hms`` is a list of
``{attr, code}`` pairs shown as ``AAAA_AAAA_CCCC_CCCC`` and looked up by their 16-hex-digit form
(the truncated 8-digit form collides between modules). See bambu-protocol.md §3.3 and §1.5.

The texts are a small built-in table of the codes the protocol reference documents; anything else
decodes with ``text=None`` (Bambu's full tables live behind a network call we do not make).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

USER_CANCEL_CODE = 50348044  # 0x0300400C, "The task was canceled."

HMS_DEVELOPER_MODE_REQUIRED = "0500050000010007"

SEVERITIES: dict[int, str] = {1: "fatal", 2: "serious", 3: "common", 4: "info"}

MODULES: dict[int, str] = {
    0x03: "mc",
    0x05: "mainboard",
    0x07: "ams",
    0x08: "toolhead",
    0x0C: "xcam",
}

# Keyed by the "MMMM_EEEE" display form. Texts as the reference quotes them; "…" marks where it
# quotes only the start of Bambu's text.
PRINT_ERROR_TEXTS: dict[str, str] = {
    "0300_400C": "The task was canceled.",
    "0300_8004": "Filament ran out. Please load new filament.",
    "0300_8015": "The filament on external spool has run out…",
    "0700_8004": "AMS failed to pull back filament…",
    "0700_8006": "Unable to feed filament into the extruder…",
    "0500_C010": "MicroSD Card read/write exception…",
    "0500_C011": "SD card performance has degraded…",
    "0500_803C": "The current nozzle setting does not match the slicing file…",
    "0500_C04F": "The AMS is drying and cannot perform this operation",
    "0500_4004": "Device is busy.",
    "07FF_8012": "Failed to get AMS mapping table.",
}

# Keyed by the 16-hex-digit lookup form, f"{attr:08X}{code:08X}".
HMS_TEXTS: dict[str, str] = {
    "0C00030000030007": "Possible first layer defects…",
    HMS_DEVELOPER_MODE_REQUIRED: (
        "MQTT Command verification failed. Please update Studio (including the network plugin)"
        " or Handy…"
    ),
    "0501040000030002": "Threaded rods need lubrication now.",
    "0500040000030057": (
        "The print job has been completed. Automatic air purification is in progress."
    ),
}


@dataclass(frozen=True, slots=True)
class PrintError:
    """A decoded non-zero ``print_error``.

    code: the raw integer. hex: "MMMM_EEEE" (e.g. "0300_400C"). text: English text when the code is
    in the built-in table, else None. cancelled: True for the user-cancel code 0x0300400C, which is
    an outcome, not a fault.
    """

    code: int
    hex: str
    text: str | None
    cancelled: bool

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "hex": self.hex, "text": self.text, "cancelled": self.cancelled}


@dataclass(frozen=True, slots=True)
class HmsEntry:
    """One decoded HMS entry.

    code: display form "AAAA_AAAA_CCCC_CCCC" (e.g. "0C00_0300_0003_0007"). full_code: the 16 hex
    digits used for lookups. severity: fatal|serious|common|info|unknown (from ``code >> 16``).
    module: mc|mainboard|ams|toolhead|xcam|unknown (from ``attr >> 24``). text: built-in English
    text or None. attr/raw_code: the raw integers.
    """

    code: str
    full_code: str
    severity: str
    module: str
    text: str | None
    attr: int
    raw_code: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "full_code": self.full_code,
            "severity": self.severity,
            "module": self.module,
            "text": self.text,
        }


def as_u32(value: Any) -> int | None:
    """Read an unsigned 32-bit integer from an int or a decimal/0x-hex string; None otherwise."""
    if type(value) is int:
        number = value
    elif isinstance(value, str):
        try:
            number = int(value.strip(), 0)
        except ValueError:
            return None
    else:
        return None
    if number < 0:
        number &= 0xFFFFFFFF  # firmware sometimes sends the signed int32 reading
    return number if number <= 0xFFFFFFFF else None


def error_hex(code: int) -> str:
    """Format a 32-bit error code as "MMMM_EEEE"."""
    return f"{code >> 16:04X}_{code & 0xFFFF:04X}"


def is_user_cancel(code: Any) -> bool:
    """True when ``code`` is the user-cancel print_error (0x0300400C), as int or string."""
    return as_u32(code) == USER_CANCEL_CODE


def decode_print_error(code: Any) -> PrintError | None:
    """Decode a ``print_error`` value; None for 0, missing or unreadable values."""
    number = as_u32(code)
    if not number:
        return None
    hex_code = error_hex(number)
    return PrintError(
        code=number,
        hex=hex_code,
        text=PRINT_ERROR_TEXTS.get(hex_code),
        cancelled=number == USER_CANCEL_CODE,
    )


def decode_hms(attr: Any, code: Any) -> HmsEntry | None:
    """Decode one HMS ``{attr, code}`` pair; None when either value is unreadable."""
    attr_n = as_u32(attr)
    code_n = as_u32(code)
    if attr_n is None or code_n is None:
        return None
    full = f"{attr_n:08X}{code_n:08X}"
    return HmsEntry(
        code=f"{full[0:4]}_{full[4:8]}_{full[8:12]}_{full[12:16]}",
        full_code=full,
        severity=SEVERITIES.get(code_n >> 16, "unknown"),
        module=MODULES.get(attr_n >> 24, "unknown"),
        text=HMS_TEXTS.get(full),
        attr=attr_n,
        raw_code=code_n,
    )


def decode_hms_list(entries: Any) -> tuple[HmsEntry, ...]:
    """Decode a report's ``hms`` list, skipping malformed entries."""
    if type(entries) is not list:
        return ()
    decoded = []
    for entry in entries:
        if type(entry) is dict:
            item = decode_hms(entry.get("attr"), entry.get("code"))
            if item is not None:
                decoded.append(item)
    return tuple(decoded)

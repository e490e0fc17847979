"""The command outbox: a person (or the dispatcher) enqueues, the process holding the printer sends.

A command row moves pending -> sent -> acknowledged | failed. Sending is claimed with a conditional
UPDATE (``status=pending`` -> ``sent``, row count checked) so a command goes out once even with
several link processes and q2 pollers. The printer's reply is matched by ``sequence_id``; a reply
that says the printer refuses unsigned commands (§1.5) is a failure that says what to switch on,
never a success.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from j3d.lib.text import storable_text
from j3d.lib.validation import save_validated
from printers.bambu.commands import (
    DEVELOPER_MODE_REQUIRED_MESSAGE,
    Command,
    CommandBuilder,
    Reply,
)
from printers.models import Printer, PrinterCommand

DEVELOPER_MODE_REASON = DEVELOPER_MODE_REQUIRED_MESSAGE
NO_REPLY_REASON = "no reply from the printer"
NOT_CONNECTED_REASON = "the printer is not connected"
SPEED_LEVELS = {1: "silent", 2: "standard", 3: "sport", 4: "ludicrous"}
# What a person may ask for through the API; project_file is the dispatcher's own.
USER_ACTIONS = ("pause", "resume", "stop", "refresh", "speed")
_SEQUENCE_MODULUS = 2**31 - 1  # firmware may read sequence ids as int32 (§5.1)


def command_timeout() -> float:
    return float(settings.PRINTER_COMMAND_TIMEOUT_SECONDS)


def _validate(action: str, params: dict[str, Any]) -> dict[str, Any]:
    if action not in PrinterCommand.Action.values:
        raise ValidationError({"action": f"Unknown action {action!r}; use one of {USER_ACTIONS}."})
    if action == PrinterCommand.Action.SPEED:
        level = params.get("level")
        if isinstance(level, str) and level.strip().isdigit():
            level = int(level)
        if level not in SPEED_LEVELS or isinstance(level, bool):
            raise ValidationError({"level": "Speed level must be 1 (silent) to 4 (ludicrous)."})
        return {"level": level}
    if action == PrinterCommand.Action.PROJECT_FILE:
        if not isinstance(params.get("url"), str) or not params["url"]:
            raise ValidationError({"url": "project_file needs the uploaded file's url."})
        return params
    return {}


@transaction.atomic
def command_enqueue(
    *, printer: Printer, action: str, params: dict[str, Any] | None = None, user: Any = None
) -> PrinterCommand:
    """Queue a command for ``printer``; refresh asks for a full report (pushall)."""
    clean = _validate(action, params or {})
    owner_id = user.pk if user else printer.user_id
    return save_validated(
        PrinterCommand(printer=printer, user_id=owner_id, action=action, params=clean)
    )


def command_build(*, command: PrinterCommand, builder: CommandBuilder) -> Command:
    """The wire ``Command`` for an outbox row, from a ``printers.bambu.commands.CommandBuilder``."""
    params = command.params or {}
    match command.action:
        case PrinterCommand.Action.REFRESH:
            return builder.pushall()
        case PrinterCommand.Action.PAUSE:
            return builder.pause()
        case PrinterCommand.Action.RESUME:
            return builder.resume()
        case PrinterCommand.Action.STOP:
            return builder.stop()
        case PrinterCommand.Action.SPEED:
            return builder.print_speed(int(params["level"]))
        case PrinterCommand.Action.PROJECT_FILE:
            return builder.project_file(**params)
    raise ValueError(f"unknown action {command.action!r}")


def command_claim_send(*, command: PrinterCommand, sequence_id: str, now: datetime) -> bool:
    """Mark a pending command sent; False when another process already took it."""
    claimed = PrinterCommand.objects.filter(pk=command.pk, status=PrinterCommand.Status.PENDING)
    updated = claimed.update(
        status=PrinterCommand.Status.SENT, sequence_id=sequence_id, sent_at=now, updated_at=now
    )
    return updated == 1


def command_fail(*, command_id: int, reason: str) -> None:
    PrinterCommand.objects.filter(
        pk=command_id, status__in=[PrinterCommand.Status.PENDING, PrinterCommand.Status.SENT]
    ).update(status=PrinterCommand.Status.FAILED, reason=reason[:255], updated_at=timezone.now())


def command_record_reply(*, printer_id: int, reply: Reply, now: datetime | None = None) -> int:
    """Apply a printer's reply (``printers.bambu.commands.Reply``) to the command it answers.

    Returns the number of commands updated (0 when the reply answers nothing J3D sent).
    """
    sequence_id = reply.sequence_id or ""
    if not sequence_id or storable_text(sequence_id) != sequence_id:
        return 0  # J3D sends digits: text no column can hold answers nothing it sent
    now = now or timezone.now()
    waiting = PrinterCommand.objects.filter(
        printer_id=printer_id, sequence_id=sequence_id, status=PrinterCommand.Status.SENT
    )
    if reply.needs_developer_mode:
        fields = {"status": PrinterCommand.Status.FAILED, "reason": DEVELOPER_MODE_REASON}
    elif reply.ok is None:
        # A bare echo without a result (P1S 01.10 does this for commands it drops, §1.5): not a
        # success; the timeout or the printer's state decides.
        return 0
    elif reply.ok:
        fields = {"status": PrinterCommand.Status.ACKNOWLEDGED, "reason": ""}
    else:
        err = f"error {reply.err_hex}" if reply.err_hex else ""
        text = reply.reason or err or "the printer refused it"
        fields = {"status": PrinterCommand.Status.FAILED, "reason": storable_text(text[:255])}
    return waiting.update(**fields, acked_at=now, updated_at=now)


def commands_ack_refresh(*, printer_ids: Iterable[int]) -> int:
    """A full report arrived: the refresh (pushall) commands sent to these printers are done."""
    now = timezone.now()
    return (
        PrinterCommand.objects.sent()
        .filter(printer_id__in=list(printer_ids), action=PrinterCommand.Action.REFRESH)
        .update(status=PrinterCommand.Status.ACKNOWLEDGED, acked_at=now, updated_at=now)
    )


def commands_fail_sent(*, printer_id: int, reason: str) -> int:
    """Fail every command awaiting a reply from ``printer_id`` (e.g. the HMS says unsigned
    commands are refused, §1.5)."""
    return (
        PrinterCommand.objects.sent()
        .filter(printer_id=printer_id)
        .update(status=PrinterCommand.Status.FAILED, reason=reason[:255], updated_at=timezone.now())
    )


def commands_expire(
    *,
    printer_ids: Iterable[int],
    connected_ids: Iterable[int],
    now: datetime | None = None,
    timeout: float | None = None,
) -> int:
    """Fail sent commands with no reply, and pending ones whose printer stayed unreachable."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=command_timeout() if timeout is None else timeout)
    ids = list(printer_ids)
    expired = (
        PrinterCommand.objects.sent()
        .filter(printer_id__in=ids, sent_at__lt=cutoff)
        .update(status=PrinterCommand.Status.FAILED, reason=NO_REPLY_REASON, updated_at=now)
    )
    unreachable = set(ids) - set(connected_ids)
    if unreachable:
        expired += (
            PrinterCommand.objects.pending()
            .filter(printer_id__in=unreachable, created_at__lt=cutoff)
            .update(
                status=PrinterCommand.Status.FAILED, reason=NOT_CONNECTED_REASON, updated_at=now
            )
        )
    return expired


def sequence_seed() -> int:
    """A starting sequence id unlikely to repeat one a previous process used (< 2**31)."""
    return int(timezone.now().timestamp() * 1000) % _SEQUENCE_MODULUS or 1

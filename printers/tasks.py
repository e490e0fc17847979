"""django-q2 tasks of the printers app: thin doors to the link's steps."""

from __future__ import annotations

from printers.link import PrinterLink
from printers.services.leases import lease_holder_name


def printers_poll(timeout: float = 15.0) -> int:
    """Refresh every enabled printer that no live link holds (scheduled every minute, see
    j3d/schedules.py), so a deployment without ``run_printer_link`` still sees fresh status and
    sends queued commands. Safe to run twice at once: leases split the printers."""
    return PrinterLink(holder=lease_holder_name("poll")).poll(timeout=timeout)

"""Printer leases: at most one process (a link or a q2 poll) talks to a printer at a time.

Every claim and renewal is one conditional UPDATE whose WHERE clause says "free, expired or already
mine"; the database serialises concurrent UPDATEs on a row, so of two processes racing for a printer
exactly one sees its holder written back (SQLite and PostgreSQL alike). A holder that dies stops
renewing; its leases expire after ``PRINTER_LEASE_SECONDS`` and another process takes them over.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from printers.models import PrinterLease


def lease_holder_name(kind: str = "link") -> str:
    """A name unique to this process and object, readable in the admin (host, pid, random)."""
    return f"{kind}:{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_seconds() -> int:
    return settings.PRINTER_LEASE_SECONDS


def _ensure_rows(printer_ids: Iterable[int]) -> None:
    wanted = set(printer_ids)
    if not wanted:
        return
    existing = set(
        PrinterLease.objects.filter(printer_id__in=wanted).values_list("printer_id", flat=True)
    )
    missing = wanted - existing
    if missing:
        try:
            with transaction.atomic():
                PrinterLease.objects.bulk_create(
                    [PrinterLease(printer_id=pk) for pk in missing], ignore_conflicts=True
                )
        except IntegrityError:  # the printer was deleted meanwhile; nothing to lease
            pass


def leases_claim(
    *,
    printer_ids: Iterable[int],
    holder: str,
    seconds: int | None = None,
    now: datetime | None = None,
) -> set[int]:
    """Claim (or renew) the leases of ``printer_ids``; returns the ids ``holder`` now holds.

    One conditional UPDATE for the whole batch, then a read of what carries our name: a row only
    carries it if our UPDATE won, because nobody else can write a lease that is ours and unexpired.
    """
    ids = list(printer_ids)
    if not ids:
        return set()
    now = now or timezone.now()
    _ensure_rows(ids)
    expires = now + timedelta(seconds=seconds or lease_seconds())
    PrinterLease.objects.filter(printer_id__in=ids).claimable_by(holder, now).update(
        holder=holder, expires_at=expires, updated_at=now
    )
    return set(
        PrinterLease.objects.filter(
            printer_id__in=ids, holder=holder, expires_at=expires
        ).values_list("printer_id", flat=True)
    )


def leases_release(*, holder: str, printer_ids: Iterable[int] | None = None) -> int:
    """Give leases back at once (clean shutdown, printer disabled); returns how many."""
    leases = PrinterLease.objects.filter(holder=holder)
    if printer_ids is not None:
        leases = leases.filter(printer_id__in=list(printer_ids))
    return leases.update(holder="", expires_at=None, updated_at=timezone.now())


def printers_unleased(*, printer_ids: Iterable[int], now: datetime | None = None) -> set[int]:
    """Of ``printer_ids``, those no live process holds (candidates for the q2 poller)."""
    ids = set(printer_ids)
    now = now or timezone.now()
    held = set(
        PrinterLease.objects.filter(printer_id__in=ids, expires_at__gte=now)
        .exclude(holder="")
        .values_list("printer_id", flat=True)
    )
    return ids - held

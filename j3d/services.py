"""Handling the event log: claim due rows, run their subscribers, retry failures, prune history.

The steps ``j3d.tasks`` runs in q2 workers (see the contract in j3d/events.py). Each is safe to run
in any number of workers at once: a row is handled by whoever's conditional UPDATE claimed it.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from j3d import events
from j3d.models import Event

logger = logging.getLogger(__name__)

Status = Event.Status
# A sweep stops starting new batches after this long, well inside the q2 task timeout.
SWEEP_SECONDS = 20
PRUNE_CHUNK = 2000
MAX_ERROR_CHARS = 2000


def events_queue_handling(*, ids: list[int]) -> None:
    """Queue the q2 task that handles these rows (``publish`` calls this on commit).

    If queueing fails (the broker's database is down), the rows stay pending and the sweep takes
    them; the publisher's change is already committed and must not fail because of it.
    """
    try:
        async_task(
            "j3d.tasks.events_handle",
            ids,
            task_name=f"events {ids[0]}" if len(ids) == 1 else None,
            # The row records the outcome; a q2 Success row per event would only be noise.
            save=False,
            sync=settings.EVENTS_SYNC,
        )
    except Exception:
        logger.exception("Could not queue events %s; the sweep will handle them", ids)


def retry_delay(attempts: int) -> timedelta:
    """How long a row waits after its ``attempts``-th failed pass: doubling, capped."""
    base = settings.EVENTS_RETRY_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(base, settings.EVENTS_RETRY_MAX_SECONDS))


def events_claim(
    *,
    ids: list[int] | None = None,
    now: datetime | None = None,
    limit: int | None = None,
    skip: set[int] | None = None,
) -> list[Event]:
    """Claim due rows (of ``ids``, or the oldest due) for this worker; returns the rows it won.

    One conditional UPDATE sets a fresh token on the rows still unclaimed: of two workers racing
    for a row, the database lets exactly one UPDATE match it (PostgreSQL re-checks the WHERE after
    the row lock; SQLite runs one writer at a time), and each worker reads back only its token.
    """
    now = now or timezone.now()
    due = Event.objects.due(now)
    if ids is not None:
        due = due.filter(pk__in=ids)
    if skip:
        due = due.exclude(pk__in=skip)
    candidates = list(
        due.order_by("next_attempt_at", "id").values_list("pk", flat=True)[
            : limit or settings.EVENTS_BATCH
        ]
    )
    if not candidates:
        return []
    token = uuid.uuid4().hex
    claimed = (
        Event.objects.due(now)
        .filter(pk__in=candidates)
        .update(
            claim_token=token,
            claimed_until=now + timedelta(seconds=settings.EVENTS_CLAIM_SECONDS),
            updated_at=now,
        )
    )
    if not claimed:
        return []  # another worker got there first
    return list(Event.objects.filter(claim_token=token).order_by("occurred_at", "id"))


def event_handle(*, row: Event) -> Event.Status:
    """Run the subscribers of a claimed row that have not succeeded yet, and record the outcome.

    Each subscriber runs in its own transaction and its own try: one that raises is rolled back and
    recorded, and the others still run. Returns the row's new status.
    """
    done = list(row.handled_by)
    errors: list[str] = []
    try:
        event = row.to_event()
    except (LookupError, TypeError, ValueError) as exc:
        # The payload no longer fits its class: retrying cannot help.
        return _finish(row, done=done, errors=[f"cannot rebuild the event: {exc}"], final=True)
    for name, handler in events.subscribers(type(event)).items():
        if name in done:
            continue
        try:
            with transaction.atomic():
                handler(event)
        except Exception as exc:
            logger.exception("Event %s (%s): subscriber %s failed", row.pk, row.type, name)
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
        else:
            done.append(name)
    return _finish(row, done=done, errors=errors)


def _finish(row: Event, *, done: list[str], errors: list[str], final: bool = False) -> Event.Status:
    now = timezone.now()
    attempts = row.attempts + 1
    fields = {
        "attempts": attempts,
        "handled_by": done,
        "claim_token": "",
        "claimed_until": None,
        "updated_at": now,
    }
    if not errors:
        fields.update(status=Status.HANDLED, handled_at=now)
    else:
        fields["last_error"] = "\n".join(errors)[:MAX_ERROR_CHARS]
        if final or attempts >= settings.EVENTS_MAX_ATTEMPTS:
            fields.update(status=Status.FAILED, handled_at=now)
            logger.error("Event %s (%s) given up after %s attempts", row.pk, row.type, attempts)
        else:
            fields["next_attempt_at"] = now + retry_delay(attempts)
    # Conditional on our claim: if it expired and another worker took the row, its outcome wins.
    if not Event.objects.filter(pk=row.pk, claim_token=row.claim_token).update(**fields):
        logger.warning("Event %s: claim lost before its outcome was recorded", row.pk)
    for name, value in fields.items():
        setattr(row, name, value)
    return row.status


def events_handle(
    *, ids: list[int] | None = None, now: datetime | None = None, skip: set[int] | None = None
) -> list[int]:
    """Claim and handle one batch of due rows (of ``ids``, or the oldest); returns their ids."""
    rows = events_claim(ids=ids, now=now, skip=skip)
    for row in rows:
        event_handle(row=row)
    return [row.pk for row in rows]


def events_sweep(*, now: datetime | None = None) -> int:
    """Handle every due row, batch after batch: fresh rows whose task never got queued (the
    publisher died after its commit), retries whose backoff has passed, rows a dead worker held."""
    seen: set[int] = set()  # a row that failed again waits for the next sweep
    started = time.monotonic()
    while time.monotonic() - started < SWEEP_SECONDS:
        batch = events_handle(now=now, skip=seen)
        if not batch:
            break
        seen.update(batch)
    return len(seen)


def events_prune(*, now: datetime | None = None) -> int:
    """Delete finished rows older than EVENTS_RETENTION_DAYS (in chunks); pending rows stay."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EVENTS_RETENTION_DAYS)
    old = Event.objects.filter(occurred_at__lt=cutoff).exclude(status=Status.PENDING)
    deleted = 0
    while True:
        chunk = list(old.order_by("id").values_list("pk", flat=True)[:PRUNE_CHUNK])
        if not chunk:
            return deleted
        count, _ = Event.objects.filter(pk__in=chunk).delete()
        deleted += count

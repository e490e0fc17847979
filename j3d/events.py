"""In-process events: how the lower apps (printers, orders) tell the upper apps what happened.

`printers` and `orders` must not import `scheduling` or `notifications` (STYLE.md, "Who may import
whom"). Instead they build one of the frozen dataclasses below and ``publish()`` it; the upper apps
``subscribe()`` a handler per event type in their ``AppConfig.ready()``::

    # scheduling/apps.py
    class SchedulingConfig(AppConfig):
        def ready(self) -> None:
            from j3d import events
            from scheduling import receivers

            events.subscribe(events.PrintStarted, receivers.on_print_started)

Contract:

- ``publish(event)`` never runs a handler inside the caller's transaction: handlers run after the
  surrounding ``transaction.atomic`` block commits (``transaction.on_commit``), so they only ever
  see rows that exist, and a rolled-back write announces nothing. Outside a transaction they run at
  once.
- Handlers run in the publishing process and thread (the printer link, a q2 worker or a web
  request), in subscription order. A handler that raises is logged and skipped: it cannot break the
  printer link or the other handlers.
- Handlers must be idempotent: after a link restart or a broker outage the same transition may be
  announced again (a job already started must not start twice).
- Every event names the printer and its owner (``printer_id``, ``user_id``) and, where the printer
  reported them, the job's ``task_id``/``subtask_id`` (J3D mints these when it starts a job, so a
  subscriber can find its own ScheduledPrint).
- Subscribing is idempotent (the same handler twice is registered once), since ``ready()`` may run
  more than once in tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event. ``task_id``/``subtask_id`` are the printer's job ids ("" = unknown)."""

    printer_id: int
    user_id: int
    task_id: str = ""
    subtask_id: str = ""


@dataclass(frozen=True, kw_only=True)
class PrintStarted(Event):
    job_name: str = ""


@dataclass(frozen=True, kw_only=True)
class PrintFinished(Event):
    job_name: str = ""


@dataclass(frozen=True, kw_only=True)
class PrintFailed(Event):
    """The job ended in FAILED. ``cancelled`` is a person's stop (0x0300400C), not a fault."""

    job_name: str = ""
    reason: str = ""
    error_code: int | None = None
    error_hex: str = ""
    error_text: str = ""
    cancelled: bool = False


@dataclass(frozen=True, kw_only=True)
class PrintPaused(Event):
    job_name: str = ""
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class PrinterOnline(Event):
    pass


@dataclass(frozen=True, kw_only=True)
class PrinterOffline(Event):
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class HmsRaised(Event):
    """HMS entries that appeared since the last report (dicts as in the status snapshot)."""

    entries: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, kw_only=True)
class MaterialLow(Event):
    """A slot's remaining filament fell below the threshold (settings.PRINTER_MATERIAL_LOW_PCT)."""

    slot: int
    remaining_pct: int
    material_type: str = ""
    color_hex: str = ""


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], None]

_subscribers: dict[type[Event], list[Handler]] = {}


def subscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    """Call ``handler(event)`` after commit for every published event of ``event_type``."""
    handlers = _subscribers.setdefault(event_type, [])
    if handler not in handlers:
        handlers.append(handler)


def unsubscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    handlers = _subscribers.get(event_type, [])
    if handler in handlers:
        handlers.remove(handler)


def subscribers(event_type: type[Event]) -> list[Handler]:
    """The handlers an event of exactly this type reaches (a copy)."""
    return list(_subscribers.get(event_type, ()))


def publish(event: Event, *, using: str | None = None) -> None:
    """Announce ``event``; its handlers run once the current transaction commits."""
    transaction.on_commit(lambda: dispatch(event), using=using)


def dispatch(event: Event) -> None:
    """Run the handlers now (``publish`` calls this after commit). A failing handler is logged."""
    for handler in subscribers(type(event)):
        try:
            handler(event)
        except Exception:
            # One broken subscriber must not stop the link nor the other subscribers.
            logger.exception("Event handler %r failed for %r", handler, event)

"""Durable events: how the lower apps (printers, orders) tell the upper apps what happened.

`printers` and `orders` must not import `scheduling` or `notifications` (STYLE.md, "Who may import
whom"). Instead they build one of the frozen dataclasses below and ``publish()`` it; the upper apps
``subscribe()`` a handler per event class in their ``AppConfig.ready()``::

    # scheduling/apps.py
    class SchedulingConfig(AppConfig):
        def ready(self) -> None:
            from j3d import events
            from scheduling import receivers

            events.subscribe(events.PrintStarted, receivers.on_print_started)

Contract (the shape of healthchecks' ``Flip`` rows and its ``sendalerts`` loop):

- ``publish(event)`` writes one ``j3d.models.Event`` row **in the caller's transaction**: a
  rolled-back change announces nothing, a committed one cannot lose its event. On commit it queues
  the django-q2 task ``j3d.tasks.events_handle`` for that row; the periodic sweep
  (``j3d.tasks.events_sweep``, every minute, see ``j3d/schedules.py``) handles any row still due,
  e.g. when the publishing process died between its commit and that queueing.
- Handlers run in a q2 worker, never in the publisher: a slow or broken subscriber cannot stall the
  printer link. A worker claims a row with a conditional UPDATE (row count checked), so two workers
  never handle the same row at once, on SQLite and PostgreSQL alike; a claim expires after
  ``EVENTS_CLAIM_SECONDS`` so a row a dead worker held is taken again.
- Each handler runs in its own ``transaction.atomic()`` and its own ``try``: one that raises is
  rolled back, its error and the attempt count are recorded on the row, and the row is retried
  with exponential backoff (``EVENTS_RETRY_SECONDS`` doubling up to ``EVENTS_RETRY_MAX_SECONDS``;
  after ``EVENTS_MAX_ATTEMPTS`` the row is given up on). The other handlers still run; the ones that
  succeeded are recorded on the row (by name, ``module.qualname``) and a retry runs only the rest.
- Handlers receive the event with ``event_id`` (the row's id) and ``occurred_at`` filled, and must
  be idempotent: a crash between a handler's commit and the row's update, or a printer announcing a
  transition again after a link restart, delivers the same fact twice. ``event_id`` is the natural
  idempotency key for a subscriber that sends something (an email, a webhook).
- Every event names its owner (``user_id``) and, when known, the printer, the J3D job and the order
  (``printer_id``, ``job_id``, ``order_id``; an order cancelled has no printer). Printer events also
  carry the printer's own job ids ``task_id``/``subtask_id`` (J3D mints them when it starts a job,
  so a subscriber can find its ScheduledPrint).
- Each class has a ``type`` string (``"print.failed"``), stored on the row and used by the history
  API; ``EVENT_TYPES`` maps it back to the class. The payload is the dataclass's own fields as JSON
  (``to_payload()`` / ``from_payload()``): values are JSON scalars, dicts and lists; tuples are
  stored as lists and datetimes as ISO 8601 strings, and both come back as they were. A payload key
  the class no longer has is ignored and a field it lacks takes its default, so a class may gain
  fields with defaults without breaking stored rows. Never rename a ``type``: rows keep it.
- Subscribing is idempotent (the same handler twice is registered once), since ``ready()`` may run
  more than once in tests. Only the process that handles rows (the q2 cluster) needs subscribers.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from django.db import transaction
from django.utils.dateparse import parse_datetime

# The delivery fields: filled from the row when a handler receives the event, not in the payload.
DELIVERY_FIELDS = frozenset({"event_id", "occurred_at"})
# The columns a row keeps besides the payload (filters and joins for the history API).
ROW_FIELDS = ("user_id", "printer_id", "job_id", "order_id")

EVENT_TYPES: dict[str, type[Event]] = {}


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event.

    ``task_id``/``subtask_id`` are the printer's job ids ("" = unknown). ``event_id`` and
    ``occurred_at`` are left out by the publisher (``occurred_at`` may be given, e.g. the time of
    the report) and are always filled when a handler receives the event.
    """

    type: ClassVar[str] = ""

    user_id: int
    printer_id: int | None = None
    job_id: int | None = None
    order_id: int | None = None
    task_id: str = ""
    subtask_id: str = ""
    event_id: int | None = None
    occurred_at: datetime | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.type:
            raise TypeError(f"{cls.__name__} needs a `type` string such as 'print.failed'.")
        if cls.type in EVENT_TYPES:
            raise TypeError(f"Event type {cls.type!r} is already {EVENT_TYPES[cls.type].__name__}.")
        EVENT_TYPES[cls.type] = cls

    def to_payload(self) -> dict[str, Any]:
        """The event's own fields as JSON values (everything but the delivery fields)."""
        return {
            f.name: _to_json(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name not in DELIVERY_FIELDS
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any], **delivery: Any) -> Event:
        """Rebuild the event from ``to_payload()``'s output (plus ``event_id``/``occurred_at``)."""
        hints = _hints(cls)
        values = {
            name: _from_json(hints[name], value)
            for name, value in payload.items()
            if name in hints and name not in DELIVERY_FIELDS
        }
        return cls(**values, **delivery)


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _to_json(item) for key, item in value.items()}
    return value


def _from_json(hint: Any, value: Any) -> Any:
    """Undo ``_to_json`` for a field of type ``hint`` (tuples and datetimes; the rest is JSON)."""
    if value is None:
        return None
    kinds = (
        typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else ()
    )
    for kind in kinds or (hint,):
        if kind is datetime and isinstance(value, str):
            return parse_datetime(value)
        if (kind is tuple or typing.get_origin(kind) is tuple) and isinstance(value, list):
            return tuple(value)
    return value


@functools.cache
def _hints(cls: type[Event]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in typing.get_type_hints(cls).items() if k in names}


# ---- the printer ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PrintStarted(Event):
    type: ClassVar[str] = "print.started"
    job_name: str = ""


@dataclass(frozen=True, kw_only=True)
class PrintFinished(Event):
    """The printer reports the job finished (a completed print)."""

    type: ClassVar[str] = "print.completed"
    job_name: str = ""


@dataclass(frozen=True, kw_only=True)
class PrintFailed(Event):
    """The job ended in FAILED. ``cancelled`` is a person's stop (0x0300400C), not a fault."""

    type: ClassVar[str] = "print.failed"
    job_name: str = ""
    reason: str = ""
    error_code: int | None = None
    error_hex: str = ""
    error_text: str = ""
    cancelled: bool = False


@dataclass(frozen=True, kw_only=True)
class PrintPaused(Event):
    type: ClassVar[str] = "print.paused"
    job_name: str = ""
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class PrinterOnline(Event):
    type: ClassVar[str] = "printer.online"


@dataclass(frozen=True, kw_only=True)
class PrinterOffline(Event):
    type: ClassVar[str] = "printer.offline"
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class HmsRaised(Event):
    """HMS entries that appeared since the last report (dicts as in the status snapshot)."""

    type: ClassVar[str] = "printer.hms"
    entries: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, kw_only=True)
class PlateCleared(Event):
    """The build plate is empty again (a person said so), so the printer can take the next job."""

    type: ClassVar[str] = "plate.cleared"
    by: str = ""


@dataclass(frozen=True, kw_only=True)
class MaintenanceDue(Event):
    """A maintenance item (``item``, e.g. "lubricate rods") is due on the printer."""

    type: ClassVar[str] = "maintenance.due"
    item: str = ""
    reason: str = ""


# ---- material ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MaterialLow(Event):
    """A slot's remaining filament fell below the threshold (settings.PRINTER_MATERIAL_LOW_PCT)."""

    type: ClassVar[str] = "material.low"
    slot: int
    remaining_pct: int
    material_type: str = ""
    color_hex: str = ""


@dataclass(frozen=True, kw_only=True)
class MaterialChanged(Event):
    """A slot's material changed; ``by`` is "person" (the API/admin) or "sync" (the AMS report)."""

    type: ClassVar[str] = "material.changed"
    slot: int
    by: str = ""
    material_type: str = ""
    color_hex: str = ""
    previous_material_type: str = ""
    previous_color_hex: str = ""


@dataclass(frozen=True, kw_only=True)
class MaterialChangeNeeded(Event):
    """The next job (``job_id``) needs a material the printer does not have loaded."""

    type: ClassVar[str] = "material.change_needed"
    slot: int | None = None
    material_type: str = ""
    color_hex: str = ""
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class MaterialStockLow(Event):
    """The farm's stock of a material type and colour (slots plus spare spools, less what the
    planned jobs will use) runs out within the reorder lead time: what GET /api/materials/reorder
    lists. Raised once when a kind crosses into that list, again only after it was restocked."""

    type: ClassVar[str] = "material.stock_low"
    material_type: str = ""
    color_hex: str = ""
    on_hand_grams: str = ""  # exact decimals, as strings
    planned_grams: str = ""
    days_left: str | None = None  # None: no use in the last 30 days
    spools_to_order: int = 0
    lead_days: int = 0


# ---- jobs ----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class JobDispatched(Event):
    """The job's file reached the printer and the start command was sent."""

    type: ClassVar[str] = "job.dispatched"
    job_name: str = ""


@dataclass(frozen=True, kw_only=True)
class JobDispatchFailed(Event):
    """Sending the job to the printer failed (upload or start); ``reason`` says why."""

    type: ClassVar[str] = "job.dispatch_failed"
    job_name: str = ""
    reason: str = ""
    attempts: int = 0


@dataclass(frozen=True, kw_only=True)
class JobStatusChanged(Event):
    """A job moved (published by the job state machine): ``from_status`` -> ``to_status``.

    ``by`` is who moved it (ScheduledPrint.Actor: a person, the printer, the planner).
    """

    type: ClassVar[str] = "job.status_changed"
    from_status: str
    to_status: str
    by: str = ""
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class JobChanged(Event):
    """A person added a job or changed what the plan reads of one (priority, printer, duration,
    material...); ``fields`` names what changed (``("created",)`` for new jobs, then ``job_id``
    may be None and ``order_id`` names the order whose jobs were added)."""

    type: ClassVar[str] = "job.changed"
    job_name: str = ""
    fields: tuple[str, ...] = ()


# ---- orders and shops ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OrderPaid(Event):
    type: ClassVar[str] = "order.paid"
    order_number: str = ""


@dataclass(frozen=True, kw_only=True)
class OrderCancelled(Event):
    type: ClassVar[str] = "order.cancelled"
    order_number: str = ""
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class OrderChanged(Event):
    """A field of the order the plan reads changed (its ship-by date ``due_by``); ``fields`` names
    them."""

    type: ClassVar[str] = "order.changed"
    order_number: str = ""
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class EtsyReconnectNeeded(Event):
    """The Etsy connection stopped working (token revoked or expired): a person must reconnect."""

    type: ClassVar[str] = "etsy.reconnect_needed"
    reason: str = ""
    shop_id: int | None = None
    shop_name: str = ""


# ---- publish and subscribe -----------------------------------------------------------------------

E = TypeVar("E", bound=Event)
Handler = Callable[[Any], None]

_subscribers: dict[type[Event], dict[str, Handler]] = {}


def handler_name(handler: Handler) -> str:
    """A handler's stable name (``module.qualname``), recorded on a row when it succeeded."""
    module = getattr(handler, "__module__", None) or type(handler).__module__
    qualname = getattr(handler, "__qualname__", None) or type(handler).__qualname__
    return f"{module}.{qualname}"


def subscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    """Call ``handler(event)`` (in a q2 worker) for every published event of ``event_type``."""
    handlers = _subscribers.setdefault(event_type, {})
    if handler in handlers.values():
        return
    name, n = handler_name(handler), 1
    while name in handlers:  # two bound methods of one class (tests' `list.append`)
        n += 1
        name = f"{handler_name(handler)}#{n}"
    handlers[name] = handler


def unsubscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    handlers = _subscribers.get(event_type, {})
    for name, registered in list(handlers.items()):
        if registered == handler:
            del handlers[name]


def subscribers(event_type: type[Event]) -> dict[str, Handler]:
    """The handlers an event of exactly this class reaches, by name (a copy)."""
    return dict(_subscribers.get(event_type, {}))


def publish(event: Event, *, using: str | None = None) -> int:
    """Write ``event`` as a row in the current transaction and have it handled after commit.

    Returns the row's id (the ``event_id`` handlers will see).
    """
    from j3d.models import Event as EventRow
    from j3d.services import events_queue_handling

    row = EventRow.objects.db_manager(using).create_for(event)
    transaction.on_commit(lambda: events_queue_handling(ids=[row.pk]), using=using, robust=True)
    return row.pk

"""The live printer link: one process keeps every printer it leases connected over MQTT.

Shape (after healthchecks' ``sendalerts``): :class:`PrinterLink` has one method per step
(``reconcile``, ``flush``, ``check_silence``, ``send_commands``, ``expire_commands``), ``tick()``
runs whichever are due, and ``run()`` loops until asked to stop. Tests call the steps directly.

Threads. The :class:`~printers.bambu.mqtt.MqttHub` loop thread calls the listener methods
(``on_report`` and friends): they only decode the payload into that printer's in-memory
``PrinterState`` and mark it dirty, under one short lock, and never touch the database. The main
thread runs the steps: it copies the dirty snapshots out under the lock and writes them, coalesced
(see ``printers.services.live``), so 500 printers reporting every second cost a few writes per
second, not 500.

Leases (``printers.services.leases``) make sure no two link processes, nor the q2 poller, hold
the same printer; ``reconcile`` claims and renews them and notices printers added, disabled or
edited while the link runs.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from j3d.lib.signals import StopRequest
from printers.bambu.commands import CommandBuilder, Reply
from printers.bambu.errors import HMS_DEVELOPER_MODE_REQUIRED
from printers.bambu.mqtt import Endpoint, FailureKind, LinkState, MqttHub
from printers.bambu.report import PrinterState, decode_payload
from printers.models import Printer, PrinterCommand, PrinterLease, PrinterStatus
from printers.services import commands as outbox
from printers.services import leases, live

logger = logging.getLogger(__name__)

CLOUD_HOST = "us.mqtt.bambulab.com"
CLOUD_PORT = 8883
ACCESS_DENIED = "access denied: check the access code"
ACCESS_DENIED_CLOUD = "access denied: check the Bambu Cloud token"
# A printer whose cached report had to be dropped is asked for a full one at most this often.
REPAIR_EVERY = 300.0


def printer_endpoint(printer: Printer) -> Endpoint:
    """How to reach ``printer``: its own LAN broker, or the cloud broker with the account token."""
    ca_pem = printer.ca_cert or None
    if printer.connection_type == Printer.ConnectionType.CLOUD:
        return Endpoint(
            key=printer.pk,
            serial=printer.serial,
            host=CLOUD_HOST,
            port=CLOUD_PORT,
            username=f"u_{printer.cloud_user_id}",
            password=printer.cloud_token,
            tls_verify=True,
            ca_pem=ca_pem,
            cloud=True,
        )
    return Endpoint(
        key=printer.pk,
        serial=printer.serial,
        host=printer.host,
        port=printer.mqtt_port,
        username="bblp",
        password=printer.access_code,
        tls_verify=printer.tls_verify,
        ca_pem=ca_pem,
    )


@dataclass(frozen=True)
class _LinkDown:
    """A failed connect (``connect``) or a dropped link, as the hub thread saw it."""

    key: int
    kind: str  # a PrinterStatus.LinkErrorKind
    reason: str
    retry_in: float | None
    connect: bool = False
    at: float = field(default_factory=time.monotonic)


@dataclass(eq=False)
class LivePrinter:
    """What the link keeps per held printer. Fields marked (hub) are written on the hub thread."""

    printer: Printer
    endpoint: Endpoint
    state: PrinterState
    written: dict[str, Any]  # the snapshot last stored: the "before" of the next transition
    online: bool  # as stored in PrinterStatus
    offline_marked: bool = False  # PrinterStatus already says offline: nothing to write
    dirty: bool = False  # (hub) a report changed the snapshot since the last flush
    unwritten_reports: int = 0  # (hub) reports since the last write (even unchanged ones)
    last_report: float | None = None  # (hub) monotonic time of the last status report
    report_at: datetime | None = None  # (hub) wall time of the last status report
    pending: dict[str, Any] | None = None  # a snapshot not yet written (coalescing)
    written_notable: tuple[Any, ...] | None = None
    written_at: float | None = None
    full_reports: int = 0  # (hub) full reports (pushall answers) received
    link_error: str = ""
    since: float = field(default_factory=time.monotonic)
    repair_requested_at: float | None = None
    # The current outage: monotonic time of its first failure or disconnect (None: link up or
    # never tried), and the last reason and kind (a PrinterStatus.LinkErrorKind).
    down_since: float | None = None
    down_reason: str = ""
    down_kind: str = ""  # (hub and main) last pushall sent to rebuild state


class PrinterLink:
    """One link process's state and steps. Not thread-safe except the listener methods."""

    def __init__(
        self,
        *,
        holder: str | None = None,
        hub_factory: Callable[[Any], MqttHub] | None = None,
        max_printers: int | None = None,
        offline_after: float | None = None,
        link_down_grace: float | None = None,
        write_every: float | None = None,
        reconcile_every: float | None = None,
        command_timeout: float | None = None,
        on_applied: Callable[[int, Any, float], None] | None = None,
    ) -> None:
        self.holder = holder or leases.lease_holder_name("link")
        self.hub = (hub_factory or (lambda listener: MqttHub(listener)))(self)
        self.max_printers = max_printers
        self.offline_after = float(
            settings.PRINTER_OFFLINE_AFTER_SECONDS if offline_after is None else offline_after
        )
        self.write_every = live.write_interval() if write_every is None else write_every
        # A printer shown online whose link is down this long (failing connects, no reports) is
        # shown offline with the reason; one not shown online is at its first failure.
        self.link_down_grace = float(
            getattr(settings, "PRINTER_OFFLINE_AFTER_LINK_DOWN_SECONDS", 15)
            if link_down_grace is None
            else link_down_grace
        )
        # Each reconcile renews the leases: do it well before they run out (a 30 s lease: 10 s).
        self.reconcile_every = (
            min(10.0, leases.lease_seconds() / 3) if reconcile_every is None else reconcile_every
        )
        self.command_timeout = command_timeout
        # Called on the hub thread after a report is applied (the bench measures lag with it).
        self.on_applied = on_applied
        self.printers: dict[int, LivePrinter] = {}
        self.builder = CommandBuilder(start=outbox.sequence_seed())
        self.stop_event = threading.Event()
        self.malformed = 0
        self.db_writes = 0
        # Failures while handling each printer (by printer id); see _failed.
        self.errors: collections.Counter[int] = collections.Counter()
        self._lock = threading.Lock()
        self._replies: collections.deque[tuple[int, Reply]] = collections.deque(maxlen=10_000)
        self._connected: collections.deque[tuple[int, datetime]] = collections.deque(maxlen=10_000)
        self._link_down: collections.deque[_LinkDown] = collections.deque(maxlen=10_000)
        self._full_reports: collections.deque[int] = collections.deque(maxlen=10_000)
        self._hub_thread: threading.Thread | None = None
        self._next_reconcile = 0.0
        self._next_commands = 0.0

    # ---- listener: called on the hub thread, no database here --------------------------------

    def on_connected(self, key: Any) -> None:
        # A pushall after every connect: P1/A1 send only deltas, so without it the cached state
        # would stay partial (§1.3).
        self.hub.publish(key, self.builder.pushall().payload)
        self._connected.append((key, timezone.now()))

    def on_report(self, key: Any, payload: bytes) -> None:
        entry = self.printers.get(key)
        if entry is None:
            return
        message = decode_payload(payload)
        if message is None:
            self.malformed += 1
            return
        try:
            with self._lock:
                update = entry.state.apply(message)
                entry.last_report = time.monotonic()
                if update.full:
                    entry.full_reports += 1
                    self._full_reports.append(key)
                if update.kind == "status" or update.kind == "version":
                    entry.report_at = timezone.now()
                    entry.unwritten_reports += 1
                    if update.changed:
                        entry.dirty = True
        except Exception:
            # Hostile or odd payloads must not kill the hub thread nor the other printers.
            self.malformed += 1
            self._failed(key, "report could not be applied", reset=True)
            return
        if update.reply is not None and update.reply.sequence_id:
            self._replies.append((key, update.reply))
        if self.on_applied is not None:
            self.on_applied(key, message, time.time())

    def on_disconnected(self, key: Any, reason: str) -> None:
        logger.info("printer %s: link down (%s)", key, reason)
        self._link_down.append(_LinkDown(key, PrinterStatus.LinkErrorKind.ERROR, reason, None))

    def on_connect_failed(
        self, key: Any, kind: FailureKind, reason: str, retry_in: float | None
    ) -> None:
        self._link_down.append(_LinkDown(key, str(kind), reason, retry_in, connect=True))

    # ---- one printer's failure stays with that printer -------------------------------------

    def _failed(
        self, pk: int, what: str, *, reset: bool = False, exc: BaseException | None = None
    ) -> None:
        """Log and count a failure while handling one printer; the caller goes on with the others.

        Call it in the ``except`` block (or pass ``exc``), never under ``self._lock``. ``reset``
        drops the printer's cached report and pending snapshot (they may hold what made the step
        fail) and asks for a fresh full report, at most every REPAIR_EVERY seconds (a P1P lags on
        pushalls).
        """
        self.errors[pk] += 1
        logger.error("printer %s: %s (failure %d)", pk, what, self.errors[pk], exc_info=exc or True)
        entry = self.printers.get(pk)
        if not reset or entry is None:
            return
        with self._lock:
            entry.state = PrinterState(model=entry.printer.model)
            entry.dirty, entry.pending = False, None
        now = time.monotonic()
        if entry.repair_requested_at is None or now - entry.repair_requested_at >= REPAIR_EVERY:
            entry.repair_requested_at = now
            self.hub.publish(pk, self.builder.pushall().payload)

    # ---- steps: main thread ------------------------------------------------------------------

    def reconcile(self) -> None:
        """Claim/renew leases for enabled printers; connect new ones, drop lost, update edited."""
        _recycle_connection()
        enabled = {p.pk: p for p in Printer.objects.enabled().order_by("pk")}
        wanted = list(self.printers.keys() & enabled.keys())
        if self.max_printers is None:
            wanted += [pk for pk in enabled if pk not in self.printers]
        else:
            room = max(0, self.max_printers - len(wanted))
            wanted += [pk for pk in enabled if pk not in self.printers][:room]
        held = leases.leases_claim(printer_ids=wanted, holder=self.holder)
        for pk in list(self.printers):
            if pk not in held:
                self._drop(pk)
        statuses = {
            s.printer_id: s
            for s in PrinterStatus.objects.filter(printer_id__in=held - self.printers.keys())
        }
        for pk in held:
            try:
                self._reconcile_one(enabled[pk], statuses.get(pk))
            except Exception:
                self._failed(pk, "could not be set up")
        # A disabled or deleted printer we still lease: give it back.
        stale = leases.leases_release(
            holder=self.holder, printer_ids=self._leased_ids() - set(enabled)
        )
        if stale:
            logger.info("released %d leases of disabled printers", stale)

    def _reconcile_one(self, printer: Printer, status: PrinterStatus | None) -> None:
        pk = printer.pk
        try:
            endpoint = printer_endpoint(printer)
        except ValueError as exc:  # settings the hub refuses (bad serial, CA missing)
            live.status_set_link_error(
                printer_id=pk,
                error=f"cannot connect: {exc}",
                kind=PrinterStatus.LinkErrorKind.CONFIG,
            )
            if pk in self.printers:
                self._drop(pk)
            return
        entry = self.printers.get(pk)
        if entry is None:
            self._add(printer, endpoint, status)
        elif entry.endpoint != endpoint:
            entry.printer, entry.endpoint, entry.link_error = printer, endpoint, ""
            self.hub.update(endpoint)
        else:
            entry.printer = printer

    def _leased_ids(self) -> set[int]:
        return set(
            PrinterLease.objects.filter(holder=self.holder).values_list("printer_id", flat=True)
        )

    def _add(self, printer: Printer, endpoint: Endpoint, status: PrinterStatus | None) -> None:
        written = dict(status.snapshot) if status and isinstance(status.snapshot, dict) else {}
        entry = LivePrinter(
            printer=printer,
            endpoint=endpoint,
            state=PrinterState(model=printer.model),
            written=written,
            online=bool(status and status.online),
            offline_marked=bool(status and status.state == PrinterStatus.State.OFFLINE),
        )
        # The silence clock starts now: a printer that never answers goes offline after the
        # usual delay, not at once.
        entry.last_report = time.monotonic()
        self.printers[printer.pk] = entry
        self.hub.add(endpoint)

    def _drop(self, pk: int) -> None:
        self.hub.remove(pk)
        self.printers.pop(pk, None)

    def flush(self, *, force: bool = False) -> int:
        """Write what changed (coalesced); returns the number of printers written."""
        now = time.monotonic()
        unreadable: list[tuple[int, BaseException]] = []
        with self._lock:
            for pk, entry in self.printers.items():
                # Unchanged reports still refresh last_report_at, at the coalesced pace.
                stale = entry.unwritten_reports and (
                    entry.written_at is None or now - entry.written_at >= self.write_every
                )
                if entry.dirty or stale or (force and entry.unwritten_reports):
                    entry.dirty = False
                    try:
                        entry.pending = live.snapshot_storable(entry.state.snapshot().to_dict())
                    except Exception as exc:
                        unreadable.append((pk, exc))
        for pk, exc in unreadable:
            self._failed(pk, "report could not be read", reset=True, exc=exc)
        due = []
        for pk, entry in self.printers.items():
            if entry.pending is None:
                continue
            try:
                notable = live.snapshot_notable(entry.pending)
            except Exception:
                self._failed(pk, "report could not be compared", reset=True)
                continue
            came_online = not entry.online
            if (
                force
                or came_online
                or live.status_write_due(
                    written_notable=entry.written_notable,
                    notable=notable,
                    written_at=entry.written_at,
                    now=now,
                    every=self.write_every,
                )
            ):
                due.append((entry, notable, came_online))
        if not due:
            return 0
        written = 0
        with transaction.atomic():
            for entry, notable, came_online in due:
                snapshot = entry.pending
                assert snapshot is not None
                try:
                    with transaction.atomic():
                        live.status_apply_snapshot(
                            printer=entry.printer,
                            snapshot=snapshot,
                            before=entry.written,
                            report_at=entry.report_at or timezone.now(),
                            came_online=came_online,
                        )
                        if _needs_developer_mode(snapshot):
                            outbox.commands_fail_sent(
                                printer_id=entry.printer.pk, reason=outbox.DEVELOPER_MODE_REASON
                            )
                except Exception:
                    # Dropped, not retried each tick: the next report (or the full report
                    # asked for) brings a fresh snapshot.
                    self._failed(entry.printer.pk, "status write failed", reset=True)
                    continue
                entry.written, entry.written_notable, entry.written_at = snapshot, notable, now
                entry.pending, entry.online, entry.link_error = None, True, ""
                entry.offline_marked = False
                with self._lock:
                    entry.unwritten_reports = 0
                written += 1
        self.db_writes += written
        return written

    def check_silence(self) -> int:
        """Printers silent for ``offline_after`` seconds, or whose link has been down for
        ``link_down_grace``, go offline (once, with the reason); returns how many."""
        now = time.monotonic()
        went = 0
        for pk, entry in self.printers.items():
            if entry.offline_marked:
                continue
            with self._lock:
                last = entry.last_report
            if entry.down_since is not None and now - entry.down_since >= self.link_down_grace:
                reason, kind = entry.down_reason, entry.down_kind
            elif last is not None and now - last >= self.offline_after:
                reason = f"no report for {int(now - last)} s"
                kind = PrinterStatus.LinkErrorKind.SILENT
            else:
                continue
            try:
                live.status_mark_offline(
                    printer=entry.printer, reason=reason, kind=kind, snapshot=None
                )
                self._shown_offline(entry)
            except Exception:
                self._failed(pk, "could not be marked offline")
                continue
            went += 1
        return went

    def handle_link_events(self) -> None:
        """Connects, failed connects, drops and command replies collected by the hub thread."""
        while self._connected:
            pk, at = self._connected.popleft()
            entry = self.printers.get(pk)
            if entry is None:
                continue
            entry.down_since = None
            try:
                live.status_link_up(printer_id=pk, at=at)
            except Exception:
                self._failed(pk, "connection could not be recorded")
        while self._link_down:
            down = self._link_down.popleft()
            entry = self.printers.get(down.key)
            if entry is None:
                continue
            try:
                self._record_link_down(entry, down)
            except Exception:
                self._failed(down.key, "connection failure could not be recorded")
        while self._replies:
            pk, reply = self._replies.popleft()
            try:
                outbox.command_record_reply(printer_id=pk, reply=reply)
            except Exception:
                self._failed(pk, "command reply could not be recorded")
        full = set()
        while self._full_reports:
            full.add(self._full_reports.popleft())
        if full:
            # pushall has no reply of its own: the full report it asks for is the answer. One
            # UPDATE for every printer: only the database itself can make it fail.
            outbox.commands_ack_refresh(printer_ids=full)

    def _record_link_down(self, entry: LivePrinter, down: _LinkDown) -> None:
        """Remember the outage; for a failed connect, show why on the status (and offline when
        the printer is not shown online, the access code is refused, or the grace is over)."""
        if entry.down_since is None:
            entry.down_since = down.at
        kind = down.kind
        if kind == PrinterStatus.LinkErrorKind.AUTH:
            text = ACCESS_DENIED_CLOUD if entry.endpoint.cloud else ACCESS_DENIED
        else:
            text = f"{PrinterStatus.LinkErrorKind(kind).label}: {down.reason}"
        entry.down_reason, entry.down_kind = text, kind
        if not down.connect:
            return  # a drop: the printer may be back at the next attempt (see check_silence)
        if kind == PrinterStatus.LinkErrorKind.AUTH:
            entry.link_error = text  # no retries: a poll need not wait for this printer
        offline = (
            not entry.online
            or kind == PrinterStatus.LinkErrorKind.AUTH
            or down.at - entry.down_since >= self.link_down_grace
        )
        retry_at = None
        if down.retry_in is not None:
            retry_at = timezone.now() + timedelta(seconds=down.retry_in)
        live.status_link_failed(
            printer=entry.printer, kind=kind, error=text, retry_at=retry_at, offline=offline
        )
        if offline:
            self._shown_offline(entry)
        if kind == PrinterStatus.LinkErrorKind.AUTH:
            outbox.commands_fail_sent(printer_id=entry.printer.pk, reason=text)

    def _shown_offline(self, entry: LivePrinter) -> None:
        # Keep ``written`` as the last job state: when the printer answers again, a job that
        # ran on meanwhile is not announced as started a second time.
        entry.online, entry.offline_marked = False, True
        entry.written_notable = live.snapshot_notable(
            {**entry.written, "state": PrinterStatus.State.OFFLINE}
        )
        self.db_writes += 1

    def connected_ids(self) -> set[int]:
        return {pk for pk in self.printers if self.hub.status(pk) is LinkState.CONNECTED}

    def send_commands(self) -> int:
        """Send pending outbox commands of connected printers, each claimed once; returns sent."""
        connected = self.connected_ids()
        if not connected:
            return 0
        sent = 0
        pending = PrinterCommand.objects.pending().filter(printer_id__in=connected)
        for command in pending.order_by("created_at", "id")[:200]:
            try:
                sent += self._send(command)
            except Exception:
                self._failed(command.printer_id, f"command {command.pk} could not be sent")
        return sent

    def _send(self, command: PrinterCommand) -> bool:
        try:
            wire = outbox.command_build(command=command, builder=self.builder)
        except (ValueError, TypeError, KeyError) as exc:
            outbox.command_fail(command_id=command.pk, reason=f"invalid command: {exc}")
            return False
        if not outbox.command_claim_send(
            command=command, sequence_id=wire.sequence_id, now=timezone.now()
        ):
            return False  # another process sent it
        if not self.hub.publish(command.printer_id, wire.payload):
            outbox.command_fail(command_id=command.pk, reason=outbox.NOT_CONNECTED_REASON)
            return False
        return True

    def expire_commands(self) -> int:
        return outbox.commands_expire(
            printer_ids=self.printers.keys(),
            connected_ids=self.connected_ids(),
            timeout=self.command_timeout,
        )

    def tick(self) -> None:
        """One pass of the main loop: every step that is due.

        Each step keeps one printer's failure to that printer; a step that fails as a whole (the
        database is away) is logged and the next steps still run.
        """
        now = time.monotonic()
        if now >= self._next_reconcile:
            self._next_reconcile = now + self.reconcile_every
            self._step(self.reconcile)
        self._step(self.handle_link_events)
        self._step(self.flush)
        self._step(self.check_silence)
        if now >= self._next_commands:
            self._next_commands = now + 0.5
            self._step(self.send_commands)
            self._step(self.expire_commands)

    def _step(self, step: Callable[[], Any]) -> None:
        try:
            step()
        except Exception:
            logger.exception("printer link step %s failed", step.__name__)
            _recycle_connection()

    # ---- one-shot poll (the q2 fallback when no link process runs) ----------------------------

    def poll(self, *, timeout: float = 15.0) -> int:
        """Refresh every enabled printer no live link holds, on this thread, then let go.

        Claims the leases briefly, connects, waits for the pushall answer (and the replies to
        pending outbox commands), writes the status, disconnects and releases. Printers that do
        not answer within ``timeout`` are marked offline. Returns the number refreshed.
        """
        enabled = {p.pk: p for p in Printer.objects.enabled()}
        free = leases.printers_unleased(printer_ids=enabled)
        held = leases.leases_claim(printer_ids=free, holder=self.holder, seconds=int(timeout) + 30)
        statuses = {s.printer_id: s for s in PrinterStatus.objects.filter(printer_id__in=held)}
        for pk in held:
            try:
                self._reconcile_one(enabled[pk], statuses.get(pk))
            except Exception:
                self._failed(pk, "could not be set up")
        deadline = time.monotonic() + timeout
        try:
            while self.printers and time.monotonic() < deadline:
                self.hub.step(0.05)
                self.handle_link_events()
                self.send_commands()
                if self._poll_done():
                    break
            self.hub.step(0.05)
            self.handle_link_events()
            self.flush(force=True)
            refreshed = {pk for pk, e in self.printers.items() if e.full_reports}
            for pk, entry in self.printers.items():
                if pk not in refreshed and not entry.link_error:
                    live.status_mark_offline(
                        printer=entry.printer,
                        reason=entry.down_reason or "no answer to a poll",
                        kind=entry.down_kind or PrinterStatus.LinkErrorKind.TIMEOUT,
                        snapshot=None,
                    )
            # The connection closes now: a reply to a sent command can no longer be matched.
            outbox.commands_expire(
                printer_ids=self.printers, connected_ids=self.printers, timeout=0
            )
            outbox.commands_expire(printer_ids=self.printers, connected_ids=refreshed)
        finally:
            self.hub.close()
            leases.leases_release(holder=self.holder)
            self.printers.clear()
        return len(refreshed)

    def _poll_done(self) -> bool:
        if any(not e.full_reports and not e.link_error for e in self.printers.values()):
            return False
        return not PrinterCommand.objects.filter(
            printer_id__in=self.printers, status__in=["pending", "sent"]
        ).exists()

    # ---- lifecycle ---------------------------------------------------------------------------

    def start_hub(self) -> None:
        """Run the hub's loop on its own thread (``run`` does this; tests may too)."""
        self._hub_thread = threading.Thread(
            target=self.hub.run, args=(self.stop_event,), name="mqtt-hub", daemon=True
        )
        self._hub_thread.start()

    def run(self, *, tick_seconds: float = 0.2, until: StopRequest | None = None) -> None:
        """Loop until ``stop_event`` is set or ``until`` is requested (SIGTERM/SIGINT in the
        command), then shut down."""
        self.start_hub()
        try:
            while not self.stop_event.is_set() and not (until and until.requested):
                try:
                    self.tick()
                except Exception:
                    # A database hiccup must not end the link; the next tick retries.
                    logger.exception("printer link tick failed")
                    _recycle_connection()
                self.stop_event.wait(tick_seconds)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Write what is pending, give every lease back, and close the connections."""
        self.stop_event.set()
        if self._hub_thread is not None:
            self._hub_thread.join(timeout=5)
        else:
            self.hub.close()
        try:
            self.flush(force=True)
        except Exception:
            logger.exception("final flush failed")
        leases.leases_release(holder=self.holder)
        self.printers.clear()


def _recycle_connection() -> None:
    """Drop a broken or aged database connection between transactions (the link is long-lived,
    like a request loop); never inside one, where closing would break the caller's atomic block
    (a test's, or a caller that runs a step inside its own transaction)."""
    if not connection.in_atomic_block:
        close_old_connections()


def _needs_developer_mode(snapshot: dict[str, Any]) -> bool:
    return any(
        entry.get("full_code") == HMS_DEVELOPER_MODE_REQUIRED for entry in snapshot.get("hms") or ()
    )

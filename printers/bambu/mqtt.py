"""One network thread that keeps hundreds of Bambu printers' MQTT links live.

Each printer (or cloud account/printer pair) is an :class:`Endpoint`. An :class:`MqttHub`
owns one paho client per endpoint and multiplexes all their sockets with ``selectors`` on
the thread that calls :meth:`MqttHub.run` (or :meth:`MqttHub.step` in tests), using paho's
external-loop API (``loop_read``/``loop_write``/``loop_misc`` and the ``on_socket_*``
callbacks). Nothing here imports Django.

Threads:

- the **loop thread** (whoever calls ``run``/``step``) owns every paho client that is
  registered with the selector and calls the :class:`Listener`;
- a small pool of **connector threads** runs paho's blocking ``connect()`` (TCP connect,
  TLS handshake, CONNECT packet), because a switched-off printer makes a TCP connect hang
  until its timeout. The connected client is then handed to the loop thread;
- any thread may call ``add``/``remove``/``update``/``publish``: they only queue a command
  for the loop thread and wake it.

A fresh paho client is built for every connection attempt, so a client is only ever used
by one thread at a time (first its connector, then the loop thread) and no stale state
(half-read packets, queued commands) survives a reconnect.

Protocol facts (MQTT 3.1.1, TLS 1.2 only, user ``bblp`` + access code, CONNACK 4/5 on a wrong
code, max in-flight 1000) come from ``reference/bambu-protocol.md`` §1.1 and §2.1.
"""

from __future__ import annotations

import collections
import enum
import errno
import functools
import heapq
import itertools
import logging
import os
import random
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from printers.bambu.tls import client_context

logger = logging.getLogger(__name__)

# paho's MQTT v5 reason codes for the 3.1.1 CONNACK return codes 4 ("bad user name or
# password") and 5 ("not authorized"): what a printer answers to a wrong access code.
AUTH_REJECTED_CODES = frozenset({134, 135})
# The default of 20 wedges QoS-1 sessions with printers after ~20 commands (§1.1, BDY #1164).
MAX_INFLIGHT = 1000
# Bounds paho's per-client queue, so a printer that never acks cannot grow memory forever.
MAX_QUEUED = 1000
# Bounds the cross-thread command queue (publishes from web/worker threads).
MAX_PENDING_COMMANDS = 10_000
# At most this many packets are read from one socket per wake-up before others get a turn.
READ_BURST = 64
_client_ids = itertools.count(1)


class FailureKind(enum.StrEnum):
    """Why a connect attempt failed, as a person can act on it."""

    NO_ROUTE = "no_route"  # host unreachable, network down, name does not resolve
    REFUSED = "refused"  # nothing listens on the port (LAN mode off), or the broker said no
    TIMEOUT = "timeout"  # no answer: printer off, wrong address, firewall dropping packets
    TLS = "tls"  # handshake or certificate refused
    AUTH = "auth"  # access code (or cloud token) rejected
    ERROR = "error"  # anything else


_NO_ROUTE_ERRNOS = frozenset(
    {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN, errno.EADDRNOTAVAIL}
)


def classify(exc: BaseException) -> FailureKind:
    """The kind of a connect exception (socket, DNS or TLS error)."""
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return FailureKind.TLS
    if isinstance(exc, socket.gaierror):
        return FailureKind.NO_ROUTE
    if isinstance(exc, ConnectionRefusedError):
        return FailureKind.REFUSED
    if isinstance(exc, TimeoutError):
        return FailureKind.TIMEOUT
    if isinstance(exc, OSError) and exc.errno in _NO_ROUTE_ERRNOS:
        return FailureKind.NO_ROUTE
    return FailureKind.ERROR


class LinkState(enum.StrEnum):
    CONNECTED = "connected"
    CONNECTING = "connecting"  # connector thread, TLS handshake, CONNACK or SUBACK pending
    BACKOFF = "backoff"  # waiting to retry after a failed connect or a lost connection
    AUTH_FAILED = "auth_failed"  # wrong access code/token: no retries until update()


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach one printer's MQTT broker (LAN) or the cloud broker.

    ``password`` is the LAN access code or the cloud token: it is kept out of ``repr`` and
    is never logged. ``tls_verify`` checks a LAN printer's certificate against ``ca_pem``
    with the serial as server name (the printer's certificate CN is its serial, not its IP);
    ``cloud`` verifies against the system CAs (or ``ca_pem``) with a normal hostname check.
    """

    key: Hashable
    serial: str
    host: str
    password: str = field(repr=False)
    port: int = 8883
    username: str = "bblp"
    tls_verify: bool = False
    ca_pem: str | None = field(default=None, repr=False)
    cloud: bool = False

    def __post_init__(self) -> None:
        # The serial becomes part of topic names: a wildcard or separator would subscribe
        # to (or command) other printers.
        if not self.serial or any(ch in self.serial for ch in "/+#\0"):
            raise ValueError(f"invalid printer serial {self.serial!r}")
        if self.tls_verify and not self.cloud and not self.ca_pem:
            raise ValueError("tls_verify needs ca_pem for a LAN printer")

    @property
    def report_topic(self) -> str:
        return f"device/{self.serial}/report"

    @property
    def request_topic(self) -> str:
        return f"device/{self.serial}/request"


class Listener(Protocol):
    """Receives link events. Every method is called on the hub's loop thread and should
    return quickly; an exception is logged and swallowed (it never stops the loop)."""

    def on_connected(self, key: Hashable) -> None:
        """Connected and subscribed (SUBACK received): a good moment to send ``pushall``."""

    def on_report(self, key: Hashable, payload: bytes) -> None:
        """A message on ``device/<serial>/report``; the payload is untrusted bytes."""

    def on_disconnected(self, key: Hashable, reason: str) -> None:
        """A link that had called ``on_connected`` went down (it will be retried)."""

    def on_connect_failed(
        self, key: Hashable, kind: FailureKind, reason: str, retry_in: float | None
    ) -> None:
        """A connect attempt failed: its kind, a short reason (never the password), and when the
        hub tries again (seconds; None for rejected credentials: no retries until ``update()``)."""


# -- TLS -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def ssl_context(*, verify: bool, ca_pem: str | None, cloud: bool) -> ssl.SSLContext:
    """A shared client context; building one (and loading CAs) per connect is expensive."""
    if cloud:
        # Cloud broker: public CA, normal hostname check, whatever TLS it negotiates (§2.1).
        return ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
    # A LAN printer: TLS 1.2 only; verified against its CA (server name = serial, see
    # _ServerNameContext) or, like every Bambu integration, not at all.
    return client_context(ca_pem=ca_pem) if verify else client_context()


class _ServerNameContext:
    """Wraps a shared context to present ``server_name`` (SNI + hostname check) instead of
    the host paho connects to. paho passes ``server_hostname=<host>`` to ``wrap_socket``;
    a printer's certificate names its serial, not its IP (§1.1)."""

    def __init__(self, context: ssl.SSLContext, server_name: str) -> None:
        self._context = context
        self._server_name = server_name

    @property
    def check_hostname(self) -> bool:
        return self._context.check_hostname

    def wrap_socket(self, sock: socket.socket, **kwargs: Any) -> ssl.SSLSocket:
        kwargs["server_hostname"] = self._server_name
        return self._context.wrap_socket(sock, **kwargs)


def _tls_for(endpoint: Endpoint) -> ssl.SSLContext:
    verify = endpoint.tls_verify or endpoint.cloud
    context = ssl_context(verify=verify, ca_pem=endpoint.ca_pem, cloud=endpoint.cloud)
    if verify and not endpoint.cloud:
        return cast(ssl.SSLContext, _ServerNameContext(context, endpoint.serial))
    return context


# -- per-endpoint state (owned by the loop thread) ---------------------------------------------


@dataclass(eq=False)
class _Conn:
    """One connection attempt: a paho client and, once adopted, its registered socket."""

    link: _Link
    client: paho.Client
    sock: Any = None  # socket.socket | ssl.SSLSocket while registered with the selector
    events: int = 0
    dead: bool = False  # discarded by the hub: paho callbacks for it are ignored
    refused: str | None = None  # CONNACK refusal reason, reported when paho then disconnects


@dataclass(eq=False)
class _Link:
    endpoint: Endpoint
    state: LinkState = LinkState.CONNECTING
    conn: _Conn | None = None
    failures: int = 0  # consecutive failures, the backoff exponent
    connected_at: float | None = None
    last_message_at: float | None = None
    last_error: str | None = None
    last_failure: FailureKind | None = None
    retry_token: int = 0  # invalidates retry timers scheduled before a newer transition


def _describe(exc: BaseException) -> str:
    # Socket and TLS errors never carry the password; keep the text short for logs/UI.
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:200]


class MqttHub:
    """Keeps every added :class:`Endpoint` connected and reports events to ``listener``.

    ``keepalive`` is the MQTT keep-alive in seconds; reconnects back off exponentially with
    full jitter between 0 and ``min(backoff_cap, backoff_base * 2**failures)``, and the
    failure count resets once a connection has stayed up for ``stable_after`` seconds.
    ``connect_timeout`` bounds the TCP connect, the TLS handshake and the wait for CONNACK
    and SUBACK.
    ``connectors`` is the size of the connect thread pool (a connect to a switched-off
    printer can hold a thread for ``connect_timeout``). ``clock`` and ``rng`` are for tests.
    """

    def __init__(
        self,
        listener: Listener,
        *,
        keepalive: int = 30,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        connect_timeout: float = 10.0,
        stable_after: float = 60.0,
        connectors: int = 32,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._listener = listener
        self._keepalive = keepalive
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._connect_timeout = connect_timeout
        self._stable_after = stable_after
        self._clock = clock
        self._rng = rng or random.Random()
        self._links: dict[Hashable, _Link] = {}
        self._commands: collections.deque[tuple[Callable[..., None], tuple[Any, ...]]] = (
            collections.deque()
        )
        self._connected: collections.deque[tuple[_Conn, BaseException | None]] = collections.deque()
        self._timers: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._timer_seq = itertools.count()
        self._pending_reads: set[_Conn] = set()
        self._next_misc = 0.0
        self._closed = False
        self._pool = ThreadPoolExecutor(max_workers=connectors, thread_name_prefix="mqtt-connect")
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)

    # -- public API: safe from any thread ---------------------------------------------------

    def add(self, endpoint: Endpoint) -> None:
        """Start keeping ``endpoint`` connected. Adding a known key acts as :meth:`update`."""
        self._command(self._do_update, endpoint)

    def update(self, endpoint: Endpoint) -> None:
        """Replace the endpoint with the same key (e.g. new access code) and reconnect.

        Clears an auth failure. An identical endpoint is a no-op unless the link is in
        ``auth_failed`` (then it is retried: the user says the code is right now)."""
        self._command(self._do_update, endpoint)

    def remove(self, key: Hashable) -> None:
        """Disconnect and forget ``key``. No further listener calls are made for it."""
        self._command(self._do_remove, key)

    def publish(self, key: Hashable, payload: bytes, qos: int = 1) -> bool:
        """Queue ``payload`` for ``device/<serial>/request``; thread-safe.

        Returns False (and sends nothing) when the link is not connected or the queue is
        full. A command is never held back for a later connection: a stale "stop" or
        "resume" replayed after a reconnect could do harm. QoS 1 by default: printers
        ignore QoS-0 requests while busy (§1.2)."""
        if qos not in (0, 1, 2):
            raise ValueError(f"invalid QoS {qos!r}")
        if self.status(key) is not LinkState.CONNECTED:
            return False
        return self._command(self._do_publish, key, payload, qos)

    def status(self, key: Hashable) -> LinkState | None:
        """The link state as the loop thread last saw it; None for an unknown key."""
        link = self._links.get(key)
        return link.state if link else None

    def last_message_at(self, key: Hashable) -> float | None:
        """``clock()`` time of the last message received for ``key`` (for silence checks)."""
        link = self._links.get(key)
        return link.last_message_at if link else None

    def last_error(self, key: Hashable) -> str | None:
        """Why the last connect failed or the link dropped (never contains the password)."""
        link = self._links.get(key)
        return link.last_error if link else None

    # -- loop thread ---------------------------------------------------------------------------

    def run(self, stop: threading.Event, tick: float = 0.25) -> None:
        """Run the loop until ``stop`` is set, then :meth:`close`. ``tick`` bounds how long
        a set ``stop`` can go unnoticed."""
        try:
            while not stop.is_set():
                self.step(tick)
        finally:
            self.close()

    def step(self, timeout: float = 0.0) -> None:
        """One loop iteration: apply queued commands and finished connects, wait up to
        ``timeout`` seconds for socket events, handle them, then fire due timers."""
        if self._closed:
            raise RuntimeError("MqttHub is closed")
        self._drain_commands()
        self._drain_connected()
        for key, mask in self._selector.select(self._wait_time(timeout)):
            if key.data is None:
                self._drain_wakeups()
            else:
                self._on_ready(key.data, mask)
        for conn in list(self._pending_reads):
            self._pending_reads.discard(conn)
            self._on_ready(conn, selectors.EVENT_READ)
        self._fire_timers()

    def close(self) -> None:
        """Disconnect every link and stop the connector threads. Idempotent; call it from
        the loop thread or once the loop has stopped."""
        if self._closed:
            return
        self._closed = True
        while self._connected:  # connects that finished but were never adopted
            self._close_socket(self._connected.popleft()[0])
        for link in self._links.values():
            if link.conn is not None:
                self._discard(link.conn)
        self._links.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- commands ---------------------------------------------------------------------------

    def _command(self, fn: Callable[..., None], *args: Any) -> bool:
        if len(self._commands) >= MAX_PENDING_COMMANDS:
            logger.warning("mqtt hub command queue full; dropping a command")
            return False
        self._commands.append((fn, args))
        self._wake()
        return True

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # a wake-up is already pending, or we are closed

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _drain_commands(self) -> None:
        while self._commands:
            fn, args = self._commands.popleft()
            try:
                fn(*args)
            except Exception:
                logger.exception("mqtt hub command %s failed", fn.__name__)

    def _do_update(self, endpoint: Endpoint) -> None:
        link = self._links.get(endpoint.key)
        if link is None:
            link = self._links[endpoint.key] = _Link(endpoint)
            self._start_connect(link)
            return
        if link.endpoint == endpoint and link.state is not LinkState.AUTH_FAILED:
            return
        link.endpoint = endpoint
        link.failures = 0
        self._drop(link, "endpoint updated", retry_in=0.0)

    def _do_remove(self, key: Hashable) -> None:
        link = self._links.pop(key, None)
        if link is not None and link.conn is not None:
            self._discard(link.conn)
            link.conn = None

    def _do_publish(self, key: Hashable, payload: bytes, qos: int) -> None:
        link = self._links.get(key)
        conn = link.conn if link else None
        if link is None or conn is None or link.state is not LinkState.CONNECTED:
            logger.info("mqtt publish to %r dropped: link is not connected", key)
            return
        info = conn.client.publish(link.endpoint.request_topic, payload, qos=qos)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            logger.warning("mqtt publish to %r failed: %s", key, paho.error_string(info.rc))
        self._write(conn)  # send now rather than after the next select()

    # -- connecting (connector threads) -------------------------------------------------------

    def _start_connect(self, link: _Link) -> None:
        link.state = LinkState.CONNECTING
        client = self._new_client(link.endpoint)
        conn = link.conn = _Conn(link, client)
        future = self._pool.submit(
            client.connect, link.endpoint.host, link.endpoint.port, self._keepalive
        )
        future.add_done_callback(functools.partial(self._connect_done, conn))

    def _new_client(self, endpoint: Endpoint) -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"j3d-{endpoint.serial}-{os.getpid()}-{next(_client_ids)}",
            protocol=MQTTProtocolVersion.MQTTv311,
            clean_session=True,
        )
        client.username_pw_set(endpoint.username, endpoint.password)
        client.tls_set_context(_tls_for(endpoint))
        client.connect_timeout = self._connect_timeout
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.max_queued_messages_set(MAX_QUEUED)
        # The socket callbacks are only set once the loop thread adopts the client.
        return client

    def _connect_done(self, conn: _Conn, future: Future[Any]) -> None:
        """Runs on the connector thread: hand the result to the loop thread."""
        if future.cancelled():
            return
        self._connected.append((conn, future.exception()))
        self._wake()
        if self._closed:
            self._close_socket(conn)  # nobody will adopt it any more

    # -- adopting a connected client (loop thread) --------------------------------------------

    def _drain_connected(self) -> None:
        while self._connected:
            conn, exc = self._connected.popleft()
            link = conn.link
            if conn.dead or link.conn is not conn or self._links.get(link.endpoint.key) is not link:
                self._close_socket(conn)  # removed or updated while connecting
            elif exc is not None:
                self._fail(link, _describe(exc), classify(exc))
            else:
                self._adopt(conn)

    def _adopt(self, conn: _Conn) -> None:
        client = conn.client
        sock = client.socket()
        if sock is None:
            self._fail(conn.link, "connect returned no socket", FailureKind.ERROR)
            return
        client.user_data_set(conn)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        conn.sock = sock
        conn.events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.want_write() else 0)
        self._selector.register(sock, conn.events, conn)
        self._later(self._connect_timeout, self._check_connack, conn)
        if getattr(sock, "pending", lambda: 0)():
            self._pending_reads.add(conn)  # CONNACK already buffered by the TLS layer

    def _check_connack(self, conn: _Conn) -> None:
        if not conn.dead and conn.link.conn is conn and conn.link.state is LinkState.CONNECTING:
            self._discard(conn)
            reason = f"no CONNACK/SUBACK within {self._connect_timeout:g}s"
            self._fail(conn.link, reason, FailureKind.TIMEOUT)

    # -- socket events (loop thread) ----------------------------------------------------------

    def _on_ready(self, conn: _Conn, mask: int) -> None:
        if conn.dead or conn.sock is None:
            return
        try:
            if mask & selectors.EVENT_READ:
                self._read(conn)
            if mask & selectors.EVENT_WRITE:
                self._write(conn)
        except Exception as exc:
            # A malformed packet (or a paho bug) breaks only this connection, not the loop.
            logger.exception("mqtt link %r: error handling socket event", conn.link.endpoint.key)
            if not conn.dead and conn.link.conn is conn:
                self._drop(conn.link, f"protocol error: {_describe(exc)}")

    def _read(self, conn: _Conn) -> None:
        # paho reads one packet per loop_read(); bytes the TLS layer has already decrypted
        # do not wake select() again, so keep reading while it has some.
        for _ in range(READ_BURST):
            conn.client.loop_read()
            sock = conn.sock
            if conn.dead or sock is None or not getattr(sock, "pending", lambda: 0)():
                return
        self._pending_reads.add(conn)

    def _write(self, conn: _Conn) -> None:
        if conn.dead or conn.sock is None:
            return
        conn.client.loop_write()
        # paho only reports write-interest changes it notices itself; re-derive it here so
        # a socket never stays registered for EVENT_WRITE with nothing to send (busy loop).
        if conn.sock is not None:
            self._want_write(conn, conn.client.want_write())

    def _want_write(self, conn: _Conn, want: bool) -> None:
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
        if conn.sock is not None and events != conn.events:
            conn.events = events
            self._selector.modify(conn.sock, events, conn)

    def _on_register_write(self, client: paho.Client, conn: _Conn, sock: Any) -> None:
        self._want_write(conn, True)

    def _on_unregister_write(self, client: paho.Client, conn: _Conn, sock: Any) -> None:
        self._want_write(conn, False)

    def _on_socket_close(self, client: paho.Client, conn: _Conn, sock: Any) -> None:
        self._unregister(conn)

    def _unregister(self, conn: _Conn) -> None:
        sock, conn.sock = conn.sock, None
        self._pending_reads.discard(conn)
        if sock is not None:
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass

    # -- paho callbacks (loop thread) ---------------------------------------------------------

    def _on_connect(
        self, client: paho.Client, conn: _Conn, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        link = conn.link
        if conn.dead or link.conn is not conn:
            return
        if reason.is_failure:
            if reason.value in AUTH_REJECTED_CODES:
                self._auth_failed(link, str(reason))
            else:
                conn.refused = f"connection refused: {reason}"
            return  # paho closes the socket next; _on_disconnect schedules any retry
        # CONNECTED (and on_connected) waits for the SUBACK, so a pushall the listener sends
        # from on_connected cannot be answered before the broker routes reports to us.
        client.subscribe(link.endpoint.report_topic, qos=0)

    def _on_subscribe(
        self, client: paho.Client, conn: _Conn, mid: int, reasons: list[ReasonCode], props: Any
    ) -> None:
        link = conn.link
        if conn.dead or link.conn is not conn or link.state is not LinkState.CONNECTING:
            return
        if any(reason.is_failure for reason in reasons):
            # e.g. a cloud account that is not bound to this serial.
            reason = f"subscription to {link.endpoint.report_topic} refused"
            self._drop(link, reason, kind=FailureKind.REFUSED)
            return
        link.state = LinkState.CONNECTED
        link.connected_at = self._clock()
        link.last_error = None
        logger.info("mqtt link %r connected to %s", link.endpoint.key, link.endpoint.host)
        self._notify("on_connected", link.endpoint.key)

    def _on_message(self, client: paho.Client, conn: _Conn, message: paho.MQTTMessage) -> None:
        if conn.dead:
            return
        link = conn.link
        link.last_message_at = self._clock()
        self._notify("on_report", link.endpoint.key, message.payload)

    def _on_disconnect(
        self, client: paho.Client, conn: _Conn, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        self._unregister(conn)
        link = conn.link
        if conn.dead or link.conn is not conn:
            return
        conn.dead = True
        if link.state is LinkState.AUTH_FAILED:
            link.conn = None
            return
        if conn.refused:
            self._lost(link, conn.refused, FailureKind.REFUSED)
        else:
            self._lost(link, f"connection lost: {reason}", FailureKind.ERROR)

    # -- state transitions (loop thread) -------------------------------------------------------

    def _fail(self, link: _Link, reason: str, kind: FailureKind) -> None:
        """A connect attempt failed before CONNACK/SUBACK."""
        # A switched-off printer fails every minute; only its first failure is news.
        level = logging.INFO if link.failures == 0 else logging.DEBUG
        logger.log(level, "mqtt link %r: connect failed (%s): %s", link.endpoint.key, kind, reason)
        self._lost(link, reason, kind)

    def _lost(self, link: _Link, reason: str | None, kind: FailureKind) -> None:
        """The current connection is gone: tell the listener why, then back off."""
        was_connected = link.state is LinkState.CONNECTED
        link.conn = None
        link.last_error = reason or "connection lost"
        if was_connected:
            logger.info("mqtt link %r disconnected: %s", link.endpoint.key, link.last_error)
            uptime = self._clock() - (link.connected_at or 0.0)
            if uptime >= self._stable_after:
                link.failures = 0
        self._retry_later(link, self._backoff(link), kind, was_connected)

    def _drop(
        self,
        link: _Link,
        reason: str,
        retry_in: float | None = None,
        kind: FailureKind = FailureKind.ERROR,
    ) -> None:
        """Hub-initiated disconnect (update, protocol error): close and reconnect."""
        if link.conn is not None:
            self._discard(link.conn)
        was_connected = link.state is LinkState.CONNECTED
        link.conn = None
        link.last_error = reason
        delay = self._backoff(link) if retry_in is None else retry_in
        # An edited endpoint is no failure of the printer's: nothing to report.
        self._retry_later(link, delay, None if retry_in == 0.0 else kind, was_connected)

    def _retry_later(
        self, link: _Link, delay: float, kind: FailureKind | None, was_connected: bool
    ) -> None:
        self._schedule_retry(link, delay)
        key, reason = link.endpoint.key, link.last_error or ""
        if was_connected:
            self._notify("on_disconnected", key, reason)
        elif kind is not None:
            link.last_failure = kind
            self._notify("on_connect_failed", key, kind, reason, delay)

    def _auth_failed(self, link: _Link, reason: str) -> None:
        link.state = LinkState.AUTH_FAILED
        link.last_error = f"credentials rejected: {reason}"
        link.last_failure = FailureKind.AUTH
        logger.warning("mqtt link %r: %s; not retrying", link.endpoint.key, link.last_error)
        self._notify(
            "on_connect_failed", link.endpoint.key, FailureKind.AUTH, link.last_error, None
        )

    def _backoff(self, link: _Link) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**failures)], so a farm of printers
        that dropped together (broker or Wi-Fi restart) does not reconnect in lockstep."""
        ceiling = min(self._backoff_cap, self._backoff_base * 2 ** min(link.failures, 32))
        link.failures += 1
        return self._rng.uniform(0.0, ceiling)

    def _schedule_retry(self, link: _Link, delay: float) -> None:
        link.state = LinkState.BACKOFF
        link.retry_token += 1
        self._later(delay, self._retry, link, link.retry_token)

    def _retry(self, link: _Link, token: int) -> None:
        if (
            self._links.get(link.endpoint.key) is link
            and link.state is LinkState.BACKOFF
            and link.retry_token == token
            and link.conn is None
        ):
            self._start_connect(link)

    def _discard(self, conn: _Conn) -> None:
        """Close a connection the hub no longer wants, politely if the socket allows."""
        conn.dead = True
        if conn.sock is not None:
            try:
                conn.client.disconnect()
                conn.client.loop_write()
            except Exception:
                pass  # best effort: the socket is closed below either way
        self._unregister(conn)
        self._close_socket(conn)

    @staticmethod
    def _close_socket(conn: _Conn) -> None:
        conn.dead = True
        sock = conn.client.socket()
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _notify(self, method: str, key: Hashable, *args: Any) -> None:
        try:
            getattr(self._listener, method)(key, *args)
        except Exception:
            # Never log args: they hold report payloads.
            logger.exception("mqtt listener %s failed for %r", method, key)

    # -- timers -------------------------------------------------------------------------------

    def _later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._timers, (self._clock() + delay, next(self._timer_seq), fn, args))

    def _wait_time(self, timeout: float) -> float:
        if self._commands or self._connected or self._pending_reads:
            return 0.0
        deadline = self._next_misc
        if self._timers:
            deadline = min(deadline, self._timers[0][0])
        return max(0.0, min(timeout, deadline - self._clock()))

    def _fire_timers(self) -> None:
        now = self._clock()
        while self._timers and self._timers[0][0] <= now:
            _, _, fn, args = heapq.heappop(self._timers)
            try:
                fn(*args)
            except Exception:
                logger.exception("mqtt hub timer %s failed", fn.__name__)
        if now >= self._next_misc:
            self._next_misc = now + 1.0
            self._misc()

    def _misc(self) -> None:
        """paho's keep-alive: sends PINGREQ and notices a broker that stopped answering."""
        for link in list(self._links.values()):
            conn = link.conn
            if conn is not None and conn.sock is not None and not conn.dead:
                try:
                    conn.client.loop_misc()
                except Exception as exc:
                    logger.exception("mqtt link %r: keep-alive failed", link.endpoint.key)
                    self._drop(link, f"keep-alive error: {_describe(exc)}")


__all__ = [
    "AUTH_REJECTED_CODES",
    "Endpoint",
    "FailureKind",
    "LinkState",
    "Listener",
    "MqttHub",
    "classify",
    "ssl_context",
]

"""MqttHub against a real TLS Mosquitto on loopback, with plain paho clients as printers."""

from __future__ import annotations

import contextlib
import errno
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Hashable, Iterator

import paho.mqtt.client as paho
import pytest

from j3d.lib.mosquitto import MosquittoBroker, free_port
from printers.bambu.mqtt import Endpoint, FailureKind, LinkState, MqttHub, classify
from printers.bambu.tls import make_tls_material

# Fast retries so "it would have retried by now" is observable within a test.
FAST = {"backoff_base": 0.02, "backoff_cap": 0.1, "connect_timeout": 2.0}


class Recorder:
    """A Listener that records every call; optionally raises for chosen keys."""

    def __init__(self, raise_for: frozenset[Hashable] = frozenset()) -> None:
        self.raise_for = raise_for
        self.connected: list[Hashable] = []
        self.reports: list[tuple[Hashable, bytes]] = []
        self.disconnected: list[tuple[Hashable, str]] = []
        self.auth_failed: list[Hashable] = []
        self.failures: list[tuple[Hashable, FailureKind, str, float | None]] = []

    def on_connected(self, key: Hashable) -> None:
        self.connected.append(key)
        self._maybe_raise(key)

    def on_report(self, key: Hashable, payload: bytes) -> None:
        self.reports.append((key, payload))
        self._maybe_raise(key)

    def on_disconnected(self, key: Hashable, reason: str) -> None:
        self.disconnected.append((key, reason))

    def on_connect_failed(
        self, key: Hashable, kind: FailureKind, reason: str, retry_in: float | None
    ) -> None:
        self.failures.append((key, kind, reason, retry_in))
        if kind is FailureKind.AUTH:
            self.auth_failed.append(key)

    def kinds_for(self, key: Hashable) -> list[FailureKind]:
        return [kind for k, kind, _, _ in self.failures if k == key]

    def reports_for(self, key: Hashable) -> list[bytes]:
        return [payload for k, payload in self.reports if k == key]

    def _maybe_raise(self, key: Hashable) -> None:
        if key in self.raise_for:
            raise RuntimeError("listener bug")


def pump(hub: MqttHub, until: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Step the hub on this thread until ``until()`` holds or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if until():
            return True
        hub.step(0.02)
    return until()


def endpoint(broker: MosquittoBroker, key: Hashable, serial: str, **kwargs: object) -> Endpoint:
    options: dict[str, object] = {"password": broker.access_code, **kwargs}
    return Endpoint(key=key, serial=serial, host=broker.host, port=broker.port, **options)


def printer_client(broker: MosquittoBroker) -> paho.Client:
    """A plain paho client standing in for the printer side of the broker."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    client.tls_set_context(broker.client_ssl_context())
    client.username_pw_set(broker.username, broker.access_code)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def close_client(client: paho.Client) -> None:
    """Disconnect first: the DISCONNECT wakes the loop thread, which then ends at once, where
    loop_stop() first would wait out the loop's one-second select timeout."""
    client.disconnect()
    client.loop_stop()


def report(printer: paho.Client, serial: str, payload: bytes) -> None:
    printer.publish(f"device/{serial}/report", payload, qos=0).wait_for_publish(5)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def hub(recorder: Recorder) -> Iterator[MqttHub]:
    hub = MqttHub(recorder, **FAST)
    yield hub
    hub.close()


@pytest.fixture
def printer(mqtt_broker: MosquittoBroker) -> Iterator[paho.Client]:
    client = printer_client(mqtt_broker)
    yield client
    close_client(client)


def test_report_from_printer_reaches_listener(
    hub: MqttHub, recorder: Recorder, mqtt_broker: MosquittoBroker, printer: paho.Client
) -> None:
    hub.add(endpoint(mqtt_broker, "p1", "SERIAL01"))
    assert pump(hub, lambda: recorder.connected == ["p1"])
    assert hub.status("p1") is LinkState.CONNECTED

    report(printer, "SERIAL01", b'{"print":{"command":"push_status","msg":1}}')

    assert pump(hub, lambda: recorder.reports != [])
    assert recorder.reports == [("p1", b'{"print":{"command":"push_status","msg":1}}')]
    assert hub.last_message_at("p1") is not None


def test_publish_from_another_thread_reaches_request_topic_at_qos1(
    recorder: Recorder, mqtt_broker: MosquittoBroker, printer: paho.Client
) -> None:
    received: list[paho.MQTTMessage] = []
    got_it = threading.Event()

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        received.append(message)
        got_it.set()

    printer.on_message = on_message
    subscribed = threading.Event()
    printer.on_subscribe = lambda *_: subscribed.set()
    printer.subscribe("device/SERIAL02/request", qos=1)
    # The broker drops what is published before it has the subscription (a loaded machine lost
    # the request that way).
    assert subscribed.wait(5)
    hub = MqttHub(recorder, **FAST)
    stop = threading.Event()
    loop = threading.Thread(target=hub.run, args=(stop,), daemon=True)
    loop.start()
    try:
        hub.add(endpoint(mqtt_broker, "p2", "SERIAL02"))
        deadline = time.monotonic() + 5
        while hub.status("p2") is not LinkState.CONNECTED and time.monotonic() < deadline:
            time.sleep(0.01)

        assert hub.publish("p2", b'{"pushing":{"command":"pushall","sequence_id":"1"}}')

        assert got_it.wait(5)
    finally:
        stop.set()
        loop.join(5)
    assert received[0].topic == "device/SERIAL02/request"
    assert received[0].qos == 1
    assert received[0].payload == b'{"pushing":{"command":"pushall","sequence_id":"1"}}'
    assert not loop.is_alive()


def test_publish_to_a_link_that_is_not_connected_returns_false(
    hub: MqttHub, mqtt_broker: MosquittoBroker
) -> None:
    assert hub.publish("unknown", b"{}") is False
    hub.add(endpoint(mqtt_broker, "p3", "SERIAL03", password="wrong-code"))
    assert pump(hub, lambda: hub.status("p3") is LinkState.AUTH_FAILED)
    assert hub.publish("p3", b"{}") is False


def test_wrong_access_code_reports_auth_failed_once_and_stops_retrying(
    recorder: Recorder, fresh_broker: MosquittoBroker
) -> None:
    # FAST's 2 s connect timeout would turn a refusal that a loaded machine answers late into a
    # timeout, which is retried: a second connection this test would count against the hub.
    hub = MqttHub(recorder, **{**FAST, "connect_timeout": 30.0})
    try:
        hub.add(endpoint(fresh_broker, "p4", "SERIAL04", password="wrong-code"))
        assert pump(hub, lambda: recorder.auth_failed != [], timeout=30)
        # With a 20-100 ms backoff a retrying hub would make ~15 more attempts in this time.
        pump(hub, lambda: False, timeout=1.5)
        assert pump(hub, lambda: "not authorised" in fresh_broker.log_path.read_text(), timeout=10)

        assert recorder.auth_failed == ["p4"]
        assert recorder.connected == []
        assert hub.status("p4") is LinkState.AUTH_FAILED
        log = fresh_broker.log_path.read_text()
        assert log.count("New connection from") == 1
        assert log.count("not authorised") == 1
        assert "wrong-code" not in (hub.last_error("p4") or "")
    finally:
        hub.close()


def test_update_with_the_right_access_code_clears_auth_failed(
    hub: MqttHub, recorder: Recorder, mqtt_broker: MosquittoBroker
) -> None:
    hub.add(endpoint(mqtt_broker, "p5", "SERIAL05", password="wrong-code"))
    assert pump(hub, lambda: hub.status("p5") is LinkState.AUTH_FAILED)

    hub.update(endpoint(mqtt_broker, "p5", "SERIAL05"))

    assert pump(hub, lambda: recorder.connected == ["p5"])
    assert hub.status("p5") is LinkState.CONNECTED


def test_hub_reconnects_and_resubscribes_after_broker_restart(
    hub: MqttHub, recorder: Recorder, fresh_broker: MosquittoBroker
) -> None:
    hub.add(endpoint(fresh_broker, "p6", "SERIAL06"))
    assert pump(hub, lambda: recorder.connected == ["p6"])

    fresh_broker.kill()
    assert pump(hub, lambda: recorder.disconnected != [])
    assert hub.status("p6") in (LinkState.BACKOFF, LinkState.CONNECTING)
    fresh_broker.start()
    assert pump(hub, lambda: recorder.connected == ["p6", "p6"], timeout=10)

    printer = printer_client(fresh_broker)
    try:
        report(printer, "SERIAL06", b'{"after":"restart"}')
        assert pump(hub, lambda: recorder.reports_for("p6") == [b'{"after":"restart"}'])
    finally:
        close_client(printer)
    assert [key for key, _ in recorder.disconnected] == ["p6"]


def test_exception_in_listener_does_not_stop_other_printers_reports(
    mqtt_broker: MosquittoBroker, printer: paho.Client
) -> None:
    recorder = Recorder(raise_for=frozenset({"bad"}))
    hub = MqttHub(recorder, **FAST)
    try:
        hub.add(endpoint(mqtt_broker, "bad", "SERIAL07"))
        hub.add(endpoint(mqtt_broker, "good", "SERIAL08"))
        assert pump(hub, lambda: sorted(recorder.connected) == ["bad", "good"])

        for n in range(3):
            report(printer, "SERIAL07", b"not json at all %d" % n)
            report(printer, "SERIAL08", b'{"n":%d}' % n)

        assert pump(hub, lambda: len(recorder.reports_for("good")) == 3)
        assert len(recorder.reports_for("bad")) == 3  # the raising key keeps receiving too
        assert hub.status("bad") is LinkState.CONNECTED
    finally:
        hub.close()


def test_tls_verification_with_right_ca_and_serial_as_server_name_connects(
    hub: MqttHub, recorder: Recorder, mqtt_broker: MosquittoBroker
) -> None:
    # host is an IP; the certificate names the serial, as a printer's does.
    verified = endpoint(
        mqtt_broker, "p9", mqtt_broker.server_cn, tls_verify=True, ca_pem=mqtt_broker.ca_pem
    )
    hub.add(verified)
    assert pump(hub, lambda: recorder.connected == ["p9"])


def test_tls_verification_with_wrong_ca_fails(
    hub: MqttHub, recorder: Recorder, mqtt_broker: MosquittoBroker
) -> None:
    other_ca = make_tls_material("SOME-OTHER-PRINTER", ca_name="Some other CA").ca_pem
    hub.add(endpoint(mqtt_broker, "p10", mqtt_broker.server_cn, tls_verify=True, ca_pem=other_ca))

    assert pump(hub, lambda: "CERTIFICATE_VERIFY_FAILED" in (hub.last_error("p10") or ""))
    assert recorder.connected == []
    assert hub.status("p10") in (LinkState.BACKOFF, LinkState.CONNECTING)


def test_tls_verification_rejects_certificate_issued_to_another_serial(
    hub: MqttHub, recorder: Recorder, mqtt_broker: MosquittoBroker
) -> None:
    hub.add(
        endpoint(mqtt_broker, "p11", "01P00C000000000", tls_verify=True, ca_pem=mqtt_broker.ca_pem)
    )

    assert pump(hub, lambda: "CERTIFICATE_VERIFY_FAILED" in (hub.last_error("p11") or ""))
    assert "01P00C000000000" in (hub.last_error("p11") or "")
    assert recorder.connected == []


def test_cloud_endpoint_checks_the_broker_hostname(
    hub: MqttHub, recorder: Recorder, mqtt_broker: MosquittoBroker
) -> None:
    # The cloud broker is verified like any HTTPS host; ca_pem stands in for the public CA.
    cloud = Endpoint(
        key="c1", serial="SERIAL16", host="localhost", port=mqtt_broker.port,
        password=mqtt_broker.access_code, cloud=True, ca_pem=mqtt_broker.ca_pem,
    )  # fmt: skip
    hub.add(cloud)
    assert pump(hub, lambda: recorder.connected == ["c1"])


def test_fifty_endpoints_each_receive_only_their_own_reports(
    hub: MqttHub, recorder: Recorder, mqtt_broker: MosquittoBroker, printer: paho.Client
) -> None:
    serials = {n: f"SERIAL5{n:02d}" for n in range(50)}
    for n, serial in serials.items():
        hub.add(endpoint(mqtt_broker, n, serial))
    assert pump(hub, lambda: len(recorder.connected) == 50, timeout=15)

    for serial in serials.values():
        report(printer, serial, serial.encode())

    assert pump(hub, lambda: len(recorder.reports) >= 50)
    pump(hub, lambda: False, timeout=0.3)  # let any stray cross-delivery arrive
    assert sorted(recorder.reports) == sorted((n, s.encode()) for n, s in serials.items())


def test_printer_that_never_answers_does_not_delay_other_printers(
    recorder: Recorder, mqtt_broker: MosquittoBroker, printer: paho.Client
) -> None:
    # A listener that accepts TCP but never speaks TLS: the handshake hangs until timeout,
    # like a printer whose network stack is up but whose MQTT server is wedged.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        hub = MqttHub(recorder, backoff_base=5.0, connect_timeout=1.0)
        try:
            hung = Endpoint(
                key="hung",
                serial="SERIAL12",
                host="127.0.0.1",
                port=silent.getsockname()[1],
                password="x",
            )
            hub.add(hung)
            hub.add(endpoint(mqtt_broker, "ok", "SERIAL13"))
            started = time.monotonic()
            assert pump(hub, lambda: recorder.connected == ["ok"])
            assert time.monotonic() - started < 0.9
            assert hub.status("hung") is LinkState.CONNECTING

            assert pump(hub, lambda: hub.status("hung") is LinkState.BACKOFF, timeout=3)
            assert "timed out" in (hub.last_error("hung") or "")
        finally:
            hub.close()


def read_packet(conn: ssl.SSLSocket) -> bytes:
    """Reads one MQTT packet (fixed header, varint length, body) from a blocking socket."""
    header = conn.recv(1)
    length, shift = 0, 0
    while True:
        byte = conn.recv(1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    body = b""
    while len(body) < length:
        body += conn.recv(length - len(body))
    return header + body


MALFORMED = {
    "topic_overruns_packet": b"\x30\x05\x00\xffabc",
    "publish_with_qos_3": b"\x36\x05\x00\x01a\x00\x01",
    "reserved_packet_type": b"\x00\x00",
    "suback_too_short": b"\x90\x01\x00",
    "remaining_length_too_long": b"\x30\xff\xff\xff\xff\x01",
}


def corrupt_printer(
    server: socket.socket, context: ssl.SSLContext, garbage: bytes, accepted: list[int]
) -> None:
    """Accepts the hub, acks CONNECT and SUBSCRIBE, then sends ``garbage``, for every
    connection until the server socket closes."""
    # Closing a listening socket does not wake a thread blocked in accept(): poll instead.
    server.settimeout(0.02)
    while True:
        try:
            raw, _ = server.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        accepted.append(1)
        try:
            with context.wrap_socket(raw, server_side=True) as conn:
                read_packet(conn)  # CONNECT
                conn.sendall(b"\x20\x02\x00\x00")  # CONNACK accepted
                subscribe = read_packet(conn)
                conn.sendall(b"\x90\x03" + subscribe[1:3] + b"\x00")  # SUBACK, same id
                conn.sendall(garbage)
                conn.settimeout(5)
                conn.recv(1)  # returns once the hub hangs up, as the garbage should make it
        except (OSError, IndexError):
            pass  # the hub hung up on us, which is what the garbage is for


@pytest.mark.parametrize("garbage", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_packet_drops_only_that_link_and_the_loop_keeps_running(
    recorder: Recorder, mqtt_broker: MosquittoBroker, printer: paho.Client, garbage: bytes
) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(mqtt_broker.workdir / "server.pem", mqtt_broker.workdir / "server.key")
    accepted: list[int] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        thread = threading.Thread(
            target=corrupt_printer, args=(server, context, garbage, accepted), daemon=True
        )
        thread.start()
        hub = MqttHub(recorder, **FAST)
        try:
            hub.add(Endpoint(key="corrupt", serial="SERIAL18", host="127.0.0.1",
                             port=server.getsockname()[1], password="x"))  # fmt: skip
            hub.add(endpoint(mqtt_broker, "good", "SERIAL19"))
            assert pump(hub, lambda: len(accepted) >= 2 and "good" in recorder.connected)

            report(printer, "SERIAL19", b'{"still":"alive"}')

            assert pump(hub, lambda: recorder.reports_for("good") == [b'{"still":"alive"}'])
            assert "corrupt" in [key for key, _ in recorder.disconnected]
        finally:
            hub.close()
            server.close()
            thread.join(5)


class CeilingRecorder(random.Random):
    """Records each backoff ceiling and picks the shortest delay, to keep the test fast."""

    def __init__(self) -> None:
        super().__init__()
        self.ceilings: list[float] = []

    def uniform(self, a: float, b: float) -> float:
        self.ceilings.append(b)
        return a


def test_reconnect_backoff_doubles_up_to_the_cap_with_full_jitter(recorder: Recorder) -> None:
    rng = CeilingRecorder()
    hub = MqttHub(recorder, backoff_base=0.01, backoff_cap=0.05, rng=rng)
    try:
        hub.add(Endpoint(key="off", serial="SERIAL17", host="127.0.0.1", port=free_port(),
                         password="x"))  # fmt: skip
        assert pump(hub, lambda: len(rng.ceilings) >= 5)
        assert "ConnectionRefusedError" in (hub.last_error("off") or "")
    finally:
        hub.close()
    assert rng.ceilings[:5] == pytest.approx([0.01, 0.02, 0.04, 0.05, 0.05])


def test_removed_endpoint_gets_no_more_reports(
    hub: MqttHub, recorder: Recorder, mqtt_broker: MosquittoBroker, printer: paho.Client
) -> None:
    hub.add(endpoint(mqtt_broker, "p14", "SERIAL14"))
    assert pump(hub, lambda: recorder.connected == ["p14"])

    hub.remove("p14")
    pump(hub, lambda: hub.status("p14") is None)
    report(printer, "SERIAL14", b"{}")
    pump(hub, lambda: False, timeout=0.3)

    assert recorder.reports == []
    assert hub.status("p14") is None
    assert recorder.disconnected == []


def test_endpoint_repr_hides_the_access_code() -> None:
    ep = Endpoint(key=1, serial="SERIAL15", host="10.0.0.5", password="s3cr3t-code")
    assert "s3cr3t-code" not in repr(ep)


def test_endpoint_rejects_wildcards_in_serial() -> None:
    with pytest.raises(ValueError):
        Endpoint(key=1, serial="+", host="10.0.0.5", password="x")


# ---- why a connect failed (issue 7: a printer that cannot be reached says why) ----------------


def _listening_socket() -> socket.socket:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    return server


def test_a_closed_port_is_reported_as_refused_with_the_retry_delay(recorder: Recorder) -> None:
    # Bound but never listening: connects are refused, and the port stays ours for the whole
    # test (a port closed again could be taken meanwhile by another test's TLS server).
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    hub = MqttHub(recorder, **FAST)
    try:
        hub.add(Endpoint(key="r", serial="REFUSED1", host="127.0.0.1", port=port, password="x"))
        assert pump(hub, lambda: recorder.failures != [])
        key, kind, reason, retry_in = recorder.failures[0]
        assert (key, kind) == ("r", FailureKind.REFUSED)
        assert "x" not in reason.split() and retry_in is not None and retry_in >= 0
    finally:
        hub.close()
        closed.close()


def test_a_printer_that_never_answers_is_reported_as_timeout(recorder: Recorder) -> None:
    silent = _listening_socket()  # accepts TCP (backlog) but never speaks TLS
    hub = MqttHub(recorder, **{**FAST, "connect_timeout": 0.3})
    try:
        port = silent.getsockname()[1]
        hub.add(Endpoint(key="t", serial="SILENT1", host="127.0.0.1", port=port, password="x"))
        assert pump(hub, lambda: recorder.failures != [])
        assert recorder.kinds_for("t")[0] is FailureKind.TIMEOUT
    finally:
        hub.close()
        silent.close()


def test_a_port_that_does_not_speak_tls_is_reported_as_tls(recorder: Recorder) -> None:
    server = _listening_socket()

    def answer_in_plain_text() -> None:
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            conn.close()

    thread = threading.Thread(target=answer_in_plain_text, daemon=True)
    thread.start()
    hub = MqttHub(recorder, **FAST)
    try:
        port = server.getsockname()[1]
        hub.add(Endpoint(key="s", serial="PLAIN1", host="127.0.0.1", port=port, password="x"))
        assert pump(hub, lambda: recorder.failures != [])
        assert recorder.kinds_for("s")[0] is FailureKind.TLS
    finally:
        hub.close()
        server.close()
        thread.join(2)


def test_a_wrong_access_code_is_reported_as_auth_without_a_retry(
    hub: MqttHub, recorder: Recorder, mqtt_broker: MosquittoBroker
) -> None:
    hub.add(endpoint(mqtt_broker, "a", "AUTHKIND1", password="wrong-code"))
    assert pump(hub, lambda: recorder.failures != [])
    assert recorder.failures[0][1:2] == (FailureKind.AUTH,)
    assert recorder.failures[0][3] is None


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConnectionRefusedError(111, "refused"), FailureKind.REFUSED),
        (TimeoutError("timed out"), FailureKind.TIMEOUT),
        (OSError(errno.EHOSTUNREACH, "No route to host"), FailureKind.NO_ROUTE),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), FailureKind.NO_ROUTE),
        (socket.gaierror(-2, "Name or service not known"), FailureKind.NO_ROUTE),
        (ssl.SSLCertVerificationError("certificate verify failed"), FailureKind.TLS),
        (ssl.SSLError("wrong version number"), FailureKind.TLS),
        (ValueError("odd"), FailureKind.ERROR),
    ],
)
def test_connect_errors_are_classified_by_what_a_person_can_do(error, kind) -> None:
    assert classify(error) is kind

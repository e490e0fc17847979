"""A throwaway Mosquitto broker that behaves like a Bambu Lab printer's LAN broker.

A printer's broker is a TLS 1.2 listener with one user, ``bblp``, whose password is the
printer's access code, and no anonymous access (bambu-protocol.md §1.1). Debian's Mosquitto
with a throwaway CA, a ``password_file`` and ``allow_anonymous false`` is a faithful stand-in,
so tests and the bench exercise the real TLS and CONNACK paths instead of a mock.

Usage::

    with MosquittoBroker("12345678") as broker:
        client.tls_set(ca_certs=broker.ca_path)
        client.username_pw_set(broker.username, broker.access_code)
        client.connect(broker.host, broker.port)
"""

from __future__ import annotations

import ctypes
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from printers.bambu.tls import make_tls_material

MOSQUITTO_BIN = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD_BIN = "/usr/bin/mosquitto_passwd"
LOOPBACK = "127.0.0.1"
# A serial-shaped CN (X1C serials start with 00M): real printers present CN=<serial>.
DEFAULT_SERVER_CN = "00M00A000000000"
PR_SET_PDEATHSIG = 1
RUNNING = re.compile(rb"mosquitto version \S+ running")


class BrokerError(RuntimeError):
    """The broker could not be started; the message carries the tail of its log."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free a moment ago (the usual bind-to-0 trick; racy by nature)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _prepare_child() -> None:
    """preexec_fn for the broker: room for 1,100+ clients, and die with the parent.

    PR_SET_PDEATHSIG makes a test run killed by a timeout take its broker with it instead
    of leaving an orphan on a port. (It fires when the *thread* that started the broker
    exits, so start brokers from a long-lived thread.)
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: a killed parent may leave the broker running


class MosquittoBroker:
    """A Mosquitto child process on a loopback port, configured like a printer's broker.

    ``restart()`` keeps the port, the certificates and the password, so clients can
    reconnect to "the same printer" after ``kill()`` or ``stop()``.
    """

    username = "bblp"
    host = LOOPBACK

    def __init__(
        self,
        access_code: str = "12345678",
        *,
        port: int | None = None,
        workdir: str | Path | None = None,
        tls: bool = True,
        server_cn: str = DEFAULT_SERVER_CN,
    ) -> None:
        self.access_code = access_code
        self.tls = tls
        self.server_cn = server_cn
        self._port_fixed = bool(port)  # None or 0: pick a free port
        self.port = port or free_port()
        self._owns_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="j3d-mosquitto-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "mosquitto.log"
        self.conf_path = self.workdir / "mosquitto.conf"
        self._process: subprocess.Popen[bytes] | None = None
        self._material = make_tls_material(server_cn) if tls else None
        self._write_files()

    # -- public attributes -------------------------------------------------------------

    @property
    def ca_path(self) -> Path | None:
        """PEM file of the CA that signed the broker's certificate (None without TLS)."""
        return self.workdir / "ca.pem" if self.tls else None

    @property
    def ca_pem(self) -> str | None:
        return self._material.ca_pem if self._material else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def client_ssl_context(self, *, check_hostname: bool = False) -> ssl.SSLContext:
        """A TLS 1.2 client context that trusts this broker's CA (for tests and tools)."""
        context = ssl.create_default_context(cadata=self.ca_pem)
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = check_hostname
        return context

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and return once it listens (its log says it is running)."""
        if self.running:
            return
        for attempt in range(3):
            try:
                self._spawn_and_wait(timeout)
                return
            except BrokerError:
                # Another process may have taken the port we picked between free_port() and
                # mosquitto's bind; a port the caller fixed is a promise, so never re-pick it.
                if self._port_fixed or attempt == 2:
                    raise
                self.port = free_port()
                self._write_files()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, like a clean shutdown; waits for the process to exit."""
        self._end(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL, to simulate a crash: clients see their sockets drop without a DISCONNECT."""
        self._end(signal.SIGKILL, 10.0)

    def restart(self, timeout: float = 10.0) -> None:
        """Stop if running, then start again on the same port with the same certs/password."""
        self.stop()
        self._port_fixed = True
        self.start(timeout)

    def close(self) -> None:
        """Stop the broker and remove the workdir if this object created it."""
        self.stop()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<MosquittoBroker {self.host}:{self.port} tls={self.tls} running={self.running}>"

    # -- internals -----------------------------------------------------------------------

    def _write_files(self) -> None:
        password_path = self.workdir / "passwd"
        password_path.unlink(missing_ok=True)
        # -c creates the file; -b takes the password from argv (fine for a throwaway code).
        subprocess.run(
            [
                MOSQUITTO_PASSWD_BIN,
                "-c",
                "-b",
                str(password_path),
                self.username,
                self.access_code,
            ],
            check=True,
            capture_output=True,
        )
        tls_lines: list[str] = []
        if self._material is not None:
            paths = {"ca.pem": "ca_pem", "server.pem": "cert_pem", "server.key": "key_pem"}
            for filename, field in paths.items():
                (self.workdir / filename).write_text(getattr(self._material, field))
            os.chmod(self.workdir / "server.key", 0o600)
            tls_lines = [
                f"cafile {self.workdir / 'ca.pem'}",
                f"certfile {self.workdir / 'server.pem'}",
                f"keyfile {self.workdir / 'server.key'}",
                # Mosquitto 2.0 reads this as "1.2 or later"; the OpenSSL config written
                # by _write_openssl_conf caps it, since printers refuse 1.3 (§1.1).
                "tls_version tlsv1.2",
            ]
            self._write_openssl_conf()
        lines = [
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {password_path}",
            "persistence false",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
            f"listener {self.port} {self.host}",
            # -1 = unlimited; the bench needs > 1,100 clients on this one listener.
            "max_connections -1",
            "set_tcp_nodelay true",
            *tls_lines,
        ]
        if os.geteuid() == 0:
            # As root Mosquitto drops to the "mosquitto" user, which cannot read these
            # root-owned temp files; stay root instead.
            lines.append("user root")
        self.conf_path.write_text("\n".join(lines) + "\n")

    def _write_openssl_conf(self) -> None:
        (self.workdir / "openssl.cnf").write_text(
            "openssl_conf = j3d_init\n"
            "[j3d_init]\nssl_conf = j3d_ssl\n"
            "[j3d_ssl]\nsystem_default = j3d_tls\n"
            "[j3d_tls]\nMinProtocol = TLSv1.2\nMaxProtocol = TLSv1.2\n"
        )

    def _spawn_and_wait(self, timeout: float) -> None:
        env = dict(os.environ)
        if self.tls:
            env["OPENSSL_CONF"] = str(self.workdir / "openssl.cnf")
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._process = subprocess.Popen(
            [MOSQUITTO_BIN, "-c", str(self.conf_path)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_prepare_child,
            start_new_session=True,  # a Ctrl-C in the test runner should not race our SIGTERM
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerError(
                    f"mosquitto exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            if self._says_running(log_start):
                return
            time.sleep(0.02)
        self._end(signal.SIGKILL, 5.0)
        raise BrokerError(f"mosquitto did not listen on {self.port} in {timeout}s")

    def _says_running(self, log_start: int) -> bool:
        """mosquitto logs "running" once its listeners are open. Asked rather than probed: a
        probe's bare TCP connect shows in the broker's log as a client that broke off its TLS
        handshake, sometimes as a "New connection" (tests count those)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(log_start)
                return RUNNING.search(log.read()) is not None
        except OSError:
            return False

    def _end(self, sig: signal.Signals, timeout: float) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5.0)

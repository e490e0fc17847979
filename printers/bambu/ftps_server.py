"""A small implicit-TLS FTP server that stands in for a Bambu printer's vsftpd (§6).

Why stdlib ``socketserver``-style code and not pyftpdlib: pyftpdlib only speaks explicit TLS
(``AUTH TLS``), and what this server exists to reproduce, vsftpd's ``implicit_ssl=YES`` plus
``require_ssl_reuse=YES`` and the A1 data-channel hang, sits exactly in the parts pyftpdlib
hides (the data-socket handshake). The subset of FTP a printer needs is small, so a few hundred
lines we control beat patching a library's internals, and it adds no dependency.

Behaviour, as on a printer:
- TLS 1.2 from the first byte (no AUTH TLS), user ``bblp`` with the access code (530 otherwise);
- passive mode only (PASV and EPSV); PBSZ 0 and PROT P|C;
- a protected data connection must resume the control connection's TLS session, otherwise
  ``522 SSL connection failed: session reuse required`` (vsftpd ``require_ssl_reuse=YES``);
- ``a1_data_channel_hangs=True``: a protected transfer never completes (no ``226``), the quirk
  some A1 firmware has, so clients must fall back to ``PROT C``;
- ``bytes_per_second=N``: uploads are received at about N bytes/s (printers take 75-150 KB/s,
  §6), with a small receive window so the client's sends block as they would on a real printer.

Connections are accepted by one shared selector thread for every server in the process, so a
farm of hundreds of simulated printers does not cost an idle thread per server; each control
connection then gets its own short-lived thread.
"""

from __future__ import annotations

import logging
import posixpath
import selectors
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from printers.bambu.tls import make_tls_material, server_context

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
USERNAME = "bblp"
CONTROL_IDLE_TIMEOUT = 300.0  # vsftpd's idle_session_timeout default
DATA_ACCEPT_TIMEOUT = 15.0
BLOCK = 64 * 1024
# When throttled: read in small pieces through a small window, so the pace is even and the
# client cannot park the whole file in loopback's (megabyte-sized) socket buffers.
THROTTLED_BLOCK = 8 * 1024
THROTTLED_WINDOW = 16 * 1024


# -- certificates ------------------------------------------------------------------------


# -- the shared acceptor -----------------------------------------------------------------


class _Acceptor:
    """One thread that accepts connections for every FtpsServer in the process."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, sock: socket.socket, on_accept: Callable[[socket.socket], None]) -> None:
        sock.setblocking(False)
        with self._lock:
            # epoll picks up registrations made while another thread waits in select().
            self._selector.register(sock, selectors.EVENT_READ, on_accept)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ftps-acceptor", daemon=True)
                self._thread.start()

    def remove(self, sock: socket.socket) -> None:
        with self._lock:
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass

    def _run(self) -> None:
        while True:
            for key, _ in self._selector.select(timeout=1.0):
                try:
                    conn, _addr = key.fileobj.accept()  # type: ignore[union-attr]
                except (BlockingIOError, OSError):
                    continue
                conn.setblocking(True)
                key.data(conn)


_ACCEPTOR = _Acceptor()


# -- the server --------------------------------------------------------------------------


@dataclass(frozen=True)
class Transfer:
    """One data transfer as the server saw it (for asserts in tests)."""

    command: str
    path: str
    protected: bool
    session_reused: bool | None
    completed: bool


class FtpsServer:
    """An implicit-TLS FTP server rooted in a directory; ``start()`` / ``stop()``."""

    def __init__(
        self,
        access_code: str,
        *,
        root: str | Path | None = None,
        host: str = LOOPBACK,
        port: int = 0,
        serial: str = "00M00A000000000",
        require_session_reuse: bool = True,
        a1_data_channel_hangs: bool = False,
        epsv_enabled: bool = True,
        pasv_address: str | None = None,
        bytes_per_second: int | None = None,
    ) -> None:
        self.access_code = access_code
        self.host = host
        self.port = port
        self.serial = serial
        self.require_session_reuse = require_session_reuse
        self.a1_data_channel_hangs = a1_data_channel_hangs
        self.epsv_enabled = epsv_enabled
        # What the 227 reply claims; printers report odd addresses, clients must ignore it.
        self.pasv_address = pasv_address
        self.bytes_per_second = bytes_per_second
        self._owns_root = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="j3d-ftps-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.context = server_context(serial)
        self.ca_pem = make_tls_material(serial).ca_pem
        self._lock = threading.RLock()
        self._sessions: set[_ControlSession] = set()
        # path -> how often it was deleted or stored to: an upload whose path was deleted or
        # stored anew since it began wrote to an unlinked file, as with vsftpd (see cmd_stor).
        self._generations: dict[Path, int] = {}
        self._listener: socket.socket | None = None
        self.transfers: list[Transfer] = []

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        _ACCEPTOR.add(listener, self._on_accept)

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            _ACCEPTOR.remove(listener)
            listener.close()
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.abort()

    def close(self) -> None:
        """Stop and delete the root if this server created it."""
        self.stop()
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> FtpsServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- what was uploaded (thread-safe) --------------------------------------------------

    def resolve(self, path: str) -> Path:
        """Map an FTP path (absolute from the printer's SD-card root) into ``root``."""
        clean = posixpath.normpath("/" + path.lstrip("/"))
        return self.root / clean.lstrip("/")

    def exists(self, path: str) -> bool:
        with self._lock:
            return self.resolve(path).is_file()

    def read(self, path: str) -> bytes:
        with self._lock:
            return self.resolve(path).read_bytes()

    def put(self, path: str, data: bytes) -> None:
        """Place a file directly, as if it had been uploaded earlier."""
        target = self.resolve(path)
        with self._lock:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    def list_files(self) -> dict[str, int]:
        """Every stored file as ``{"/dir/name": size}``."""
        with self._lock:
            return {
                "/" + str(p.relative_to(self.root)): p.stat().st_size
                for p in sorted(self.root.rglob("*"))
                if p.is_file() and not p.name.startswith(".j3d-part-")
            }

    # -- internals used by sessions ------------------------------------------------------

    def _on_accept(self, conn: socket.socket) -> None:
        session = _ControlSession(self, conn)
        with self._lock:
            self._sessions.add(session)
        threading.Thread(target=session.run, name=f"ftps-{self.port}", daemon=True).start()

    def _forget(self, session: _ControlSession) -> None:
        with self._lock:
            self._sessions.discard(session)

    def _record(self, transfer: Transfer) -> None:
        with self._lock:
            self.transfers.append(transfer)

    def _commit_upload(self, part: Path, target: Path) -> None:
        # Readers see a file only once it is whole (the rename is atomic under the lock).
        with self._lock:
            part.replace(target)

    def _replace_path(self, target: Path) -> int:
        """``target`` is deleted or stored anew: uploads to it still running are orphaned."""
        with self._lock:
            self._generations[target] = self._generations.get(target, 0) + 1
            return self._generations[target]

    def _commit_if_current(self, part: Path, target: Path, generation: int) -> bool:
        with self._lock:
            if self._generations.get(target) != generation:
                part.unlink(missing_ok=True)  # vsftpd wrote to an inode no path names any more
                return False
            self._commit_upload(part, target)
            return True


class _DataRefused(Exception):
    """The data connection was refused; the reply has been sent already."""


class _ControlSession:
    """One control connection: reads commands and answers like vsftpd."""

    def __init__(self, server: FtpsServer, conn: socket.socket) -> None:
        self.server = server
        self.raw = conn
        self.sock: ssl.SSLSocket | None = None
        self.user: str | None = None
        self.logged_in = False
        self.protected = False
        self.cwd = "/"
        self.pasv: socket.socket | None = None
        self.closed = threading.Event()

    # -- plumbing ------------------------------------------------------------------------

    def abort(self) -> None:
        self.closed.set()
        for sock in (self.sock, self.raw, self.pasv):
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def reply(self, text: str) -> None:
        assert self.sock is not None
        self.sock.sendall(text.encode() + b"\r\n")

    def run(self) -> None:
        try:
            self.raw.settimeout(CONTROL_IDLE_TIMEOUT)
            self.sock = self.server.context.wrap_socket(self.raw, server_side=True)
            self.reply("220 (vsFTPd 3.0.3)")
            reader = self.sock.makefile("rb")
            while not self.closed.is_set():
                line = reader.readline(4096)
                if not line:
                    break
                if not self.dispatch(line.decode("utf-8", "replace").strip()):
                    break
        except (OSError, ValueError):
            pass  # client went away, TLS failed or the server is stopping
        finally:
            self._close_pasv()
            for sock in (self.sock, self.raw):
                if sock is not None:
                    sock.close()
            self.server._forget(self)

    def dispatch(self, line: str) -> bool:
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        if verb == "QUIT":
            self.reply("221 Goodbye.")
            return False
        if verb in ("USER", "PASS", "FEAT", "SYST", "NOOP", "PBSZ", "PROT", "OPTS"):
            getattr(self, f"cmd_{verb.lower()}")(arg)
            return True
        if not self.logged_in:
            self.reply("530 Please login with USER and PASS.")
            return True
        handler = getattr(self, f"cmd_{verb.lower()}", None)
        if handler is None:
            self.reply("500 Unknown command.")
            return True
        return handler(arg) is not False

    def path(self, arg: str) -> str:
        return posixpath.normpath(posixpath.join(self.cwd, arg or "."))

    # -- session commands ----------------------------------------------------------------

    def cmd_user(self, arg: str) -> None:
        self.user, self.logged_in = arg, False
        self.reply("331 Please specify the password.")

    def cmd_pass(self, arg: str) -> None:
        if self.user == USERNAME and arg == self.server.access_code:
            self.logged_in = True
            self.reply("230 Login successful.")
        else:
            self.reply("530 Login incorrect.")

    def cmd_feat(self, arg: str) -> None:
        features = ["EPSV", "PASV", "PBSZ", "PROT", "SIZE", "UTF8"]
        self.reply("211-Features:\r\n" + "".join(f" {f}\r\n" for f in features) + "211 End")

    def cmd_syst(self, arg: str) -> None:
        self.reply("215 UNIX Type: L8")

    def cmd_noop(self, arg: str) -> None:
        self.reply("200 NOOP ok.")

    def cmd_opts(self, arg: str) -> None:
        self.reply("200 Always in UTF8 mode.")

    def cmd_pbsz(self, arg: str) -> None:
        self.reply("200 PBSZ set to 0.")

    def cmd_prot(self, arg: str) -> None:
        level = arg.strip().upper()
        if level not in ("P", "C"):
            self.reply("536 PROT must be C or P.")
            return
        self.protected = level == "P"
        self.reply("200 PROT now Private." if self.protected else "200 PROT now Clear.")

    def cmd_type(self, arg: str) -> None:
        binary = arg.strip().upper().startswith("I")
        self.reply("200 Switching to Binary mode." if binary else "200 Switching to ASCII mode.")

    # -- file-system commands ------------------------------------------------------------

    def cmd_pwd(self, arg: str) -> None:
        self.reply(f'257 "{self.cwd}" is the current directory')

    def cmd_cwd(self, arg: str) -> None:
        target = self.path(arg)
        if self.server.resolve(target).is_dir():
            self.cwd = target
            self.reply("250 Directory successfully changed.")
        else:
            self.reply("550 Failed to change directory.")

    def cmd_mkd(self, arg: str) -> None:
        target = self.path(arg)
        try:
            self.server.resolve(target).mkdir()
            self.reply(f'257 "{target}" created')
        except OSError:
            self.reply("550 Create directory operation failed.")

    def cmd_dele(self, arg: str) -> None:
        target = self.server.resolve(self.path(arg))
        self.server._replace_path(target)
        try:
            target.unlink()
            self.reply("250 Delete operation successful.")
        except OSError:
            self.reply("550 Delete operation failed.")

    def cmd_size(self, arg: str) -> None:
        local = self.server.resolve(self.path(arg))
        if local.is_file():
            self.reply(f"213 {local.stat().st_size}")
        else:
            self.reply("550 Could not get file size.")

    # -- passive mode --------------------------------------------------------------------

    def _open_pasv(self) -> int:
        self._close_pasv()
        self.pasv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.server.bytes_per_second:
            # Set before listen(): accepted sockets inherit it, and the window is negotiated then.
            self.pasv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, THROTTLED_WINDOW)
        self.pasv.bind((self.server.host, 0))
        self.pasv.listen(1)
        self.pasv.settimeout(DATA_ACCEPT_TIMEOUT)
        return self.pasv.getsockname()[1]

    def _close_pasv(self) -> None:
        if self.pasv is not None:
            self.pasv.close()
            self.pasv = None

    def cmd_pasv(self, arg: str) -> None:
        port = self._open_pasv()
        host = (self.server.pasv_address or self.server.host).replace(".", ",")
        self.reply(f"227 Entering Passive Mode ({host},{port >> 8},{port & 0xFF}).")

    def cmd_epsv(self, arg: str) -> None:
        if not self.server.epsv_enabled:
            self.reply("500 Unknown command.")
            return
        self.reply(f"229 Entering Extended Passive Mode (|||{self._open_pasv()}|)")

    def _data_connection(self, command: str, path: str) -> socket.socket:
        """Accept the client's data connection, send 150, then secure it if PROT P."""
        if self.pasv is None:
            self.reply("425 Use PORT or PASV first.")
            raise _DataRefused
        try:
            conn, _ = self.pasv.accept()
        except OSError:
            self.reply("425 Failed to establish connection.")
            raise _DataRefused from None
        finally:
            self._close_pasv()
        conn.settimeout(DATA_ACCEPT_TIMEOUT)
        self.reply("150 Ok to send data.")
        if not self.protected:
            return conn
        try:
            secured = self.server.context.wrap_socket(conn, server_side=True)
        except OSError as exc:
            log.info("FTPS data channel handshake failed: %s", exc)
            conn.close()
            self.reply("522 SSL connection failed; data channel handshake failed.")
            raise _DataRefused from None
        if self.server.require_session_reuse and not secured.session_reused:
            self.server._record(Transfer(command, path, True, False, False))
            secured.close()
            self.reply("522 SSL connection failed: session reuse required")
            raise _DataRefused
        return secured

    def _finish_data(self, conn: socket.socket) -> None:
        if isinstance(conn, ssl.SSLSocket):
            try:
                conn.settimeout(2.0)
                conn.unwrap()  # a proper close_notify, like vsftpd; clients may not answer
            except (OSError, ValueError):
                pass
        conn.close()

    def _hang(self, conn: socket.socket, command: str, path: str) -> bool:
        """A1 quirk: the protected transfer runs but the 226 never comes."""
        self.server._record(Transfer(command, path, True, conn_reused(conn), False))
        try:
            while conn.recv(BLOCK):
                pass
        except OSError:
            pass
        conn.close()
        # Stay silent until the client gives up and closes the control connection.
        assert self.sock is not None
        try:
            while not self.closed.is_set() and self.sock.recv(4096):
                pass
        except OSError:
            pass
        return False

    # -- transfers -----------------------------------------------------------------------

    def cmd_stor(self, arg: str) -> bool:
        path = self.path(arg)
        target = self.server.resolve(path)
        if not target.parent.is_dir():
            self.reply("553 Could not create file.")
            return True
        try:
            conn = self._data_connection("STOR", path)
        except _DataRefused:
            return True
        if self.protected and self.server.a1_data_channel_hangs:
            return self._hang(conn, "STOR", path)
        # Like vsftpd, a STOR writes to the file the path names when it begins: a client that
        # died mid-upload leaves a session that still drains its last bytes, and must not
        # overwrite the file a restarted upload has stored since (DELE, STOR) when it ends.
        generation = self.server._replace_path(target)
        part = target.with_name(f".j3d-part-{generation}-{target.name}")
        reused = conn_reused(conn)  # read before _receive() closes the socket
        complete = self._receive(conn, part)
        if not complete:
            part.unlink(missing_ok=True)
            self.reply("426 Failure reading network stream.")
            return True
        if not self.server._commit_if_current(part, target, generation):
            self.reply("226 Transfer complete.")  # to a file since deleted: as vsftpd says
            return True
        self.server._record(Transfer("STOR", path, self.protected, reused, True))
        self.reply("226 Transfer complete.")
        return True

    def _receive(self, conn: socket.socket, part: Path) -> bool:
        rate = self.server.bytes_per_second
        block = THROTTLED_BLOCK if rate else BLOCK
        started = time.monotonic()
        received = 0
        try:
            with part.open("wb") as out:
                while chunk := self._recv(conn, block):
                    out.write(chunk)
                    received += len(chunk)
                    if rate:
                        # Pace to the printer's speed: wait until this many bytes are due.
                        ahead = received / rate - (time.monotonic() - started)
                        if ahead > 0 and self.closed.wait(ahead):
                            return False
            return True
        except OSError:
            return False
        finally:
            conn.close()

    @staticmethod
    def _recv(conn: socket.socket, block: int = BLOCK) -> bytes:
        try:
            return conn.recv(block)
        except ssl.SSLEOFError:
            # Clients that skip unwrap() (as they should, §6) close without close_notify.
            return b""

    def cmd_retr(self, arg: str) -> bool:
        path = self.path(arg)
        local = self.server.resolve(path)
        if not local.is_file():
            self.reply("550 Failed to open file.")
            return True
        try:
            conn = self._data_connection("RETR", path)
        except _DataRefused:
            return True
        if self.protected and self.server.a1_data_channel_hangs:
            return self._hang(conn, "RETR", path)
        try:
            with local.open("rb") as source:
                while chunk := source.read(BLOCK):
                    conn.sendall(chunk)
        except OSError:
            conn.close()
            self.reply("426 Failure writing network stream.")
            return True
        self.server._record(Transfer("RETR", path, self.protected, conn_reused(conn), True))
        self._finish_data(conn)
        self.reply("226 Transfer complete.")
        return True

    def cmd_nlst(self, arg: str) -> bool:
        return self._listing(arg, long=False)

    def cmd_list(self, arg: str) -> bool:
        return self._listing(arg, long=True)

    def _listing(self, arg: str, *, long: bool) -> bool:
        # Drop "-la"-style options that some clients send.
        path = self.path(" ".join(a for a in arg.split() if not a.startswith("-")))
        directory = self.server.resolve(path)
        try:
            conn = self._data_connection("LIST" if long else "NLST", path)
        except _DataRefused:
            return True
        entries = sorted(directory.iterdir()) if directory.is_dir() else []
        lines = [
            _long_line(e) if long else e.name
            for e in entries
            if not e.name.startswith(".j3d-part-")
        ]
        try:
            conn.sendall("".join(f"{line}\r\n" for line in lines).encode())
        except OSError:
            pass
        self._finish_data(conn)
        self.reply("226 Directory send OK.")
        return True


def conn_reused(conn: socket.socket) -> bool | None:
    return conn.session_reused if isinstance(conn, ssl.SSLSocket) else None


def _long_line(entry: Path) -> str:
    # Printers' clocks are stale (§6), so a fixed date is as truthful as theirs.
    kind = "d" if entry.is_dir() else "-"
    size = entry.stat().st_size if entry.is_file() else 4096
    return f"{kind}rwxr-xr-x    1 0        0        {size:>10} Jan 01  2000 {entry.name}"

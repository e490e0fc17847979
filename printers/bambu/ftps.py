"""Upload files to a Bambu printer over implicit FTPS (bambu-protocol.md §6).

What a printer's vsftpd needs, and why each step is here:
- implicit TLS on port 990 (TLS from the first byte, no ``AUTH TLS``), TLS 1.2 only: X1C and
  H2D accept nothing else and P2S breaks session reuse on 1.3;
- ``PBSZ 0`` + ``PROT P`` and passive mode; the host in a PASV reply is ignored because
  printers report odd addresses;
- the data connection resumes the control connection's TLS session
  (``require_ssl_reuse=YES``), otherwise the printer answers 522;
- the store loop never calls ``unwrap()`` on the data socket (it can hang), then waits for the
  ``226`` and checks ``SIZE``, since a ``426`` after a complete upload can be benign;
- some A1 / A1 mini firmware never completes a protected transfer: on a timeout we retry with
  ``PROT C`` (control still encrypted) and remember the working mode per host.
"""

from __future__ import annotations

import ftplib
import io
import logging
import posixpath
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from printers.bambu.tls import client_context

log = logging.getLogger(__name__)

DEFAULT_PORT = 990
USERNAME = "bblp"
# An A1 over Wi-Fi manages about 75 KB/s (§6); budget for that with room to spare.
WORST_CASE_BYTES_PER_SECOND = 75_000
MIN_TIMEOUT = 30.0
BLOCK = 64 * 1024
# The data socket's send buffer. Left to autotuning it grows to megabytes, so "bytes sent" would
# run that far ahead of what the printer has taken; 64 KiB (the kernel doubles it) still covers
# 2.5 MB/s at 50 ms round trips, far above any printer's FTPS speed.
SEND_BUFFER = 64 * 1024

DataProtection = Literal["auto", "private", "clear"]
Protection = Literal["private", "clear"]
# Called after each block with the bytes sent so far in this attempt; it may raise to abort.
Progress = Callable[[int], None]

# (host, port) -> the data protection that last worked there; see _protections_to_try().
_mode_cache: dict[tuple[str, int], Protection] = {}
_mode_lock = threading.Lock()


class FtpsError(Exception):
    """An upload failed. Messages never contain the access code."""


class FtpsAuthError(FtpsError):
    """The printer refused the login (530): the access code is wrong."""


class FtpsTimeout(FtpsError):
    """The printer stopped answering within the time budget."""


class FtpsSizeMismatch(FtpsError):
    """The file on the printer does not have the size that was sent."""


@dataclass(frozen=True)
class UploadResult:
    remote_path: str
    size: int
    protection: Protection


def cached_protection(host: str, port: int = DEFAULT_PORT) -> Protection | None:
    """The data protection remembered for a printer, if any."""
    with _mode_lock:
        return _mode_cache.get((host, port))


def forget_protection(host: str | None = None, port: int = DEFAULT_PORT) -> None:
    """Forget the remembered data protection of one printer, or of all (host=None)."""
    with _mode_lock:
        if host is None:
            _mode_cache.clear()
        else:
            _mode_cache.pop((host, port), None)


def transfer_timeout(size: int) -> float:
    """Seconds to allow for any one step of an upload of ``size`` bytes."""
    return max(MIN_TIMEOUT, 1.5 * size / WORST_CASE_BYTES_PER_SECOND)


class ImplicitFtpTls(ftplib.FTP_TLS):
    """``FTP_TLS`` for implicit TLS, resuming the control session on each data connection.

    ``reuse_session=False`` exists only to prove in tests that servers enforce reuse.
    """

    def __init__(
        self,
        *,
        context: ssl.SSLContext,
        server_hostname: str | None,
        timeout: float,
        reuse_session: bool = True,
    ) -> None:
        super().__init__(context=context, timeout=timeout)
        self.server_hostname = server_hostname
        self.reuse_session = reuse_session

    def connect(
        self,
        host: str = "",
        port: int = 0,
        timeout: float = -999,
        source_address: tuple[str, int] | None = None,
    ) -> str:
        self.host, self.port = host, port
        if timeout != -999:
            self.timeout = timeout
        raw = socket.create_connection((host, port), self.timeout)
        self.af = raw.family
        # Implicit TLS: wrap before the server's 220 greeting, which arrives encrypted.
        self.sock = self.context.wrap_socket(raw, server_hostname=self.server_hostname)
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome

    def makepasv(self) -> tuple[str, int]:
        """EPSV first (what Studio's libcurl uses), PASV if refused; always the control host."""
        try:
            _, port = ftplib.parse229(self.sendcmd("EPSV"), self.sock.getpeername())
        except ftplib.error_perm:
            _, port = ftplib.parse227(self.sendcmd("PASV"))
        return self.host, port

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[socket.socket, int]:
        # Skip FTP_TLS.ntransfercmd: it wraps without the session, which vsftpd refuses.
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        if self._prot_p:
            session = self.sock.session if self.reuse_session else None
            conn = self.context.wrap_socket(
                conn, server_hostname=self.server_hostname, session=session
            )
        return conn, size

    def store_no_unwrap(
        self, remote_path: str, source: BinaryIO, progress: Progress | None = None
    ) -> str:
        """STOR without ``unwrap()`` on the data socket; returns the final reply."""
        self.voidcmd("TYPE I")
        conn, _ = self.ntransfercmd(f"STOR {remote_path}")
        sent = 0
        try:
            while block := source.read(BLOCK):
                conn.sendall(block)
                sent += len(block)
                if progress is not None:
                    progress(sent)
        finally:
            # No unwrap(): printers may never answer the close_notify, and unwrap() then
            # blocks forever (HA storbinary_no_unwrap, BDY). Closing ends the upload.
            conn.close()
        return self.voidresp()


def make_context(*, verify: bool, ca_pem: str | None) -> ssl.SSLContext:
    """A TLS 1.2 client context: no verification, or the given CA with hostname = serial."""
    if not verify:
        return client_context()
    if not ca_pem:
        raise ValueError("verify=True needs ca_pem (the printer's CA certificate)")
    return client_context(ca_pem=ca_pem)


def upload_file(
    *,
    host: str,
    access_code: str,
    source: Path | bytes,
    remote_path: str,
    port: int = DEFAULT_PORT,
    verify: bool = False,
    ca_pem: str | None = None,
    serial: str | None = None,
    timeout: float | None = None,
    data_protection: DataProtection = "auto",
    progress: Progress | None = None,
) -> UploadResult:
    """Upload ``source`` to ``remote_path`` on the printer and check the stored size.

    ``data_protection="auto"`` starts with the mode remembered for this printer (PROT P the
    first time) and falls back to PROT C when the protected data channel times out.
    ``timeout`` bounds each step (connect, each reply, each block, the final 226); by default
    it is sized from the file. ``progress`` is called after each block sent (an exception it
    raises ends the upload and propagates unchanged). Raises an ``FtpsError`` subclass.
    """
    if verify and not serial:
        raise ValueError("verify=True needs serial: the certificate's CN is the serial")
    size = len(source) if isinstance(source, bytes) else source.stat().st_size
    step_timeout = timeout if timeout is not None else transfer_timeout(size)
    remote_path = "/" + remote_path.lstrip("/")
    context = make_context(verify=verify, ca_pem=ca_pem)
    attempts = _protections_to_try(host, port, data_protection)
    for index, protection in enumerate(attempts):
        try:
            _upload_once(
                host=host,
                port=port,
                access_code=access_code,
                context=context,
                server_hostname=serial if verify else None,
                source=source,
                remote_path=remote_path,
                size=size,
                timeout=step_timeout,
                protection=protection,
                progress=progress,
            )
        except FtpsTimeout:
            if index + 1 == len(attempts):
                raise
            log.warning("FTPS %s:%s: protected data channel timed out, retrying clear", host, port)
            continue
        if data_protection == "auto":
            with _mode_lock:
                _mode_cache[(host, port)] = protection
        return UploadResult(remote_path=remote_path, size=size, protection=protection)
    raise AssertionError("unreachable: attempts is never empty")


def _protections_to_try(host: str, port: int, requested: DataProtection) -> list[Protection]:
    if requested != "auto":
        return [requested]
    if cached_protection(host, port) == "clear":
        return ["clear"]
    return ["private", "clear"]


def _upload_once(
    *,
    host: str,
    port: int,
    access_code: str,
    context: ssl.SSLContext,
    server_hostname: str | None,
    source: Path | bytes,
    remote_path: str,
    size: int,
    timeout: float,
    protection: Protection,
    progress: Progress | None,
) -> None:
    ftp = ImplicitFtpTls(context=context, server_hostname=server_hostname, timeout=timeout)
    where = f"{host}:{port}"
    try:
        with _translate_errors(where, remote_path, access_code):
            ftp.connect(host, port)
            _login(ftp, access_code, where)
            # prot_p()/prot_c() send PBSZ 0 + PROT and set the flag ntransfercmd reads.
            if protection == "private":
                ftp.prot_p()
            else:
                ftp.prot_c()
            ftp.set_pasv(True)
            _prepare_target(ftp, remote_path)
            _store(ftp, source, remote_path, progress)
            _check_size(ftp, remote_path, size)
            _quit_quietly(ftp)
    finally:
        ftp.close()


def _login(ftp: ImplicitFtpTls, access_code: str, where: str) -> None:
    try:
        ftp.login(USERNAME, access_code)
    except ftplib.error_perm as exc:
        if str(exc).startswith("530"):
            raise FtpsAuthError(f"FTPS login to {where} refused (530): wrong access code") from None
        raise


def _prepare_target(ftp: ImplicitFtpTls, remote_path: str) -> None:
    """MKD each parent directory (errors ignored) and DELE an old copy (550 ignored)."""
    directory = posixpath.dirname(remote_path)
    parts = [p for p in directory.split("/") if p]
    for depth in range(1, len(parts) + 1):
        try:
            ftp.voidcmd("MKD /" + "/".join(parts[:depth]))
        except ftplib.error_perm:
            pass  # exists already, or cannot be made: STOR will tell
    try:
        ftp.voidcmd(f"DELE {remote_path}")
    except ftplib.error_perm:
        pass  # 550: nothing to delete


def _store(
    ftp: ImplicitFtpTls, source: Path | bytes, remote_path: str, progress: Progress | None
) -> None:
    stream: BinaryIO
    with io.BytesIO(source) if isinstance(source, bytes) else source.open("rb") as stream:
        try:
            ftp.store_no_unwrap(remote_path, stream, progress)
        except ftplib.error_temp as exc:
            # "426 Failure reading network stream" can follow a complete upload; SIZE decides.
            if not str(exc).startswith("426"):
                raise
            log.info("FTPS STOR %s answered %s; checking the size", remote_path, exc)


def _check_size(ftp: ImplicitFtpTls, remote_path: str, size: int) -> None:
    stored = ftp.size(remote_path)
    if stored != size:
        raise FtpsSizeMismatch(
            f"FTPS upload of {remote_path} stored {stored} bytes, expected {size}"
        )


def _quit_quietly(ftp: ImplicitFtpTls) -> None:
    try:
        ftp.quit()
    except (ftplib.Error, OSError, EOFError):
        pass  # the upload is verified; a rude goodbye changes nothing


class _translate_errors:
    """Turn ftplib/ssl/socket errors into FtpsError subclasses without the access code."""

    def __init__(self, where: str, remote_path: str, access_code: str) -> None:
        self.where = where
        self.remote_path = remote_path
        self.access_code = access_code
        self.started = time.monotonic()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> bool:
        if exc is None or isinstance(exc, FtpsError):
            return False
        elapsed = time.monotonic() - self.started
        if isinstance(exc, TimeoutError):
            raise FtpsTimeout(
                f"FTPS upload of {self.remote_path} to {self.where} timed out after {elapsed:.1f}s"
            ) from None
        if isinstance(exc, ftplib.Error | OSError | EOFError):
            detail = self._scrub(str(exc) or type(exc).__name__)
            raise FtpsError(
                f"FTPS upload of {self.remote_path} to {self.where} failed: {detail}"
            ) from None
        return False

    def _scrub(self, text: str) -> str:
        return text.replace(self.access_code, "***") if self.access_code else text

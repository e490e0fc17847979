"""The FTPS upload client against the simulated printer's vsftpd stand-in, on loopback."""

from __future__ import annotations

import ftplib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from printers.bambu import ftps
from printers.bambu.ftps_server import FtpsServer

CODE = "a1b2c3d4"
HOST = "127.0.0.1"


@pytest.fixture
def server() -> Iterator[FtpsServer]:
    with FtpsServer(CODE) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _forget_cached_modes() -> Iterator[None]:
    ftps.forget_protection()
    yield
    ftps.forget_protection()


def _upload(
    srv: FtpsServer, source: Path | bytes, remote: str, **kwargs: object
) -> ftps.UploadResult:
    return ftps.upload_file(
        host=HOST, port=srv.port, access_code=CODE, source=source, remote_path=remote, **kwargs
    )


def test_upload_lands_in_server_root_over_resumed_tls_session(server: FtpsServer) -> None:
    payload = bytes(range(256)) * 2000  # 512 KB, several blocks

    result = _upload(server, payload, "/cache/job.gcode.3mf", timeout=5)

    assert result == ftps.UploadResult("/cache/job.gcode.3mf", len(payload), "private")
    assert server.read("/cache/job.gcode.3mf") == payload
    [transfer] = server.transfers
    assert (transfer.protected, transfer.session_reused, transfer.completed) == (True, True, True)


def test_upload_from_path_replaces_existing_file(server: FtpsServer, tmp_path: Path) -> None:
    server.put("/model.3mf", b"old contents that are longer")
    source = tmp_path / "model.3mf"
    source.write_bytes(b"new")

    result = _upload(server, source, "model.3mf", timeout=5)

    assert result.remote_path == "/model.3mf"
    assert server.read("/model.3mf") == b"new"


def test_upload_verifies_certificate_against_ca_with_serial_as_hostname(
    server: FtpsServer,
) -> None:
    result = _upload(
        server, b"abc", "/a.3mf", verify=True, ca_pem=server.ca_pem, serial=server.serial
    )
    assert result.size == 3


def test_upload_with_wrong_serial_fails_verification(server: FtpsServer) -> None:
    with pytest.raises(ftps.FtpsError, match="certificate"):
        _upload(server, b"abc", "/a.3mf", verify=True, ca_pem=server.ca_pem, serial="01P99X")


def test_server_refuses_protected_data_connection_without_session_reuse(
    server: FtpsServer,
) -> None:
    client = ftps.ImplicitFtpTls(
        context=ftps.make_context(verify=False, ca_pem=None),
        server_hostname=None,
        timeout=5,
        reuse_session=False,
    )
    client.connect(HOST, server.port)
    client.login("bblp", CODE)
    client.prot_p()

    with pytest.raises(ftplib.error_perm, match="522 SSL connection failed: session reuse"):
        client.store_no_unwrap("/x.3mf", io.BytesIO(b"data"))
    client.close()

    assert not server.exists("/x.3mf")
    assert server.transfers[-1].session_reused is False


def test_wrong_access_code_raises_auth_error_without_the_code(server: FtpsServer) -> None:
    wrong = "zz99zz99"
    with pytest.raises(ftps.FtpsAuthError) as caught:
        ftps.upload_file(
            host=HOST, port=server.port, access_code=wrong, source=b"x", remote_path="/x"
        )
    assert "530" in str(caught.value)
    assert wrong not in str(caught.value)
    assert CODE not in str(caught.value)


def test_a1_protected_channel_hang_falls_back_to_clear_and_is_cached() -> None:
    with FtpsServer(CODE, a1_data_channel_hangs=True) as a1:
        first = _upload(a1, b"a" * 5000, "/cache/a.3mf", timeout=0.7)
        assert first.protection == "clear"
        assert ftps.cached_protection(HOST, a1.port) == "clear"
        assert a1.read("/cache/a.3mf") == b"a" * 5000

        second = _upload(a1, b"b" * 10, "/cache/b.3mf", timeout=0.7)

        assert second.protection == "clear"
        # The second upload went straight to PROT C: one protected try in total.
        assert [t.protected for t in a1.transfers] == [True, False, False]


def test_forced_private_mode_on_a1_times_out_without_the_code() -> None:
    with FtpsServer(CODE, a1_data_channel_hangs=True) as a1:
        with pytest.raises(ftps.FtpsTimeout) as caught:
            _upload(a1, b"x" * 100, "/x.3mf", timeout=0.5, data_protection="private")
    assert CODE not in str(caught.value)
    assert ftps.cached_protection(HOST, a1.port) is None


def test_pasv_reply_host_is_ignored_in_favour_of_control_host() -> None:
    # EPSV off forces PASV, and the reply names an unroutable host, as some printers do.
    with FtpsServer(CODE, epsv_enabled=False, pasv_address="10.255.255.1") as srv:
        result = _upload(srv, b"pasv", "/p.3mf", timeout=5)
        assert result.size == 4
        assert srv.read("/p.3mf") == b"pasv"


def test_size_mismatch_after_upload_is_reported(
    server: FtpsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A printer that keeps only part of the file: the 226 arrives but SIZE disagrees.
    def truncating_commit(part: Path, target: Path) -> None:
        part.write_bytes(part.read_bytes()[:-1])
        part.replace(target)

    monkeypatch.setattr(server, "_commit_upload", truncating_commit)

    with pytest.raises(ftps.FtpsSizeMismatch, match="stored 9 bytes, expected 10"):
        _upload(server, b"0123456789", "/s.3mf", timeout=5)


def test_timeout_is_sized_from_the_file_with_a_floor() -> None:
    assert ftps.transfer_timeout(0) == ftps.MIN_TIMEOUT
    # 96 MB at the A1's ~75 KB/s is ~21 minutes; the budget must exceed that.
    assert ftps.transfer_timeout(96_000_000) > 96_000_000 / 75_000

"""TLS as Bambu printers speak it: client contexts, and throwaway certificates for stand-ins.

Client side (the MQTT hub, the FTPS client, the simulator's broker client): printers accept TLS
1.2 only, and present a certificate for CN = serial signed by the Bambu CA, which no trust store
holds (bambu-protocol.md §1.1, §6). :func:`client_context` verifies against a given CA, or, like
every integration in use, not at all.

Stand-in side (the test broker, the FTPS test server, the demo): a real printer presents a leaf with
CN = its serial, signed by the Bambu CA. Here one CA per ``ca_name`` signs a leaf per CN; keys are
made once per process, since RSA key generation is the slow part and 500 simulated printers need
500 leaves.

Part of the protocol library: nothing here imports Django or the project.
"""

import datetime
import functools
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

DEFAULT_CA_NAME = "J3D throwaway BBL CA"
LOOPBACK = "127.0.0.1"


def client_context(
    *, ca_pem: str | None = None, ca_path: str | Path | None = None, check_hostname: bool = True
) -> ssl.SSLContext:
    """A TLS 1.2 client context. With a CA (PEM text or file): the peer must present a chain to it
    (and, with ``check_hostname``, name the server name given to ``wrap_socket``). Without one:
    no verification, what every Bambu integration runs, since the printer's CA is in no store."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # X1C/H2D refuse TLS 1.0, 1.1 and 1.3 on MQTT and FTPS (§1.1, §6).
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    if ca_pem is None and ca_path is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context.load_verify_locations(cafile=str(ca_path) if ca_path else None, cadata=ca_pem)
    context.check_hostname = check_hostname
    # Python 3.13 turns this on; the BBL CA lacks the key-usage extension it demands (§1.1).
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return context


@functools.cache
def server_context(common_name: str) -> ssl.SSLContext:
    """A TLS 1.2-only server context presenting a throwaway leaf for ``common_name`` (plus its CA);
    shared per CN, so its session cache is shared too (FTPS data channels resume the session)."""
    material = make_tls_material(common_name)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory(prefix="j3d-tls-") as tmp:
        cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_path.write_text(material.cert_pem + material.ca_pem)
        key_path.write_text(material.key_pem)
        context.load_cert_chain(cert_path, key_path)
    return context


@dataclass(frozen=True)
class TlsMaterial:
    """PEM-encoded CA certificate, and a server certificate and key."""

    ca_pem: str
    cert_pem: str
    key_pem: str


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return builder.not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(
        now + datetime.timedelta(days=3650)
    )


@functools.cache
def _new_key(purpose: str) -> rsa.RSAPrivateKey:
    # RSA-2048 like the printers, so the negotiated suite (ECDHE-RSA-AES256-GCM-SHA384) matches.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _ca(ca_name: str) -> x509.Certificate:
    key = _new_key(f"ca:{ca_name}")
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(ca_name))
        .issuer_name(_name(ca_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        # keyCertSign keeps the CA acceptable under VERIFY_X509_STRICT (Python 3.13+).
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    return _validity(builder).sign(key, hashes.SHA256())


@functools.cache
def make_tls_material(server_cn: str, ca_name: str = DEFAULT_CA_NAME) -> TlsMaterial:
    """A server certificate for `server_cn` (also valid for localhost and 127.0.0.1)."""
    ca_cert, ca_key, server_key = _ca(ca_name), _new_key(f"ca:{ca_name}"), _new_key("server")
    san = x509.SubjectAlternativeName(
        [
            x509.DNSName("localhost"),
            x509.DNSName(server_cn),
            x509.IPAddress(ipaddress.ip_address(LOOPBACK)),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(server_cn))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(san, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )
    server_cert = _validity(builder).sign(ca_key, hashes.SHA256())
    return TlsMaterial(
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM).decode(),
        cert_pem=server_cert.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem=server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode(),
    )

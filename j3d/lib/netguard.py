"""Outgoing requests to addresses a shop owner typed: refuse the farm's own network (SSRF).

A webhook or chat URL is the owner's, but the request leaves from the J3D server, which sits on the
shop's LAN beside the printers, the database and perhaps a cloud metadata service. A URL whose host
is, or resolves to, an address that is not globally routable (loopback, private, link-local such as
169.254.169.254, shared, reserved, multicast) is refused when it is saved and again when it is used,
since DNS answers change. ``NOTIFICATIONS_ALLOW_PRIVATE_TARGETS`` lifts the rule for tests and
local demos whose receivers run on loopback.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(ValueError):
    """The URL points at an address J3D must not send to; the message says why."""


class TargetUnresolved(OSError):
    """The host name has no address now (DNS down or no such name); may work later."""


@dataclass(frozen=True)
class Target:
    """Where a checked request may go: the host as typed and the addresses it was checked at."""

    host: str
    port: int
    addresses: tuple[str, ...]


def private_targets_allowed() -> bool:
    return bool(getattr(settings, "NOTIFICATIONS_ALLOW_PRIVATE_TARGETS", False))


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _is_public(address: IPAddress) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int) -> tuple[str, ...]:
    """Every address ``host`` resolves to now; TargetUnresolved when it has none."""
    literal = _literal(host)
    if literal is not None:
        return (str(literal),)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TargetUnresolved(f"{host} cannot be resolved ({exc})") from None
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


def check_addresses(host: str, addresses: tuple[str, ...]) -> None:
    """Refuse when any address of ``host`` is not public (unless private targets are allowed)."""
    if private_targets_allowed():
        return
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not _is_public(address):
            shown = host if host == text else f"{host} ({text})"
            raise TargetRefused(
                f"{shown} is a loopback, private, link-local or reserved address; J3D only sends"
                " to public internet addresses."
            )


def check_host(host: str, port: int, *, must_resolve: bool) -> Target:
    """Check ``host`` now. An unresolvable name is refused only when ``must_resolve`` (at send
    time); when saving, it passes, and the check runs again when the URL is used."""
    if not host:
        raise TargetRefused("The URL has no host.")
    try:
        addresses = resolve(host, port)
    except TargetUnresolved:
        if must_resolve:
            raise
        addresses = ()
    check_addresses(host, addresses)
    return Target(host=host, port=port, addresses=addresses)


def check_url(url: str, *, must_resolve: bool) -> Target:
    """Check an http(s) URL's host (see ``check_host``)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise TargetRefused(f"Not a valid URL: {exc}") from None
    return check_host(parts.hostname or "", port, must_resolve=must_resolve)

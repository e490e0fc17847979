"""How a notification leaves J3D: one small class per kind of channel (after healthchecks'
``hc/api/transports.py``).

A ``Message`` is built once from the event (notifications.services.messages); each transport only
renders it for its channel and sends it. ``send`` returns the response code (None where the channel
has none) or raises ``TransportError``, which says whether trying again can help. Transports touch
no database, so the delivery service can run several at once in threads while it keeps the rows.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import apprise
import urllib3
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from standardwebhooks.webhooks import Webhook

from j3d.lib import netguard

# The webhook body's version: bump it, and document the change in docs/notifications.md, when a
# field changes meaning or goes away (adding a field is not a new version).
WEBHOOK_VERSION = "1"
WEBHOOK_TIMEOUT_SECONDS = 5.0
USER_AGENT = "J3D-Webhooks/1"


@dataclass(frozen=True)
class Message:
    """A channel-neutral notification: what happened, to be rendered by each transport."""

    type: str  # the event type, e.g. "print.failed" ("test" for a test message)
    title: str  # one line: "X1C #2: print failed: filament ran out"
    body: str  # a few plain-text lines
    severity: str  # "failure", "warning" or "info"
    occurred_at: str  # ISO 8601
    data: dict[str, Any] = field(default_factory=dict)  # the webhook's `data`

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Message:
        names = {"type", "title", "body", "severity", "occurred_at", "data"}
        return cls(**{k: v for k, v in values.items() if k in names})

    def webhook_body(self) -> str:
        """The documented, versioned JSON body of a webhook (docs/notifications.md)."""
        return json.dumps(
            {
                "type": self.type,
                "timestamp": self.occurred_at,
                "version": WEBHOOK_VERSION,
                "title": self.title,
                "data": self.data,
            },
            separators=(",", ":"),
            sort_keys=True,
        )


class TransportError(Exception):
    """Sending failed. ``permanent``: retrying the same message cannot succeed."""

    def __init__(self, reason: str, *, permanent: bool, response_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.response_code = response_code


class Transport:
    channel: ClassVar[str]

    def send(self, message: Message, *, delivery_id: str) -> int | None:
        raise NotImplementedError


# ---- email ---------------------------------------------------------------------------------------


class EmailTransport(Transport):
    channel = "email"

    def __init__(self, address: str) -> None:
        self.address = address

    def send(self, message: Message, *, delivery_id: str) -> int | None:
        context = {"message": message}
        email = EmailMultiAlternatives(
            subject=f"[J3D] {message.title}",
            body=render_to_string("notifications/email.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[self.address],
            headers={"X-J3D-Delivery-Id": delivery_id},
            connection=get_connection(timeout=settings.NOTIFICATIONS_EMAIL_TIMEOUT_SECONDS),
        )
        email.attach_alternative(render_to_string("notifications/email.html", context), "text/html")
        try:
            email.send()
        except Exception as exc:  # smtplib and socket errors have no common base worth naming
            raise TransportError(_smtp_reason(exc), permanent=_smtp_permanent(exc)) from None
        return None


def _smtp_permanent(exc: Exception) -> bool:
    """SMTP 5xx replies (a refused recipient, a refused sender) will be refused again."""
    import smtplib

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and 500 <= code < 600


def _smtp_reason(exc: Exception) -> str:
    code = getattr(exc, "smtp_code", None)
    text = f"{type(exc).__name__}: {exc}" if code is None else f"SMTP {code}"
    return f"mail server: {text}"[:500]


# ---- webhooks ------------------------------------------------------------------------------------


class WebhookTransport(Transport):
    """A POST signed the Standard Webhooks way (webhook-id / -timestamp / -signature headers).

    The host is checked again at send time (j3d.lib.netguard) and the request goes to the very
    address that was checked, so a DNS answer that changed in between cannot redirect it into the
    farm's network. Redirects are not followed for the same reason.
    """

    channel = "webhook"

    def __init__(self, url: str, secret: str) -> None:
        self.url = url
        self.secret = secret

    def send(self, message: Message, *, delivery_id: str) -> int | None:
        parts = urlsplit(self.url)
        try:
            target = netguard.check_url(self.url, must_resolve=True)
        except netguard.TargetRefused as exc:
            raise TransportError(str(exc), permanent=True) from None
        except netguard.TargetUnresolved as exc:
            raise TransportError(str(exc), permanent=False) from None
        body = message.webhook_body()
        now = datetime.now(UTC)
        headers = {
            "Host": parts.netloc.rsplit("@", 1)[-1],
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": delivery_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(self.secret).sign(delivery_id, now, body),
        }
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        try:
            response = _pool(parts.scheme, target).urlopen(
                "POST", path, body=body.encode(), headers=headers, redirect=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise TransportError(_http_reason(exc), permanent=False) from None
        status = response.status
        if 200 <= status < 300:
            return status
        permanent = status < 500 and status not in (408, 429)
        raise TransportError(f"HTTP {status}", permanent=permanent, response_code=status)


def _pool(scheme: str, target: netguard.Target) -> urllib3.HTTPConnectionPool:
    timeout = urllib3.Timeout(total=WEBHOOK_TIMEOUT_SECONDS)
    address = target.addresses[0]
    if scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            port=target.port,
            timeout=timeout,
            retries=False,
            server_hostname=target.host,
            assert_hostname=target.host,
            ssl_context=ssl.create_default_context(),
        )
    return urllib3.HTTPConnectionPool(address, port=target.port, timeout=timeout, retries=False)


def _http_reason(exc: Exception) -> str:
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return f"no answer within {WEBHOOK_TIMEOUT_SECONDS:.0f} s"
    if isinstance(exc, urllib3.exceptions.SSLError):
        return "TLS handshake failed (certificate?)"
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return "connection refused or unreachable"
    return f"connection failed ({type(exc).__name__})"


# ---- Apprise (Discord, Slack, Telegram, ntfy, Pushover, ...) -------------------------------------


def apprise_target(url: str) -> tuple[str, int]:
    """The host and port an Apprise URL sends to, when the person chose it (a self-hosted ntfy,
    a JSON endpoint, an SMTP server); ("", 0) for a fixed public service (Discord, Telegram,
    Pushover, ...) whose URL carries only ids and tokens. ValueError when Apprise does not know
    the URL."""
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        raise ValueError("Apprise does not understand this URL (see the Apprise wiki for formats).")
    # A plugin whose URL templates have a {host} sends to that host; the others to their service.
    chosen = any("{host}" in template for template in getattr(plugin, "templates", ()))
    host = str(getattr(plugin, "host", "") or "") if chosen else ""
    if not host:
        return "", 0
    port = getattr(plugin, "port", None) or (443 if getattr(plugin, "secure", False) else 80)
    return host, int(port)


class AppriseTransport(Transport):
    """Chat and push through Apprise. A host the person chose is checked like a webhook's (it must
    be, or resolve to, public addresses); fixed public services need no check."""

    channel = "apprise"

    def __init__(self, url: str) -> None:
        self.url = url

    def send(self, message: Message, *, delivery_id: str) -> int | None:
        try:
            host, port = apprise_target(self.url)
            if host:
                netguard.check_host(host, port, must_resolve=False)
        except ValueError as exc:  # TargetRefused is a ValueError too
            raise TransportError(str(exc), permanent=True) from None
        sender = apprise.Apprise()
        sender.add(self.url)
        notify_type = {
            "failure": apprise.NotifyType.FAILURE,
            "warning": apprise.NotifyType.WARNING,
        }.get(message.severity, apprise.NotifyType.INFO)
        with apprise.LogCapture(level=logging.WARNING) as captured:
            sent = sender.notify(title=message.title, body=message.body, notify_type=notify_type)
        if not sent:
            raise TransportError(self._scrub(captured.getvalue()), permanent=False)
        return None

    def _scrub(self, log: str) -> str:
        """Apprise's own log, minus anything of the channel URL (it holds the service's token)."""
        text = re.sub(r"[a-z][a-z0-9+.-]*://\S+", "<url>", log, flags=re.IGNORECASE)
        for token in sorted(
            set(re.findall(r"[A-Za-z0-9_\-]{6,}", self.url)), key=len, reverse=True
        ):
            text = text.replace(token, "***")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return ("apprise: " + " | ".join(lines[-3:]) if lines else "apprise: not sent")[:500]


# ---- what the log shows --------------------------------------------------------------------------


def masked_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def masked_url(url: str) -> str:
    """scheme://host/… : paths and queries often carry tokens (Slack, Discord, ntfy topics)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    rest = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)

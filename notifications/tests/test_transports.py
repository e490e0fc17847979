"""Each transport against a real receiver on loopback: signed webhooks, SMTP mail, Apprise."""

from __future__ import annotations

import json

import pytest
from standardwebhooks.webhooks import Webhook

from notifications import transports
from notifications.tests.receivers import HANG, http_receiver, smtp_sink
from notifications.transports import (
    AppriseTransport,
    EmailTransport,
    Message,
    TransportError,
    WebhookTransport,
    masked_email,
    masked_url,
)

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MESSAGE = Message(
    type="print.failed",
    title="X1C #2: print failed: filament ran out",
    body="Reason: filament ran out\nJob: Dragon",
    severity="failure",
    occurred_at="2026-11-29T08:00:00+00:00",
    data={"event_id": 7, "printer": {"id": 2, "name": "X1C #2", "model": "X1C"}, "reason": "x"},
)


@pytest.fixture
def loopback_allowed(settings) -> None:
    settings.NOTIFICATIONS_ALLOW_PRIVATE_TARGETS = True


def test_webhook_is_signed_the_standard_webhooks_way(loopback_allowed) -> None:
    with http_receiver() as receiver:
        code = WebhookTransport(receiver.url, SECRET).send(MESSAGE, delivery_id="msg_abc")
        (request,) = receiver.wait_for(1)
    assert code == 200
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["webhook-id"] == "msg_abc"
    body = Webhook(SECRET).verify(request.body, headers)  # raises when the signature is wrong
    assert body["type"] == "print.failed"
    assert body["version"] == transports.WEBHOOK_VERSION
    assert body["timestamp"] == "2026-11-29T08:00:00+00:00"
    assert body["data"]["printer"]["name"] == "X1C #2"
    assert request.path == "/hooks/j3d"


def test_webhook_signature_fails_with_another_secret(loopback_allowed) -> None:
    from standardwebhooks.webhooks import WebhookVerificationError

    with http_receiver() as receiver:
        WebhookTransport(receiver.url, SECRET).send(MESSAGE, delivery_id="msg_abc")
        (request,) = receiver.wait_for(1)
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(request.body, {k.lower(): v for k, v in request.headers.items()})


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(500, False), (503, False), (408, False), (429, False), (404, True), (410, True), (302, True)],
)
def test_webhook_status_says_whether_a_retry_can_help(loopback_allowed, status, permanent) -> None:
    with http_receiver(status) as receiver:
        with pytest.raises(TransportError) as failure:
            WebhookTransport(receiver.url, SECRET).send(MESSAGE, delivery_id="msg_1")
    assert failure.value.permanent is permanent
    assert failure.value.response_code == status


def test_webhook_that_hangs_times_out_as_a_transient_error(loopback_allowed, monkeypatch) -> None:
    monkeypatch.setattr(transports, "WEBHOOK_TIMEOUT_SECONDS", 0.5)
    with http_receiver(HANG) as receiver:
        with pytest.raises(TransportError) as failure:
            WebhookTransport(receiver.url, SECRET).send(MESSAGE, delivery_id="msg_1")
    assert failure.value.permanent is False
    assert "no answer" in failure.value.reason


def test_webhook_to_the_farms_own_network_is_refused_at_send_time(settings) -> None:
    settings.NOTIFICATIONS_ALLOW_PRIVATE_TARGETS = False
    with http_receiver() as receiver:
        with pytest.raises(TransportError) as failure:
            WebhookTransport(receiver.url, SECRET).send(MESSAGE, delivery_id="msg_1")
        assert receiver.requests == []
    assert failure.value.permanent is True
    assert "127.0.0.1" in failure.value.reason


def _smtp_to(settings, sink) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""


def test_email_has_plain_text_and_html_and_says_printer_and_what_happened(settings) -> None:
    with smtp_sink() as sink:
        _smtp_to(settings, sink)
        EmailTransport("owner@example.com").send(MESSAGE, delivery_id="msg_9")
        (mail,) = sink.wait_for(1)
    assert mail["Subject"] == "[J3D] X1C #2: print failed: filament ran out"
    assert mail["To"] == "owner@example.com"
    assert mail["X-J3D-Delivery-Id"] == "msg_9"
    kinds = {part.get_content_type(): part for part in mail.walk()}
    assert "filament ran out" in kinds["text/plain"].get_payload(decode=True).decode()
    assert "<html" in kinds["text/html"].get_payload(decode=True).decode()


def test_email_refused_recipient_is_permanent(settings) -> None:
    with smtp_sink(refuse=frozenset({"gone@example.com"})) as sink:
        _smtp_to(settings, sink)
        with pytest.raises(TransportError) as failure:
            EmailTransport("gone@example.com").send(MESSAGE, delivery_id="msg_9")
    assert failure.value.permanent is True
    assert sink.messages == []


def test_email_server_down_is_transient(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1  # nothing listens there
    with pytest.raises(TransportError) as failure:
        EmailTransport("owner@example.com").send(MESSAGE, delivery_id="msg_9")
    assert failure.value.permanent is False


def test_apprise_json_reaches_a_real_receiver(loopback_allowed) -> None:
    with http_receiver() as receiver:
        url = f"json://127.0.0.1:{receiver.port}/hooks/chat"
        AppriseTransport(url).send(MESSAGE, delivery_id="msg_2")
        (request,) = receiver.wait_for(1)
    body = json.loads(request.body)
    assert body["title"] == MESSAGE.title
    assert "filament ran out" in body["message"]
    assert body["type"] == "failure"


def test_apprise_failure_is_transient_and_never_shows_the_channels_token(loopback_allowed) -> None:
    with http_receiver(500, 500, 500) as receiver:
        url = f"json://127.0.0.1:{receiver.port}/hooks/SeCrEtToKeN123456"
        with pytest.raises(TransportError) as failure:
            AppriseTransport(url).send(MESSAGE, delivery_id="msg_2")
    assert failure.value.permanent is False
    assert "SeCrEtToKeN123456" not in failure.value.reason


def test_apprise_to_the_farms_own_network_is_refused(settings) -> None:
    settings.NOTIFICATIONS_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(TransportError) as failure:
        AppriseTransport("json://192.168.1.20:8080/x").send(MESSAGE, delivery_id="msg_2")
    assert failure.value.permanent is True


def test_log_targets_hide_secrets() -> None:
    assert masked_email("owner@example.com") == "o***@example.com"
    assert masked_url("https://hooks.slack.com/services/T0/B0/XyZsecret") == (
        "https://hooks.slack.com/…"
    )
    assert "tok" not in masked_url("discord://1234/token-abcdef")

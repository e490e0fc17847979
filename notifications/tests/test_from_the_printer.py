"""A printer's report reaching people: the link's status write announces the failure, and the
owner's signed webhook receives it with the decoded reason and the printer's HMS text."""

from __future__ import annotations

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from j3d.tests.factories import make_printer
from notifications.models import Delivery, PrintNotification
from notifications.services.preferences import webhook_secret_rotate
from notifications.tests.receivers import http_receiver
from printers.services.live import status_apply_snapshot

RUNOUT = {"code": 50364420, "hex": "0300_8004", "text": "Filament ran out.", "cancelled": False}
HMS = {
    "code": "0700_2000_0002_0001",
    "full_code": "0700200000020001",
    "severity": "serious",
    "module": "ams",
    "text": "AMS A Filament has run out.",
}


@pytest.mark.django_db
def test_failed_report_reaches_the_signed_webhook(
    owner, settings, django_capture_on_commit_callbacks
) -> None:
    settings.NOTIFICATIONS_ALLOW_PRIVATE_TARGETS = True
    printer = make_printer(owner, name="X1C #7")
    secret = webhook_secret_rotate(user_id=owner.pk)
    running = {"state": "running", "task_id": "5", "subtask_id": "6", "job_name": "Dragon"}
    failed = {**running, "state": "failed", "print_error": RUNOUT, "hms": [HMS]}
    with http_receiver() as receiver:
        PrintNotification.objects.create(
            user=owner, printer=printer, webhook_url=receiver.url, email_enabled=False
        )
        with django_capture_on_commit_callbacks(execute=True):
            status_apply_snapshot(
                printer=printer, snapshot=failed, before=running, report_at=timezone.now()
            )
        requests = receiver.wait_for(2)
    by_type = {}
    for request in requests:
        body = Webhook(secret).verify(
            request.body, {k.lower(): v for k, v in request.headers.items()}
        )
        by_type[body["type"]] = body
    assert set(by_type) == {"print.failed", "printer.hms"}
    failure = by_type["print.failed"]
    assert failure["data"]["reason"] == "Filament ran out."
    assert failure["data"]["error_hex"] == "0300_8004"
    assert failure["data"]["printer"] == {"id": printer.pk, "name": "X1C #7", "model": "X1C"}
    assert failure["data"]["hms"] == [
        {
            "code": "0700_2000_0002_0001",
            "severity": "serious",
            "module": "ams",
            "text": "AMS A Filament has run out.",
        }
    ]
    assert Delivery.objects.filter(status="delivered").count() == 2

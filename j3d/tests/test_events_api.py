"""GET /api/events, the admin's event log and the retention prune."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from j3d import events
from j3d.models import Event
from j3d.services import events_prune
from j3d.tests.factories import make_printer

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def _event(event: events.Event, minutes_ago: float = 0, **row: Any) -> Event:
    at = NOW - timedelta(minutes=minutes_ago)
    stored = Event.objects.create_for(events.dataclasses.replace(event, occurred_at=at))
    if row:
        Event.objects.filter(pk=stored.pk).update(**row)
    return stored


@pytest.fixture
def farm(owner, other_owner) -> dict[str, Any]:
    mine = make_printer(owner, serial="MINE0001")
    spare = make_printer(owner, serial="MINE0002", name="Spare")
    theirs = make_printer(other_owner, serial="THEIRS01")
    return {
        "mine": mine,
        "spare": spare,
        "theirs": theirs,
        "started": _event(events.PrintStarted(user_id=owner.pk, printer_id=mine.pk), 30),
        "failed": _event(events.PrintFailed(user_id=owner.pk, printer_id=mine.pk, reason="x"), 20),
        "offline": _event(events.PrinterOffline(user_id=owner.pk, printer_id=spare.pk), 10),
        "cancelled": _event(events.OrderCancelled(user_id=owner.pk, order_id=7), 5),
        "their": _event(events.PrintStarted(user_id=other_owner.pk, printer_id=theirs.pk), 1),
    }


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_events_are_the_owners_own_newest_first(api, farm):
    body = api.get("/api/events").json()
    assert [row["id"] for row in body["results"]] == [
        farm[name].pk for name in ("cancelled", "offline", "failed", "started")
    ]
    failed = body["results"][2]
    assert failed["type"] == "print.failed" and failed["printer_id"] == farm["mine"].pk
    assert failed["payload"]["reason"] == "x" and failed["status"] == "pending"
    assert body["results"][0]["printer_id"] is None and body["results"][0]["order_id"] == 7


def test_another_owners_events_are_invisible(api, other_api, farm):
    assert farm["their"].pk not in _ids(api.get("/api/events"))
    assert _ids(other_api.get("/api/events")) == [farm["their"].pk]


def test_filtering_by_another_owners_printer_is_a_400_that_reveals_nothing(api, farm):
    theirs = api.get(f"/api/events?printer={farm['theirs'].pk}")
    missing = api.get("/api/events?printer=999999")
    assert theirs.status_code == missing.status_code == 400
    assert list(theirs.json()) == ["printer"]
    assert theirs.json()["printer"][0].replace(str(farm["theirs"].pk), "N") == missing.json()[
        "printer"
    ][0].replace("999999", "N")


def test_filters_by_printer_type_and_time(api, farm):
    assert _ids(api.get(f"/api/events?printer={farm['mine'].pk}")) == [
        farm["failed"].pk,
        farm["started"].pk,
    ]
    assert _ids(api.get("/api/events?type=printer.offline")) == [farm["offline"].pk]
    since = (NOW - timedelta(minutes=20)).isoformat()
    until = (NOW - timedelta(minutes=5)).isoformat()
    window = api.get("/api/events", {"since": since, "until": until})
    assert _ids(window) == [farm["offline"].pk, farm["failed"].pk]  # since inclusive, until not


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"type": "print.exploded"}, "type"),
        ({"until": ""}, "until"),
        ({"printer": ""}, "printer"),
        ({"page_size": "null"}, "page_size"),
        ({"page_size": "201"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"printer": "abc"}, "printer"),
        ({"printer": "0"}, "printer"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": base64.b64encode(b"p=garbage").decode()}, "cursor"),
        ({"cursor": base64.b64encode(b"p=0001-01-01T00:00:00+14:00").decode()}, "cursor"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_field(api, farm, query, field):
    response = api.get("/api/events", query)
    assert response.status_code == 400
    assert field in response.json()


def test_pages_follow_a_cursor_without_repeats(api, farm):
    first = api.get("/api/events?page_size=3").json()
    assert len(first["results"]) == 3 and first["previous"] is None
    second = api.get(first["next"]).json()
    assert second["next"] is None
    seen = [row["id"] for row in first["results"] + second["results"]]
    assert len(seen) == len(set(seen)) == 4


def test_the_list_costs_the_same_queries_for_few_and_many_events(api, owner, farm):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get(f"/api/events?printer={farm['mine'].pk}").status_code == 200
        return len(captured)

    few = queries()
    for n in range(30):
        _event(events.PrintPaused(user_id=owner.pk, printer_id=farm["mine"].pk), n)
    assert queries() == few


def test_the_list_needs_credentials(anonymous_api):
    assert anonymous_api.get("/api/events").status_code == 401


# ---- admin -------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client):
    staff = get_user_model().objects.create_superuser("staff", "staff@example.com", "staff-pass-1")
    client.force_login(staff)
    return client


def test_the_admin_lists_events_read_only_and_filters_them(staff_client, farm):
    page = staff_client.get("/admin/j3d/event/?type=print.failed")
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [farm["failed"]]
    detail = staff_client.get(f"/admin/j3d/event/{farm['failed'].pk}/change/")
    assert detail.status_code == 200 and b"Save" not in detail.content
    assert staff_client.get("/admin/j3d/event/add/").status_code == 403


# ---- retention -------------------------------------------------------------------------------


def test_the_prune_drops_finished_events_past_retention_and_keeps_the_rest(owner, settings):
    settings.EVENTS_RETENTION_DAYS = 90
    old = 91 * 24 * 60
    gone = _event(events.PrinterOnline(user_id=owner.pk), old, status="handled", handled_at=NOW)
    gave_up = _event(events.PrinterOnline(user_id=owner.pk), old, status="failed", handled_at=NOW)
    stuck = _event(events.PrinterOnline(user_id=owner.pk), old)  # never handled: keep it
    recent = _event(events.PrinterOnline(user_id=owner.pk), 60, status="handled", handled_at=NOW)
    assert events_prune() == 2
    kept = set(Event.objects.values_list("pk", flat=True))
    assert kept == {stuck.pk, recent.pk}
    assert gone.pk not in kept and gave_up.pk not in kept

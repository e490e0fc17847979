"""A person's edit the plan depends on re-plans the farm through the durable events: a job's
priority (API and admin), an order's ship-by date (API, admin and the Etsy sync)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from j3d.models import Event
from j3d.tests.factories import make_job, make_material, make_order, make_printer
from printers.models import PrinterStatus
from scheduling.models import FarmPlan, ScheduledPrint
from scheduling.services.planning import farm_replan

pytestmark = pytest.mark.django_db


@pytest.fixture
def printer(owner):
    p = make_printer(owner, name="A", serial="A1", model="P1S")
    PrinterStatus.objects.filter(printer=p).update(online=True, state="idle")
    make_material(p, slot=0, material_type="PLA", color_hex="#FFFFFF")
    return p


@pytest.fixture
def staff_client(client):
    staff = get_user_model().objects.create_superuser("staff", "staff@example.com", "staff-pass-1")
    client.force_login(staff)
    return client


def two_jobs(owner):
    """Two pool jobs of equal priority planned one after the other on the one printer, with a
    plan computed well before now (so the debounce does not skip the next re-plan)."""
    first = make_job(owner, None, job_name="First", estimated_duration_minutes=60)
    second = make_job(owner, None, job_name="Second", estimated_duration_minutes=60)
    farm_replan(user_id=owner.pk, now=timezone.now() - timedelta(minutes=5))
    return first, second


def starts(*jobs):
    return [ScheduledPrint.objects.get(pk=j.pk).expected_start for j in jobs]


def test_a_priority_raised_through_the_api_is_announced_and_re_planned(
    api, owner, printer, django_capture_on_commit_callbacks
):
    first, second = two_jobs(owner)
    a, b = starts(first, second)
    assert a < b
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.patch(
            f"/api/bambu/scheduled-prints/{second.pk}", {"priority": 9}, format="json"
        )
    assert answer.status_code == 200, answer.content
    changed = Event.objects.get(type="job.changed", job_id=second.pk)
    assert changed.payload["fields"] == ["priority"]
    a, b = starts(first, second)
    assert b < a  # the plan heard of it: the higher priority prints first


def test_an_unchanged_field_announces_nothing(api, owner, printer):
    job = make_job(owner, None, job_name="Same", priority=3)
    before = Event.objects.filter(type="job.changed").count()
    api.patch(f"/api/bambu/scheduled-prints/{job.pk}", {"priority": 3}, format="json")
    assert Event.objects.filter(type="job.changed").count() == before


def test_a_priority_edited_in_the_admin_list_re_plans(
    staff_client, owner, printer, django_capture_on_commit_callbacks
):
    first, second = two_jobs(owner)
    form = {
        "form-TOTAL_FORMS": "2",
        "form-INITIAL_FORMS": "2",
        "form-0-id": str(first.pk),
        "form-0-priority": "0",
        "form-1-id": str(second.pk),
        "form-1-priority": "7",
        "_save": "Save",
    }
    with django_capture_on_commit_callbacks(execute=True):
        page = staff_client.post("/admin/scheduling/scheduledprint/?o=1", form)
    assert page.status_code == 302, page.content[:2000]
    assert ScheduledPrint.objects.get(pk=second.pk).priority == 7
    assert Event.objects.filter(type="job.changed", job_id=second.pk).exists()
    assert not Event.objects.filter(type="job.changed", job_id=first.pk).exists()
    a, b = starts(first, second)
    assert b < a


def test_a_ship_by_date_moved_through_the_api_is_announced_and_re_planned(
    api, owner, printer, django_capture_on_commit_callbacks
):
    now = timezone.now()
    relaxed = make_order(owner, order_number="R", due_by=now + timedelta(days=3))
    urgent = make_order(owner, order_number="U", due_by=now + timedelta(minutes=90))
    a = make_job(owner, None, job_name="R", order=relaxed, estimated_duration_minutes=60)
    b = make_job(owner, None, job_name="U", order=urgent, estimated_duration_minutes=60)
    farm_replan(user_id=owner.pk, now=now - timedelta(minutes=5))
    start_a, start_b = starts(a, b)
    assert start_b < start_a  # due sooner, printed sooner
    due = (now + timedelta(days=3)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.patch(f"/api/orders/{urgent.pk}", {"due_by": due}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["due_by"] is not None
    changed = Event.objects.get(type="order.changed", order_id=urgent.pk)
    assert changed.payload["fields"] == ["due_by"]
    start_a, start_b = starts(a, b)
    assert start_a < start_b  # no longer urgent: the plan went back to the order they came in
    assert FarmPlan.objects.get(user=owner).computed_at > now


def test_notes_alone_do_not_re_plan(api, owner):
    order = make_order(owner, order_number="N")
    answer = api.patch(f"/api/orders/{order.pk}", {"notes": "gift wrap"}, format="json")
    assert answer.status_code == 200
    assert not Event.objects.filter(type="order.changed").exists()


def test_another_owners_order_cannot_be_edited(other_api, owner):
    order = make_order(owner, order_number="Mine")
    answer = other_api.patch(f"/api/orders/{order.pk}", {"notes": "x"}, format="json")
    assert answer.status_code == 404
    order.refresh_from_db()
    assert order.notes == ""


def test_a_bad_ship_by_date_is_a_400_naming_it(api, owner):
    order = make_order(owner, order_number="B")
    answer = api.patch(f"/api/orders/{order.pk}", {"due_by": "soon"}, format="json")
    assert answer.status_code == 400
    assert "due_by" in answer.json()


def test_a_ship_by_date_edited_in_the_admin_is_announced(staff_client, owner):
    order = make_order(owner, order_number="A1")
    page = staff_client.get(f"/admin/orders/order/{order.pk}/change/")
    assert page.status_code == 200
    form = {
        k: v
        for k, v in page.context["adminform"].form.initial.items()
        if v is not None and not isinstance(v, list | dict)
    }
    form.update(
        {
            "user": str(owner.pk),
            "due_by_0": "2030-01-02",
            "due_by_1": "10:00:00",
            "items-TOTAL_FORMS": "0",
            "items-INITIAL_FORMS": "0",
            "_save": "Save",
        }
    )
    answer = staff_client.post(f"/admin/orders/order/{order.pk}/change/", form)
    assert answer.status_code == 302, answer.context["adminform"].form.errors
    assert Event.objects.filter(type="order.changed", order_id=order.pk).exists()

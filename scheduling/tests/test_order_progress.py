"""An order follows its jobs: paid -> printing -> printed, a failure shown, cancels honoured."""

import pytest

from j3d import events
from j3d.tests.factories import make_job, make_order, make_printer
from scheduling.models import ScheduledPrint
from scheduling.services.jobs import job_move
from scheduling.services.orders import order_jobs_cancel

pytestmark = pytest.mark.django_db
S = ScheduledPrint.Status


def test_order_moves_from_paid_to_printing_to_printed(owner):
    order = make_order(owner)
    printer = make_printer(owner)
    first = make_job(owner, printer, order=order)
    second = make_job(owner, printer, order=order, job_name="Second")

    job_move(job=first, to=S.STARTED, by=ScheduledPrint.Actor.PRINTER)
    order.refresh_from_db()
    assert (order.status, order.jobs_done, order.jobs_total) == ("in_production", 0, 2)

    job_move(job=first, to=S.COMPLETED, by=ScheduledPrint.Actor.PRINTER)
    job_move(job=second, to=S.STARTED)
    job_move(job=second, to=S.COMPLETED)
    order.refresh_from_db()
    assert (order.status, order.jobs_done, order.jobs_total) == ("ready", 2, 2)


def test_a_failed_job_puts_the_order_back_to_printing_with_the_failure(owner):
    order = make_order(owner)
    printer = make_printer(owner)
    done = make_job(owner, printer, order=order)
    job_move(job=done, to=S.STARTED)
    job_move(job=done, to=S.COMPLETED)
    failing = make_job(owner, printer, order=order, job_name="Dragon plate")
    job_move(job=failing, to=S.STARTED)

    job_move(job=failing, to=S.FAILED, reason="Spaghetti detected")

    order.refresh_from_db()
    assert order.status == "in_production" and order.jobs_done == 1
    assert order.production_note == "Dragon plate failed: Spaghetti detected"

    job_move(job=failing, to=S.QUEUED)  # a reprint
    order.refresh_from_db()
    assert order.production_note == "" and order.status == "in_production"


def test_the_progress_shows_in_the_order_api(api, owner):
    order = make_order(owner)
    job = make_job(owner, make_printer(owner), order=order)
    job_move(job=job, to=S.STARTED)

    body = api.get(f"/api/orders/{order.id}/").json()

    assert (body["status"], body["jobs_done"], body["jobs_total"]) == ("in_production", 0, 1)


def test_shipped_and_cancelled_orders_keep_their_status(owner):
    for status in ("shipped", "cancelled", "pending"):
        order = make_order(owner, status=status)
        job = make_job(owner, None, order=order)
        job_move(job=job, to=S.STARTED)
        order.refresh_from_db()
        assert order.status == status and order.jobs_total == 1


def test_order_cancelled_event_cancels_waiting_jobs_only_and_twice_is_harmless(
    owner, django_capture_on_commit_callbacks
):
    order = make_order(owner)
    waiting = make_job(owner, None, order=order)
    running = make_job(owner, None, order=order, status=S.STARTED)
    other = make_job(owner, None, order=make_order(owner))

    with django_capture_on_commit_callbacks(execute=True):
        events.publish(events.OrderCancelled(user_id=owner.id, order_id=order.id, reason="Refund"))
    assert order_jobs_cancel(order_id=order.id, reason="again") == 0

    for job in (waiting, running, other):
        job.refresh_from_db()
    assert (waiting.status, waiting.failed_reason) == ("cancelled", "Refund")
    assert running.status == "started" and other.status == "queued"

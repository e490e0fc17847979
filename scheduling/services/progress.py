"""An order's production progress, read from its jobs and handed to the orders app."""

from __future__ import annotations

from django.db.models import Count, Q

from orders.services import order_progress_record
from scheduling.models import ScheduledPrint

Status = ScheduledPrint.Status


def order_progress_refresh(*, order_id: int | None) -> None:
    """Count the order's jobs (cancelled ones do not count) and move the order accordingly."""
    if order_id is None:
        return
    jobs = ScheduledPrint.objects.filter(order_id=order_id).exclude(status=Status.CANCELLED)
    counts = jobs.aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(status=Status.COMPLETED)),
        started=Count("id", filter=Q(status=Status.STARTED)),
    )
    failed = jobs.filter(status=Status.FAILED).order_by("-completed_at", "-id").first()
    failure = ""
    if failed is not None:
        failure = f"{failed.job_name} failed: {failed.failed_reason or 'no reason given'}"
    order_progress_record(
        order_id=order_id,
        jobs_total=counts["total"],
        jobs_done=counts["done"],
        jobs_started=counts["started"],
        failure=failure,
    )

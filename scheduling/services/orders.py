"""What an order's life does to its print jobs (the scheduling side of orders' events)."""

from __future__ import annotations

import logging

from j3d.lib.errors import Conflict
from scheduling.models import ScheduledPrint
from scheduling.services.jobs import job_move

logger = logging.getLogger(__name__)


def order_jobs_cancel(*, order_id: int, reason: str) -> int:
    """Cancel the order's jobs that have not started (a started print is left to a person to
    stop). Idempotent: a second call finds nothing waiting. Returns how many it cancelled."""
    cancelled = 0
    for job in ScheduledPrint.objects.filter(order_id=order_id).waiting():
        try:
            cancelled += job_move(job=job, to=ScheduledPrint.Status.CANCELLED, reason=reason)
        except Conflict as refused:  # it started meanwhile
            logger.info("job %s of order %s not cancelled: %s", job.pk, order_id, refused)
    return cancelled

"""What an order's life does to its print jobs (the scheduling side of orders' events)."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError

from j3d.lib.errors import Conflict
from orders.models import Order
from scheduling.models import ScheduledPrint
from scheduling.services.jobs import job_move, order_schedule_prints

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


def order_paid_to_pool(*, order_id: int) -> list[ScheduledPrint]:
    """An order paid while its owner has "schedule paid orders automatically" on (order.paid is
    published only then, orders/services/etsy.py): its jobs go to the farm pool, one per plate.
    Idempotent: an order that has jobs already (a replay, or a person scheduled it), or that is
    no longer waiting to be printed, is left alone."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None or order.status != Order.Status.PAID:
        return []
    if ScheduledPrint.objects.filter(order=order).exists():
        return []
    try:
        return order_schedule_prints(order=order, printer=None)
    except (Conflict, ValidationError) as refused:  # scheduled meanwhile, or no items
        logger.info("order %s not scheduled: %s", order_id, refused)
        return []

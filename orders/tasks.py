"""django-q2 tasks of the orders app: thin doors to the Etsy sync."""

from __future__ import annotations

import logging

from django_q.tasks import async_task

from j3d.lib.errors import DomainError
from orders.models import EtsyConnection
from orders.services.etsy import etsy_sync_all_due, etsy_sync_orders

logger = logging.getLogger(__name__)

# Below the q2 cluster's timeout (60 s): a longer first sync goes on in the next run.
RUN_BUDGET_SECONDS = 40.0


def etsy_sync_connected_shops() -> int:
    """Every 5 minutes (j3d/schedules.py): one sync task per connected shop, so shops fail alone."""
    due = etsy_sync_all_due()
    for connection_id in due:
        async_task("orders.tasks.etsy_sync_shop", connection_id)
    return len(due)


def etsy_sync_shop(connection_id: int) -> dict | None:
    connection = EtsyConnection.objects.select_related("user").filter(pk=connection_id).first()
    if connection is None:
        return None
    try:
        result = etsy_sync_orders(user=connection.user, budget_seconds=RUN_BUDGET_SECONDS)
    except DomainError as refused:  # running elsewhere, reconnect needed, disconnected
        logger.info("etsy sync of connection %s not run: %s", connection_id, refused)
        return None
    return result.as_dict()

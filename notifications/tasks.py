"""django-q2 tasks of the notifications app: thin doors onto its services (safe to run twice)."""

from notifications.services import deliveries, maintenance


def deliveries_send(ids: list[int]) -> int:
    """Send the deliveries one event planned (queued on commit by deliveries_plan)."""
    return len(deliveries.deliveries_send(ids=ids))


def deliveries_sweep() -> int:
    """Every minute: retries whose backoff passed, offline notices come due, lost queueings."""
    return deliveries.deliveries_send_due()


def maintenance_check() -> int:
    """Every 15 minutes: announce maintenance that came due by the calendar."""
    return maintenance.maintenance_check_due()

"""django-q2 tasks for the event log: thin doors onto j3d.services (safe to run twice)."""

from django.core.management import call_command

from j3d import services


def events_handle(ids: list[int]) -> int:
    """Handle the rows one commit published (queued on commit by ``events.publish``)."""
    return len(services.events_handle(ids=ids))


def events_sweep() -> int:
    """Every minute: rows still due after a crash, and failed subscribers whose backoff passed."""
    return services.events_sweep()


def events_prune() -> int:
    """Daily: drop handled events older than EVENTS_RETENTION_DAYS."""
    return services.events_prune()


def logins_prune() -> None:
    """Daily: drop refresh tokens that expired anyway (with their blacklist rows) and login
    records older than 30 days; both tables grow with every login."""
    call_command("flushexpiredtokens")
    call_command("axes_reset_logs", age=30)

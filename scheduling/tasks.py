"""django-q2 tasks of the scheduling app: thin, take ids, safe to run twice."""

from __future__ import annotations

from scheduling.services.uploads import job_upload_and_start as _upload_and_start
from scheduling.services.uploads import job_uploads_recover as _uploads_recover


def job_upload_and_start(job_id: int, subtask_id: str) -> int | None:
    """Upload a dispatched job's file and queue its start (on the uploads cluster); returns the
    outbox command id."""
    command = _upload_and_start(job_id=job_id, subtask_id=subtask_id)
    return command.pk if command is not None else None


def job_uploads_recover() -> list[int]:
    """Restart the uploads whose worker died, queue again those whose task was lost (periodic)."""
    return _uploads_recover()


def farm_replan(user_id: int, since: str | None = None) -> int | None:
    """Plan the owner's farm again unless a plan newer than ``since`` (ISO time) exists; returns
    the number of jobs planned, or None when the stored plan was already fresh."""
    from django.utils.dateparse import parse_datetime

    from scheduling.services.planning import farm_replan_after

    farm_plan = farm_replan_after(user_id=user_id, since=parse_datetime(since) if since else None)
    return farm_plan.planned_jobs if farm_plan is not None else None


def farm_dispatch() -> list[int]:
    """Start every ready printer's next planned job (periodic; events also trigger it)."""
    from scheduling.services.autodispatch import farm_dispatch as dispatch

    return dispatch()


def farm_dispatch_timeouts() -> list[int]:
    """Put back in the pool the dispatches no printer started in time (periodic)."""
    from scheduling.services.autodispatch import farm_dispatch_timeouts as undo

    return undo()


def stock_alerts_check() -> int:
    """Announce the material kinds that newly run out within the lead time (periodic; the events
    that move stock also trigger it); returns how many were announced."""
    from scheduling.services.stock import stock_alerts_check_all

    return stock_alerts_check_all()

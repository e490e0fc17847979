"""django-q2 tasks of the scheduling app: thin, take ids, safe to run twice."""

from __future__ import annotations

from scheduling.services.dispatch import job_upload_and_start as _upload_and_start


def job_upload_and_start(job_id: int, subtask_id: str) -> int | None:
    """Upload a dispatched job's file and queue its start; returns the outbox command id."""
    command = _upload_and_start(job_id=job_id, subtask_id=subtask_id)
    return command.pk if command is not None else None

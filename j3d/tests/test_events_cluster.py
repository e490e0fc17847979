"""The whole event path through a real django-q2 cluster process on the ORM broker."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django_q.models import OrmQ

from j3d import events
from j3d.models import Event
from j3d.tests import processes
from j3d.tests.factories import make_job, make_printer
from scheduling.models import ScheduledPrint

pytestmark = pytest.mark.django_db(transaction=True)


def _wait(condition: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return result


@pytest.fixture
def cluster(settings, tmp_path) -> Iterator[Callable[[], str]]:
    """`manage.py qcluster` on the test database; events published here are queued for it."""
    settings.EVENTS_SYNC = False
    log = tmp_path / "qcluster.log"
    process = processes.manage(["qcluster"], log, Q_WORKERS="1")
    try:
        yield log.read_text  # the cluster's output, for a failing assertion
    finally:
        processes.stop(process)


def test_a_job_follows_the_printer_through_the_cluster(owner, cluster):
    printer = make_printer(owner)
    job = make_job(owner, printer, printer_subtask_id="5151", printer_task_id="5150")
    common = {"user_id": owner.pk, "printer_id": printer.pk, "subtask_id": "5151"}

    events.publish(events.PrintStarted(**common, job_name="Benchy"))

    def status() -> str:
        return ScheduledPrint.objects.values_list("status", flat=True).get(pk=job.pk)

    assert _wait(lambda: status() == "started", timeout=30), cluster()
    events.publish(events.PrintFinished(**common, job_name="Benchy"))
    assert _wait(lambda: status() == "completed", timeout=10)
    assert _wait(lambda: not Event.objects.exclude(status="handled").exists(), timeout=10)
    assert _wait(lambda: not OrmQ.objects.exists(), timeout=10)  # each task taken and acknowledged
    rows = Event.objects.filter(type__startswith="print.").order_by("id")
    # Each row handled in one pass, the job's subscriber among those that ran (other apps, such
    # as notifications, subscribe to the same events).
    assert [(r.type, r.attempts, r.status) for r in rows] == [
        ("print.started", 1, "handled"),
        ("print.completed", 1, "handled"),
    ]
    assert "scheduling.receivers.on_print_started" in rows[0].handled_by
    assert "scheduling.receivers.on_print_finished" in rows[1].handled_by

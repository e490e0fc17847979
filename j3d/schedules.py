"""Every periodic django-q2 task, declared once; `manage.py setup_schedules` applies this list."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Periodic:
    name: str
    func: str
    minutes: int


SCHEDULES: list[Periodic] = [
    # Fresh status and queued commands for printers no `run_printer_link` process holds.
    Periodic(name="printers-poll", func="printers.tasks.printers_poll", minutes=1),
]

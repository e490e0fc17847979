"""Event subscribers of the notifications app. Registered in NotificationsConfig.ready()."""

from __future__ import annotations

from j3d import events
from notifications.services.deliveries import ANNOUNCED_EVENTS, deliveries_plan
from notifications.services.maintenance import maintenance_count_print


def on_announced_event(event: events.Event) -> None:
    deliveries_plan(event=event)


def on_print_ended(event: events.PrintFinished | events.PrintFailed) -> None:
    maintenance_count_print(event=event)


def register() -> None:
    for event_type in ANNOUNCED_EVENTS:
        events.subscribe(event_type, on_announced_event)
    events.subscribe(events.PrintFinished, on_print_ended)
    events.subscribe(events.PrintFailed, on_print_ended)

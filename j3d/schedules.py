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
    # Events whose on-commit task never ran (a crash) or whose failed subscribers are due again.
    Periodic(name="events-sweep", func="j3d.tasks.events_sweep", minutes=1),
    # History older than EVENTS_RETENTION_DAYS.
    Periodic(name="events-prune", func="j3d.tasks.events_prune", minutes=24 * 60),
    # Ready printers start their next planned job; dispatches never started go back to the pool.
    Periodic(name="farm-dispatch", func="scheduling.tasks.farm_dispatch", minutes=1),
    Periodic(
        name="farm-dispatch-timeouts", func="scheduling.tasks.farm_dispatch_timeouts", minutes=1
    ),
    # Uploads whose worker died (stale heartbeat) restarted once; lost upload tasks queued again.
    Periodic(name="uploads-sweep", func="scheduling.tasks.job_uploads_recover", minutes=1),
    # Filament that runs out within the reorder lead time: announced once per crossing.
    Periodic(name="stock-alerts", func="scheduling.tasks.stock_alerts_check", minutes=15),
    # Expired refresh tokens and old login records.
    Periodic(name="logins-prune", func="j3d.tasks.logins_prune", minutes=24 * 60),
    # New and changed Etsy receipts of every connected shop (one task per shop).
    Periodic(name="etsy-sync", func="orders.tasks.etsy_sync_connected_shops", minutes=5),
    # Notification retries, offline notices whose threshold passed, sends a crash lost.
    Periodic(name="notifications-sweep", func="notifications.tasks.deliveries_sweep", minutes=1),
    # Maintenance that came due by the calendar ("clean the nozzle every 2 weeks").
    Periodic(name="maintenance-check", func="notifications.tasks.maintenance_check", minutes=15),
]

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Tell people what happens on the farm: subscribe to the events (j3d/events.py).
        from notifications import receivers

        receivers.register()

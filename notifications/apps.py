from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Owners hear about orders and shops that need them (j3d/events.py).
        from notifications import receivers

        receivers.register()

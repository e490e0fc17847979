from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Print jobs"

    def ready(self) -> None:
        # Jobs follow the printer: subscribe to the printer link's events (j3d/events.py).
        from scheduling import receivers

        receivers.register()

from django.core.management.base import BaseCommand
from django_q.models import Schedule

from j3d.schedules import SCHEDULES


class Command(BaseCommand):
    help = "Create or update the periodic django-q2 tasks declared in j3d/schedules.py."

    def handle(self, *args, **options) -> None:
        for periodic in SCHEDULES:
            Schedule.objects.update_or_create(
                name=periodic.name,
                defaults={
                    "func": periodic.func,
                    "schedule_type": Schedule.MINUTES,
                    "minutes": periodic.minutes,
                    "repeats": -1,
                },
            )
            self.stdout.write(
                f"schedule {periodic.name}: {periodic.func} every {periodic.minutes} min"
            )
        stale = Schedule.objects.exclude(name__in=[p.name for p in SCHEDULES])
        removed, _ = stale.filter(name__startswith="j3d:").delete()
        if removed:
            self.stdout.write(f"removed {removed} schedule(s) no longer declared")

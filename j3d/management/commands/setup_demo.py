from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-printfarm"


class Command(BaseCommand):
    help = "Create (or reset) the demo shop owner, a staff account that can use the admin."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        user, created = get_user_model().objects.get_or_create(
            username=DEMO_USERNAME, defaults={"email": "demo@example.com"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(DEMO_PASSWORD)
        user.save()
        verb = "created" if created else "reset"
        self.stdout.write(f"demo login {verb}: username {DEMO_USERNAME} / password {DEMO_PASSWORD}")

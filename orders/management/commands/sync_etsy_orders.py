"""manage.py sync_etsy_orders [--user NAME] [--full]: import Etsy receipts now."""

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from j3d.lib.errors import DomainError
from orders.models import EtsyConnection
from orders.services.etsy import etsy_sync_orders


class Command(BaseCommand):
    help = "Sync Etsy orders of one shop owner (--user) or of every connected shop."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--user", help="username of the shop owner (default: every shop)")
        parser.add_argument(
            "--full", action="store_true", help="read every receipt, not just recent changes"
        )

    def handle(self, *args: Any, user: str | None, full: bool, **options: Any) -> None:
        if user is not None:
            owner = get_user_model().objects.filter(username=user).first()
            if owner is None:
                raise CommandError(f"No user named {user!r}.")
            owners = [owner]
        else:
            owners = [c.user for c in EtsyConnection.objects.select_related("user")]
        failed = False
        for owner in owners:
            try:
                result = etsy_sync_orders(user=owner, full=full)
            except DomainError as refused:
                self.stderr.write(f"{owner.username}: {refused}")
                failed = True
                continue
            self.stdout.write(f"{owner.username}: {json.dumps(result.as_dict())}")
            failed = failed or not result.complete
        if failed:
            raise CommandError("Some shops were not synced completely (see above).")

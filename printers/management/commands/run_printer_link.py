"""``manage.py run_printer_link``: keep every leased printer connected (see printers/link.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from j3d.lib.signals import StopRequest
from printers.link import PrinterLink


class Command(BaseCommand):
    help = "Keep a live MQTT link to every enabled printer this process can lease."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--max-printers",
            type=int,
            default=None,
            help="Lease at most this many printers (run several link processes for a big farm).",
        )
        parser.add_argument("--tick", type=float, default=0.2, help="Seconds between steps.")

    def handle(self, *args: Any, **options: Any) -> None:
        link = PrinterLink(max_printers=options["max_printers"])
        # On SIGTERM/SIGINT the loop finishes its step, flushes, releases leases and exits.
        stop = StopRequest().install()
        self.stdout.write(f"printer link {link.holder} running")
        link.run(tick_seconds=options["tick"], until=stop)
        self.stdout.write("printer link stopped")

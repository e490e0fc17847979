"""``manage.py run_printer_link``: keep every leased printer connected (see printers/link.py)."""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from printers.link import PrinterLink

logger = logging.getLogger(__name__)


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

        def stop(signum: int, frame: FrameType | None) -> None:
            # Only set a flag: the loop finishes its step, flushes, releases leases and exits.
            logger.info("signal %s: stopping the printer link", signum)
            link.stop_event.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"printer link {link.holder} running")
        link.run(tick_seconds=options["tick"])
        self.stdout.write("printer link stopped")

"""Plan a farm described in a JSON file and print the plan as JSON (a thin door; no database).

    python manage.py plan_farm --instance farm.json [--cpsat-budget 1.0]

The file format is in docs/planner.md. A bad file is one line naming the field and the reason.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from scheduling.planner import plan
from scheduling.planner.io import InstanceError, instance_from_dict, plan_to_dict

MAX_FILE_BYTES = 64 * 1024 * 1024


class Command(BaseCommand):
    help = "Plan the farm in a JSON file (printers and open jobs) and print the plan as JSON."
    # Planning a file needs neither the database nor the project's checks.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--instance", required=True, help="the farm, as JSON (see docs)")
        parser.add_argument(
            "--cpsat-budget",
            type=float,
            default=0.0,
            help="deterministic seconds CP-SAT may spend improving the near-term window (0: off)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["instance"]
        budget = options["cpsat_budget"]
        if not 0 <= budget <= 600:
            raise CommandError("--cpsat-budget: must be between 0 and 600")
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            raise CommandError(f"{path}: cannot read it ({error.strerror})") from None
        if len(raw) > MAX_FILE_BYTES:
            raise CommandError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB")
        try:
            data = json.loads(raw)
        except UnicodeDecodeError:
            raise CommandError(f"{path}: not UTF-8 text") from None
        except json.JSONDecodeError as error:
            raise CommandError(
                f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
            ) from None
        except RecursionError:
            raise CommandError(f"{path}: nested too deeply") from None
        try:
            instance = instance_from_dict(data)
        except InstanceError as error:
            raise CommandError(f"{path}: {error}") from None
        result = plan(instance, cpsat_budget=budget)
        self.stdout.write(json.dumps(plan_to_dict(result), indent=2))

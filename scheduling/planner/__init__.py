"""The farm planner: which job prints on which printer, when, and which spool swaps it needs.

Pure Python (numpy, and OR-Tools CP-SAT when asked), no Django: the app feeds it plain dataclasses
(``model.py``) and stores what it returns; ``manage.py plan_farm`` and ``bench/bench_plan.py`` use
it on files and random farms. Same instance, same plan.
"""

from scheduling.planner.model import (
    EXTERNAL_SLOT,
    FULL_SPOOL_GRAMS,
    Assignment,
    Instance,
    Job,
    Plan,
    Printer,
    Slot,
    Swap,
    Unplaced,
)
from scheduling.planner.solve import REPLAN_CPSAT_BUDGET, forget_plans, plan

__all__ = [
    "EXTERNAL_SLOT",
    "FULL_SPOOL_GRAMS",
    "REPLAN_CPSAT_BUDGET",
    "Assignment",
    "Instance",
    "Job",
    "Plan",
    "Printer",
    "Slot",
    "Swap",
    "Unplaced",
    "forget_plans",
    "plan",
]

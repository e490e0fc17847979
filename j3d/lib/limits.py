"""What a printer and a shop can really have: the one list of bounds for every number J3D stores.

Each bound is enforced on the model twice over, from these constants: a validator (so
`full_clean()`, the admin and every serializer built from the model refuse it with a message, and
the OpenAPI schema shows the range) and a named CheckConstraint (so no door, database or raw write
can store it). Bounds are generous for a real shop yet small enough that arithmetic on them (a
job's end time, a plate's grams, an order's total) can never overflow a datetime or a column.

| quantity                        | bound               | why |
| ---                             | ---                 | --- |
| a job's or a plate's duration   | 1 min .. 14 days    | the longest real plates run a few days |
| start offset of an order's jobs | 0 .. 1 year         | planning further ahead is not planning |
| nozzle temperature              | 0 .. 350 °C         | the H2D's hot end; X1/P1/A1 stop at 300 |
| bed temperature                 | 0 .. 120 °C         | the H2D's bed; X1/P1 stop at 110 |
| print speed                     | 1 .. 1000 (mm/s)    | Bambu printers top out at 500 mm/s |
| spool weight                    | 0 .. 10 kg          | spools are 0.25-5 kg |
| grams per printed unit          | 0 .. 10 kg          | more than a large spool |
| units per plate                 | 1 .. 1000           | small parts packed on a 350 mm bed |
| money (prices, totals, per kg)  | 0 .. 99,999,999.99  | below 10^8 in any currency a shop uses |
| ordered quantity of one item    | 1 .. 1000           | Etsy listings stock at most 999 |
| items in one order              | 1 .. 200            | more lines than any real receipt |
| job priority                    | -1000 .. 1000       | a relative rank, not a number to grow |
| filaments of one sliced plate   | 64                  | the slicer's list; 4 AMS units hold 16 |
| a filament's slicer number      | 1 .. 999            | Bambu Studio numbers them from 1 |
| depth of a JSON request body    | 32 levels           | real bodies nest 3 levels |
"""

from decimal import Decimal
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Q

MAX_PLATE_MINUTES = 14 * 24 * 60
MAX_START_OFFSET_MINUTES = 365 * 24 * 60
MAX_NOZZLE_TEMP = 350
MAX_BED_TEMP = 120
MAX_PRINT_SPEED = 1000
MAX_SPOOL_GRAMS = Decimal(10_000)
MAX_UNIT_GRAMS = Decimal(10_000)
MAX_UNITS_PER_PLATE = 1000
MAX_MONEY = Decimal("99999999.99")
MAX_QUANTITY = 1000
MAX_ORDER_ITEMS = 200
MIN_PRIORITY, MAX_PRIORITY = -1000, 1000
MAX_JSON_DEPTH = 32
MAX_FILAMENTS = 64
MAX_FILAMENT_SLOT = 999


def between(low: Any, high: Any) -> list:
    """Model field validators for `low <= value <= high`."""
    return [MinValueValidator(low), MaxValueValidator(high)]


def between_q(field: str, low: Any, high: Any, *, null: bool = False) -> Q:
    """The CheckConstraint condition of the same range; None passes if `null`."""
    condition = Q(**{f"{field}__gte": low, f"{field}__lte": high})
    return Q(**{f"{field}__isnull": True}) | condition if null else condition

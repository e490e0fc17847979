"""The farm's figures over a date range: costs, margins, failures, utilisation, materials.

Every function answers in a fixed number of queries whatever the range: sums and counts are
grouped in SQL; the only rows that come back one by one are the attempts a printer's day-by-day
utilisation is split from (one query). Money is Decimal throughout and rounded to the cent once,
at the end of each sum, so the figures add up to the cent.

An attempt belongs to the range its end falls in; an order to the range it was created in, with
the cost of every attempt printed for it (failed ones and reprints too), whenever they ended.
Costs are in the farm's currency (FarmSettings.currency); an order in another currency gets no
margin rather than a wrong one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import Any

from django.db.models import (
    BigIntegerField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Round
from django.utils import timezone

from j3d.lib.sql import EpochMillis
from orders.models import Order, OrderItem, ProductProfile
from printers.models import Printer
from scheduling.models import FarmSettings, MaterialUse, PrintRecord, ScheduledPrint
from scheduling.services.costs import farm_settings_for

CENT = Decimal("0.01")
ZERO = Decimal(0)
MONEY = DecimalField(max_digits=20, decimal_places=4)
Outcome = PrintRecord.Outcome
ENDED = (Outcome.COMPLETED, Outcome.FAILED, Outcome.CANCELLED)
TOP_REASONS = 3
NO_SALES = {"revenue": ZERO, "units": 0, "etsy_revenue": ZERO, "etsy_units": 0}


@dataclass(frozen=True)
class Range:
    """Whole days [first, last] in the server's time zone (UTC)."""

    first: date
    last: date

    @cached_property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.first, time.min))

    @cached_property
    def end(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.last + timedelta(days=1), time.min))

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


class Rendered(list):
    """Rows already in their JSON shape (strings, ints): ``plain`` hands them on untouched."""


_SCALARS = frozenset({str, int, float, bool, type(None)})


def plain(data: Any) -> Any:
    """The figures as JSON values: money and percentages as exact strings, dates ISO 8601.

    The API's serializers describe these shapes (and the schema); rendering thousands of rows
    through them cost more than computing the rows, so the views send this instead.
    """
    kind = type(data)
    if kind in _SCALARS or kind is Rendered:
        return data
    if kind is list:
        return [plain(item) for item in data]
    if kind is dict:
        return {
            key: value if type(value) in _SCALARS else plain(value) for key, value in data.items()
        }
    if kind is Decimal:
        return str(data)
    if isinstance(data, datetime):
        return data.isoformat().replace("+00:00", "Z")
    if isinstance(data, date):
        return data.isoformat()
    return data


def cents(value: Decimal | None) -> Decimal:
    return (value or ZERO).quantize(CENT, ROUND_HALF_UP)


def percent(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(CENT, ROUND_HALF_UP)


def _records(user: Any, span: Range) -> Any:
    return PrintRecord.objects.for_owner(user).filter(
        outcome__in=ENDED, ended_at__gte=span.start, ended_at__lt=span.end
    )


def _totals() -> dict[str, Any]:
    """The aggregate columns every per-group figure of attempts uses."""
    return {
        "completed": Count("id", filter=Q(outcome=Outcome.COMPLETED)),
        "failed": Count("id", filter=Q(outcome=Outcome.FAILED)),
        "cancelled": Count("id", filter=Q(outcome=Outcome.CANCELLED)),
        "units": Coalesce(Sum("units"), 0),
        "hours": Coalesce(Sum("print_hours"), ZERO, output_field=MONEY),
        "material": Coalesce(Sum("material_cost"), ZERO, output_field=MONEY),
        "machine": Coalesce(Sum("machine_cost"), ZERO, output_field=MONEY),
        "energy": Coalesce(Sum("energy_cost"), ZERO, output_field=MONEY),
    }


def _attempt_figures(row: dict[str, Any]) -> dict[str, Any]:
    attempts = row["completed"] + row["failed"] + row["cancelled"]
    cost = row["material"] + row["machine"] + row["energy"]
    return {
        "jobs_completed": row["completed"],
        "jobs_failed": row["failed"],
        "jobs_cancelled": row["cancelled"],
        "failure_rate_pct": percent(row["failed"], attempts),
        "print_hours": cents(row["hours"]),
        "material_cost": cents(row["material"]),
        "machine_cost": cents(row["machine"]),
        "energy_cost": cents(row["energy"]),
        "total_cost": cents(cost),
    }


def _top_reasons(records: Any, group: str) -> dict[Any, list[dict[str, Any]]]:
    rows = (
        records.filter(outcome=Outcome.FAILED)
        .values(group, "failure_reason")
        .annotate(count=Count("id"))
        .order_by(group, "-count", "failure_reason")
    )
    top: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if len(top[row[group]]) < TOP_REASONS:
            top[row[group]].append(
                {"reason": row["failure_reason"] or "unknown", "count": row["count"]}
            )
    return top


# --- fees and margin -------------------------------------------------------------------------
#
# An order's figures are whole cents (ints) from the database to the rendered string: a year of
# orders is thousands of rows, and Decimal conversion and arithmetic per cell was most of the
# time. Every stored amount has at most four decimals (prices and fees two, costs four), so the
# database scales its sums to whole units exactly, and integer division rounds half up (away
# from zero, as ROUND_HALF_UP) with no loss.


def _half_up(units: int, per: int) -> int:
    """units / per, rounded half away from zero (per > 0)."""
    whole, rest = divmod(abs(units), per)
    whole += 2 * rest >= per
    return whole if units >= 0 else -whole


def _money(cents_: int) -> str:
    sign = "-" if cents_ < 0 else ""
    whole, part = divmod(abs(cents_), 100)
    return f"{sign}{whole}.{part:02d}"


@dataclass(frozen=True)
class _Fees:
    """The farm's Etsy fees as whole hundredths (each is a 2-decimal field)."""

    pct: int  # transaction + payment processing, in hundredths of a percent
    fixed: int  # cents per order
    listing: int  # cents per item sold

    @classmethod
    def of(cls, farm: FarmSettings) -> _Fees:
        pct = farm.etsy_transaction_fee_pct + farm.etsy_payment_fee_pct
        return cls(
            int(pct * 100), int(farm.etsy_payment_fee_fixed * 100), int(farm.etsy_listing_fee * 100)
        )

    def on(self, *, source: str, revenue: int, quantity: int) -> int:
        """Etsy's fees on an order, in cents: transaction % and payment % of the sale, the
        payment's fixed fee, and the listing fee per item sold. A manual order pays none."""
        if source != Order.Source.ETSY or not revenue:
            return 0
        # revenue (cents) x pct (hundredths of %) is in ten-thousandths of a cent.
        return _half_up(
            revenue * self.pct + (self.fixed + self.listing * quantity) * 10_000, 10_000
        )


def _margin(revenue: int, fees: int, cost: int, same_currency: bool) -> dict[str, str | None]:
    if not same_currency:
        return {"margin": None, "margin_pct": None}
    margin = revenue - fees - cost
    pct = _money(_half_up(margin * 10_000, revenue)) if revenue else None
    return {"margin": _money(margin), "margin_pct": pct}


def _scaled_sum(expression: Any, scale: int) -> Any:
    """SUM(expression) x scale as a whole number, rounded by the database."""
    total = ExpressionWrapper(Sum(expression) * Value(scale), output_field=MONEY)
    return Cast(Round(total), BigIntegerField())


def _orders_in(user: Any, span: Range) -> Any:
    return Order.objects.for_owner(user).filter(created_at__gte=span.start, created_at__lt=span.end)


def _items_by_order(user: Any, span: Range) -> dict[int, tuple[int, int]]:
    """{order id: (revenue in cents, quantity)} of the orders created in the range."""
    line = ExpressionWrapper(F("unit_price") * F("quantity"), output_field=MONEY)
    return {
        row[0]: row[1:]
        for row in OrderItem.objects.filter(order__in=_orders_in(user, span).values("id"))
        .values("order")
        .annotate(revenue=_scaled_sum(line, 100), quantity=Sum("quantity"))
        .order_by()
        .values_list("order", "revenue", "quantity")
    }


def _attempts_by_order(user: Any, span: Range) -> dict[int, tuple[int, int, int]]:
    """{order id: (cost in cents, attempts, failed)} of every attempt printed for the orders
    created in the range, whenever it ended (found through the orders: the record's order index).
    The cost is rounded to the cent once per order, from its exact four-decimal sum."""
    cost = ExpressionWrapper(
        F("material_cost") + F("machine_cost") + F("energy_cost"), output_field=MONEY
    )
    return {
        order: (_half_up(units, 100), attempts, failed)
        # The orders are the owner's, so are their attempts; no user filter lets the database
        # walk the record's order index rather than every attempt the owner has.
        for order, units, attempts, failed in PrintRecord.objects.filter(
            order__in=_orders_in(user, span).values("id"), outcome__in=ENDED
        )
        .values("order")
        .annotate(
            cost=_scaled_sum(cost, 10_000),
            attempts=Count("id"),
            failed=Count("id", filter=Q(outcome=Outcome.FAILED)),
        )
        .order_by()
        .values_list("order", "cost", "attempts", "failed")
    }


def analytics_orders(*, user: Any, span: Range) -> list[dict[str, Any]]:
    """Each order created in the range: revenue, fees, the cost of every attempt, margin.

    Three grouped queries (orders, their items, their attempts) joined here by order id: a
    correlated subquery per order and figure was four times slower on a year of orders.
    """
    farm = farm_settings_for(user=user)
    fees_of = _Fees.of(farm)
    orders = (
        _orders_in(user, span)
        .order_by("-created_at", "-id")
        .values_list("id", "order_number", "source", "status", "currency", "created_at")
    )
    items = _items_by_order(user, span)
    attempts = _attempts_by_order(user, span)
    farm_currency = farm.currency.upper()
    rows = Rendered()  # every value below is already its JSON self
    for pk, number, source, status, currency, created in orders:
        revenue, quantity = items.get(pk, (0, 0))
        spent, tries, failed = attempts.get(pk, (0, 0, 0))
        fees = fees_of.on(source=source, revenue=revenue, quantity=quantity)
        rows.append(
            {
                "id": pk,
                "order_number": number,
                "source": source,
                "status": status,
                "created_at": created.isoformat().replace("+00:00", "Z"),
                "currency": currency,
                "revenue": _money(revenue),
                "fees": _money(fees),
                "cost": _money(spent),
                "attempts": tries,
                "failed_attempts": failed,
                **_margin(revenue, fees, spent, currency.upper() == farm_currency),
            }
        )
    return rows


# --- per product -----------------------------------------------------------------------------


def analytics_products(*, user: Any, span: Range) -> list[dict[str, Any]]:
    """Per product profile: attempts and failures, cost per unit made, and what its units sold
    for in orders created in the range (price less Etsy's percentage and listing fees; the
    per-order fixed fee stays with the order)."""
    farm = farm_settings_for(user=user)
    records = _records(user, span).filter(product_profile__isnull=False)
    made = {
        row["product_profile"]: row
        for row in records.values("product_profile").annotate(**_totals()).order_by()
    }
    reasons = _top_reasons(records, "product_profile")
    sold = _sold_by_profile(user, span)
    names = dict(
        ProductProfile.objects.for_owner(user)
        .filter(pk__in=set(made) | set(sold))
        .values_list("id", "name")
    )
    pct = (farm.etsy_transaction_fee_pct + farm.etsy_payment_fee_pct) / 100
    rows = []
    for profile_id in sorted(names, key=lambda pk: (names[pk].lower(), pk)):
        row = made.get(profile_id) or _empty_totals()
        figures = _attempt_figures(row)
        units = row["units"]
        sale = sold.get(profile_id) or NO_SALES
        cost_per_unit = (
            (row["material"] + row["machine"] + row["energy"]) / units if units else None
        )
        fees = sale["etsy_revenue"] * pct + farm.etsy_listing_fee * sale["etsy_units"]
        price = sale["revenue"] / sale["units"] if sale["units"] else None
        margin = None
        if price is not None and cost_per_unit is not None:
            margin = cents(price - fees / sale["units"] - cost_per_unit)
        rows.append(
            {
                "id": profile_id,
                "name": names[profile_id],
                **figures,
                "units_made": units,
                "material_cost_per_unit": cents(row["material"] / units) if units else None,
                "machine_cost_per_unit": cents(row["machine"] / units) if units else None,
                "cost_per_unit": cents(cost_per_unit) if units else None,
                "units_sold": sale["units"],
                "revenue": cents(sale["revenue"]),
                "fees": cents(fees),
                "margin_per_unit": margin,
                "top_failure_reasons": reasons.get(profile_id, []),
            }
        )
    return rows


def _empty_totals() -> dict[str, Any]:
    return dict.fromkeys(("completed", "failed", "cancelled", "units"), 0) | dict.fromkeys(
        ("hours", "material", "machine", "energy"), ZERO
    )


def _sold_by_profile(user: Any, span: Range) -> dict[int, dict[str, Any]]:
    """Units and revenue per profile of items in orders created in the range; an item without its
    own profile link counts for the profile its jobs printed."""
    from_jobs = ScheduledPrint.objects.filter(
        order_item=OuterRef("pk"), product_profile__isnull=False
    ).values("product_profile")[:1]
    line = ExpressionWrapper(F("unit_price") * F("quantity"), output_field=MONEY)
    etsy = Q(order__source=Order.Source.ETSY)
    rows = (
        OrderItem.objects.filter(
            order__user=user, order__created_at__gte=span.start, order__created_at__lt=span.end
        )
        .exclude(order__status=Order.Status.CANCELLED)
        .annotate(
            profile=Coalesce(
                F("product_profile"), Subquery(from_jobs), output_field=BigIntegerField()
            )
        )
        .filter(profile__isnull=False)
        .values("profile")
        .annotate(
            revenue=Coalesce(Sum(line), ZERO, output_field=MONEY),
            units=Coalesce(Sum("quantity"), 0),
            etsy_revenue=Coalesce(Sum(line, filter=etsy), ZERO, output_field=MONEY),
            etsy_units=Coalesce(Sum("quantity", filter=etsy), 0),
        )
        .order_by()
    )
    return {row["profile"]: row for row in rows}


# --- per printer -----------------------------------------------------------------------------


def analytics_printers(*, user: Any, span: Range) -> list[dict[str, Any]]:
    """Per printer: attempts, failure rate and top reasons, costs, and utilisation (printing hours
    over the hours in the range), overall and day by day."""
    records = _records(user, span).filter(printer__isnull=False)
    totals = {
        row["printer"]: row for row in records.values("printer").annotate(**_totals()).order_by()
    }
    reasons = _top_reasons(records, "printer")
    daily = _daily_millis(user, span)
    days = _dates(span)
    idle = [{"date": day, **IDLE_DAY} for day in days]  # one shared idle row per date
    rows = []
    for printer in Printer.objects.for_owner(user).values("id", "name", "model"):
        row = totals.get(printer["id"]) or _empty_totals()
        busy = daily.get(printer["id"], {})
        hours = Decimal(sum(busy.values())) / MS_PER_HOUR
        rows.append(
            {
                **printer,
                **_attempt_figures(row),
                "printing_hours": cents(hours),
                "available_hours": span.days * 24,
                "utilisation_pct": percent(hours, span.days * 24),
                "top_failure_reasons": reasons.get(printer["id"], []),
                "daily": Rendered(
                    _busy_day(day, busy[n]) if n in busy else idle[n] for n, day in enumerate(days)
                ),
            }
        )
    return rows


MS_PER_HOUR = 3_600_000
MS_PER_DAY = 24 * MS_PER_HOUR
IDLE_DAY = {"printing_hours": "0.00", "utilisation_pct": "0.00"}


def _busy_day(day: str, millis: int) -> dict[str, Any]:
    hours = Decimal(millis) / MS_PER_HOUR
    return {
        "date": day,
        "printing_hours": str(cents(hours)),
        "utilisation_pct": str(percent(hours, 24)),
    }


def _dates(span: Range) -> list[str]:
    return [(span.first + timedelta(days=n)).isoformat() for n in range(span.days)]


def _daily_millis(user: Any, span: Range) -> dict[int, dict[int, int]]:
    """Printing milliseconds per printer per day of the range (day 0 = its first), each attempt
    split over the days it ran (an attempt still printing counts up to now).

    The database hands back the times as integers (EpochMillis), so this stays integer
    arithmetic; days are whole UTC days, the server's time zone.
    """
    owned = PrintRecord.objects.for_owner(user).filter(
        printer__isnull=False, started_at__lt=span.end
    )
    times = {"begin": EpochMillis("started_at"), "finish": EpochMillis("ended_at")}
    ended = owned.filter(ended_at__gte=span.start).annotate(**times)
    printing = owned.filter(ended_at__isnull=True, outcome=Outcome.PRINTING).annotate(**times)
    columns = ("printer_id", "begin", "finish")
    rows = (
        ended.values_list(*columns)
        .order_by()
        .union(printing.values_list(*columns).order_by(), all=True)
    )
    origin = int(span.start.timestamp() * 1000)
    stop = int(span.end.timestamp() * 1000)
    now = int(timezone.now().timestamp() * 1000)
    millis: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for printer_id, begin, finish in rows:
        begin = max(begin, origin) - origin
        finish = min(now if finish is None else finish, stop) - origin
        days = millis[printer_id]
        while begin < finish:
            day = begin // MS_PER_DAY
            step = min((day + 1) * MS_PER_DAY, finish)
            days[day] += step - begin
            begin = step
    return millis


# --- materials -------------------------------------------------------------------------------


def analytics_materials(*, user: Any, span: Range, by: str = "type") -> list[dict[str, Any]]:
    """Grams and cost of filament used by attempts that ended in the range, by material type and
    colour, or by order (``by="order"``)."""
    # Through the range's records (their ended_at index), not every use the owner ever had.
    uses = MaterialUse.objects.filter(record__in=_records(user, span).values("id"))
    sums = {
        "grams": Coalesce(Sum("grams"), ZERO, output_field=MONEY),
        "cost": Coalesce(Sum("cost"), ZERO, output_field=MONEY),
        "attempts": Count("record", distinct=True),
    }
    if by == "order":
        rows = (
            uses.values("record__order", "record__order__order_number")
            .annotate(**sums)
            .order_by("record__order__order_number", "record__order")
        )
        return [
            {
                "order_id": row["record__order"],
                "order_number": row["record__order__order_number"] or "",
                "grams": cents(row["grams"]),
                "cost": cents(row["cost"]),
                "attempts": row["attempts"],
            }
            for row in rows
        ]
    rows = (
        uses.values("material_type", "color_hex")
        .annotate(**sums)
        .order_by("material_type", "color_hex")
    )
    return [
        {
            "material_type": row["material_type"],
            "color_hex": row["color_hex"],
            "grams": cents(row["grams"]),
            "cost": cents(row["cost"]),
            "attempts": row["attempts"],
        }
        for row in rows
    ]


# --- summary ---------------------------------------------------------------------------------


def analytics_summary(*, user: Any, span: Range) -> dict[str, Any]:
    """The farm's totals. The orders' money is the sum of the orders list's figures (each order
    rounds its fees and cost to the cent), from the same grouped queries, in whole cents."""
    farm = farm_settings_for(user=user)
    fees_of = _Fees.of(farm)
    row = _records(user, span).aggregate(**_totals())
    grams = MaterialUse.objects.filter(record__in=_records(user, span).values("id")).aggregate(
        g=Coalesce(Sum("grams"), ZERO, output_field=MONEY)
    )["g"]
    orders = list(_orders_in(user, span).values_list("id", "source", "currency"))
    items = _items_by_order(user, span)
    attempts = _attempts_by_order(user, span)
    farm_currency = farm.currency.upper()
    revenue = fees = cost = 0
    for pk, source, currency in orders:
        if currency.upper() != farm_currency:
            continue  # no margin rather than a wrong one
        sold, quantity = items.get(pk, (0, 0))
        revenue += sold
        fees += fees_of.on(source=source, revenue=sold, quantity=quantity)
        cost += attempts.get(pk, (0,))[0]
    printers = Printer.objects.for_owner(user).count()
    figures = _attempt_figures(row)
    return {
        "from": span.first,
        "to": span.last,
        "currency": farm.currency,
        **figures,
        "material_grams": cents(grams),
        "printers": printers,
        "utilisation_pct": percent(row["hours"], printers * span.days * 24),
        "orders": len(orders),
        "revenue": _money(revenue),
        "fees": _money(fees),
        "orders_cost": _money(cost),
        **_margin(revenue, fees, cost, True),
    }

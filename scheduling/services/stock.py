"""Filament stock across the farm, and what to reorder before it runs out.

Per material type and colour: grams on hand (spools in slots, from weight x remaining %, plus
spare spools on the shelf), grams the unfinished jobs will still use (their profiles' slicer
figures), the average use per day over the last 30 days (recorded attempts), and the days left.
A kind runs out within the lead time when on hand - planned < use per day x lead days; the
spools to order cover that gap. Four queries whatever the farm's size.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import DecimalField, F, Sum
from django.db.models.functions import Coalesce, Upper
from django.utils import timezone

from printers.models import BambuMaterial, SpareSpool
from scheduling.models import MaterialUse, ScheduledPrint
from scheduling.services.costs import farm_settings_for

USE_WINDOW_DAYS = 30
CENT = Decimal("0.01")
ZERO = Decimal(0)
GRAMS = DecimalField(max_digits=14, decimal_places=2)


def _key(material_type: str, color_hex: str) -> tuple[str, str]:
    return (material_type or "").strip().upper(), (color_hex or "").strip().upper()


def material_stock(*, user: Any) -> list[dict[str, Any]]:
    """One row per material type and colour the farm holds, plans or used lately."""
    farm = farm_settings_for(user=user)
    on_hand: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    slots = (
        BambuMaterial.objects.for_owner(user)
        .filter(is_empty=False, weight_grams__isnull=False, remaining_pct__isnull=False)
        .values("material_type", "color_hex")
        .annotate(grams=Sum(F("weight_grams") * F("remaining_pct") / 100, output_field=GRAMS))
        .order_by()
    )
    for row in slots:
        on_hand[_key(row["material_type"], row["color_hex"])] += row["grams"] or ZERO
    spares = (
        SpareSpool.objects.for_owner(user)
        .values("material_type", "color_hex")
        .annotate(grams=Sum(F("quantity") * F("grams_per_spool"), output_field=GRAMS))
        .order_by()
    )
    for row in spares:
        on_hand[_key(row["material_type"], row["color_hex"])] += row["grams"] or ZERO
    planned = _planned(user)
    since = timezone.now() - timedelta(days=USE_WINDOW_DAYS)
    used = {
        _key(row["t"], row["c"]): row["grams"]
        for row in MaterialUse.objects.filter(user=user, record__ended_at__gte=since)
        .values(t=Upper("material_type"), c=Upper("color_hex"))
        .annotate(grams=Coalesce(Sum("grams"), ZERO, output_field=GRAMS))
        .order_by()
    }
    rows = []
    for key in sorted(set(on_hand) | set(planned) | set(used)):
        rows.append(_row(key, on_hand[key], planned.get(key, ZERO), used.get(key, ZERO), farm))
    return rows


def _planned(user: Any) -> dict[tuple[str, str], Decimal]:
    """Grams the unfinished jobs will use, by type and colour (a job without a colour in its
    profile counts under its type with no colour)."""
    planned: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    jobs = (
        ScheduledPrint.objects.for_owner(user)
        .unfinished()
        .filter(product_profile__isnull=False)
        .values_list(
            "material_type",
            "product_profile__filaments",
            "product_profile__grams_per_plate",
            "product_profile__material_type",
        )
    )
    for job_type, filaments, grams, profile_type in jobs:
        if filaments:
            for item in filaments:
                key = _key(item.get("type", ""), item.get("color", ""))
                planned[key] += Decimal(str(item.get("grams", 0)))
        elif grams is not None:
            planned[_key(job_type or profile_type, "")] += grams
    return planned


def _row(
    key: tuple[str, str], on_hand: Decimal, planned: Decimal, used: Decimal, farm: Any
) -> dict[str, Any]:
    per_day = used / USE_WINDOW_DAYS
    free = on_hand - planned
    days_left = None
    if per_day > 0:
        days_left = max(free / per_day, ZERO).quantize(Decimal("0.1"), ROUND_HALF_UP)
    need = planned + per_day * farm.reorder_lead_days - on_hand
    spools = math.ceil(need / farm.spool_grams) if need > 0 else 0
    return {
        "material_type": key[0],
        "color_hex": key[1],
        "on_hand_grams": on_hand.quantize(CENT, ROUND_HALF_UP),
        "planned_grams": planned.quantize(CENT, ROUND_HALF_UP),
        "use_per_day_grams": per_day.quantize(CENT, ROUND_HALF_UP),
        "days_left": days_left,
        "runs_out_within_lead_time": spools > 0,
        "spools_to_order": spools,
    }


def material_reorder(*, user: Any) -> list[dict[str, Any]]:
    """The kinds that run out within the farm's lead time, with how many spools to order."""
    return [row for row in material_stock(user=user) if row["runs_out_within_lead_time"]]

"""Filament stock across the farm, and what to reorder before it runs out.

Per material type and colour: grams on hand (spools in slots, from weight x remaining %, plus
spare spools on the shelf), grams the unfinished jobs will still use (their profiles' slicer
figures), the average use per day over the last 30 days (recorded attempts), and the days left.
A kind runs out within the lead time when on hand - planned < use per day x lead days; the
spools to order cover that gap. Four queries whatever the farm's size.

``stock_alerts_check`` announces a kind when it enters that list (events.MaterialStockLow, which
notifications sends to the owner), once: a StockAlert row latches it until the kind leaves the
list again (restocked, or its planned jobs gone). It runs after the things that move stock (an
attempt ends, a spool changes or runs low, an order is paid) and every 15 minutes, so it is
idempotent: a kind already latched is never announced twice, whatever calls it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import DecimalField, F, Sum
from django.db.models.functions import Coalesce, Upper
from django.utils import timezone

from j3d import events
from printers.models import BambuMaterial, SpareSpool
from scheduling.models import MaterialUse, ScheduledPrint, StockAlert
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


def stock_alerts_check(*, user_id: int) -> list[tuple[str, str]]:
    """Announce the kinds that newly run out within the lead time; re-arm the restocked ones.

    Returns the kinds announced now, as (material type, colour).
    """
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return []
    farm = farm_settings_for(user=user)
    low = {(row["material_type"], row["color_hex"]): row for row in material_reorder(user=user)}
    announced = []
    with transaction.atomic():
        latched = {
            (alert.material_type, alert.color_hex): alert.pk
            for alert in StockAlert.objects.select_for_update().filter(user_id=user_id)
        }
        restocked = [pk for key, pk in latched.items() if key not in low]
        StockAlert.objects.filter(pk__in=restocked).delete()
        for key in sorted(set(low) - set(latched)):
            try:
                with transaction.atomic():  # a worker that latched it first wins; we stay quiet
                    alert = StockAlert.objects.create(
                        user_id=user_id, material_type=key[0], color_hex=key[1]
                    )
            except IntegrityError:
                continue
            alert.event_id = events.publish(_stock_low_event(user_id, low[key], farm))
            alert.save(update_fields=["event_id", "updated_at"])
            announced.append(key)
    return announced


def _stock_low_event(user_id: int, row: dict[str, Any], farm: Any) -> events.MaterialStockLow:
    days_left = row["days_left"]
    return events.MaterialStockLow(
        user_id=user_id,
        material_type=row["material_type"],
        color_hex=row["color_hex"],
        on_hand_grams=str(row["on_hand_grams"]),
        planned_grams=str(row["planned_grams"]),
        days_left=str(days_left) if days_left is not None else None,
        spools_to_order=row["spools_to_order"],
        lead_days=farm.reorder_lead_days,
    )


def stock_alerts_check_all() -> int:
    """The periodic pass over every owner with filament on the farm, jobs to print, or a latched
    alert."""
    owners = (
        set(BambuMaterial.objects.values_list("user_id", flat=True).distinct())
        | set(ScheduledPrint.objects.unfinished().values_list("user_id", flat=True).distinct())
        | set(SpareSpool.objects.values_list("user_id", flat=True).distinct())
        | set(StockAlert.objects.values_list("user_id", flat=True).distinct())
    )
    return sum(len(stock_alerts_check(user_id=user_id)) for user_id in sorted(owners))

"""Why a job cannot be placed, in words a farm owner understands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scheduling.planner.model import FULL_SPOOL_GRAMS

if TYPE_CHECKING:
    from scheduling.planner.farm import Farm, PJob


def _models_text(models: frozenset[str] | None) -> str:
    if models is None:
        return "printer"
    names = sorted(models)
    if not names:
        return "printer model"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def material_text(j: PJob) -> str:
    return j.material + (f" in colour {j.color}" if j.color else "")


def _swap_text(j: PJob) -> str:
    if j.grams > FULL_SPOOL_GRAMS:
        return f"and a swap brings only a full {FULL_SPOOL_GRAMS:g} g spool"
    return "or can take a swap"


def static_reason(farm: Farm, j: PJob) -> str | None:
    """Why ``j`` can never be placed on this farm, or None."""
    models = farm.group_models[j.group]
    pinned = j.job.printer_id
    if pinned is not None:
        return _pinned_reason(farm, j, pinned, models)
    what = _models_text(models)
    if j.group not in farm.group_reasons:
        farm.group_reasons[j.group] = _group_reason(farm, j.group, models, what)
    if farm.group_reasons[j.group] is not None or j.req < 0:
        return farm.group_reasons[j.group]
    mask = farm.compat[j.group]
    loaded = farm.avail0[j.req][mask]
    if (loaded >= j.grams).any():
        return None
    if j.grams <= FULL_SPOOL_GRAMS and farm.swap_compat[j.group].any():
        return None
    if (loaded >= 0).any():
        return f"no online {what} has {j.grams:g} g of {material_text(j)} left {_swap_text(j)}"
    return f"no online {what} has {material_text(j)} loaded {_swap_text(j)}"


def _group_reason(farm: Farm, group: int, models: frozenset[str] | None, what: str) -> str | None:
    fits = [
        p
        for p in farm.instance.printers
        if models is None or (p.model or "").strip().upper() in models
    ]
    if not fits:
        return f"no {what} is in the farm"
    if not any(p.enabled for p in fits):
        return f"no {what} is enabled"
    if not any(p.enabled and p.online for p in fits):
        return f"no {what} is online"
    if not farm.compat[group].any():
        return f"no online {what} has working hours"
    return None


def _pinned_reason(farm: Farm, j: PJob, pinned: int, models: frozenset[str] | None) -> str | None:
    printer = farm.by_id.get(pinned)
    if printer is None:
        return f"it is pinned to printer {pinned}, which is not in the farm"
    if not printer.enabled:
        return f"its printer {pinned} is disabled"
    if not printer.online:
        return f"its printer {pinned} is offline"
    if pinned in farm.never_hours:
        return f"its printer {pinned} has no working hours"
    if models is not None and (printer.model or "").strip().upper() not in models:
        return f"its printer {pinned} is a {printer.model}; the job needs a {_models_text(models)}"
    i = j.pin
    if j.req < 0 or farm.avail0[j.req, i] >= j.grams:
        return None
    if j.grams <= FULL_SPOOL_GRAMS and farm.swap_ok[i]:
        return None
    cannot = (
        f"a swap brings only a full {FULL_SPOOL_GRAMS:g} g spool"
        if j.grams > FULL_SPOOL_GRAMS
        else "it cannot take a swap"
    )
    return f"its printer {pinned} has no {j.grams:g} g of {material_text(j)} loaded and {cannot}"


def ran_out_reason(farm: Farm, j: PJob) -> str:
    """A job that fitted at first but found no material left once earlier jobs took theirs."""
    if j.pin is not None:
        where = f"its printer {j.job.printer_id}"
    else:
        where = f"every online {_models_text(farm.group_models[j.group])} that holds it"
    return f"the {material_text(j)} on {where} is used up by earlier jobs and no swap can be made"

"""full_clean() asks about every CheckConstraint of a model in one query (ChecksInOneQuery) and
answers exactly as Django's own validation, one query per constraint, does."""

from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import F, Q
from django.test.utils import CaptureQueriesContext

from j3d.lib.constraints import ChecksInOneQuery
from j3d.tests.factories import make_job, make_material, make_order, make_printer, make_profile

pytestmark = pytest.mark.django_db


def checks_of(model: type[models.Model]) -> list[models.CheckConstraint]:
    return [c for c in model._meta.constraints if isinstance(c, models.CheckConstraint)]


MODELS = [model for model in apps.get_models() if len(checks_of(model)) >= 2]


def lookups(condition: Q) -> list[tuple[str, Any]]:
    found = []
    for child in condition.children:
        found += lookups(child) if isinstance(child, Q) else [child]
    return found


def present(model: type[models.Model], name: str) -> Any:
    """A value of the field's type (for a rule on whether it is set)."""
    field = model._meta.get_field(name)
    samples = {
        models.TimeField: time(22, 0),
        models.DateTimeField: datetime(2026, 1, 1, tzinfo=UTC),
        models.DecimalField: Decimal(1),
        models.IntegerField: 1,
        models.FloatField: 1.0,
    }
    return next(value for kind, value in samples.items() if isinstance(field, kind))


def probes(model: type[models.Model], condition: Q) -> list[tuple[str, Any]]:
    """(field, value) pairs on both sides of each bound the condition names."""
    values = []
    for lookup, bound in lookups(condition):
        field, _, kind = lookup.partition("__")
        if isinstance(bound, F):
            values += [(field, 10**9), (field, 0)]
        elif kind == "gte":
            values += [(field, bound - 1), (field, bound)]
        elif kind == "lte":
            values += [(field, bound + 1), (field, bound)]
        elif kind == "in":
            other = "not-a-choice" if isinstance(bound[0], str) else -999
            values += [(field, bound[0]), (field, other)]
        elif kind == "isnull":
            values += [(field, present(model, field)), (field, None)]
        else:
            values += [(field, bound)]
    return values


def outcome(validate: Any) -> Any:
    try:
        validate()
    except ValidationError as error:
        return sorted((k, [(e.code, e.messages) for e in v]) for k, v in error.error_dict.items())
    return "valid"


@pytest.mark.parametrize("model", MODELS, ids=[m._meta.label for m in MODELS])
def test_every_model_with_several_checks_asks_them_in_one_query(model):
    assert issubclass(model, ChecksInOneQuery)


@pytest.mark.parametrize("model", MODELS, ids=[m._meta.label for m in MODELS])
@pytest.mark.parametrize("exclude", [None, "first"])
def test_violations_and_passes_answer_as_djangos_own_validation(model, exclude):
    violated = set()
    for check in checks_of(model):
        for field, value in probes(model, check.condition):
            instance = model()
            setattr(instance, model._meta.get_field(field).attname, value)
            skip = {field} if exclude == "first" else None
            ours = outcome(lambda i=instance, s=skip: i.validate_constraints(exclude=s))
            djangos = outcome(lambda i=instance, s=skip: models.Model.validate_constraints(i, s))
            assert ours == djangos, (check.name, field, value)
            violated |= {c.name for c in checks_of(model) if c.name in str(ours)}
    if exclude is None:  # each check refused at least one probe: the comparison saw violations
        assert violated == {c.name for c in checks_of(model)}


def test_a_valid_row_costs_one_query_for_all_its_checks(owner):
    def queries(validate: Any) -> int:
        with CaptureQueriesContext(connection) as captured:
            validate()
        return len([q for q in captured if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))])

    printer = make_printer(owner)
    order = make_order(owner, items=[{"title": "Dragon"}])
    rows = [
        printer,
        make_material(printer, slot=1),
        make_profile(owner),
        order.items.get(),
        make_job(owner, printer, order=order),
    ]
    for row in rows:
        checks, others = (
            len(checks_of(type(row))),
            len(row._meta.constraints) - len(checks_of(type(row))),
        )
        assert checks >= 2
        ours = queries(row.validate_constraints)
        djangos = queries(lambda r=row: models.Model.validate_constraints(r))
        assert (ours, djangos) == (1 + others, checks + others), type(row)


def test_a_decimal_over_its_bound_is_refused_with_the_constraints_message():
    from orders.models import ProductProfile

    profile = ProductProfile(grams_per_unit=Decimal("10000.01"))
    with pytest.raises(ValidationError) as raised:
        profile.validate_constraints()
    assert "orders_productprofile_grams_range" in str(raised.value)

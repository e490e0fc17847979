"""Constraint helpers shared by the apps' models."""

from contextlib import nullcontext
from typing import Any

from django.core.exceptions import FieldError, ValidationError
from django.db import DatabaseError, connections, models, router, transaction
from django.db.models import BooleanField, Case, Value, When
from django.db.models.sql import Query
from django.db.models.sql.constants import SINGLE


class FieldUniqueConstraint(models.UniqueConstraint):
    """A UniqueConstraint whose violation ``full_clean()`` reports under its last field (the value
    a person typed, e.g. the serial of (user, serial)) rather than as a non-field error, so every
    door answers "400 naming the field" from the constraint itself, with no second check."""

    def validate(self, model: Any, instance: Any, exclude: Any = None, **kwargs: Any) -> None:
        try:
            super().validate(model, instance, exclude=exclude, **kwargs)
        except ValidationError as error:
            raise ValidationError({self.fields[-1]: error.messages}) from None


class ChecksInOneQuery:
    """Model mixin: ``full_clean()`` asks the database about all of the model's CheckConstraints
    in one query.

    Django 5.2 validates each CheckConstraint with a query of its own, in a savepoint of its own
    when a transaction is open: a product profile's save ran eight of each, a job's nine (4-7% of
    a saving request). Here one query tells which of them hold for the row's values; the others
    (violated, or not asked: a field excluded from the validation, a database error) are then
    validated by Django itself, one by one as before, so each rule keeps its one home (the
    constraint) and a violation its message, its code and its 400."""

    def validate_constraints(self, exclude: Any = None) -> None:
        # Model.validate_constraints, except that the checks found holding are not asked again.
        using = router.db_for_write(self.__class__, instance=self)
        errors: dict[str, Any] = {}
        for model_class, constraints in self.get_constraints():
            holding = _checks_holding(self, model_class, constraints, exclude, using)
            for constraint in constraints:
                if id(constraint) in holding:
                    continue
                try:
                    constraint.validate(model_class, self, exclude=exclude, using=using)
                except ValidationError as error:
                    if getattr(error, "code", None) == "unique" and len(constraint.fields) == 1:
                        errors.setdefault(constraint.fields[0], []).append(error)
                    else:
                        errors = error.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)


def _checks_holding(
    instance: models.Model, model: Any, constraints: list[Any], exclude: Any, using: str
) -> set[int]:
    """The ids of the plain CheckConstraints whose condition holds for `instance`'s values: one
    SELECT of a CASE per condition over the values (as CheckConstraint.validate builds them)."""
    checks = [c for c in constraints if type(c) is models.CheckConstraint]
    if len(checks) < 2:
        return set()
    query = Query(None)
    values = instance._get_field_expression_map(meta=model._meta, exclude=exclude)
    for name, value in values.items():
        if not hasattr(value, "resolve_expression"):
            value = Value(value)
        query.add_annotation(value, name, select=False)
    asked = {}
    for index, check in enumerate(checks):
        alias = f"_j3d_check_{index}"
        holds = Case(
            When(check.condition, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
        try:
            query.add_annotation(holds, alias)
        except FieldError:  # a field excluded from the validation: Django skips the constraint
            continue
        asked[alias] = check
    if not asked:
        return set()
    connection = connections[using]
    atomic = transaction.atomic(using=using) if connection.in_atomic_block else nullcontext()
    try:
        with atomic:
            row = query.get_compiler(using=using).execute_sql(SINGLE)
    except DatabaseError:
        return set()
    answers = dict(zip(query.annotation_select, row or (), strict=False))
    return {id(check) for alias, check in asked.items() if answers.get(alias)}

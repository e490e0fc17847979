"""Rows that belong to one shop owner through their `user` column."""

from typing import Any, Self

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import models


class OwnedQuerySet(models.QuerySet):
    def for_owner(self, user: Any) -> Self:
        """Only this owner's rows: every page and endpoint starts here."""
        return self.filter(user=user)


def validate_same_owner(instance: models.Model, owner_id: int | None, *fields: str) -> None:
    """Refuse (ValidationError naming each field) a link to a row of another shop owner.

    The model-level half of tenant isolation: the API answers another owner's id with a 404, and
    this keeps every other door (a service called directly, the admin, a task) from joining two
    owners' rows. Unset links, and links to rows that do not exist (the field's own validation
    reports those), are left alone; so is an instance whose owner is not known yet.
    """
    if owner_id is None:
        return
    errors = {}
    for name in fields:
        related = linked(instance, name)
        if related is not None and related.user_id != owner_id:
            errors[name] = f"This {related._meta.verbose_name} belongs to another shop owner."
    if errors:
        raise ValidationError(errors)


def linked(instance: models.Model, name: str) -> Any:
    """The row a foreign key `name` points to; None when unset or missing."""
    if getattr(instance, instance._meta.get_field(name).attname) is None:
        return None
    try:
        return getattr(instance, name)
    except ObjectDoesNotExist:
        return None

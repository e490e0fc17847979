"""Constraint helpers shared by the apps' models."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models


class FieldUniqueConstraint(models.UniqueConstraint):
    """A UniqueConstraint whose violation ``full_clean()`` reports under its last field (the value
    a person typed, e.g. the serial of (user, serial)) rather than as a non-field error, so every
    door answers "400 naming the field" from the constraint itself, with no second check."""

    def validate(self, model: Any, instance: Any, exclude: Any = None, **kwargs: Any) -> None:
        try:
            super().validate(model, instance, exclude=exclude, **kwargs)
        except ValidationError as error:
            raise ValidationError({self.fields[-1]: error.messages}) from None

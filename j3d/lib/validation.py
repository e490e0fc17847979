"""The one way a service writes a row a person described: set, validate, save."""

from typing import Any, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


def save_validated(instance: M, **changes: Any) -> M:
    """Apply `changes`, run the model's full_clean() (fields, clean(), constraints: where every rule
    lives) and save. A ValidationError names the field and leaves the row unsaved."""
    for name, value in changes.items():
        setattr(instance, name, value)
    instance.full_clean()
    instance.save()
    return instance

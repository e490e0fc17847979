"""Rows that belong to one shop owner through their `user` column."""

from typing import Any, Self

from django.db import models


class OwnedQuerySet(models.QuerySet):
    def for_owner(self, user: Any) -> Self:
        """Only this owner's rows: every page and endpoint starts here."""
        return self.filter(user=user)

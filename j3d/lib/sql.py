"""SQL expressions Django does not ship, written once per database J3D runs on."""

from __future__ import annotations

from typing import Any

from django.db.models import BigIntegerField, Func


class EpochMillis(Func):
    """A timestamp as whole milliseconds since 1970-01-01 UTC, computed by the database.

    Reading thousands of timestamps as integers skips parsing each one into an aware datetime
    (on SQLite a text parse per value), which is most of the cost of splitting attempts into days.
    SQLite's julianday() keeps milliseconds; PostgreSQL's epoch keeps microseconds, rounded here.
    """

    arity = 1
    output_field = BigIntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "CAST(ROUND((julianday(%(expressions)s) - 2440587.5) * 86400000.0) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "CAST(ROUND(EXTRACT(EPOCH FROM %(expressions)s) * 1000) AS BIGINT)"
        return self.as_sql(compiler, connection, template=template, **extra)

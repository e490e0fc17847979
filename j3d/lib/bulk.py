"""Inserting many new rows of one model on SQLite: one multi-row INSERT per batch, each value
prepared once (other databases: ``bulk_create``).

Why not ``QuerySet.bulk_create``: on a page of the Etsy sync (100 orders and ~200 items, 17 to 29
columns) Django's insert compiler spends some 6 µs on every value (expression checks, ``pre_save``,
placeholders assembled one by one), which was over half of the sync's CPU. Here the conversion of
each column is chosen once per call: columns of Django's own text, integer, boolean and foreign-key
fields take the value as the caller built it (so the caller must build them with the right Python
type, as a model's typed constructor would), every other field goes through
``field.get_db_prep_save`` exactly as Django does (dates, decimals, JSON, custom and encrypted
fields). Like ``bulk_create``: no ``save()``, no signals; ``auto_now``/``auto_now_add`` fields are
set; the new primary keys are set on the objects.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, models
from django.utils import timezone

# Exact classes only: a subclass (an encrypted text field, say) may convert its value.
PLAIN_FIELDS = frozenset(
    {
        models.CharField,
        models.TextField,
        models.EmailField,
        models.SlugField,
        models.IntegerField,
        models.BigIntegerField,
        models.SmallIntegerField,
        models.PositiveIntegerField,
        models.PositiveBigIntegerField,
        models.PositiveSmallIntegerField,
        models.BooleanField,
        models.ForeignKey,
    }
)


def insert_new(objs: Sequence[models.Model], *, using: str = "default") -> None:
    """INSERT ``objs`` (unsaved, no primary key, all of one model) and set their primary keys."""
    if not objs:
        return
    model = type(objs[0])
    meta, connection = model._meta, connections[using]
    saved = next((obj for obj in objs if obj.pk is not None), None)
    if saved is not None:
        raise ValueError(f"{saved!r} already has a primary key.")
    if connection.vendor != "sqlite" or not connection.features.can_return_rows_from_bulk_insert:
        # On PostgreSQL, bulk_create already sends one array per column (INSERT ... UNNEST),
        # measured faster than this multi-row VALUES, whose every value the client quotes.
        model._default_manager.db_manager(using).bulk_create(objs)
        return
    fields = [f for f in meta.concrete_fields if f is not meta.pk]
    now = timezone.now()
    # As pre_save(add=True) does: both kinds of automatic timestamps are "now" on insert.
    stamped = [
        f.attname
        for f in fields
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    converters = [None if type(f) in PLAIN_FIELDS else f.get_db_prep_save for f in fields]
    attnames = [f.attname for f in fields]
    # Every row's timestamps are this one "now": converted once, not once per row.
    constants = {
        index: f.get_db_prep_save(now, connection)
        for index, f in enumerate(fields)
        if f.attname in stamped
    }
    quote = connection.ops.quote_name
    head = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) VALUES "
    )
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    per_batch = max(1, (connection.features.max_query_params or 10000) // len(fields))
    per_batch = min(per_batch, 1000)
    with connection.cursor() as cursor:
        for start in range(0, len(objs), per_batch):
            batch = objs[start : start + per_batch]
            params: list[object] = []
            for obj in batch:
                for attname in stamped:
                    setattr(obj, attname, now)
                for index, (attname, convert) in enumerate(zip(attnames, converters, strict=True)):
                    if index in constants:
                        params.append(constants[index])
                    elif convert is None:
                        params.append(getattr(obj, attname))
                    else:
                        params.append(convert(getattr(obj, attname), connection))
            sql = f"{head}{', '.join([row_sql] * len(batch))} RETURNING {quote(meta.pk.column)}"
            cursor.execute(sql, params)
            # Keys are drawn in the order the rows are inserted, which is the VALUES order;
            # RETURNING itself promises no order (SQLite's docs say so), so sort them.
            keys = sorted(row[0] for row in cursor.fetchall())
            for obj, key in zip(batch, keys, strict=True):
                obj.pk = key
                obj._state.adding, obj._state.db = False, using

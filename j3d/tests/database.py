"""The test database, migrated once and copied: each xdist worker (and a single-process run) gets
a copy of a migrated template instead of running the ~40 migrations itself.

The template is kept between runs and rebuilt when anything that shapes the migrated schema
changes: the migration files of every installed app, the Django version, the database engine and
the cache tables. It is built by the first process that needs it, under a file lock; the others
wait for it, then copy it (SQLite: the backup API, which also takes what still sits in the WAL;
PostgreSQL: ``CREATE DATABASE ... TEMPLATE``). ``--create-db`` rebuilds it.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import django
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader

TEMPLATE_SUFFIX = "_template"
# Bump when this module changes what a template holds.
TEMPLATE_FORMAT = "1"


def schema_key() -> str:
    """A digest of everything the migrated schema depends on."""
    digest = hashlib.sha256()
    db = connection.settings_dict
    for part in (TEMPLATE_FORMAT, django.__version__, db["ENGINE"], repr(settings.CACHES)):
        digest.update(part.encode() + b"\0")
    for app in sorted(apps.get_app_configs(), key=lambda app: app.label):
        module, _ = MigrationLoader.migrations_module(app.label)
        spec = importlib.util.find_spec(module) if module else None
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            for path in sorted(Path(location).glob("*.py")):
                digest.update(f"{app.label}/{path.name}\0".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


@contextmanager
def _locked(template: str) -> Iterator[None]:
    """One process at a time builds or copies this template (another worktree's is another)."""
    db = connection.settings_dict
    identity = f"{db['ENGINE']} {db.get('HOST')} {db.get('PORT')} {template}"
    name = hashlib.sha256(identity.encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"j3d-test-template-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _sqlite_files(name: str) -> list[Path]:
    return [Path(name + suffix) for suffix in ("", "-wal", "-shm", "-journal")]


class _Sqlite:
    @staticmethod
    def key_of(template: str) -> str | None:
        if not Path(template).exists():
            return None
        with closing(sqlite3.connect(template)) as db:
            # A table in the template would be copied into every test database; a key file
            # beside it could outlive a half-written template.
            key = db.execute("PRAGMA application_id").fetchone()[0]
        return str(key) if key else None

    @staticmethod
    def short(key: str) -> str:
        return str(int(key[:7], 16) or 1)  # application_id is a 32-bit integer

    @classmethod
    def mark(cls, template: str, key: str) -> None:
        with closing(sqlite3.connect(template)) as db:
            db.execute(f"PRAGMA application_id = {cls.short(key)}")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @staticmethod
    def drop(name: str) -> None:
        for path in _sqlite_files(name):
            path.unlink(missing_ok=True)

    @classmethod
    def copy(cls, template: str, target: str) -> None:
        cls.drop(target)
        source, copy = sqlite3.connect(template), sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()


class _Postgres:
    @staticmethod
    def key_of(template: str) -> str | None:
        with connection.creation._nodb_cursor() as cursor:
            cursor.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                [template],
            )
            row = cursor.fetchone()
        return row[0] if row else None

    @staticmethod
    def short(key: str) -> str:
        return key

    @staticmethod
    def mark(template: str, key: str) -> None:
        with connection.creation._nodb_cursor() as cursor:
            cursor.execute(
                f"COMMENT ON DATABASE {connection.ops.quote_name(template)} IS %s", [key]
            )

    @staticmethod
    def drop(name: str) -> None:
        # FORCE: a test's threads may still hold connections (CONN_MAX_AGE keeps them open).
        with connection.creation._nodb_cursor() as cursor:
            cursor.execute(
                f"DROP DATABASE IF EXISTS {connection.ops.quote_name(name)} WITH (FORCE)"
            )

    @classmethod
    def copy(cls, template: str, target: str) -> None:
        cls.drop(target)
        quote = connection.ops.quote_name
        with connection.creation._nodb_cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {quote(target)} TEMPLATE {quote(template)}")


def _backend() -> Any:
    return _Sqlite if connection.vendor == "sqlite" else _Postgres


def _build_template(template: str, key: str) -> None:
    """Migrate a fresh database named ``template`` (Django's own test-database creation)."""
    db = connection.settings_dict
    test_name, original_name = db["TEST"].get("NAME"), db["NAME"]
    db["TEST"]["NAME"] = template
    _backend().drop(template)  # a stale WAL file must not meet a new database file
    try:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    finally:
        connection.close()
        db["TEST"]["NAME"], db["NAME"] = test_name, original_name
        settings.DATABASES[connection.alias]["NAME"] = original_name
    _backend().mark(template, key)


def setup_test_database(*, rebuild: bool) -> tuple[str, str]:
    """Point the connection at a fresh copy of the migrated template, one per xdist worker;
    returns (the test database's name, the name to restore at teardown)."""
    db = connection.settings_dict
    base = connection.creation._get_test_db_name()
    if connection.vendor == "sqlite" and connection.creation.is_in_memory_db(base):
        raise RuntimeError("the test database must be a file that other processes can open")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    target = f"{base}_{worker}" if worker else base
    template = base + TEMPLATE_SUFFIX
    backend = _backend()
    key = schema_key()
    with _locked(template):
        if rebuild or backend.key_of(template) != backend.short(key):
            _build_template(template, key)
        backend.copy(template, target)
    original = db["NAME"]
    connection.close()
    db["NAME"] = target
    settings.DATABASES[connection.alias]["NAME"] = target
    return target, original


def teardown_test_database(target: str, original: str) -> None:
    connection.close()
    _backend().drop(target)
    connection.settings_dict["NAME"] = original
    settings.DATABASES[connection.alias]["NAME"] = original

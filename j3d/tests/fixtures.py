"""Fixtures shared by every app's tests: two shop owners, so each endpoint has an isolation test.

Loaded as a pytest plugin (`-p j3d.tests.fixtures` in .pytest.ini) rather than a top-level
conftest.py. Plugins load before pytest-django sets Django up, so Django imports wait for the
fixtures that need them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.auth import get_user_model

if TYPE_CHECKING:
    from rest_framework.test import APIClient


# The longest tests (schemathesis: a few thousand requests) start first, so the xdist workers
# share out the rest around them instead of one of them ending the run alone.
LONGEST_FIRST = ("j3d/tests/test_schemathesis.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """After pytest-django's order (database tests first, then transactional ones, then the rest),
    which a test at the front of the database group keeps."""
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in LONGEST_FIRST)


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """A long bytes parameter (a zip built at import: its entries carry the time) is named by its
    size, not its bytes: each xdist worker collects the tests anew and must get the same ids."""
    if isinstance(val, bytes) and len(val) > 40:
        return f"{len(val)}-bytes"
    return None


class TemplateDatabase:
    """pytest-django's django_db_setup, except that each process copies a migrated template (kept
    between runs) rather than migrating its own test database: j3d/tests/database.py."""

    @pytest.fixture(scope="session")
    def django_db_setup(
        self, django_test_environment: None, django_db_blocker: Any, django_db_createdb: bool
    ) -> Iterator[None]:
        from j3d.tests.database import setup_test_database, teardown_test_database

        with django_db_blocker.unblock():
            names = setup_test_database(rebuild=django_db_createdb)
        yield
        with django_db_blocker.unblock():
            teardown_test_database(*names)


# The cyclic garbage collector took a sixth of each worker's CPU (~6-10 s a worker). Most of it was
# full collections walking the heap the imports and the collected test items built, which lives
# until the process exits, and young collections every 700 allocations promoting the many
# short-lived objects of a request or a hypothesis example to older generations.
GC_YOUNG_THRESHOLD = 10_000


def pytest_configure(config: pytest.Config) -> None:
    # Registered after pytest-django's plugin (this one loads before it), so this fixture wins.
    config.pluginmanager.register(TemplateDatabase(), "j3d-template-database")
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move what the imports and the collection built out of the collector's sight: nearly all
    of it lives until the process exits, and each full collection walked all of it again. What
    a test creates is collected as before (cycles included); a frozen object a test drops stays
    in memory, which costs a little memory and nothing else."""
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    """The production hasher takes ~0.3 s per user; tests create two users each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _events_handled_inline(settings) -> None:
    """Published events are handled at commit in the publishing thread (q2's sync mode for the
    events task), so tests see their effects deterministically; tests of the real cluster path
    turn this off (j3d/tests/test_events_cluster.py)."""
    settings.EVENTS_SYNC = True
    settings.NOTIFICATIONS_SYNC = True


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_user("owner", "owner@example.com", "owner-pass-1")


@pytest.fixture
def other_owner(db):
    return get_user_model().objects.create_user("other", "other@example.com", "other-pass-1")


def _client_for(user) -> APIClient:
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    client = APIClient()
    token = RefreshToken.for_user(user).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def api(owner) -> APIClient:
    """An API client logged in (JWT) as `owner`."""
    return _client_for(owner)


@pytest.fixture
def other_api(other_owner) -> APIClient:
    """An API client logged in (JWT) as `other_owner`."""
    return _client_for(other_owner)


@pytest.fixture
def anonymous_api() -> APIClient:
    from rest_framework.test import APIClient

    return APIClient()

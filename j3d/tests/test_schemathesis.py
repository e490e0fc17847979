"""Schemathesis over every operation of /api/schema/: no 5xx, every answer as documented.

Runs in-process over WSGI as an owner who has one of everything, beside a second owner with the
same; positive and negative data, every check (server errors, schema conformance, documented
status codes and content types, ...). Examples per operation are few so the whole run stays
within about a minute on a 2-core machine; a failure prints the request that reproduces it. The
seed is fixed (SCHEMATHESIS_SEED), so the suite and CI answer the same for the same code;
SCHEMATHESIS_SEED=random explores anew on each run, which is how to hunt (and then fix) more.

Schemathesis's coverage phase (boundary values, each field of the wrong type, missing or extra,
unexpected methods and content types) is systematic and unbounded: about 5,000 requests, two thirds
of the suite's CPU time. Each run sends every operation's first positive and first negative
coverage case and a random share of the others (SCHEMATHESIS_COVERAGE_SHARE, default 0.3; 1 sends
them all), so every operation is covered both ways on every run and every case on some run.
"""

import json
import os
import random
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.generation.meta import TestPhase

from j3d.tests.factories import make_job, make_material, make_order, make_printer, make_profile
from j3d.wsgi import application
from notifications.models import PrintNotification

# ~30 s each on an idle 2-core machine; the suite's 120 s per test is too tight under load.
pytestmark = [pytest.mark.django_db, pytest.mark.timeout(600)]

# Few examples keep the run near half a minute; SCHEMATHESIS_EXAMPLES=200 hunts longer.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "8"))
STATEFUL_EXAMPLES = int(os.environ.get("SCHEMATHESIS_STATEFUL_EXAMPLES", "10"))
COVERAGE_SHARE = float(os.environ.get("SCHEMATHESIS_COVERAGE_SHARE", "0.3"))
_SEED = os.environ.get("SCHEMATHESIS_SEED", "20261129")
SEED = None if _SEED == "random" else int(_SEED)
NO_POSITIVE_CHECK = {"checks": {"positive_data_acceptance": {"enabled": False}}}
CONFIG = {
    "generation": {"mode": "all", "max-examples": EXAMPLES, "database": "none"},
    "suppress-health-check": ["all"],
    "operations": [
        # A LAN printer needs its host and access code, a cloud one its uid and token, also after
        # a partial update: rules across fields and the stored row that OpenAPI cannot state, so
        # schema-valid bodies are refused with a 400 naming the field.
        {"include-path-regex": "^/api/printers/", "include-method-regex": "POST|PUT|PATCH",
         **NO_POSITIVE_CHECK},
        # An analytics range has its first day on or before its last and spans at most ten
        # years: a rule across two query parameters.
        {"include-path-regex": "^/api/analytics/", **NO_POSITIVE_CHECK},
        # The integration guide's overloaded paths: {id} is a printer for GET and POST, a
        # material or job for PUT and DELETE, so "DELETE then GET the same path" reads another
        # object; the stateful checks that assume one resource per path do not apply.
        {"include-path-regex": r"^/api/bambu/(materials|scheduled-prints)/\{id\}/$",
         "checks": {"use_after_free": {"enabled": False},
                    "ensure_resource_availability": {"enabled": False}}},
        # The test's owners have connected no Etsy shop: every sync answers "not connected" (400).
        {"include-path": "/api/etsy/sync-orders/", **NO_POSITIVE_CHECK},
        # `printer` must be one of the caller's and `until` later than `since`: rules across
        # values and rows that OpenAPI cannot state, refused with a 400 naming the parameter.
        {"include-path": "/api/events/", **NO_POSITIVE_CHECK},
    ],
}  # fmt: skip
if SEED is not None:
    CONFIG["seed"] = SEED


def own_world(user: Any) -> dict[str, int]:
    printer = make_printer(user)
    material = make_material(printer, slot=1)
    order = make_order(user, items=[{"title": "Dragon"}, {"title": "Keychain"}])
    make_profile(user)
    job = make_job(user, printer, order=order)
    PrintNotification.objects.create(user=user, printer=printer)
    return {"printer": printer.id, "material": material.id, "order": order.id, "job": job.id}


def openapi_document() -> dict[str, Any]:
    """The document /api/schema/ serves, generated without an HTTP round trip."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    """Requests run inside the test's transaction: the WSGI handler must not close the connection
    at each request's start and end (Django's test client unhooks the same handler)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


class RememberedLookups:
    """A schema's config whose per-operation lookups are computed once.

    Schemathesis merges an operation's config with the project's anew at each lookup, several
    per generated case and per check run (~5% of this file's CPU). Nothing changes the config
    during a test, so each answer is kept per operation and phase."""

    def __init__(self, config: Any) -> None:
        self._config = config
        self._answers: dict[tuple[str, str | None, str | None], Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._config, name)

    def _answer(self, lookup: str, operation: Any, **phase: str | None) -> Any:
        key = (lookup, operation.label if operation is not None else None, phase.get("phase"))
        if key not in self._answers:
            self._answers[key] = getattr(self._config, lookup)(operation=operation, **phase)
        return self._answers[key]

    def phases_for(self, *, operation: Any) -> Any:
        return self._answer("phases_for", operation)

    def generation_for(self, *, operation: Any = None, phase: str | None = None) -> Any:
        return self._answer("generation_for", operation, phase=phase)

    def checks_config_for(self, *, operation: Any = None, phase: str | None = None) -> Any:
        return self._answer("checks_config_for", operation, phase=phase)


def load_schema(owner: Any, other_owner: Any, mode: str) -> schemathesis.BaseSchema:
    """The schema, authenticated (as schemathesis knows it, so its auth checks can strip or spoil
    it) with a JWT of `owner`; both owners have one of everything."""
    own_world(owner)
    own_world(other_owner)
    token = str(RefreshToken.for_user(owner).access_token)
    config = {
        **CONFIG,
        "generation": {**CONFIG["generation"], "mode": mode},
        "auth": {"openapi": {"jwtAuth": {"bearer": token}}},
    }
    schema = schemathesis.openapi.from_dict(
        openapi_document(), config=schemathesis.Config.from_dict(config)
    )
    schema.app = application
    schema.config = RememberedLookups(schema.config)
    # The share of coverage cases is drawn as they are generated: a case left out never becomes
    # one of hypothesis's explicit examples (each costs a run of the test with reseeding).
    schema.hooks.register_hook_with_name(
        lambda _context, case: coverage_sample.sends(case), "filter_case"
    )
    return schema


@pytest.fixture
def api_schema(owner, other_owner, keep_test_connection) -> schemathesis.BaseSchema:
    return load_schema(owner, other_owner, "all")


schema = schemathesis.pytest.from_fixture("api_schema")


class CoverageSample:
    """Which coverage cases a run sends: each operation's first of each mode, then a random share.

    Its own generator: hypothesis reseeds the global one before every example, which would pick
    the same cases on every run."""

    def __init__(self, share: float) -> None:
        self.share = share
        self.random = random.Random(SEED)
        self.seen: set[tuple[str, str]] = set()

    def sends(self, case: schemathesis.Case) -> bool:
        meta = case.meta
        if meta is None or meta.phase.name != TestPhase.COVERAGE:
            return True
        key = (case.operation.label, meta.generation.mode)
        if key not in self.seen:
            self.seen.add(key)
            return True
        return self.random.random() < self.share


coverage_sample = CoverageSample(COVERAGE_SHARE)


@schema.parametrize()
def test_every_operation_answers_as_documented(case):
    case.call_and_validate()


def test_stateful_sequences_answer_as_documented(owner, other_owner, keep_test_connection):
    """Chains of calls linked by the ids they return (create, then read, change, delete it).

    Positive data only: in a multipart body (a profile's file upload) every value is text, so
    schemathesis's negative mutations there often are no violation at all.
    """
    schema = load_schema(owner, other_owner, "positive")

    class Workflow(schema.as_state_machine()):
        """Each run starts from the same rows: hypothesis replays runs, and a run that saw other
        rows (left by the run before) would draw differently, which it reports as flaky."""

        def setup(self) -> None:
            self.savepoint = transaction.savepoint()

        def teardown(self) -> None:
            transaction.savepoint_rollback(self.savepoint)

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            database=None,
            derandomize=SEED is not None,
        )
    )

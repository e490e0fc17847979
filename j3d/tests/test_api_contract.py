"""The REST contract across every endpoint: auth, slashes, bad and hostile input, isolation, schema.

Endpoint tables here name paths with placeholders ({printer}, {material}, {job}, {order},
{profile}) filled from the rows of the owner whose objects a test is about.
"""

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.test import APIClient

from j3d.tests.factories import make_job, make_material, make_order, make_printer, make_profile
from notifications.models import PrintNotification
from orders.models import Order, OrderItem, ProductProfile
from printers.models import BambuMaterial, Printer, PrinterStatus
from scheduling.models import ScheduledPrint

pytestmark = pytest.mark.django_db

METHODS = ["get", "post", "put", "patch", "delete"]
# Answer without credentials by design: obtaining a token, and the API description.
PUBLIC_ROUTES = {"token", "token-refresh", "schema", "docs"}


def world(user: Any) -> dict[str, int]:
    """One of each object for `user`; returns the placeholder ids."""
    printer = make_printer(user)
    material = make_material(printer, slot=1)
    order = make_order(user, items=[{"title": "Dragon"}, {"title": "Keychain"}])
    profile = make_profile(user)
    job = make_job(user, printer, order=order)
    PrintNotification.objects.create(user=user, printer=printer)
    return {
        "printer": printer.id,
        "material": material.id,
        "order": order.id,
        "profile": profile.id,
        "job": job.id,
    }


@pytest.fixture
def mine(owner) -> dict[str, int]:
    return world(owner)


@pytest.fixture
def theirs(other_owner) -> dict[str, int]:
    return world(other_owner)


def send(client: APIClient, method: str, path: str, body: Any = None) -> Any:
    if body is None or method == "get":
        return getattr(client, method)(path)
    return getattr(client, method)(path, json.dumps(body), content_type="application/json")


# -- Authentication -----------------------------------------------------------------------------


def api_routes() -> Iterator[tuple[str, URLPattern]]:
    """(regex or route, pattern) of every URL under /api/, walked from the root resolver."""

    def walk(patterns: list, prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern

    return ((r, p) for r, p in walk(get_resolver().url_patterns, "") if r.startswith("api/"))


def example_path(route: str) -> str:
    """A concrete path matching a route: ids become 1, formats json, optional slashes '/'."""
    path = route.replace("^", "").replace("$", "")
    path = re.sub(r"(/\?)?\\\.\(\?P<format>[^)]*\)", ".json", path)
    path = path.replace("<drf_format_suffix:format>", ".json").replace("/?", "/")
    return "/" + re.sub(r"\(\?P<\w+>[^)]*\)", "1", path)


def test_every_api_route_answers_401_without_a_token(anonymous_api):
    checked = []
    for route, pattern in api_routes():
        path = example_path(route)
        assert resolve(path).func == pattern.callback, f"{route} -> {path} resolves elsewhere"
        if pattern.name in PUBLIC_ROUTES:
            continue
        for method in METHODS:
            response = getattr(anonymous_api, method)(path)
            assert response.status_code == 401, f"{method.upper()} {path}: {response.status_code}"
            assert response["WWW-Authenticate"].startswith("Bearer")
            checked.append((method, path))

    assert len({path for _, path in checked}) > 10


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("post", "/api/auth/token/", 400),
        ("post", "/api/auth/token/refresh/", 400),
        ("get", "/api/schema/", 200),
        ("get", "/api/docs/", 200),
    ],
)
def test_public_routes_answer_without_a_token(anonymous_api, method, path, status):
    assert {pattern.name for _, pattern in api_routes()} >= PUBLIC_ROUTES

    assert getattr(anonymous_api, method)(path).status_code == status


def test_token_obtain_refresh_and_use(anonymous_api, owner):
    tokens = anonymous_api.post(
        "/api/auth/token/", {"username": "owner", "password": "owner-pass-1"}, format="json"
    )
    assert tokens.status_code == 200
    assert {"access", "refresh"} <= tokens.json().keys()

    refreshed = anonymous_api.post(
        "/api/auth/token/refresh", {"refresh": tokens.json()["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200
    anonymous_api.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    assert anonymous_api.get("/api/printers/").status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/token/", {"username": "owner", "password": "wrong"}),
        ("/api/auth/token/refresh/", {"refresh": "not-a-token"}),
    ],
)
def test_bad_credentials_are_401(anonymous_api, owner, path, body):
    assert anonymous_api.post(path, body, format="json").status_code == 401


def test_garbage_bearer_token_is_401(anonymous_api):
    anonymous_api.credentials(HTTP_AUTHORIZATION="Bearer abc.def.ghi")

    assert anonymous_api.get("/api/printers/").status_code == 401


# -- Trailing slashes ---------------------------------------------------------------------------

GET_PATHS = [
    "/api/printers",
    "/api/printers/{printer}",
    "/api/orders",
    "/api/orders/{order}",
    "/api/product-profiles",
    "/api/product-profiles/{profile}",
    "/api/bambu/materials/{printer}",
    "/api/bambu/notifications/{printer}",
    "/api/bambu/scheduled-prints/{printer}",
    "/api/bambu/scheduled-prints/{printer}/queue",
    "/api/schema",
    "/api/docs",
]


@pytest.mark.parametrize("path", GET_PATHS)
@pytest.mark.parametrize("slash", ["", "/"])
def test_get_paths_answer_with_and_without_trailing_slash(api, mine, path, slash):
    response = api.get(path.format(**mine) + slash)

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/bambu/scheduled-prints", {"printer_id": "{printer}", "job_name": "x"}),
        ("/api/product-profiles", {"name": "p"}),
        ("/api/bambu/materials/{printer}", {"slot": 9, "material_type": "PLA"}),
        ("/api/orders", {"order_number": "7", "items": [{"title": "A"}]}),
    ],
)
@pytest.mark.parametrize("slash", ["", "/"])
def test_post_paths_answer_with_and_without_trailing_slash(api, mine, path, body, slash):
    response = send(api, "post", fill(path, mine) + slash, fill(body, mine))

    assert response.status_code == 201, response.content


# -- Bad input: 400 naming the field ------------------------------------------------------------

MATERIAL = "/api/bambu/materials/{material}"
JOBS = "/api/bambu/scheduled-prints"
JOB = "/api/bambu/scheduled-prints/{job}"

BAD_INPUT = [
    ("post", "/api/bambu/materials/{printer}", {"slot": 16, "material_type": "PLA"}, "slot"),
    ("post", "/api/bambu/materials/{printer}", {"slot": 9, "material_type": "PLA",
     "remaining_pct": 101}, "remaining_pct"),
    ("post", "/api/bambu/materials/{printer}", {"slot": 9, "material_type": "PLA",
     "weight_grams": -1}, "weight_grams"),
    ("post", "/api/bambu/materials/{printer}", {"slot": 9, "material_type": "PLA",
     "cost_per_kg": -1}, "cost_per_kg"),
    ("put", MATERIAL, {"slot": 253}, "slot"),
    ("put", MATERIAL, {"remaining_pct": -1}, "remaining_pct"),
    ("put", MATERIAL, {"loaded_at": "not a date"}, "loaded_at"),
    ("put", "/api/bambu/notifications/{printer}", {"webhook_url": "ftp://x.example"},
     "webhook_url"),
    ("post", JOBS, {"printer_id": "{printer}", "job_name": "x", "nozzle_temp": 351},
     "nozzle_temp"),
    ("post", JOBS, {"printer_id": "{printer}", "job_name": "x", "bed_temp": 121}, "bed_temp"),
    ("post", JOBS, {"printer_id": "{printer}", "job_name": "x", "print_speed": 0}, "print_speed"),
    ("post", JOBS, {"printer_id": "{printer}", "job_name": "x", "estimated_duration_minutes": 0},
     "estimated_duration_minutes"),
    ("post", JOBS, {"printer_id": "{printer}", "job_name": "x", "status": "paused"}, "status"),
    ("post", JOBS, {"printer_id": "{printer}", "job_name": "x", "scheduled_start": "tomorrow"},
     "scheduled_start"),
    ("post", JOBS, {"printer_id": "{printer}", "job_name": "x", "material_slot": 200},
     "material_slot"),
    ("post", JOBS, {"printer_id": "{printer}", "job_name": None}, "job_name"),
    # No printer_id is the farm pool (issue #8); one that is neither an id nor "auto" is a 400.
    ("post", JOBS, {"printer_id": "anywhere", "job_name": "x"}, "printer_id"),
    ("put", JOB, {"status": "paused"}, "status"),
    ("put", JOB, {"scheduled_start": "2030-13-45T25:00:00Z"}, "scheduled_start"),
    ("put", JOB, {"nozzle_temp": -1}, "nozzle_temp"),
    ("get", "/api/bambu/scheduled-prints/{printer}?status=paused", None, "status"),
    ("post", "/api/orders/{order}/schedule-prints", {"printer_id": "{printer}",
     "start_offset_minutes": -1}, "start_offset_minutes"),
    ("post", "/api/orders/{order}/schedule-prints", {"printer_id": "abc"}, "printer_id"),
    ("post", "/api/printers/", {"name": "P", "model": "X1C", "serial": "S1", "host": "h",
     "access_code": "1", "mqtt_port": 0}, "mqtt_port"),
    ("post", "/api/printers/", {"name": "P", "model": "X1C", "serial": "S1", "access_code": "1"},
     "host"),
    ("patch", "/api/printers/{printer}/", {"model": "X9"}, "model"),
    ("post", "/api/orders/", {"order_number": "1", "items": []}, "items"),
    ("post", "/api/orders/", {"order_number": "1", "items": [{"title": "A"}],
     "total_amount": -1}, "total_amount"),
    ("get", "/api/orders/?status=lost", None, "status"),
    ("post", "/api/product-profiles/", {"name": "P", "nozzle_temp": 351}, "nozzle_temp"),
    ("post", "/api/product-profiles/", {"name": "P", "bed_temp": 121}, "bed_temp"),
    ("post", "/api/product-profiles/", {"name": "P", "print_speed": 0}, "print_speed"),
    ("post", "/api/product-profiles/", {"name": "P", "estimated_duration_minutes": 0},
     "estimated_duration_minutes"),
    ("patch", "/api/product-profiles/{profile}/", {"nozzle_temp": -5}, "nozzle_temp"),
    ("post", "/api/auth/token/", {"username": "owner"}, "password"),
]  # fmt: skip


def fill(value: Any, ids: dict[str, int]) -> Any:
    """Placeholders in a path or body replaced by ids (whole-string placeholders become ints)."""
    if isinstance(value, dict):
        return {key: fill(item, ids) for key, item in value.items()}
    if isinstance(value, str) and re.fullmatch(r"\{\w+\}", value):
        return ids[value[1:-1]]
    if isinstance(value, str):
        return value.format(**ids)
    return value


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    BAD_INPUT,
    ids=[f"{m}-{p.split('{')[0]}-{f}" for m, p, _, f in BAD_INPUT],
)
def test_bad_input_is_400_naming_the_field(api, mine, method, path, body, field):
    response = send(api, method, fill(path, mine), fill(body, mine))

    assert response.status_code == 400, response.content
    assert field in response.json()


BODY_ENDPOINTS = [
    ("post", "/api/bambu/materials/{printer}"),
    ("put", MATERIAL),
    ("put", "/api/bambu/notifications/{printer}"),
    ("post", JOBS),
    ("put", JOB),
    ("post", "/api/orders/{order}/schedule-prints"),
    ("post", "/api/printers/"),
    ("patch", "/api/printers/{printer}/"),
    ("post", "/api/orders/"),
    ("post", "/api/product-profiles/"),
    ("put", "/api/product-profiles/{profile}/"),
    ("post", "/api/auth/token/"),
]


@pytest.mark.parametrize(("method", "path"), BODY_ENDPOINTS)
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"slot": 1,', "application/json"),
        ("{'slot': 1}", "application/json"),
        ("NaN", "application/json"),
        ("slot=1", "text/plain"),
        ("<slot>1</slot>", "application/xml"),
        ('{"notes": "\\ud800"}', "application/json"),
    ],
    ids=["truncated-json", "python-dict", "nan", "text-plain", "xml", "lone-surrogate"],
)
def test_non_json_body_is_400(api, mine, method, path, body, content_type):
    response = getattr(api, method)(fill(path, mine), body, content_type=content_type)

    assert response.status_code == 400
    assert "detail" in response.json()


DEEP_BODIES = {
    "5000-arrays": "[" * 5000 + "]" * 5000,
    "5000-objects": '{"a":' * 5000 + "1" + "}" * 5000,
    "33-levels-in-a-field": '{"notes": ' + "[" * 33 + "]" * 33 + "}",
}
JSON_BODY_ENDPOINTS = [
    *BODY_ENDPOINTS,
    ("post", "/api/auth/token/refresh/"),
    ("post", "/api/printers/{printer}/commands"),
    ("post", "/api/printers/{printer}/print"),
]


@pytest.mark.parametrize(("method", "path"), JSON_BODY_ENDPOINTS)
@pytest.mark.parametrize("body", DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
def test_deeply_nested_json_is_400(api, mine, method, path, body):
    """Regression: the decoder's RecursionError was a 500, also on the unauthenticated token URL."""
    response = raw_client(api).generic(
        method.upper(), fill(path, mine), body, content_type="application/json"
    )

    assert response.status_code == 400
    assert "nest deeper than 32 levels" in response.json()["detail"]


def test_json_nested_32_levels_is_accepted(api, mine):
    variations: list = ["red"]
    for _ in range(32 - 4):  # the body, items, an item and variations make four levels
        variations = [variations]
    body = {"order_number": "9", "items": [{"title": "A", "variations": variations}]}

    response = send(api, "post", "/api/orders/", body)

    assert response.status_code == 201, response.content


@pytest.mark.parametrize("ids", ["mine", "hostile"])
def test_options_describes_every_api_route(api, mine, ids):
    """Regression: OPTIONS was a 500 where DRF's metadata could not find the view's object."""
    client = raw_client(api)
    answers = {}
    for route, _pattern in api_routes():
        path = example_path(route).replace("/1/", "/{printer}/").replace(".json", "")
        path = path.format(printer=mine["printer"] if ids == "mine" else "abc")
        answers[path] = client.options(path).status_code

    assert set(answers.values()) == {200}, answers
    assert len(answers) > 10


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", JOBS, {"printer_id": "{printer}", "job_name": "x", "notes": 0}, "notes"),
        ("post", JOBS, {"printer_id": "{printer}", "job_name": "x", "priority": "5"}, "priority"),
        ("post", JOBS, {"printer_id": "{printer}", "job_name": "x", "priority": True}, "priority"),
        ("put", "/api/bambu/notifications/{printer}", {"email_enabled": "yes"}, "email_enabled"),
        ("post", "/api/bambu/materials/{printer}", {"slot": 9, "material_type": "PLA",
         "weight_grams": "100"}, "weight_grams"),
        ("post", "/api/orders/", {"order_number": 9, "items": [{"title": "A"}]}, "order_number"),
        ("post", "/api/orders/", {"order_number": "9", "items": {"title": "A"}}, "items"),
        ("post", "/api/orders/", {"order_number": "9", "items": [{"title": "A",
         "variations": None}]}, "items"),
        ("post", "/api/orders/", {"order_number": "9", "currency": "0",
         "items": [{"title": "A"}]}, "currency"),
        ("post", "/api/printers/{printer}/commands", {"action": "speed", "level": "2"}, "level"),
    ],
)  # fmt: skip
def test_a_json_value_of_another_type_than_documented_is_400(api, mine, method, path, body, field):
    """Regression (schemathesis): DRF coerced 0 to "0", "5" to 5 and "yes" to true."""
    response = send(api, method, fill(path, mine), fill(body, mine))

    assert response.status_code == 400, response.content
    assert field in response.json()


def test_form_fields_of_a_multipart_upload_still_parse_as_text(api):
    response = api.post(
        "/api/product-profiles/", {"name": "Dragon", "nozzle_temp": "215"}, format="multipart"
    )

    assert response.status_code == 201, response.content
    assert response.json()["nozzle_temp"] == 215


def test_a_multipart_body_where_only_json_is_documented_is_400(api):
    response = api.post("/api/orders/", {"order_number": "1"}, format="multipart")

    assert response.status_code == 400
    assert "application/json" in response.json()["detail"]


def test_an_empty_status_filter_is_400(api, mine):
    response = api.get("/api/orders/?status=")

    assert response.status_code == 400
    assert "status" in response.json()


@pytest.mark.parametrize("path", ["/api/printers/1.5/", "/api/nothing-here", "/api/orders/1/x/"])
def test_an_api_path_no_route_matches_is_a_json_404(api, path):
    response = api.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_an_api_path_no_route_matches_needs_credentials_first(anonymous_api):
    assert anonymous_api.get("/api/orders/1/x/").status_code == 401


def test_a_request_for_a_host_not_allowed_is_a_json_400_under_api(api):
    response = raw_client(api).get("/api/printers/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


# -- Another user's objects: 404 on every verb, nothing changes ---------------------------------

OTHERS_OBJECTS = [
    ("get", "/api/printers/{printer}/", None),
    ("put", "/api/printers/{printer}/", {"name": "x", "model": "X1C", "serial": "S"}),
    ("patch", "/api/printers/{printer}/", {"name": "x"}),
    ("delete", "/api/printers/{printer}/", None),
    ("get", "/api/bambu/materials/{printer}", None),
    ("post", "/api/bambu/materials/{printer}", {"slot": 2, "material_type": "PLA"}),
    ("put", MATERIAL, {"remaining_pct": 1}),
    ("patch", MATERIAL, {"remaining_pct": 1}),
    ("delete", MATERIAL, None),
    ("get", "/api/bambu/notifications/{printer}", None),
    ("put", "/api/bambu/notifications/{printer}", {"email_enabled": False}),
    ("patch", "/api/bambu/notifications/{printer}", {"email_enabled": False}),
    ("get", "/api/bambu/scheduled-prints/{printer}", None),
    ("get", "/api/bambu/scheduled-prints/{printer}/queue", None),
    ("post", JOBS, {"printer_id": "{printer}", "job_name": "x"}),
    ("put", JOB, {"status": "cancelled"}),
    ("patch", JOB, {"priority": 99}),
    ("delete", JOB, None),
    ("get", "/api/orders/{order}/", None),
    ("post", "/api/orders/{order}/schedule-prints", {"printer_id": "{printer}"}),
    ("get", "/api/product-profiles/{profile}/", None),
    ("put", "/api/product-profiles/{profile}/", {"name": "x"}),
    ("patch", "/api/product-profiles/{profile}/", {"name": "x"}),
    ("delete", "/api/product-profiles/{profile}/", None),
]

MODELS = [
    Printer,
    PrinterStatus,
    BambuMaterial,
    PrintNotification,
    ScheduledPrint,
    Order,
    OrderItem,
    ProductProfile,
]


def snapshot() -> dict[str, list[dict[str, Any]]]:
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in MODELS}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    OTHERS_OBJECTS,
    ids=[f"{m}-{p}" for m, p, _ in OTHERS_OBJECTS],
)
def test_other_users_object_is_404_and_nothing_changes(api, mine, theirs, method, path, body):
    before = snapshot()

    response = send(api, method, fill(path, theirs), fill(body, theirs))

    assert response.status_code == 404
    assert snapshot() == before


def test_own_order_on_other_users_printer_is_404_and_nothing_changes(api, mine, theirs):
    before = snapshot()

    response = send(
        api,
        "post",
        f"/api/orders/{mine['order']}/schedule-prints",
        {"printer_id": theirs["printer"]},
    )

    assert response.status_code == 404
    assert snapshot() == before


# -- Hostile input: never a 500 -----------------------------------------------------------------

HOSTILE_VALUES = [
    10**30,
    -(10**30),
    1e308,
    -1,
    0.5,
    "abc",
    "",
    "9" * 400,
    "ünïcødé 🐉 ☃",
    "\u0000",
    "\ud800",
    True,
    None,
    [1, 2],
    {"nested": {"deeper": [1, {"x": None}]}},
    ["\u0000", {"\u0000": "\u0000"}],
]

HOSTILE_BODIES = [[], [{"slot": 1}], "just a string", 42, None, True, {}]

ENDPOINT_FIELDS = {
    "materials": [
        "slot",
        "material_type",
        "color",
        "color_hex",
        "weight_grams",
        "remaining_pct",
        "vendor",
        "cost_per_kg",
        "notes",
        "loaded_at",
    ],
    "notifications": [
        "notify_print_start",
        "notify_print_complete",
        "notify_print_failed",
        "notify_material_change",
        "notify_maintenance",
        "email_enabled",
        "webhook_url",
    ],
    "jobs": [
        "printer_id",
        "order_id",
        "job_name",
        "file_name",
        "status",
        "scheduled_start",
        "estimated_duration_minutes",
        "material_type",
        "material_slot",
        "nozzle_temp",
        "bed_temp",
        "print_speed",
        "failed_reason",
        "priority",
        "notes",
    ],
    "schedule": ["printer_id", "material_type", "start_offset_minutes"],
    "printers": [
        "name",
        "model",
        "serial",
        "connection_type",
        "host",
        "mqtt_port",
        "access_code",
        "cloud_user_id",
        "cloud_token",
        "tls_verify",
        "ca_cert",
        "enabled",
    ],
    "orders": [
        "order_number",
        "buyer_name",
        "buyer_email",
        "status",
        "is_paid",
        "total_amount",
        "currency",
        "due_by",
        "notes",
        "items",
    ],
    "items": [
        "title",
        "sku",
        "listing_id",
        "quantity",
        "unit_price",
        "variations",
        "personalization",
        "product_profile_id",
    ],
    "profiles": [
        "name",
        "sku",
        "etsy_listing_id",
        "file_name",
        "material_type",
        "nozzle_temp",
        "bed_temp",
        "print_speed",
        "estimated_duration_minutes",
        "grams_per_unit",
        "units_per_plate",
    ],
    "token": ["username", "password"],
    "refresh": ["refresh"],
}

VALID = {
    "materials": {"slot": 9, "material_type": "PLA", "weight_grams": 1000},
    "notifications": {"email_enabled": True},
    "jobs": {"printer_id": "{printer}", "job_name": "x"},
    "schedule": {"printer_id": "{printer}"},
    "printers": {"name": "P", "model": "X1C", "serial": "NEW1", "host": "h", "access_code": "1"},
    "orders": {"order_number": "9", "items": [{"title": "A"}]},
    "items": {"order_number": "9", "items": [{"title": "A"}]},
    "profiles": {"name": "Hostile"},
    "token": {"username": "owner", "password": "x"},
    "refresh": {"refresh": "x"},
}

HOSTILE_ENDPOINTS = [
    ("post", "/api/bambu/materials/{printer}", "materials"),
    ("put", MATERIAL, "materials"),
    ("put", "/api/bambu/notifications/{printer}", "notifications"),
    ("post", JOBS, "jobs"),
    ("put", JOB, "jobs"),
    ("post", "/api/orders/{order}/schedule-prints", "schedule"),
    ("post", "/api/printers/", "printers"),
    ("put", "/api/printers/{printer}/", "printers"),
    ("patch", "/api/printers/{printer}/", "printers"),
    ("post", "/api/orders/", "orders"),
    ("post", "/api/orders/", "items"),
    ("post", "/api/product-profiles/", "profiles"),
    ("patch", "/api/product-profiles/{profile}/", "profiles"),
    ("post", "/api/auth/token/", "token"),
    ("post", "/api/auth/token/refresh/", "refresh"),
]


def hostile_bodies(kind: str, ids: dict[str, int]) -> Iterator[Any]:
    valid = fill(VALID[kind], ids)
    yield from HOSTILE_BODIES
    for value in HOSTILE_VALUES:
        if kind == "items":
            yield {**valid, "items": [{field: value for field in ENDPOINT_FIELDS["items"]}]}
            for field in ENDPOINT_FIELDS["items"]:
                yield {**valid, "items": [{"title": "A", field: value}]}
            continue
        yield {field: value for field in ENDPOINT_FIELDS[kind]}
        for field in ENDPOINT_FIELDS[kind]:
            yield {**valid, field: value}


def raw_client(client: APIClient) -> APIClient:
    """The client answers a server error with its 500 instead of raising it in the test."""
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    HOSTILE_ENDPOINTS,
    ids=[f"{m}-{p}-{k}" for m, p, k in HOSTILE_ENDPOINTS],
)
def test_hostile_bodies_never_cause_a_500(api, mine, method, path, kind):
    client = raw_client(api)
    failures = []
    for body in hostile_bodies(kind, mine):
        # Plain json.dumps escapes lone surrogates, as a real client would send them.
        response = getattr(client, method)(
            fill(path, mine), json.dumps(body), content_type="application/json"
        )
        if response.status_code >= 500:
            failures.append((body, response.status_code))

    assert failures == []


HOSTILE_IDS = ["abc", "-1", "0", "1e3", "999999999999999999999999", "9223372036854775808"]
ODD_IDS = ["1.5", "%00", "%F0%9F%90%89", "٣", "%20"]

ID_ENDPOINTS = [
    ("get", "/api/printers/{id}/"),
    ("patch", "/api/printers/{id}/"),
    ("delete", "/api/printers/{id}/"),
    ("get", "/api/bambu/materials/{id}"),
    ("post", "/api/bambu/materials/{id}"),
    ("put", "/api/bambu/materials/{id}"),
    ("delete", "/api/bambu/materials/{id}"),
    ("get", "/api/bambu/notifications/{id}"),
    ("put", "/api/bambu/notifications/{id}"),
    ("get", "/api/bambu/scheduled-prints/{id}"),
    ("get", "/api/bambu/scheduled-prints/{id}/queue"),
    ("put", "/api/bambu/scheduled-prints/{id}"),
    ("delete", "/api/bambu/scheduled-prints/{id}"),
    ("get", "/api/orders/{id}/"),
    ("post", "/api/orders/{id}/schedule-prints"),
    ("get", "/api/product-profiles/{id}/"),
    ("patch", "/api/product-profiles/{id}/"),
    ("delete", "/api/product-profiles/{id}/"),
]


@pytest.mark.parametrize(
    ("method", "path"), ID_ENDPOINTS, ids=[f"{m}-{p}" for m, p in ID_ENDPOINTS]
)
def test_hostile_ids_never_cause_a_500(api, mine, method, path):
    client = raw_client(api)
    body = {"printer_id": mine["printer"], "slot": 3, "material_type": "PLA"}
    answers = {}
    for bad_id in HOSTILE_IDS + ODD_IDS:
        response = send(client, method, path.replace("{id}", bad_id), body)
        answers[bad_id] = response.status_code

    assert all(status < 500 for status in answers.values()), answers
    assert {answers[bad_id] for bad_id in HOSTILE_IDS} == {404}, answers


@pytest.mark.parametrize("path", ["/api/bambu/scheduled-prints/{printer}", "/api/orders/"])
@pytest.mark.parametrize("value", ["%00", "%ED%A0%80", "x" * 2000, "queued&status=failed"])
def test_hostile_query_strings_never_cause_a_500(api, mine, path, value):
    response = raw_client(api).get(fill(path, mine) + f"?status={value}")

    assert response.status_code < 500


# -- The API description ------------------------------------------------------------------------

GUIDE_PATHS = [
    "/api/auth/token/",
    "/api/auth/token/refresh/",
    "/api/bambu/materials/{id}/",
    "/api/bambu/notifications/{printer_id}/",
    "/api/bambu/scheduled-prints/",
    "/api/bambu/scheduled-prints/{id}/",
    "/api/bambu/scheduled-prints/{printer_id}/queue/",
    "/api/orders/{order_id}/schedule-prints/",
    "/api/printers/",
    "/api/printers/{id}/",
    "/api/orders/",
    "/api/orders/{id}/",
    "/api/product-profiles/",
    "/api/product-profiles/{id}/",
    "/api/etsy/sync-orders/",
]


def test_schema_is_openapi_listing_the_guide_paths(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert set(GUIDE_PATHS) <= schema["paths"].keys()
    materials = schema["paths"]["/api/bambu/materials/{id}/"]
    assert {"get", "post", "put", "delete"} <= materials.keys()


def test_docs_page_is_served(api):
    response = api.get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


@pytest.mark.parametrize(
    "path", ["/api/orders/a.b/", "/api/orders/%C3%93.%0A/", "/api/no/such/path"]
)
def test_api_paths_that_match_no_route_are_a_json_404(api, path):
    response = raw_client(api).get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"

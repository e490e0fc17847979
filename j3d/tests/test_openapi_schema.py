"""The OpenAPI document tells the truth: success shapes, error responses, content types, types.

Each test here is a defect schemathesis found (or the issue listed) in /api/schema/.
"""

from typing import Any

import pytest

pytestmark = pytest.mark.django_db

OPERATIONS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict[str, Any]:
    import json

    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    with django_db_blocker.unblock():
        document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))


def operation(schema: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return schema["paths"][path][method]


def success(schema: dict[str, Any], path: str, method: str) -> tuple[str, dict[str, Any]]:
    responses = operation(schema, path, method)["responses"]
    (code,) = [code for code in responses if code.startswith("2")]
    return code, responses[code].get("content", {}).get("application/json", {}).get("schema", {})


@pytest.mark.parametrize(
    "path",
    [
        "/api/bambu/materials/{id}/",
        "/api/bambu/scheduled-prints/{id}/",
        "/api/bambu/scheduled-prints/{printer_id}/queue/",
    ],
)
def test_list_endpoints_are_documented_as_arrays(schema, path):
    code, body = success(schema, path, "get")

    assert (code, body["type"]) == ("200", "array")


@pytest.mark.parametrize(
    ("path", "method", "code", "component"),
    [
        ("/api/bambu/materials/{id}/", "post", "201", "BambuMaterial"),
        ("/api/bambu/scheduled-prints/", "post", "201", "ScheduledPrint"),
        ("/api/bambu/materials/{id}/", "delete", "200", "MaterialUnloaded"),
        ("/api/bambu/scheduled-prints/{id}/", "delete", "200", "JobCancelled"),
        ("/api/orders/{order_id}/schedule-prints/", "post", "201", "ScheduledOrder"),
    ],
)
def test_success_status_and_body_are_the_ones_answered(schema, path, method, code, component):
    assert success(schema, path, method) == (code, {"$ref": f"#/components/schemas/{component}"})


def test_every_operation_documents_its_error_responses(schema):
    missing = []
    for path, item in schema["paths"].items():
        for method in OPERATIONS & item.keys():
            responses = item[method]["responses"]
            wanted = {"401", "406"}
            if method in ("post", "put", "patch"):
                wanted.add("400")
            if "{" in path:
                wanted.add("404")
            missing += [f"{method} {path} {code}" for code in wanted - responses.keys()]

    assert missing == []


@pytest.mark.parametrize(
    ("path", "method", "code"),
    [
        ("/api/bambu/scheduled-prints/{id}/", "put", "409"),
        ("/api/bambu/scheduled-prints/{id}/", "delete", "409"),
        ("/api/orders/{order_id}/schedule-prints/", "post", "409"),
        ("/api/printers/{printer_id}/print/", "post", "409"),
        ("/api/bambu/scheduled-prints/", "post", "404"),
        ("/api/orders/", "get", "400"),
    ],
)
def test_errors_an_operation_can_answer_are_documented(schema, path, method, code):
    assert code in operation(schema, path, method)["responses"]


def test_error_responses_are_shared_components_with_a_detail(schema):
    responses = schema["components"]["responses"]

    assert {"ValidationError", "Unauthorized", "NotFound", "Conflict"} <= responses.keys()
    detail = responses["NotFound"]["content"]["application/json"]["schema"]
    assert detail["required"] == ["detail"]


def test_only_product_profiles_take_multipart(schema):
    multipart = sorted(
        f"{method} {path}"
        for path, item in schema["paths"].items()
        for method in OPERATIONS & item.keys()
        if "multipart/form-data" in item[method].get("requestBody", {}).get("content", {})
    )

    assert multipart == [
        "patch /api/product-profiles/{id}/",
        "post /api/product-profiles/",
        "put /api/product-profiles/{id}/",
    ]


def test_a_json_profile_has_no_file_and_a_multipart_one_no_filename_pattern(schema):
    components = schema["components"]["schemas"]

    assert "print_file" not in components["ProductProfileJSONRequest"]["properties"]
    print_file = components["ProductProfileRequest"]["properties"]["print_file"]
    assert (print_file["type"], print_file["format"]) == ("string", "binary")
    assert "pattern" not in print_file


def test_field_rules_are_in_the_schema(schema):
    components = schema["components"]["schemas"]

    assert components["OrderRequest"]["properties"]["currency"]["pattern"] == "^[A-Za-z]{3}$"
    variations = components["OrderItemRequest"]["properties"]["variations"]
    assert {option["type"] for option in variations["oneOf"]} == {"array", "object"}
    status = [p for p in operation(schema, "/api/orders/", "get")["parameters"]]
    status = [p for p in status if p["name"] == "status"]
    assert status and "enum" in status[0]["schema"]


def test_an_accept_header_the_api_cannot_answer_is_the_documented_406(api, schema):
    # schemathesis sent "accept: 7C" with a profile; the answer was right, the schema silent.
    response = api.post("/api/product-profiles/", {"name": "Vase"}, format="json", HTTP_ACCEPT="7C")

    assert response.status_code == 406
    assert "406" in operation(schema, "/api/product-profiles/", "post")["responses"]


def test_a_profiles_filaments_state_the_models_bounds(schema):
    from j3d.lib import limits

    components = schema["components"]["schemas"]
    for name in ("ProductProfileRequest", "ProductProfileJSONRequest", "ProductProfile"):
        filaments = components[name]["properties"]["filaments"]
        assert filaments["maxItems"] == limits.MAX_FILAMENTS
    item = components["ProfileFilamentRequest"]
    fields = item["properties"]
    assert item["additionalProperties"] is False and set(item["required"]) == {"type", "grams"}
    assert (fields["slot"]["minimum"], fields["slot"]["maximum"]) == (1, limits.MAX_FILAMENT_SLOT)
    assert fields["grams"]["maximum"] == float(limits.MAX_UNIT_GRAMS)
    assert fields["type"]["maxLength"] == 32 and fields["type"]["pattern"] == r"\S"
    colours = {option.get("pattern") or option["maxLength"] for option in fields["color"]["oneOf"]}
    assert colours == {"^#[0-9A-F]{6}$", 0}


def test_quiet_hours_say_both_or_neither(schema):
    # A rule across two fields and the stored row (NotificationPreferences.clean) that OpenAPI
    # cannot state: sending one end alone is a 400, so the descriptions must say so.
    fields = schema["components"]["schemas"]["PatchedNotificationPreferencesRequest"]["properties"]
    for name in ("quiet_hours_start", "quiet_hours_end"):
        assert "both" in fields[name]["description"] and "400" in fields[name]["description"]

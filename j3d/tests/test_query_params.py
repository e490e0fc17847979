"""Every query parameter the schema documents is one value: repeated or holding a NUL character,
it is refused with a 400 naming it, on every operation (never read as its last value, never a
500 from a database that cannot store NUL)."""

from typing import Any

import pytest

from j3d.tests.factories import make_printer
from j3d.tests.test_schemathesis import openapi_document

pytestmark = pytest.mark.django_db


def query_parameters() -> list[tuple[str, str]]:
    """(path, name) of each GET operation's query parameters, as /api/schema/ documents them."""
    found = []
    for path, operations in openapi_document()["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            if parameter["in"] == "query":
                found.append((path, parameter["name"]))
    return found


QUERY_PARAMETERS = query_parameters()


def test_the_list_covers_the_paged_and_filtered_lists():
    assert ("/api/orders/", "page") in QUERY_PARAMETERS
    assert ("/api/notifications/deliveries/", "type") in QUERY_PARAMETERS
    assert ("/api/events/", "cursor") in QUERY_PARAMETERS
    assert ("/api/analytics/summary/", "format") in QUERY_PARAMETERS


def _url(path: str, owner: Any) -> str:
    return path.replace("{id}", str(make_printer(owner).id))


@pytest.mark.parametrize(("path", "name"), QUERY_PARAMETERS)
def test_a_repeated_parameter_is_refused_naming_it(api, owner, path, name):
    response = api.get(f"{_url(path, owner)}?{name}=1&{name}=2")

    assert response.status_code == 400, response.content
    assert response.json()[name] == ["Give this parameter once."]


@pytest.mark.parametrize(("path", "name"), QUERY_PARAMETERS)
def test_a_nul_character_is_refused_naming_it(api, owner, path, name):
    response = api.get(_url(path, owner), {name: "a\x00b"})

    assert response.status_code == 400, response.content
    assert name in response.json()


def test_a_text_filter_with_nul_is_refused_before_the_database(api):
    response = api.get("/api/notifications/deliveries/", {"type": "\x00"})

    assert response.status_code == 400
    assert response.json() == {"type": ["Must not contain a NUL character."]}


def test_a_single_page_parameter_still_pages(api, owner):
    response = api.get("/api/orders/?page=1&page_size=1&search=")

    assert response.status_code == 200, response.content
    assert response["X-Total-Count"] == "0"

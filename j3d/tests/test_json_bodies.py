"""JSON bodies: a value no database column can hold is a 400 naming the field."""

import pytest

pytestmark = pytest.mark.django_db


def test_a_nul_character_inside_a_json_value_is_refused_naming_the_field(api):
    # PostgreSQL's jsonb cannot hold \u0000: before, this was a 500 there.
    filaments = [{"type": "PLA\x00", "color": "", "grams": 1}]
    response = api.post(
        "/api/product-profiles/", {"name": "Dragon", "filaments": filaments}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json() == {"filaments": ["Must not contain a NUL character."]}


def test_a_nul_character_inside_a_json_value_sent_as_a_form_is_refused(api):
    filaments = '[{"type": "PLA\\u0000", "color": "", "grams": 1}]'
    response = api.post(
        "/api/product-profiles/", {"name": "Dragon", "filaments": filaments}, format="multipart"
    )

    assert response.status_code == 400, response.content
    assert response.json() == {"filaments": ["Must not contain a NUL character."]}


def test_a_name_longer_than_its_limit_as_sent_is_refused_though_trimmed_it_fits(api):
    response = api.post("/api/product-profiles/", {"name": "\t" + "x" * 200}, format="json")

    assert response.status_code == 400, response.content
    assert response.json() == {"name": ["Ensure this field has no more than 200 characters."]}

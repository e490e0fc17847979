"""Uploading a sliced file fills the profile from the slicer's estimates; a person's values stay."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from j3d.tests.factories import make_profile, sliced_3mf
from orders.models import ProductProfile

pytestmark = pytest.mark.django_db

TWO_COLOURS = [
    {"seconds": 5025, "filaments": [("PLA", "#161616", "22.46"), ("PETG", "#F2F2F2FF", "0.99")]}
]


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def upload(data: bytes, name: str = "stand.gcode.3mf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, "application/octet-stream")


def test_upload_fills_minutes_grams_filaments_and_plates(api):
    response = api.post(
        "/api/product-profiles/",
        {"name": "Stand", "print_file": upload(sliced_3mf(TWO_COLOURS))},
        format="multipart",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["estimated_duration_minutes"] == 84  # 5025 s, rounded up
    assert body["grams_per_plate"] == 23.45
    assert body["plate_count"] == 1
    assert body["material_type"] == "PLA"
    assert body["filaments"] == [
        {"slot": 1, "type": "PLA", "color": "#161616", "grams": 22.46},
        {"slot": 2, "type": "PETG", "color": "#F2F2F2", "grams": 0.99},
    ]
    assert body["set_by_person"] == []


def test_several_plates_give_per_plate_figures(api):
    plates = [
        {"seconds": 3600, "filaments": [("PLA", "#000000", "30")]},
        {"seconds": 1800, "filaments": [("PLA", "#000000", "10")]},
    ]

    body = api.post(
        "/api/product-profiles/",
        {"name": "Two plates", "print_file": upload(sliced_3mf(plates))},
        format="multipart",
    ).json()

    assert (body["plate_count"], body["estimated_duration_minutes"]) == (2, 45)
    assert body["grams_per_plate"] == 20.0
    assert body["filaments"][0]["grams"] == 20.0


def test_values_a_person_typed_are_kept_when_the_file_arrives(api):
    created = api.post(
        "/api/product-profiles/",
        {"name": "Stand", "estimated_duration_minutes": 100, "material_type": "PETG"},
        format="json",
    ).json()

    response = api.patch(
        f"/api/product-profiles/{created['id']}/",
        {"print_file": upload(sliced_3mf(TWO_COLOURS))},
        format="multipart",
    )

    body = response.json()
    assert response.status_code == 200, body
    assert (body["estimated_duration_minutes"], body["material_type"]) == (100, "PETG")
    assert body["grams_per_plate"] == 23.45  # not typed: filled from the file
    assert sorted(body["set_by_person"]) == ["estimated_duration_minutes", "material_type"]


def test_a_value_sent_back_unchanged_is_not_counted_as_typed(api, owner):
    profile = make_profile(owner, name="Stand")
    detail = api.get(f"/api/product-profiles/{profile.id}/").json()
    put = {k: v for k, v in detail.items() if k not in ("id", "print_file", "created_at")}
    put.pop("updated_at")

    api.put(f"/api/product-profiles/{profile.id}/", put, format="json")
    body = api.patch(
        f"/api/product-profiles/{profile.id}/",
        {"print_file": upload(sliced_3mf(TWO_COLOURS))},
        format="multipart",
    ).json()

    assert body["estimated_duration_minutes"] == 84


def test_clearing_set_by_person_lets_the_next_file_fill_everything(api, owner):
    profile = make_profile(
        owner, estimated_duration_minutes=5, set_by_person=["estimated_duration_minutes"]
    )
    api.patch(f"/api/product-profiles/{profile.id}/", {"set_by_person": []}, format="json")

    api.patch(
        f"/api/product-profiles/{profile.id}/",
        {"print_file": upload(sliced_3mf(TWO_COLOURS))},
        format="multipart",
    )

    profile.refresh_from_db()
    assert profile.estimated_duration_minutes == 84


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"PK\x03\x04 not really", "broken.3mf"),
        (b"; Cura\nG28\n", "cura.gcode"),
        (sliced_3mf(slice_info="<config/>"), "unsliced.3mf"),
    ],
)
def test_a_bad_file_is_a_400_naming_the_field_and_the_file(api, data, name):
    response = api.post(
        "/api/product-profiles/",
        {"name": "Stand", "print_file": upload(data, name)},
        format="multipart",
    )

    assert response.status_code == 400
    assert name in response.json()["print_file"][0]
    assert not ProductProfile.objects.exists()


@pytest.mark.parametrize(
    "filaments",
    [
        "PLA",
        [{"type": "", "color": "", "grams": 1}],
        [{"type": "PLA", "color": "red", "grams": 1}],
        [{"type": "PLA", "color": "", "grams": -1}],
        [{"type": "PLA", "color": "", "grams": 1, "price": 3}],
        # Just past each bound the schema states (ProfileFilamentSerializer).
        [{"type": "PLA", "grams": 1, "slot": 1000}],
        [{"type": "PLA", "grams": 10000.01}],
        [{"type": " ", "grams": 1}],
        [{"type": " " + "P" * 32, "grams": 1}],
        [{"type": "PLA", "color": "#FFFFFF\n", "grams": 1}],
        [{"type": "PLA", "color": "#ffffff", "grams": 1}],
        [{"type": "PLA", "grams": 1}] * 65,
    ],
)
def test_bad_filaments_are_a_400(api, filaments):
    response = api.post(
        "/api/product-profiles/", {"name": "Stand", "filaments": filaments}, format="json"
    )

    assert response.status_code == 400
    assert "filaments" in response.json()


def test_filaments_at_the_bounds_the_schema_states_are_taken(api):
    filaments = [
        {"type": "P" * 32, "grams": 10000, "slot": 999},
        {"type": "PETG", "color": "", "grams": 0},
        {"type": "PLA", "color": "#00FF80", "grams": 0.5},
    ] + [{"type": "PLA", "grams": 1}] * 61

    response = api.post(
        "/api/product-profiles/", {"name": "Stand", "filaments": filaments}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["filaments"] == filaments


def test_set_by_person_names_only_fillable_fields(api):
    response = api.post(
        "/api/product-profiles/", {"name": "Stand", "set_by_person": ["name"]}, format="json"
    )

    assert response.status_code == 400
    assert "set_by_person" in response.json()


def test_admin_upload_fills_the_profile_and_keeps_typed_values(admin_client, owner):
    profile = make_profile(owner, name="Stand")
    url = f"/admin/orders/productprofile/{profile.id}/change/"
    form = {
        "user": owner.id,
        "name": "Stand",
        "material_type": "PLA",
        "nozzle_temp": 200,
        "bed_temp": 60,
        "print_speed": 50,
        "estimated_duration_minutes": 100,
        "units_per_plate": 1,
        "plate_count": 1,
        "filaments": "[]",
        "initial-filaments": "[]",  # the admin renders it: the default is a callable
        "print_file": upload(sliced_3mf(TWO_COLOURS)),
    }

    response = admin_client.post(url, form)

    assert response.status_code == 302, response.content.decode()[:3000]
    profile.refresh_from_db()
    assert profile.estimated_duration_minutes == 100
    assert str(profile.grams_per_plate) == "23.45"
    assert profile.set_by_person == ["estimated_duration_minutes"]


def test_admin_shows_a_bad_file_as_a_form_error(admin_client, owner):
    profile = make_profile(owner, name="Stand")
    form = {
        "user": owner.id,
        "name": "Stand",
        "material_type": "PLA",
        "nozzle_temp": 200,
        "bed_temp": 60,
        "print_speed": 50,
        "estimated_duration_minutes": 60,
        "units_per_plate": 1,
        "plate_count": 1,
        "filaments": "[]",
        "print_file": upload(b"nope", "bad.3mf"),
    }

    response = admin_client.post(f"/admin/orders/productprofile/{profile.id}/change/", form)

    assert response.status_code == 200
    assert "bad.3mf is not a 3MF file" in response.content.decode()

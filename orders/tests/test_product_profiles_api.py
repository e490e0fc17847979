"""/api/product-profiles/: CRUD, print file uploads, value ranges and isolation."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from j3d.tests.factories import make_profile, sliced_3mf
from orders.models import ProductProfile

pytestmark = pytest.mark.django_db

PROFILE = {
    "name": "Articulated dragon",
    "sku": "DRG-1",
    "etsy_listing_id": "1234567",
    "material_type": "PLA",
    "nozzle_temp": 215,
    "bed_temp": 55,
    "print_speed": 150,
    "estimated_duration_minutes": 185,
    "grams_per_unit": 48.5,
    "units_per_plate": 2,
}


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


BAMBU_GCODE = (
    b"; HEADER_BLOCK_START\n; BambuStudio 02.02.01.60\n"
    b"; model printing time: 3h 1m 0s; total estimated time: 3h 4m 30s\n"
    b"; total filament weight [g] : 97.00\n; HEADER_BLOCK_END\nG28\n"
)


def upload(name: str, data: bytes | None = None) -> SimpleUploadedFile:
    if data is None:
        data = BAMBU_GCODE if name.lower().endswith(".gcode") else sliced_3mf()
    return SimpleUploadedFile(name, data, "application/octet-stream")


def test_create_profile_with_json(api, owner):
    response = api.post("/api/product-profiles/", PROFILE, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert {key: body[key] for key in PROFILE} == PROFILE
    assert body["print_file"] is None
    assert ProductProfile.objects.get(pk=body["id"]).user == owner


def test_defaults_are_the_guide_values(api):
    response = api.post("/api/product-profiles", {"name": "Plain"}, format="json")

    body = response.json()
    assert (body["nozzle_temp"], body["bed_temp"], body["print_speed"]) == (200, 60, 50)
    assert body["estimated_duration_minutes"] == 60


@pytest.mark.parametrize("file_name", ["dragon.3mf", "dragon.gcode", "DRAGON.3MF"])
def test_multipart_upload_of_print_file(api, file_name):
    sent = upload(file_name)
    data = sent.read()
    sent.seek(0)
    response = api.post(
        "/api/product-profiles/", {**PROFILE, "print_file": sent}, format="multipart"
    )

    assert response.status_code == 201, response.content
    assert response.json()["print_file"].endswith(file_name)
    profile = ProductProfile.objects.get(pk=response.json()["id"])
    with profile.print_file.open("rb") as stored:
        assert stored.read() == data


@pytest.mark.parametrize("file_name", ["dragon.stl", "dragon.exe", "dragon"])
def test_other_file_types_are_400(api, file_name):
    response = api.post(
        "/api/product-profiles/",
        {**PROFILE, "print_file": upload(file_name)},
        format="multipart",
    )

    assert response.status_code == 400
    assert "print_file" in response.json()
    assert not ProductProfile.objects.exists()


def test_list_detail_update_delete(api, owner, other_owner):
    profile = make_profile(owner, name="Mine")
    make_profile(other_owner, name="Theirs")

    listed = api.get("/api/product-profiles/")
    detail = api.get(f"/api/product-profiles/{profile.id}")
    patched = api.patch(f"/api/product-profiles/{profile.id}/", {"bed_temp": 70}, format="json")
    deleted = api.delete(f"/api/product-profiles/{profile.id}/")

    assert [p["name"] for p in listed.json()] == ["Mine"]
    assert detail.json()["name"] == "Mine"
    assert patched.status_code == 200 and patched.json()["bed_temp"] == 70
    assert deleted.status_code == 204
    assert not ProductProfile.objects.filter(pk=profile.id).exists()


def test_name_is_unique_per_owner_only(api, owner, other_owner):
    make_profile(other_owner, name="Dragon")
    assert api.post("/api/product-profiles/", {"name": "Dragon"}, format="json").status_code == 201

    response = api.post("/api/product-profiles/", {"name": "Dragon"}, format="json")

    assert response.status_code == 400
    assert "name" in response.json()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nozzle_temp", -1),
        ("nozzle_temp", 351),
        ("bed_temp", -1),
        ("bed_temp", 121),
        ("print_speed", 0),
        ("print_speed", -10),
        ("estimated_duration_minutes", 0),
        ("grams_per_unit", -1),
        ("units_per_plate", 0),
        ("name", ""),
    ],
)
def test_bad_profile_field_is_400_naming_it(api, field, value):
    response = api.post("/api/product-profiles/", {**PROFILE, field: value}, format="json")

    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize(("field", "value"), [("nozzle_temp", 0), ("nozzle_temp", 350)])
def test_temperature_bounds_are_inclusive(api, field, value):
    response = api.post("/api/product-profiles/", {**PROFILE, field: value}, format="json")

    assert response.status_code == 201


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_other_users_profile_is_404(api, other_owner, method):
    profile = make_profile(other_owner, name="Theirs", bed_temp=60)

    response = getattr(api, method)(
        f"/api/product-profiles/{profile.id}/", {"name": "Theirs", "bed_temp": 99}, format="json"
    )

    assert response.status_code == 404
    profile.refresh_from_db()
    assert profile.bed_temp == 60

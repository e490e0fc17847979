"""/api/bambu/materials/<id>: list and load per printer, change and unload per material."""

import pytest

from j3d.tests.factories import make_material, make_printer
from printers.models import BambuMaterial

pytestmark = pytest.mark.django_db

GUIDE_FIELDS = {
    "id",
    "printer_id",
    "slot",
    "material_type",
    "color",
    "weight_grams",
    "remaining_pct",
    "remaining_grams",
    "vendor",
    "cost_per_kg",
    "loaded_at",
    "last_synced",
    "notes",
    "color_hex",
    "is_empty",
}


@pytest.fixture
def printer(owner):
    return make_printer(owner)


def test_load_material_returns_201_with_remaining_grams(api, printer):
    body = {
        "slot": 1,
        "material_type": "PETG",
        "color": "Orange",
        "color_hex": "#FF8800",
        "weight_grams": 1000,
        "remaining_pct": 75,
        "vendor": "Bambu Lab",
        "cost_per_kg": 24.99,
    }

    response = api.post(f"/api/bambu/materials/{printer.id}", body, format="json")

    assert response.status_code == 201, response.content
    material = response.json()
    assert GUIDE_FIELDS <= material.keys()
    assert material["printer_id"] == printer.id
    assert material["remaining_grams"] == 750
    assert material["weight_grams"] == 1000
    assert material["cost_per_kg"] == 24.99
    assert material["last_synced"] is None


def test_load_without_remaining_pct_means_a_full_spool(api, printer):
    response = api.post(
        f"/api/bambu/materials/{printer.id}/",
        {"slot": 0, "material_type": "PLA", "weight_grams": 500},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["remaining_pct"] == 100
    assert response.json()["remaining_grams"] == 500


def test_list_returns_the_printers_materials_by_slot(api, owner, printer):
    make_material(printer, slot=5)
    make_material(printer, slot=254, material_type="TPU")
    make_material(make_printer(owner, serial="OTHER1"), slot=0)

    response = api.get(f"/api/bambu/materials/{printer.id}")

    assert response.status_code == 200
    assert [m["slot"] for m in response.json()] == [5, 254]


def test_partial_update_from_the_guide(api, printer):
    material = make_material(printer, weight_grams=1000, remaining_pct=80)

    response = api.put(
        f"/api/bambu/materials/{material.id}",
        {"remaining_pct": 45, "notes": "Getting low"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["remaining_pct"] == 45
    assert response.json()["notes"] == "Getting low"
    assert response.json()["remaining_grams"] == 450
    assert response.json()["material_type"] == "PLA"


def test_unload_deletes_and_answers_200(api, printer):
    material = make_material(printer, slot=3)

    response = api.delete(f"/api/bambu/materials/{material.id}/")

    assert response.status_code == 200
    assert "3" in response.json()["message"]
    assert not BambuMaterial.objects.filter(pk=material.id).exists()


@pytest.mark.parametrize("slot", [0, 15, 128, 135, 254, 255])
def test_allowed_slots_are_accepted(api, printer, slot):
    response = api.post(
        f"/api/bambu/materials/{printer.id}", {"slot": slot, "material_type": "PLA"}, format="json"
    )

    assert response.status_code == 201, response.content


@pytest.mark.parametrize("slot", [-1, 16, 127, 136, 253, 256, 10**30])
def test_slot_outside_the_allowed_set_is_400(api, printer, slot):
    response = api.post(
        f"/api/bambu/materials/{printer.id}", {"slot": slot, "material_type": "PLA"}, format="json"
    )

    assert response.status_code == 400
    assert "slot" in response.json()


def test_second_material_in_a_taken_slot_is_400(api, printer):
    make_material(printer, slot=4)

    response = api.post(
        f"/api/bambu/materials/{printer.id}", {"slot": 4, "material_type": "PLA"}, format="json"
    )

    assert response.status_code == 400
    assert "slot" in response.json()
    assert BambuMaterial.objects.filter(printer=printer).count() == 1


def test_moving_a_material_into_a_taken_slot_is_400(api, printer):
    make_material(printer, slot=4)
    moving = make_material(printer, slot=5)

    response = api.put(f"/api/bambu/materials/{moving.id}", {"slot": 4}, format="json")

    assert response.status_code == 400
    assert "slot" in response.json()
    moving.refresh_from_db()
    assert moving.slot == 5


def test_same_slot_on_two_printers_is_fine(api, owner, printer):
    make_material(make_printer(owner, serial="SECOND1"), slot=4)

    response = api.post(
        f"/api/bambu/materials/{printer.id}", {"slot": 4, "material_type": "PLA"}, format="json"
    )

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("remaining_pct", -1),
        ("remaining_pct", 101),
        ("weight_grams", -5),
        ("cost_per_kg", -0.01),
        ("color_hex", "orange"),
        ("slot", "abc"),
    ],
)
def test_bad_material_field_is_400_naming_it(api, printer, field, value):
    material = make_material(printer)

    created = api.post(
        f"/api/bambu/materials/{printer.id}",
        {"slot": 9, "material_type": "PLA", field: value},
        format="json",
    )
    updated = api.put(f"/api/bambu/materials/{material.id}", {field: value}, format="json")

    assert (created.status_code, updated.status_code) == (400, 400)
    assert field in created.json() and field in updated.json()


def test_missing_slot_and_type_are_400(api, printer):
    response = api.post(f"/api/bambu/materials/{printer.id}", {}, format="json")

    assert response.status_code == 400
    assert {"slot", "material_type"} <= response.json().keys()


@pytest.mark.parametrize("method", ["get", "post"])
def test_other_users_printer_materials_are_404(api, other_owner, method):
    printer = make_printer(other_owner)
    make_material(printer, slot=0)

    response = getattr(api, method)(
        f"/api/bambu/materials/{printer.id}", {"slot": 1, "material_type": "PLA"}, format="json"
    )

    assert response.status_code == 404
    assert BambuMaterial.objects.filter(printer=printer).count() == 1


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_users_material_is_404(api, other_owner, method):
    material = make_material(make_printer(other_owner), remaining_pct=80)

    response = getattr(api, method)(
        f"/api/bambu/materials/{material.id}", {"remaining_pct": 1}, format="json"
    )

    assert response.status_code == 404
    material.refresh_from_db()
    assert material.remaining_pct == 80

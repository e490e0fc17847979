import pytest

from printers.models import BambuMaterial
from printers.services.printers import printer_create


def _printer(user, name: str, serial: str):
    return printer_create(
        user=user, name=name, model="P1S", serial=serial, host="10.0.0.9", access_code="secret12"
    )


@pytest.mark.django_db
def test_farm_page_sends_a_visitor_to_the_owners_login_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


@pytest.mark.django_db
def test_farm_page_shows_only_the_owners_printers_and_no_secret(client, owner, other_owner):
    _printer(owner, "Mine", "01P001")
    _printer(other_owner, "Theirs", "01P002")
    client.force_login(owner)
    page = client.get("/").content.decode()
    assert "Mine" in page
    assert "Theirs" not in page
    assert "secret12" not in page


@pytest.mark.django_db
def test_the_live_refresh_swaps_in_the_very_tiles_of_the_first_paint(client, owner, other_owner):
    # One renderer: the tiles the page's script fetches are the partial the page itself includes.
    _printer(owner, "Mine", "01P001")
    _printer(other_owner, "Theirs", "01P002")
    client.force_login(owner)
    tiles = client.get("/farm/tiles").content.decode()
    page = client.get("/").content.decode()
    assert "Mine" in tiles and tiles in page
    assert "Theirs" not in tiles and "secret12" not in tiles


@pytest.mark.django_db
def test_an_empty_slot_reads_empty_not_its_last_material(client, owner):
    printer = _printer(owner, "Mine", "01P001")
    BambuMaterial.objects.create(
        user=owner,
        printer=printer,
        slot=0,
        material_type="PETG",
        color_hex="#FF0000",
        is_empty=True,
    )
    client.force_login(owner)
    tiles = client.get("/farm/tiles").content.decode()
    assert "</span>empty" in tiles and "</span>PETG" not in tiles


@pytest.mark.django_db
def test_the_tiles_of_a_visitor_send_to_the_login_page(client):
    response = client.get("/farm/tiles")
    assert response.status_code == 302 and response["Location"].startswith("/login/")

import pytest

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

"""Shop owners log in on /login/; every door that checks a password pauses after repeated
failures (django-axes), per client address and per account; refresh tokens work once."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

LIMIT = settings.AXES_FAILURE_LIMIT


def login(client, username: str, password: str, ip: str = "192.0.2.1", path: str = "/login/"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip)


def token(username: str, password: str, ip: str = "192.0.2.1"):
    body = {"username": username, "password": password}
    return APIClient().post("/api/auth/token/", body, format="json", REMOTE_ADDR=ip)


# -- The owner's login page ---------------------------------------------------------------------


def test_login_page_is_a_plain_form_that_fits_a_phone(client):
    page = client.get("/login/").content.decode()

    assert 'name="viewport" content="width=device-width' in page
    assert 'name="username"' in page and 'autocomplete="current-password"' in page
    assert "<script" not in page


def test_an_owner_who_is_not_staff_logs_in_and_sees_the_farm(client, owner):
    """Regression: the farm sent owners to the admin login, which refuses anyone not staff."""
    response = client.post("/login/?next=/", {"username": "owner", "password": "owner-pass-1"})

    assert (response.status_code, response["Location"]) == (302, "/")
    farm = client.get("/")
    assert farm.status_code == 200
    assert b"owner" in farm.content and b"Log out" in farm.content


def test_a_wrong_password_shows_the_form_again_with_a_reason(client, owner):
    response = login(client, "owner", "wrong")

    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_logging_out_ends_the_session(client, owner):
    client.force_login(owner)

    response = client.post("/logout/")

    assert response["Location"] == "/login/"
    assert client.get("/")["Location"] == "/login/?next=/"


def test_an_owner_is_not_sent_to_the_admin_which_refuses_them(client, owner):
    client.force_login(owner)

    assert b"/admin/" not in client.get("/").content


# -- Pausing password guessing ------------------------------------------------------------------


def test_login_page_pauses_an_account_after_repeated_failures_from_any_address(client, owner):
    for attempt in range(LIMIT - 1):
        assert login(client, "owner", "wrong", ip=f"192.0.2.{attempt + 1}").status_code == 200
    assert login(client, "owner", "wrong", ip="192.0.2.200").status_code == 429

    response = login(client, "owner", "owner-pass-1", ip="198.51.100.7")

    assert response.status_code == 429
    assert b"Login paused" in response.content
    assert int(response["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session


def test_login_page_pauses_an_address_that_tries_many_accounts(client, owner, other_owner):
    for attempt in range(LIMIT):
        login(client, f"guess{attempt}", "wrong", ip="203.0.113.9")

    assert login(client, "other", "other-pass-1", ip="203.0.113.9").status_code == 429
    assert login(client, "other", "other-pass-1", ip="203.0.113.10").status_code == 302


def test_admin_login_pauses_too(client):
    """Regression: 30 wrong admin logins in a row were all tried."""
    get_user_model().objects.create_superuser("boss", "boss@example.com", "boss-pass-1")
    for _ in range(LIMIT):
        login(client, "boss", "wrong", path="/admin/login/")

    response = login(client, "boss", "boss-pass-1", ip="198.51.100.7", path="/admin/login/")

    assert response.status_code == 429


def test_token_endpoint_pauses_with_a_clear_429(owner):
    """Regression: 100 wrong passwords in a row on /api/auth/token/ were all tried."""
    answers = [token("owner", "wrong").status_code for _ in range(LIMIT)]

    response = token("owner", "owner-pass-1", ip="198.51.100.7")

    assert answers[:-1] == [401] * (LIMIT - 1) and answers[-1] == 429
    assert response.status_code == 429
    assert "Too many failed logins" in response.json()["detail"]
    assert int(response["Retry-After"]) > 0


def test_token_lockout_of_one_account_leaves_the_others_alone(owner, other_owner):
    for attempt in range(LIMIT):
        token("owner", "wrong", ip=f"192.0.2.{attempt + 1}")

    assert token("other", "other-pass-1", ip="198.51.100.7").status_code == 200


def test_a_username_longer_than_any_is_400_not_a_500_on_postgresql(owner):
    """Regression: django-axes stored the 400-character username in a 255-character column."""
    response = token("o" * 400, "wrong")

    assert response.status_code == 400
    assert "username" in response.json()


def test_a_token_login_updates_last_login(owner):
    token("owner", "owner-pass-1")

    owner.refresh_from_db()
    assert owner.last_login is not None


def test_a_success_resets_the_accounts_count(owner):
    for _ in range(LIMIT - 1):
        token("owner", "wrong", ip="192.0.2.1")
    assert token("owner", "owner-pass-1", ip="192.0.2.2").status_code == 200

    for _ in range(LIMIT - 1):
        token("owner", "wrong", ip="192.0.2.3")
    assert token("owner", "owner-pass-1", ip="192.0.2.4").status_code == 200


def test_x_forwarded_for_does_not_choose_the_address_without_a_trusted_proxy(client, owner):
    for attempt in range(LIMIT):
        client.post(
            "/login/",
            {"username": f"guess{attempt}", "password": "x"},
            HTTP_X_FORWARDED_FOR=f"10.9.9.{attempt}",
        )

    assert login(client, "owner", "owner-pass-1", ip="127.0.0.1").status_code == 429


# -- Refresh tokens rotate ----------------------------------------------------------------------


def test_a_refresh_token_works_once_and_hands_out_the_next_one(owner):
    client = APIClient()
    first = token("owner", "owner-pass-1").json()["refresh"]

    rotated = client.post("/api/auth/token/refresh/", {"refresh": first}, format="json")
    reused = client.post("/api/auth/token/refresh/", {"refresh": first}, format="json")
    second = client.post(
        "/api/auth/token/refresh/", {"refresh": rotated.json()["refresh"]}, format="json"
    )

    assert rotated.status_code == 200 and rotated.json()["refresh"] != first
    assert reused.status_code == 401
    assert second.status_code == 200


def test_logins_prune_drops_expired_refresh_tokens_and_keeps_live_ones(owner):
    from datetime import timedelta

    from django.utils import timezone
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    from j3d.tasks import logins_prune

    token("owner", "owner-pass-1")
    token("owner", "owner-pass-1")
    expired = OutstandingToken.objects.order_by("id").first()
    expired.expires_at = timezone.now() - timedelta(seconds=1)
    expired.save()

    logins_prune()

    assert list(OutstandingToken.objects.values_list("user__username", flat=True)) == ["owner"]

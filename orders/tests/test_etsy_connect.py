"""Connecting an Etsy shop: OAuth PKCE over HTTP against the fake, tokens at rest, refresh."""

import logging
import threading
from datetime import timedelta

import httpx
import pytest
from django.core import mail
from django.db import connection as db
from django.utils import timezone

from orders.etsy.client import ReconnectNeeded
from orders.etsy.fake import generate_receipts
from orders.models import EtsyAuthorization, EtsyConnection
from orders.services.etsy import etsy_client, etsy_token_refresh
from orders.tests.conftest import CALLBACK, ETSY_USER, SHOP, callback_path, follow_authorize

pytestmark = pytest.mark.django_db


def test_whole_connect_flow_stores_the_shop_and_encrypted_tokens(etsy, api, client, owner):
    location = follow_authorize(api)

    page = client.get(callback_path(location))

    assert page.status_code == 200
    assert b"Your Etsy shop is connected" in page.content
    connection = EtsyConnection.objects.get(user=owner)
    assert (connection.shop_id, connection.shop_name, connection.etsy_user_id) == (
        SHOP,
        "LayerLineStudio",
        ETSY_USER,
    )
    assert connection.access_token.startswith(f"{ETSY_USER}.")
    assert connection.scopes == "transactions_r shops_r" and not connection.mark_shipped
    with db.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM orders_etsyconnection")
        stored = cursor.fetchone()
    assert all(value.startswith("fernet:") for value in stored)
    assert connection.access_token not in stored[0] and connection.refresh_token not in stored[1]
    # The authorize request carried PKCE S256, the asked scopes, and the exact callback.
    authorize = next(s for s in etsy.requests if s.path == "/oauth/connect")
    assert authorize.params["code_challenge_method"] == "S256"
    assert authorize.params["redirect_uri"] == CALLBACK
    assert authorize.params["scope"] == "transactions_r shops_r"


def test_mark_shipped_asks_for_transactions_w(etsy, api, client, owner):
    client.get(callback_path(follow_authorize(api, {"mark_shipped": True})))

    assert EtsyConnection.objects.get(user=owner).mark_shipped
    authorize = next(s for s in etsy.requests if s.path == "/oauth/connect")
    assert authorize.params["scope"] == "transactions_r shops_r transactions_w"


def test_refused_authorization_is_a_clear_page_and_stores_nothing(etsy, api, client):
    etsy.deny_next = "access_denied"

    page = client.get(callback_path(follow_authorize(api)))

    assert page.status_code == 400
    assert b"The user denied the request" in page.content
    assert not EtsyConnection.objects.exists()


@pytest.mark.parametrize("state", ["", "made-up", "x" * 500, "%00", "a%00b", "%F0%9F%98%80"])
def test_unknown_state_is_a_clear_page_and_stores_nothing(etsy, client, state):
    page = client.get(f"/etsy/callback?code=abc&state={state}")

    assert page.status_code == 400
    assert b"expired or was already used" in page.content
    assert not EtsyConnection.objects.exists()


def test_state_is_single_use(etsy, api, client):
    path = callback_path(follow_authorize(api))
    assert client.get(path).status_code == 200
    EtsyConnection.objects.all().delete()

    again = client.get(path)

    assert again.status_code == 400
    assert not EtsyConnection.objects.exists()


def test_state_expires_after_ten_minutes(etsy, api, client):
    path = callback_path(follow_authorize(api))
    EtsyAuthorization.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert client.get(path).status_code == 400
    assert not EtsyConnection.objects.exists()


def test_state_knows_whose_shop_it_is_without_a_login(etsy, api, client, owner, other_owner):
    path = callback_path(follow_authorize(api))
    client.force_login(other_owner)  # whoever's browser lands on the callback

    assert client.get(path).status_code == 200
    assert EtsyConnection.objects.get().user == owner


def test_a_shop_connected_to_another_owner_is_refused(etsy, api, other_api, client, owner):
    client.get(callback_path(follow_authorize(other_api)))

    page = client.get(callback_path(follow_authorize(api)))

    assert page.status_code == 400
    assert b"already connected to another J3D account" in page.content
    assert not EtsyConnection.objects.filter(user=owner).exists()


def test_connect_without_etsy_credentials_is_409(api, settings):
    settings.ETSY_KEYSTRING = ""

    answer = api.post("/api/etsy/connect", {}, format="json")

    assert answer.status_code == 409
    assert "ETSY_KEYSTRING" in answer.json()["detail"]


def test_connect_with_a_bad_option_is_400_naming_it(etsy, api):
    answer = api.post("/api/etsy/connect", {"mark_shipped": "perhaps"}, format="json")

    assert answer.status_code == 400
    assert "mark_shipped" in answer.json()


def test_connection_shows_the_shop_and_never_a_token(connected, api):
    body = api.get("/api/etsy/connection").json()

    assert body["shop_id"] == SHOP and body["shop_name"] == "LayerLineStudio"
    assert body["reconnect_needed"] is False and body["connected_at"]
    assert connected.access_token not in str(body) and "token" not in " ".join(body)


def test_other_owners_connection_is_404(connected, other_api):
    assert other_api.get("/api/etsy/connection").status_code == 404
    assert other_api.delete("/api/etsy/connection").status_code == 404
    assert other_api.patch("/api/etsy/connection", {}, format="json").status_code == 404
    assert EtsyConnection.objects.count() == 1


def test_patch_sets_schedule_paid_orders_and_refuses_bad_values(connected, api):
    ok = api.patch("/api/etsy/connection", {"schedule_paid_orders": True}, format="json")
    bad = api.patch("/api/etsy/connection", {"schedule_paid_orders": "often"}, format="json")

    assert ok.status_code == 200 and ok.json()["schedule_paid_orders"] is True
    assert bad.status_code == 400 and "schedule_paid_orders" in bad.json()
    connected.refresh_from_db()
    assert connected.schedule_paid_orders


def test_delete_forgets_the_shop(connected, api):
    assert api.delete("/api/etsy/connection").status_code == 204
    assert not EtsyConnection.objects.exists()
    assert api.get("/api/etsy/connection").status_code == 404


def test_refresh_saves_the_rotated_refresh_token(connected, etsy):
    old = connected.refresh_token
    with etsy_client() as client:
        fresh = etsy_token_refresh(
            connection=connected, client=client, stale=connected.access_token
        )

    assert fresh.refresh_token != old and fresh.token_version == connected.token_version + 1
    # The fake killed the old refresh token: only the saved new one works.
    with etsy_client() as client:
        with pytest.raises(ReconnectNeeded):
            client.refresh(refresh_token=old)
        assert client.refresh(refresh_token=fresh.refresh_token).access_token


def test_revoked_grant_marks_reconnect_needed_and_tells_the_owner(
    connected, etsy, api, django_capture_on_commit_callbacks
):
    etsy.revoke(ETSY_USER)
    etsy.expire_access_tokens()

    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post("/api/etsy/sync-orders", {}, format="json")

    assert answer.status_code == 502
    assert "connect the Etsy shop again" in answer.json()["error"]
    connected.refresh_from_db()
    assert connected.reconnect_needed and "Reconnect needed" in connected.last_error
    assert api.get("/api/etsy/connection").json()["reconnect_needed"] is True
    assert [m.to for m in mail.outbox] == [["owner@example.com"]]
    assert "Connect your Etsy shop" in mail.outbox[0].subject
    assert connected.refresh_token not in mail.outbox[0].body
    # Until the owner connects again, a sync is refused rather than failing each time.
    assert api.post("/api/etsy/sync-orders", {}, format="json").status_code == 409


@pytest.mark.django_db(transaction=True)
def test_two_refreshes_at_once_spend_the_refresh_token_once(connected, etsy):
    stale = connected.access_token
    results, errors = [], []

    def refresh() -> None:
        try:
            with etsy_client() as client:
                results.append(etsy_token_refresh(connection=connected, client=client, stale=stale))
        except Exception as exc:  # the test reports it below
            errors.append(exc)

    threads = [threading.Thread(target=refresh) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    grants = [s for s in etsy.requests if s.path == "/v3/public/oauth/token"]
    assert len(grants) == 2  # the code exchange, then one refresh for three callers
    assert len({r.access_token for r in results}) == 1
    assert EtsyConnection.objects.get().token_version == connected.token_version + 1


def test_admin_connect_button_sends_staff_to_etsy(etsy, client, owner):
    owner.is_staff = owner.is_superuser = True
    owner.save()
    client.force_login(owner)

    page = client.get("/admin/orders/etsyconnection/")
    go = client.get("/admin/orders/etsyconnection/connect/")

    assert b"Connect Etsy shop" in page.content
    assert go.status_code == 302 and go["Location"].startswith(etsy.connect_url)
    assert httpx.get(go["Location"]).status_code == 302


def test_schema_documents_the_etsy_endpoints(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]

    assert {"post"} <= paths["/api/etsy/connect/"].keys()
    assert {"get", "patch", "delete"} <= paths["/api/etsy/connection/"].keys()
    sync = paths["/api/etsy/sync-orders/"]["post"]["responses"]
    assert {"200", "400", "409", "502"} <= sync.keys()

    def body(operation: dict) -> dict:
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]

    assert body(paths["/api/orders/unmatched-items/"]["get"])["type"] == "array"
    orders = paths["/api/orders/"]["get"]
    assert body(orders)["type"] == "array"  # the page is in the headers
    assert {"page", "page_size", "status", "source", "due_before", "search"} <= {
        p["name"] for p in orders["parameters"]
    }


def test_no_token_or_secret_reaches_logs_answers_pages_events_or_mail(
    etsy, api, client, owner, caplog, django_capture_on_commit_callbacks
):
    issued: list[str] = []
    issue = etsy._issue

    def remember(grant):
        answer = issue(grant)
        issued.extend([answer.body["access_token"], answer.body["refresh_token"]])
        return answer

    etsy._issue = remember
    caplog.set_level(logging.DEBUG)
    etsy.put_receipts(SHOP, generate_receipts(3))
    shown = [client.get(callback_path(follow_authorize(api))).content.decode()]
    # A refresh mid-sync, a 429, a 500, then a revoked grant: every path that logs or reports.
    etsy.expire_access_tokens()
    etsy.fail_next(429, path="/receipts", retry_after=0)
    etsy.fail_next(500, path="/receipts")
    shown.append(api.post("/api/etsy/sync-orders", {}, format="json").content.decode())
    etsy.revoke(ETSY_USER)
    etsy.expire_access_tokens()
    with django_capture_on_commit_callbacks(execute=True):
        shown.append(api.post("/api/etsy/sync-orders", {}, format="json").content.decode())
    owner.is_staff = owner.is_superuser = True
    owner.save()
    client.force_login(owner)
    connection = EtsyConnection.objects.get()
    for url in (
        "/api/etsy/connection",
        "/api/orders/",
        "/api/orders/unmatched-items",
        "/api/events",
        "/admin/orders/etsyconnection/",
        f"/admin/orders/etsyconnection/{connection.pk}/change/",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        shown.append(page.content.decode())
    shown += [f"{m.subject}\n{m.body}" for m in mail.outbox]
    # The browser's own trip to Etsy's authorize page carries the keystring (OAuth's client_id).
    logged = "\n".join(
        r.getMessage() for r in caplog.records if "/oauth/connect" not in r.getMessage()
    )

    assert len(issued) >= 4 and mail.outbox  # a connect and a refresh happened; mail was sent
    for secret in [*issued, etsy.shared_secret, etsy.keystring]:
        assert secret not in logged
        for text in shown:
            assert secret not in text

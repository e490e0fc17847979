"""The Etsy library on its own: the receipt reader, the client, and the fake it is tested against.

Everything goes over real HTTP to the fake on loopback; no Django database here.
"""

import copy
import time
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from orders.etsy.client import (
    EtsyClient,
    EtsyError,
    EtsyUnavailable,
    Pacer,
    ReconnectNeeded,
    authorize_url,
    pkce_challenge,
    pkce_verifier,
)
from orders.etsy.fake import FakeEtsy, example_response, generate_receipts, make_receipt
from orders.etsy.receipts import BadReceipt, parse_receipt

REDIRECT = "http://127.0.0.1:8000/etsy/callback"
SHOP = 33264519


@pytest.fixture
def fake():
    with FakeEtsy(redirect_uris=[REDIRECT]) as fake:
        fake.add_shop(shop_id=SHOP)
        yield fake


def client_for(fake: FakeEtsy, **kwargs) -> EtsyClient:
    return EtsyClient(
        api_url=fake.url, keystring=fake.keystring, shared_secret=fake.shared_secret, **kwargs
    )


class Tokens:
    """A TokenSource that keeps the pair in memory and refreshes through the client."""

    def __init__(self, client: EtsyClient, tokens) -> None:
        self.client, self.tokens, self.refreshes = client, tokens, 0

    def access_token(self) -> str:
        return self.tokens.access_token

    def refreshed(self, stale: str) -> str:
        self.refreshes += 1
        self.tokens = self.client.refresh(refresh_token=self.tokens.refresh_token)
        return self.tokens.access_token


def connect(fake: FakeEtsy, client: EtsyClient, scopes=("transactions_r", "shops_r")) -> Tokens:
    verifier = pkce_verifier()
    url = authorize_url(
        fake.connect_url,
        client_id=fake.keystring,
        redirect_uri=REDIRECT,
        scopes=list(scopes),
        state="st4te",
        code_challenge=pkce_challenge(verifier),
    )
    answer = httpx.get(url)
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == ["st4te"]
    tokens = client.exchange_code(
        code=query["code"][0], code_verifier=verifier, redirect_uri=REDIRECT
    )
    return Tokens(client, tokens)


# -- the receipt reader -------------------------------------------------------------------------


def test_example_receipts_read_with_money_variations_and_personalization():
    paid, completed, canceled = (parse_receipt(r) for r in example_response()["results"])

    assert (paid.status, paid.is_paid, paid.is_shipped) == ("paid", True, False)
    planter = paid.transactions[0]
    assert planter.price.decimal() == Decimal("22.00") and planter.price.currency == "USD"
    assert planter.variation_label == "Sage Green / Medium (10 cm)"
    assert planter.personalization_text == "MARIA"
    assert paid.ship_by.timestamp() == 1767484800  # the earliest transaction's ship-by
    assert completed.status == "completed" and completed.transactions[0].sku == ""
    assert canceled.is_canceled and canceled.is_fully_refunded


def test_several_personalization_answers_are_kept_with_their_questions():
    raw = example_response()["results"][0]
    raw["transactions"][0]["variations"].append(
        {
            "property_id": 54,
            "value_id": None,
            "formatted_name": "Upload your logo",
            "formatted_value": "https://i.etsystatic.com/upload/logo.png",
            "question_id": 18205669683,
        }
    )

    text = parse_receipt(raw).transactions[0].personalization_text

    assert (
        text == "Personalization: MARIA\nUpload your logo: https://i.etsystatic.com/upload/logo.png"
    )


@pytest.mark.parametrize("status", ["PAID", " paid ", "Payment  Processing", "fully REFUNDED"])
def test_status_casing_and_spacing_do_not_matter(status):
    raw = example_response()["results"][0]
    raw["status"] = status

    assert parse_receipt(raw).status in {"paid", "payment processing", "fully refunded"}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r.update(status="Shipped?"), "unknown status"),
        (lambda r: r.pop("transactions"), "transactions is missing"),
        (lambda r: r.pop("is_paid"), "is_paid is missing"),
        (lambda r: r.update(grandtotal={"amount": 1.5, "divisor": 100}), "grandtotal"),
        (lambda r: r["transactions"][1].pop("transaction_id"), "transactions[1].transaction_id"),
        (lambda r: r["transactions"][0].update(quantity="2"), "quantity is not an integer"),
        (lambda r: r["transactions"][0]["price"].update(divisor=0), "positive divisor"),
        (lambda r: r.update(updated_timestamp="soon", update_timestamp=None), "updated_timestamp"),
        (
            lambda r: r["transactions"][1].update(
                transaction_id=r["transactions"][0]["transaction_id"]
            ),
            "appears twice",
        ),
    ],
)
def test_bad_receipts_raise_bad_receipt_naming_the_field(change, reason):
    raw = example_response()["results"][0]
    change(raw)

    with pytest.raises(BadReceipt) as caught:
        parse_receipt(raw)

    assert reason in caught.value.reason
    assert caught.value.receipt_id == 3456789012


@pytest.mark.parametrize("raw", [None, [], "x", {"receipt_id": True}, {"receipt_id": -4}])
def test_junk_is_a_bad_receipt_never_another_exception(raw):
    with pytest.raises(BadReceipt):
        parse_receipt(raw)


def test_text_is_cleaned_of_nul_and_lone_surrogates():
    raw = example_response()["results"][0]
    raw["name"] = "Ma\x00ria \ud800"

    assert parse_receipt(raw).buyer_name == "Ma\ufffdria \ufffd"


# -- OAuth against the fake ---------------------------------------------------------------------


def test_authorize_url_carries_pkce_s256_and_space_separated_scopes():
    url = authorize_url(
        "https://www.etsy.com/oauth/connect",
        client_id="key",
        redirect_uri=REDIRECT,
        scopes=["transactions_r", "shops_r"],
        state="abc",
        code_challenge="xyz",
    )

    assert "scope=transactions_r%20shops_r" in url
    assert "code_challenge_method=S256" in url and "response_type=code" in url


def test_code_exchange_then_me_and_shop(fake):
    client = client_for(fake)
    auth = connect(fake, client)

    assert auth.tokens.etsy_user_id == 81234567
    assert client.me(auth) == {"user_id": 81234567, "shop_id": SHOP}
    assert client.shop(SHOP, auth)["shop_name"] == "LayerLineStudio"
    assert "Bearer" not in repr(auth.tokens) and auth.tokens.access_token not in repr(auth.tokens)


def test_a_code_works_once_and_needs_the_right_verifier(fake):
    client = client_for(fake)
    verifier = pkce_verifier()
    url = authorize_url(
        fake.connect_url,
        client_id=fake.keystring,
        redirect_uri=REDIRECT,
        scopes=["transactions_r"],
        state="s",
        code_challenge=pkce_challenge(verifier),
    )
    code = parse_qs(urlsplit(httpx.get(url).headers["location"]).query)["code"][0]

    with pytest.raises(ReconnectNeeded, match="code_verifier"):
        client.exchange_code(code=code, code_verifier=pkce_verifier(), redirect_uri=REDIRECT)
    with pytest.raises(ReconnectNeeded, match="used previously"):
        client.exchange_code(code=code, code_verifier=verifier, redirect_uri=REDIRECT)


def test_refresh_rotates_and_the_old_refresh_token_dies(fake):
    client = client_for(fake)
    auth = connect(fake, client)
    old = auth.tokens

    new = client.refresh(refresh_token=old.refresh_token)

    assert new.refresh_token != old.refresh_token
    with pytest.raises(ReconnectNeeded, match="revoked"):
        client.refresh(refresh_token=old.refresh_token)


def test_expired_access_token_is_refreshed_once_and_the_call_goes_on(fake):
    client = client_for(fake)
    auth = connect(fake, client)
    fake.expire_access_tokens()

    assert client.me(auth)["shop_id"] == SHOP
    assert auth.refreshes == 1


def test_revoked_grant_is_reconnect_needed(fake):
    client = client_for(fake)
    auth = connect(fake, client)
    fake.revoke(81234567)

    with pytest.raises(ReconnectNeeded):
        client.me(auth)


def test_api_key_without_the_shared_secret_is_403(fake):
    answer = httpx.get(f"{fake.url}/v3/application/openapi-ping", headers={"x-api-key": "key"})

    assert answer.status_code == 403
    assert answer.json() == {"error": "Shared secret is required in x-api-key header."}


def test_missing_scope_is_403(fake):
    client = client_for(fake)
    auth = connect(fake, client, scopes=["shops_r"])

    with pytest.raises(EtsyError) as caught:
        next(client.receipt_pages(SHOP, auth, since=None, was_canceled=False))

    assert caught.value.status == 403


# -- receipts, filters, paging ------------------------------------------------------------------


def raw_get(fake: FakeEtsy, auth: Tokens, **params) -> httpx.Response:
    return httpx.get(
        f"{fake.url}/v3/application/shops/{SHOP}/receipts",
        params=params,
        headers={
            "x-api-key": f"{fake.keystring}:{fake.shared_secret}",
            "authorization": f"Bearer {auth.access_token()}",
        },
    )


def test_receipts_filters_sorting_and_count(fake):
    fake.put_receipts(SHOP, example_response()["results"])
    auth = connect(fake, client_for(fake))

    default = raw_get(fake, auth).json()
    canceled = raw_get(fake, auth, was_canceled="1").json()
    shipped = raw_get(fake, auth, was_shipped="true", sort_on="updated", sort_order="up").json()
    newest = raw_get(fake, auth, min_last_modified=1767225000, limit=1).json()

    assert default["count"] == 2  # canceled receipts are left out unless asked for
    assert [r["receipt_id"] for r in default["results"]] == [3456789012, 3456700001]
    assert [r["receipt_id"] for r in canceled["results"]] == [3456600002]
    assert [r["receipt_id"] for r in shipped["results"]] == [3456700001]
    assert newest["count"] == 1 and newest["results"][0]["status"] == "Paid"


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"offset": "12001"},
        {"sort_on": "price"},
        {"sort_order": "sideways"},
        {"was_paid": "yes"},
        {"min_last_modified": "5"},
    ],
)
def test_bad_receipt_filters_are_400_with_an_error_body(fake, params):
    auth = connect(fake, client_for(fake))

    answer = raw_get(fake, auth, **params)

    assert answer.status_code == 400
    assert set(answer.json()) == {"error"}


def test_rate_limit_headers_are_sent_in_both_spellings(fake):
    auth = connect(fake, client_for(fake))

    headers = raw_get(fake, auth).headers

    assert headers["x-limit-per-second"] == "150"
    assert headers["x-remaining-this-second"] == headers["x-remaining-this-secon"]
    assert int(headers["x-remaining-today"]) < 100000


def collect(client, auth, **kwargs):
    seen = []
    for page in client.receipt_pages(SHOP, auth, **kwargs):
        seen.extend(r["receipt_id"] for r in page.receipts)
    return seen


def test_paging_returns_every_receipt_once_in_order_of_change(fake):
    receipts = generate_receipts(250)
    fake.put_receipts(SHOP, receipts)
    client = client_for(fake)
    auth = connect(fake, client)

    seen = collect(client, auth, since=None, was_canceled=False)

    assert seen == [r["receipt_id"] for r in receipts]


def test_paging_survives_offset_drift_and_a_repeated_page(fake):
    receipts = generate_receipts(350)
    fake.put_receipts(SHOP, receipts)
    client = client_for(fake)
    auth = connect(fake, client)
    early = [r["receipt_id"] for r in receipts[:3]]

    def drift(fake, shop_id, page):
        if page <= 3:  # a receipt we already read changes: it jumps to the end
            fake.touch(shop_id, early[page - 1], message_from_buyer=f"changed {page}")
        if page == 2:
            fake.repeat_next_page()

    fake.on_receipts_page = drift
    seen = collect(client, auth, since=None, was_canceled=False)

    assert set(seen) == {r["receipt_id"] for r in receipts}
    assert len(seen) == len(receipts) + 3  # each touched receipt comes again, once, at the end
    assert seen[-3:] == early


def test_many_receipts_sharing_one_timestamp_are_walked_by_offset(fake):
    receipts = [make_receipt(4000000000 + n, created=1767225600, seed=n) for n in range(230)]
    fake.put_receipts(SHOP, receipts)
    client = client_for(fake)
    auth = connect(fake, client)

    seen = collect(client, auth, since=1767225600, was_canceled=False)

    assert sorted(seen) == sorted(r["receipt_id"] for r in receipts)


def test_429_waits_retry_after_then_goes_on(fake):
    fake.put_receipts(SHOP, generate_receipts(3))
    slept = []
    client = client_for(fake, sleep=slept.append)
    auth = connect(fake, client)
    fake.fail_next(429, path="/receipts", retry_after=2)

    assert len(collect(client, auth, since=None, was_canceled=False)) == 3
    assert 2.0 in slept


def test_5xx_backs_off_then_recovers_and_gives_up_after_the_retries(fake):
    fake.put_receipts(SHOP, generate_receipts(3))
    slept = []
    client = client_for(fake, sleep=slept.append, backoff=0.01)
    auth = connect(fake, client)
    fake.fail_next(500, path="/receipts")
    fake.fail_next(503, path="/receipts", body="<html><h1>503 Service Unavailable</h1></html>")

    assert len(collect(client, auth, since=None, was_canceled=False)) == 3
    assert len(slept) == 2 and slept[1] > slept[0] * 0.9

    fake.fail_next(500, path="/receipts", count=10)
    with pytest.raises(EtsyUnavailable, match="500"):
        collect(client, auth, since=None, was_canceled=False)


def test_client_stays_under_the_per_second_limit(fake):
    fake.per_second = 5
    fake.put_receipts(SHOP, generate_receipts(3))
    client = client_for(fake)
    auth = connect(fake, client)
    client.me(auth)  # learns the limit from the headers
    started = time.monotonic()

    for _ in range(6):
        client.me(auth)

    assert not [s for s in fake.requests if s.status == 429]
    assert time.monotonic() - started >= 1.0  # 7 calls at 5/s need a second window


def test_pacer_waits_when_etsy_says_nothing_remains_this_second():
    now = [100.0]
    waits = []
    pacer = Pacer(per_second=10, clock=lambda: now[0], sleep=waits.append)
    pacer.wait()
    pacer.observe(httpx.Headers({"x-remaining-this-secon": "0", "x-limit-per-second": "10"}))

    pacer.wait()

    assert waits and waits[0] > 1.0


def test_shipment_marks_the_receipt_shipped_and_completed(fake):
    receipt = copy.deepcopy(example_response()["results"][0])
    fake.put_receipts(SHOP, [receipt])
    client = client_for(fake)
    auth = connect(fake, client, scopes=["transactions_r", "transactions_w", "shops_r"])

    shipped = client.create_receipt_shipment(
        SHOP, receipt["receipt_id"], auth, carrier_name="usps", tracking_code="9400"
    )

    assert shipped["is_shipped"] and shipped["status"] == "Completed"
    assert shipped["shipments"][-1]["tracking_code"] == "9400"
    assert shipped["updated_timestamp"] > receipt["updated_timestamp"]

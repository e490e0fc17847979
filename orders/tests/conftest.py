"""The fake Etsy on loopback, J3D's settings pointed at it, and a connected shop."""

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from orders.etsy.fake import FakeEtsy
from orders.models import EtsyConnection

SHOP = 33264519
ETSY_USER = 81234567
CALLBACK = "http://testserver/etsy/callback"


@pytest.fixture
def etsy(settings):
    """A running fake Etsy with one shop; J3D's ETSY_* settings point at it."""
    with FakeEtsy(redirect_uris=[CALLBACK]) as fake:
        fake.add_shop(user_id=ETSY_USER, shop_id=SHOP)
        settings.ETSY_KEYSTRING = fake.keystring
        settings.ETSY_SHARED_SECRET = fake.shared_secret
        settings.ETSY_API_URL = fake.url
        settings.ETSY_CONNECT_URL = fake.connect_url
        settings.ETSY_REDIRECT_URI = CALLBACK
        settings.ETSY_RETRY_BACKOFF_SECONDS = 0.01
        yield fake


def follow_authorize(api, body=None) -> str:
    """POST /api/etsy/connect, then the browser's trip to Etsy: the callback URL Etsy sends back."""
    answer = api.post("/api/etsy/connect", body or {}, format="json")
    assert answer.status_code == 200, answer.content
    redirect = httpx.get(answer.json()["authorize_url"])
    assert redirect.status_code == 302, redirect.text
    return redirect.headers["location"]


def callback_path(location: str) -> str:
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK
    return f"{parts.path}?{parts.query}"


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture
def connected(etsy, api, client) -> EtsyConnection:
    """The owner's shop connected through the real flow (API, fake Etsy, callback page)."""
    page = client.get(callback_path(follow_authorize(api)))
    assert page.status_code == 200, page.content
    return EtsyConnection.objects.get()

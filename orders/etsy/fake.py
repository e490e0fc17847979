"""A faithful fake of Etsy Open API v3, served over real HTTP on loopback (tests, demo, bench).

It implements the checklist of reference §8, with the live behaviour where it differs from the
docs: capitalised statuses (``"Paid"``), duplicated ``create_``/``created_`` and
``update_``/``updated_`` timestamps, ``was_canceled`` defaulting to false (canceled receipts only
come back with ``was_canceled=true``), refunds that do not bump ``updated_timestamp``, the misspelt
``x-remaining-this-secon`` header beside the right one, rotated refresh tokens (the old one dies),
``x-api-key: keystring:shared_secret`` required everywhere (403 without the secret).

Faults a test can arm: ``fail_next`` (any status, e.g. 429 with ``retry-after`` or a 500 page),
``expire_access_tokens``, ``revoke``, ``repeat_next_page`` (the previous page served again),
``on_receipts_page`` (change receipts between two pages: offset drift), and per-second / per-day
limits. Everything it answered is in ``requests``.

The authorize step (``GET <url>/oauth/connect``) approves at once as ``approve_as`` (the shop
owner "clicks Allow") and redirects to the callback, or with ``deny_next`` answers
``error=access_denied`` as Etsy does.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

EXAMPLE = Path(__file__).with_name("samples") / "etsy-receipts-example.json"
LOOPBACK = "127.0.0.1"
MIN_TIME = 946684800
SCOPES = frozenset(
    {
        "address_r",
        "address_w",
        "billing_r",
        "cart_r",
        "cart_w",
        "email_r",
        "favorites_r",
        "favorites_w",
        "feedback_r",
        "listings_d",
        "listings_r",
        "listings_w",
        "profile_r",
        "profile_w",
        "recommend_r",
        "recommend_w",
        "shops_r",
        "shops_w",
        "transactions_r",
        "transactions_w",
    }
)
SORT_ORDERS = {
    "asc": False,
    "ascending": False,
    "up": False,
    "desc": True,
    "descending": True,
    "down": True,
}
SORT_KEYS = {"created": "created_timestamp", "updated": "updated_timestamp"}
BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def example_response() -> dict[str, Any]:
    """The shared getShopReceipts example (three receipts: paid, completed, canceled)."""
    return json.loads(_example_text())


@functools.cache
def _example_text() -> str:
    return EXAMPLE.read_text()


@dataclass
class FakeUser:
    user_id: int
    shop_id: int | None
    shop_name: str = "LayerLineStudio"
    currency: str = "USD"


@dataclass
class _Grant:
    user_id: int
    client_id: str
    scopes: frozenset[str]
    expires_at: float = 0.0
    redirect_uri: str = ""
    challenge: str = ""
    used: bool = False


@dataclass
class Fault:
    status: int
    path: str = ""  # answered for the first request whose path contains this
    body: Any = None  # dict (sent as JSON) or str (sent as an HTML page)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    params: dict[str, str]
    status: int


class FakeEtsy:
    def __init__(
        self,
        *,
        keystring: str = "fakekeystring0000000000",
        shared_secret: str = "fakesharedsecret",
        redirect_uris: list[str] | None = None,
        per_second: int = 150,
        per_day: int = 100000,
        access_ttl: int = 3600,
    ) -> None:
        self.keystring, self.shared_secret = keystring, shared_secret
        self.redirect_uris = set(redirect_uris or [])
        self.per_second, self.per_day = per_second, per_day
        self.access_ttl = access_ttl
        self.users: dict[int, FakeUser] = {}
        self.receipts: dict[int, dict[int, dict[str, Any]]] = {}
        self.approve_as: int | None = None
        self.deny_next: str | None = None
        self.faults: list[Fault] = []
        self.requests: list[Seen] = []
        self.on_receipts_page: Callable[[FakeEtsy, int, int], None] | None = None
        self._codes: dict[str, _Grant] = {}
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._window: deque[float] = deque()
        self._today: deque[float] = deque()
        self._repeat = False
        self._last_page: bytes | None = None
        self._pages_served = 0
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeEtsy:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer((LOOPBACK, 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-etsy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeEtsy:
        return self if self._server is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API base (``ETSY_API_URL``)."""
        assert self._server is not None, "start() the fake first"
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    @property
    def connect_url(self) -> str:
        """The authorize page (``ETSY_CONNECT_URL``)."""
        return f"{self.url}/oauth/connect"

    # -- data -----------------------------------------------------------------------------------

    def add_shop(
        self,
        *,
        user_id: int = 81234567,
        shop_id: int = 33264519,
        shop_name: str = "LayerLineStudio",
    ) -> FakeUser:
        with self._lock:
            user = FakeUser(user_id=user_id, shop_id=shop_id, shop_name=shop_name)
            self.users[user_id] = user
            self.receipts.setdefault(shop_id, {})
            if self.approve_as is None:
                self.approve_as = user_id
            return user

    def put_receipts(self, shop_id: int, receipts: list[dict[str, Any]]) -> None:
        """Add or replace receipts (raw dicts, kept as given: tests may send bad data)."""
        with self._lock:
            shop = self.receipts.setdefault(shop_id, {})
            for receipt in receipts:
                shop[receipt["receipt_id"]] = copy.deepcopy(receipt)

    def touch(self, shop_id: int, receipt_id: int, **changes: Any) -> dict[str, Any]:
        """Change a receipt as Etsy would: fields updated, ``updated_timestamp`` bumped."""
        with self._lock:
            receipt = self.receipts[shop_id][receipt_id]
            receipt.update(changes)
            stamp = self.now(shop_id)
            receipt["update_timestamp"] = receipt["updated_timestamp"] = stamp
            return receipt

    def cancel(self, shop_id: int, receipt_id: int) -> dict[str, Any]:
        """The seller cancels: status Canceled, a full refund, the timestamp bumped (GH#339)."""
        receipt = self.touch(shop_id, receipt_id, status="Canceled")
        receipt["refunds"] = [
            {
                "amount": dict(receipt["grandtotal"]),
                "created_timestamp": receipt["updated_timestamp"],
                "reason": "Order canceled",
                "note_from_issuer": "",
                "status": "Success",
            }
        ]
        return receipt

    def refund_in_full(self, shop_id: int, receipt_id: int) -> None:
        """A refund, which does NOT bump ``updated_timestamp`` (GH#513, reference §5.3)."""
        with self._lock:
            receipt = self.receipts[shop_id][receipt_id]
            receipt["status"] = "Fully Refunded"
            receipt["refunds"] = [
                {
                    "amount": dict(receipt["grandtotal"]),
                    "created_timestamp": int(time.time()),
                    "reason": "Refund",
                    "note_from_issuer": "",
                    "status": "Success",
                }
            ]

    def now(self, shop_id: int | None = None) -> int:
        """A timestamp after every receipt's, so a touched receipt sorts last."""
        stamps = [
            r.get("updated_timestamp", 0)
            for sid, shop in self.receipts.items()
            if shop_id is None or sid == shop_id
            for r in shop.values()
            if isinstance(r.get("updated_timestamp", 0), int)
        ]
        return max([int(time.time()), *[s + 1 for s in stamps]])

    # -- faults ---------------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        path: str = "",
        body: Any = None,
        retry_after: int | None = None,
    ) -> None:
        if body is None:
            body = {"error": "Server Error"} if status >= 500 else {"error": "Too many requests"}
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        with self._lock:
            self.faults.extend(Fault(status, path, body, headers) for _ in range(count))

    def expire_access_tokens(self) -> None:
        with self._lock:
            for grant in self._access.values():
                grant.expires_at = 0.0

    def revoke(self, user_id: int) -> None:
        """The owner changed their Etsy password: every token of theirs stops working."""
        with self._lock:
            for table in (self._access, self._refresh):
                for key in [k for k, g in table.items() if g.user_id == user_id]:
                    del table[key]

    def repeat_next_page(self) -> None:
        with self._lock:
            self._repeat = True

    def receipt_pages_served(self, *, since: int = 0) -> list[Seen]:
        return [
            s for s in self.requests[since:] if s.path.endswith("/receipts") and s.status == 200
        ]

    # -- request handling (called by the handler threads) ---------------------------------------

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> _Answer:
        parts = urlsplit(raw_path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        with self._lock:
            answer = self._route(method, parts.path, params, headers, body)
            self.requests.append(Seen(method, parts.path, params, answer.status))
            return answer

    def _route(
        self, method: str, path: str, params: dict[str, str], headers: Any, body: bytes
    ) -> _Answer:
        if path == "/oauth/connect" and method == "GET":
            return self._authorize(params)
        for index, fault in enumerate(self.faults):
            if fault.path in path:
                del self.faults[index]
                return _Answer(fault.status, fault.body, fault.headers)
        key_problem = self._check_api_key(headers.get("x-api-key"), token_endpoint=False)
        if path == "/v3/public/oauth/token" and method == "POST":
            if headers.get("x-api-key") and key_problem:  # sent but wrong
                return key_problem
            return self._token(headers.get("content-type", ""), body)
        if key_problem:
            return key_problem
        limited = self._rate_limit()
        if limited:
            return limited
        answer = self._application(method, path, params, headers, body)
        if answer.status < 300:
            answer.headers.update(self._limit_headers())
        return answer

    def _check_api_key(self, value: str | None, *, token_endpoint: bool) -> _Answer | None:
        if not value:
            return _Answer(403, {"error": "Missing x-api-key header."})
        keystring, _, secret = value.partition(":")
        if not secret:
            return _Answer(403, {"error": "Shared secret is required in x-api-key header."})
        if self.shared_secret != secret or keystring != self.keystring:
            return _Answer(403, {"error": "Invalid API key."})
        return None

    def _rate_limit(self) -> _Answer | None:
        now = time.monotonic()
        while self._window and now - self._window[0] >= 1.0:
            self._window.popleft()
        while self._today and now - self._today[0] >= 86400:
            self._today.popleft()
        if len(self._window) >= self.per_second:
            return _Answer(429, {"error": "Too many requests"}, {"retry-after": "1"})
        if len(self._today) >= self.per_day:
            return _Answer(429, {"error": "Daily limit reached"}, {"retry-after": "3600"})
        self._window.append(now)
        self._today.append(now)
        return None

    def _limit_headers(self) -> dict[str, str]:
        remaining_second = str(max(self.per_second - len(self._window), 0))
        return {
            "x-limit-per-second": str(self.per_second),
            "x-remaining-this-second": remaining_second,
            "x-remaining-this-secon": remaining_second,  # the docs' spelling, sent as well
            "x-limit-per-day": str(self.per_day),
            "x-remaining-today": str(max(self.per_day - len(self._today), 0)),
        }

    # -- OAuth ----------------------------------------------------------------------------------

    def _authorize(self, params: dict[str, str]) -> _Answer:
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != self.keystring:
            return _Answer(400, "<h1>Invalid client_id</h1>")
        if self.redirect_uris and redirect_uri not in self.redirect_uris:
            return _Answer(400, "<h1>redirect_uri does not match a registered callback</h1>")
        state = params.get("state", "")
        scopes = frozenset(params.get("scope", "").split())
        problem = ""
        if params.get("response_type") != "code":
            problem = "response_type must be code"
        elif not state:
            problem = "state is required"
        elif not scopes or not scopes <= SCOPES:
            problem = "scope is invalid"
        elif params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            problem = "PKCE with code_challenge_method=S256 is required"
        if problem:
            return _redirect(
                redirect_uri, error="invalid_request", error_description=problem, state=state
            )
        if self.deny_next:
            error, self.deny_next = self.deny_next, None
            return _redirect(
                redirect_uri,
                state=state,
                error=error,
                error_description="The user denied the request",
            )
        if self.approve_as is None:
            return _Answer(400, "<h1>No Etsy user to sign in as</h1>")
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Grant(
            user_id=self.approve_as,
            client_id=self.keystring,
            scopes=scopes,
            expires_at=time.time() + 300,
            redirect_uri=redirect_uri,
            challenge=params["code_challenge"],
        )
        return _redirect(redirect_uri, code=code, state=state)

    def _token(self, content_type: str, body: bytes) -> _Answer:
        if content_type.startswith("application/json"):
            try:
                form = json.loads(body or b"{}")
            except ValueError:
                return _Answer(400, {"error": "invalid_request", "error_description": "bad JSON"})
            form = {k: str(v) for k, v in form.items()} if isinstance(form, dict) else {}
        else:
            form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if form.get("client_id") != self.keystring:
            return _oauth_error(401, "invalid_client", "client_id is invalid")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            grant = self._codes.get(form.get("code", ""))
            if grant is None:
                return _oauth_error(400, "invalid_grant", "code is invalid")
            if grant.used:
                return _oauth_error(400, "invalid_grant", "code has been used previously")
            grant.used = True
            if grant.expires_at < time.time():
                return _oauth_error(400, "invalid_grant", "code has expired")
            if form.get("redirect_uri") != grant.redirect_uri:
                return _oauth_error(400, "invalid_grant", "redirect_uri does not match")
            if _s256(form.get("code_verifier", "")) != grant.challenge:
                return _oauth_error(400, "invalid_grant", "code_verifier is invalid")
            return self._issue(grant)
        if grant_type == "refresh_token":
            grant = self._refresh.pop(form.get("refresh_token", ""), None)
            if grant is None:
                return _oauth_error(400, "invalid_grant", "refresh_token is revoked")
            return self._issue(grant)  # rotation: the old refresh token is gone
        return _oauth_error(400, "unsupported_grant_type", "grant_type is not supported")

    def _issue(self, grant: _Grant) -> _Answer:
        access = f"{grant.user_id}.{secrets.token_urlsafe(32)}"
        refresh = f"{grant.user_id}.{secrets.token_urlsafe(32)}"
        base = _Grant(user_id=grant.user_id, client_id=grant.client_id, scopes=grant.scopes)
        self._access[access] = _Grant(
            **{**base.__dict__, "expires_at": time.time() + self.access_ttl}
        )
        self._refresh[refresh] = base
        return _Answer(
            200,
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": self.access_ttl,
                "refresh_token": refresh,
            },
        )

    # -- the application API --------------------------------------------------------------------

    def _bearer(self, headers: Any, scope: str | None) -> _Grant | _Answer:
        value = headers.get("authorization", "")
        token = value[7:] if value.lower().startswith("bearer ") else ""
        grant = self._access.get(token)
        if grant is None or grant.expires_at < time.time():
            return _oauth_error(401, "invalid_token", "access token is expired")
        if scope and scope not in grant.scopes:
            return _Answer(403, {"error": f"The access token is missing the {scope} scope."})
        return grant

    def _application(
        self, method: str, path: str, params: dict[str, str], headers: Any, body: bytes
    ) -> _Answer:
        if path == "/v3/application/openapi-ping" and method == "GET":
            return _Answer(200, {"application_id": 1234567})
        if path == "/v3/application/users/me" and method == "GET":
            grant = self._bearer(headers, "shops_r")
            if isinstance(grant, _Answer):
                return grant
            user = self.users[grant.user_id]
            return _Answer(200, {"user_id": user.user_id, "shop_id": user.shop_id})
        if match := re.fullmatch(r"/v3/application/users/(\d+)/shops", path):
            user = self.users.get(int(match[1]))
            if user is None or user.shop_id is None:
                return _Answer(404, {"error": "User does not have a shop."})
            return _Answer(200, self._shop(user))
        if match := re.fullmatch(r"/v3/application/shops/(\d+)", path):
            owners = [u for u in self.users.values() if u.shop_id == int(match[1])]
            if not owners:
                return _Answer(404, {"error": f"Could not find a Shop with shop_id = {match[1]}."})
            return _Answer(200, self._shop(owners[0]))
        match = re.fullmatch(r"/v3/application/shops/(\d+)/receipts(?:/(\d+))?(/tracking)?", path)
        if match is None:
            return _Answer(404, {"error": "Not found."})
        scope = "transactions_w" if match[3] else "transactions_r"
        grant = self._bearer(headers, scope)
        if isinstance(grant, _Answer):
            return grant
        shop_id = int(match[1])
        if self.users[grant.user_id].shop_id != shop_id:
            return _Answer(403, {"error": "The shop does not belong to the token's user."})
        if match[2] is None and method == "GET":
            return self._receipts(shop_id, params)
        receipt = self.receipts.get(shop_id, {}).get(int(match[2] or 0))
        if receipt is None:
            return _Answer(
                404,
                {
                    "error": f"Could not find a Shop Receipt with receipt_id = {match[2]} "
                    f"associated with shop_id = {shop_id}."
                },
            )
        if match[3] and method == "POST":
            return self._ship(shop_id, receipt, headers, body)
        if method == "GET":
            return _Answer(200, copy.deepcopy(receipt))
        return _Answer(405, {"error": "Method not allowed."})

    def _shop(self, user: FakeUser) -> dict[str, Any]:
        return {
            "shop_id": user.shop_id,
            "user_id": user.user_id,
            "shop_name": user.shop_name,
            "title": f"{user.shop_name} - 3D printed things",
            "currency_code": user.currency,
            "url": f"https://www.etsy.com/shop/{user.shop_name}",
            "is_vacation": False,
            "transaction_sold_count": len(self.receipts.get(user.shop_id or 0, {})),
            "shipping_from_country_iso": "US",
            "review_count": 0,
        }

    def _receipts(self, shop_id: int, params: dict[str, str]) -> _Answer:
        if self._repeat and self._last_page is not None:
            self._repeat = False
            return _Answer(200, self._last_page)
        try:
            query = _ReceiptQuery.parse(params)
        except ValueError as exc:
            return _Answer(400, {"error": str(exc)})
        rows = [r for r in self.receipts.get(shop_id, {}).values() if query.keeps(r)]
        rows.sort(key=query.sort_key, reverse=query.descending)
        # Encoded here, under the lock: a later touch() must not change a page already served.
        page = json.dumps(
            {"count": len(rows), "results": rows[query.offset : query.offset + query.limit]}
        ).encode()
        self._last_page = page
        self._pages_served += 1
        if self.on_receipts_page is not None:
            self.on_receipts_page(self, shop_id, self._pages_served)
        return _Answer(200, page)

    def _ship(self, shop_id: int, receipt: dict[str, Any], headers: Any, body: bytes) -> _Answer:
        try:
            if headers.get("content-type", "").startswith("application/json"):
                form = json.loads(body or b"{}")
            else:
                form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        except ValueError:
            return _Answer(400, {"error": "Invalid body."})
        tracking, carrier = form.get("tracking_code"), form.get("carrier_name")
        total = receipt["grandtotal"]
        if receipt.get("country_iso") == "US" and total["amount"] > 10 * total["divisor"]:
            if not tracking or not carrier:
                return _Answer(400, {"error": "Tracking code and carrier are required."})
        stamp = self.now(shop_id)
        receipt["shipments"].append(
            {
                "receipt_shipping_id": secrets.randbelow(10**12),
                "shipment_notification_timestamp": stamp,
                "carrier_name": carrier or "",
                "tracking_code": tracking or "",
            }
        )
        receipt.update(is_shipped=True, status="Completed")
        receipt["update_timestamp"] = receipt["updated_timestamp"] = stamp
        for transaction in receipt["transactions"]:
            transaction["shipped_timestamp"] = stamp
        return _Answer(200, copy.deepcopy(receipt))


@dataclass
class _ReceiptQuery:
    limit: int = 25
    offset: int = 0
    sort_on: str = "created"
    descending: bool = True
    ranges: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    flags: dict[str, bool | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, params: dict[str, str]) -> _ReceiptQuery:
        query = cls()
        query.limit = _int_param(params, "limit", 25, 1, 100)
        query.offset = _int_param(params, "offset", 0, 0, 12000)
        query.sort_on = params.get("sort_on", "created")
        if query.sort_on not in ("created", "updated", "receipt_id"):
            raise ValueError("sort_on must be one of created, updated, receipt_id")
        order = params.get("sort_order", "desc")
        if order not in SORT_ORDERS:
            raise ValueError("sort_order must be one of " + ", ".join(SORT_ORDERS))
        query.descending = SORT_ORDERS[order]
        for name, key in (("created", "created_timestamp"), ("last_modified", "updated_timestamp")):
            low = _int_param(params, f"min_{name}", None, MIN_TIME, 2**31)
            high = _int_param(params, f"max_{name}", None, MIN_TIME, 2**31)
            query.ranges[key] = (low, high)
        for flag in ("was_paid", "was_shipped", "was_delivered", "was_canceled"):
            value = params.get(flag)
            if value is not None and value.lower() not in BOOLEANS:
                raise ValueError(f"{flag} must be a boolean")
            query.flags[flag] = None if value is None else BOOLEANS[value.lower()]
        if query.flags["was_canceled"] is None:
            # Live behaviour: an omitted was_canceled means false (§5.3).
            query.flags["was_canceled"] = False
        return query

    def keeps(self, receipt: dict[str, Any]) -> bool:
        # Asked of every receipt for every page: the facts are read only when a filter needs them.
        for key, (low, high) in self.ranges.items():
            if low is None and high is None:
                continue
            value = receipt.get(key)
            if not isinstance(value, int):
                value = 0
            if (low is not None and value < low) or (high is not None and value > high):
                return False
        for flag, want in self.flags.items():
            if want is None:
                continue
            if flag == "was_canceled":
                fact = str(receipt.get("status", "")).lower() == "canceled"
            elif flag == "was_paid":
                fact = bool(receipt.get("is_paid"))
            elif flag == "was_shipped":
                fact = bool(receipt.get("is_shipped"))
            else:  # was_delivered: the fake never delivers
                fact = False
            if fact != want:
                return False
        return True

    def sort_key(self, receipt: dict[str, Any]) -> tuple[int, int]:
        value = receipt.get(SORT_KEYS.get(self.sort_on, "receipt_id"))
        rid = receipt.get("receipt_id")
        return (
            value if isinstance(value, int) else 0,
            rid if isinstance(rid, int) else 0,
        )


def _int_param(params: dict[str, str], name: str, default: int | None, low: int, high: int) -> Any:
    value = params.get(name)
    if value is None:
        return default
    if not re.fullmatch(r"\d+", value) or not low <= int(value) <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}")
    return int(value)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class _Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _oauth_error(status: int, error: str, description: str) -> _Answer:
    return _Answer(status, {"error": error, "error_description": description})


def _redirect(uri: str, **query: str) -> _Answer:
    separator = "&" if "?" in uri else "?"
    return _Answer(302, "", {"location": f"{uri}{separator}{urlencode(query)}"})


class _Handler(BaseHTTPRequestHandler):
    fake: FakeEtsy
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        answer = self.fake.handle(self.command, self.path, self.headers, body)
        if isinstance(answer.body, bytes):
            payload, kind = answer.body, "application/json"
        elif isinstance(answer.body, str):
            payload, kind = answer.body.encode(), "text/html; charset=utf-8"
        else:
            payload, kind = json.dumps(answer.body).encode(), "application/json"
        self.send_response(answer.status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(payload)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read `requests`
        pass


# -- receipts that look like Etsy's -------------------------------------------------------------

CATALOGUE = [
    ("Custom Name Planter - 3D Printed Succulent Pot", 1789012345, "PLANTER-M-SAGE", 2200),
    ("Articulated Dragon - 3D Printed Fidget Toy", 1789012999, "DRAGON-SILK-RAINBOW", 1400),
    ("Low-Poly Fox Lamp - 3D Printed Night Light", 1789000001, None, 2500),
    ("Cable Organizer Clips (Set of 10) - 3D Printed", 1788000003, "CLIPS-10-BLK", 1500),
    ("Headphone Stand - Minimal Desk Decor", 1788000044, "HEADSTAND-WHT", 1900),
]
COLOURS = ["Sage Green", "Black", "White", "Silk Rainbow", "Terracotta"]


def make_receipt(
    receipt_id: int,
    *,
    created: int,
    updated: int | None = None,
    status: str = "Paid",
    is_paid: bool = True,
    is_shipped: bool = False,
    items: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """A receipt with every ShopReceipt field, shaped on the shared example's first receipt."""
    receipt_text, transaction_texts = _receipt_template()
    receipt = json.loads(receipt_text)
    updated = updated if updated is not None else created
    receipt.update(
        receipt_id=receipt_id,
        buyer_user_id=90000000 + seed,
        name=f"Buyer {seed}",
        status=status,
        is_paid=is_paid,
        is_shipped=is_shipped,
        message_from_buyer="",
        create_timestamp=created,
        created_timestamp=created,
        update_timestamp=updated,
        updated_timestamp=updated,
    )
    transactions = []
    subtotal = 0
    for index in range(items):
        title, listing_id, sku, price = CATALOGUE[(seed + index) % len(CATALOGUE)]
        transaction = json.loads(transaction_texts[index % 2])
        quantity = 1 + (seed + index) % 3
        colour = COLOURS[(seed * 7 + index) % len(COLOURS)]
        transaction.update(
            transaction_id=receipt_id * 10 + index,
            receipt_id=receipt_id,
            title=title,
            listing_id=listing_id,
            sku=sku,
            product_id=listing_id * 10 + COLOURS.index(colour) if sku else None,
            quantity=quantity,
            price={"amount": price, "divisor": 100, "currency_code": "USD"},
            create_timestamp=created,
            created_timestamp=created,
            paid_timestamp=created + 60 if is_paid else None,
            expected_ship_date=created + 3 * 86400,
            variations=[
                {
                    "property_id": 513,
                    "value_id": 1234500000 + COLOURS.index(colour),
                    "formatted_name": "Color",
                    "formatted_value": colour,
                    "question_id": None,
                }
            ],
        )
        subtotal += price * quantity
        transactions.append(transaction)
    receipt["transactions"] = transactions
    shipping, tax = 499, subtotal * 8 // 100
    for key, amount in (
        ("total_price", subtotal),
        ("subtotal", subtotal),
        ("total_shipping_cost", shipping),
        ("total_tax_cost", tax),
        ("grandtotal", subtotal + shipping + tax),
    ):
        receipt[key] = {"amount": amount, "divisor": 100, "currency_code": "USD"}
    return receipt


@functools.cache
def _receipt_template() -> tuple[str, tuple[str, str]]:
    """The example's first receipt (items left out) and its two items, as JSON text: each
    receipt parses its own copy (cheaper than parsing the whole example and deep-copying)."""
    template = example_response()["results"][0]
    first, second = template["transactions"][:2]
    template["transactions"] = []
    return json.dumps(template), (json.dumps(first), json.dumps(second))


def generate_receipts(
    count: int, *, first_id: int = 3500000000, start: int = 1767225600, step: int = 37
) -> list[dict[str, Any]]:
    """``count`` paid receipts, created ``step`` seconds apart, with one to three items."""
    return [
        make_receipt(first_id + n, created=start + n * step, items=1 + n % 3, seed=n)
        for n in range(count)
    ]

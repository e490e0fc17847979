"""HTTP to Etsy: OAuth 2.0 PKCE, token exchange and refresh, paced and retried API calls.

Why httpx and not urllib: one pooled keep-alive connection for a whole sync, per-phase timeouts,
form and JSON bodies and header handling done right; the retry and pacing policy on top is ours
because it follows Etsy's documented behaviour (reference §4, §7):

- every call carries ``x-api-key: <keystring>:<shared secret>`` (enforced by Etsy since 2026-02-09);
- calls are paced to ``x-limit-per-second`` (a sliding one-second window, learned from the
  headers, 10/s until then) and stop early when ``x-remaining-today`` reaches 0;
- 429 waits ``retry-after`` seconds; 5xx and broken connections back off exponentially with
  jitter; a 401 ``invalid_token`` asks the token source for a fresh token once and retries;
- ``invalid_grant`` from the token endpoint is ``ReconnectNeeded``: the owner must authorize again.

No message or exception here ever contains a token or the shared secret.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import random
import secrets
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import httpx

from orders.etsy.receipts import receipt_id_of, updated_timestamp

DEFAULT_PER_SECOND = 10  # Etsy's historical default QPS (§4); replaced by x-limit-per-second
PAGE_LIMIT = 100  # the most getShopReceipts returns per page (§5.1)
MAX_OFFSET = 12000
MAX_RETRY_AFTER = 60.0  # longer waits mean the day's quota is gone: give up, try next run
MAX_429 = 8
MAX_5XX = 4
SAFETY = 0.05  # seconds added to the pacing window: our clock is not Etsy's


class EtsyError(Exception):
    """Etsy refused or failed a call. ``str()`` is safe to show and log (no secrets)."""

    def __init__(self, message: str, *, status: int | None = None, error: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.error = error


class ReconnectNeeded(EtsyError):
    """The grant is gone (revoked, expired refresh token): the owner must authorize again."""


class EtsyUnavailable(EtsyError):
    """Etsy kept failing (5xx, network, rate limit) after the retries: try again later."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    scope: str = ""

    @property
    def etsy_user_id(self) -> int | None:
        """Both tokens start with the granting user's numeric id and a dot (§1.2)."""
        prefix = self.access_token.split(".", 1)[0]
        return int(prefix) if prefix.isdigit() else None

    def __repr__(self) -> str:  # never print a token
        return f"Tokens(user={self.etsy_user_id}, expires_in={self.expires_in})"


class TokenSource(Protocol):
    """Where a client gets the bearer token of one shop, and a fresh one after a 401."""

    def access_token(self) -> str: ...

    def refreshed(self, stale: str) -> str: ...


# -- PKCE and the authorize URL ---------------------------------------------------------------


def pkce_verifier() -> str:
    """43 characters from [A-Za-z0-9_-]: 32 random bytes, base64url without padding (§1.2)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_url(
    connect_url: str,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: list[str],
    state: str,
    code_challenge: str,
) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        },
        quote_via=quote,  # spaces as %20, as Etsy's docs show
    )
    return f"{connect_url}?{query}"


# -- pacing -------------------------------------------------------------------------------------


@dataclass
class Pacer:
    """Keeps calls under Etsy's per-second limit, as the response headers describe it."""

    per_second: int = DEFAULT_PER_SECOND
    remaining_today: int | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    sent: deque[float] = field(default_factory=deque)
    hold_until: float | None = None

    def wait(self) -> None:
        now = self.clock()
        while self.sent and now - self.sent[0] >= 1.0 + SAFETY:
            self.sent.popleft()
        delay = 0.0
        if len(self.sent) >= max(self.per_second, 1):
            delay = self.sent[0] + 1.0 + SAFETY - now
        if self.hold_until is not None:
            delay = max(delay, self.hold_until - now)
            self.hold_until = None
        if delay > 0:
            self.sleep(delay)
        self.sent.append(self.clock())

    def observe(self, headers: httpx.Headers) -> None:
        limit = _header_int(headers, "x-limit-per-second")
        if limit and limit > 0:
            self.per_second = limit
        remaining = _header_int(headers, "x-remaining-this-second")
        if remaining is None:  # the docs' spelling (§4)
            remaining = _header_int(headers, "x-remaining-this-secon")
        if remaining is not None and remaining <= 0:
            # Etsy counts this second as used up (other clients of the token may share it).
            start = self.sent[0] if self.sent else self.clock()
            self.hold_until = start + 1.0 + SAFETY
        today = _header_int(headers, "x-remaining-today")
        if today is not None:
            self.remaining_today = today


def _header_int(headers: httpx.Headers, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# -- the client ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One page of receipts, and the ``min_last_modified`` a later run may resume from."""

    receipts: list[Any]
    resume_from: int | None
    max_updated: int | None


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client: httpx builds a new one per Client by default,
    reading the whole CA bundle each time (~20 ms of CPU per sync); a context is not changed
    after it is made and may be shared between threads."""
    return httpx.create_ssl_context()


class EtsyClient:
    def __init__(
        self,
        *,
        api_url: str,
        keystring: str,
        shared_secret: str,
        timeout: float = 20.0,
        backoff: float = 0.5,
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.keystring = keystring
        self.sleep = sleep
        self.backoff = backoff
        self.pacer = pacer or Pacer(sleep=sleep)
        self.requests = 0
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=10.0),
            headers={"x-api-key": f"{keystring}:{shared_secret}", "accept": "application/json"},
            follow_redirects=False,
            verify=_tls_context(),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EtsyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- OAuth token endpoint (§1.2) ------------------------------------------------------------

    def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> Tokens:
        return self._token(
            {
                "grant_type": "authorization_code",
                "client_id": self.keystring,
                "redirect_uri": redirect_uri,
                "code": code,
                "code_verifier": code_verifier,
            }
        )

    def refresh(self, *, refresh_token: str) -> Tokens:
        return self._token(
            {
                "grant_type": "refresh_token",
                "client_id": self.keystring,
                "refresh_token": refresh_token,
            }
        )

    def _token(self, form: dict[str, str]) -> Tokens:
        body = self._call("POST", "/v3/public/oauth/token", data=form, auth=None)
        access, refresh = body.get("access_token"), body.get("refresh_token")
        expires_in = body.get("expires_in")
        if not isinstance(access, str) or not isinstance(refresh, str) or not access:
            raise EtsyError("Etsy's token answer has no access and refresh token.")
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
            expires_in = 3600
        scope = body.get("scope") if isinstance(body.get("scope"), str) else ""
        return Tokens(access, refresh, expires_in, scope)

    # -- API calls ------------------------------------------------------------------------------

    def me(self, auth: TokenSource) -> dict[str, Any]:
        return self._call("GET", "/v3/application/users/me", auth=auth)

    def shop(self, shop_id: int, auth: TokenSource) -> dict[str, Any]:
        return self._call("GET", f"/v3/application/shops/{shop_id}", auth=auth)

    def receipt(self, shop_id: int, receipt_id: int, auth: TokenSource) -> dict[str, Any]:
        return self._call(
            "GET", f"/v3/application/shops/{shop_id}/receipts/{receipt_id}", auth=auth
        )

    def create_receipt_shipment(
        self,
        shop_id: int,
        receipt_id: int,
        auth: TokenSource,
        *,
        carrier_name: str,
        tracking_code: str,
    ) -> dict[str, Any]:
        path = f"/v3/application/shops/{shop_id}/receipts/{receipt_id}/tracking"
        body = {"carrier_name": carrier_name, "tracking_code": tracking_code}
        return self._call("POST", path, json=body, auth=auth)

    def receipt_pages(
        self,
        shop_id: int,
        auth: TokenSource,
        *,
        since: int | None,
        was_canceled: bool,
        min_created: int | None = None,
    ) -> Iterator[Page]:
        """Every receipt modified at or after ``since``, oldest change first, page by page.

        Offset paging over a set that changes while we read it skips or repeats rows (§5.1): a
        receipt updated mid-sync jumps to the end of ``sort_on=updated`` and every later row
        shifts back one place. So each page is anchored on the last ``updated_timestamp`` seen
        (``min_last_modified=<last>&offset=0``, keyset paging), rows already returned at that
        timestamp are dropped, and offsets are only used inside one timestamp. That also keeps
        offsets far below Etsy's 12000 cap. Rows older than the anchor (a stale or repeated page)
        are dropped and the page is asked again, a bounded number of times.
        """
        anchor, offset = since, 0
        seen_at_anchor: set[int] = set()
        stale_pages = 0
        while True:
            params: dict[str, Any] = {
                "limit": PAGE_LIMIT,
                "offset": offset,
                "sort_on": "updated",
                "sort_order": "asc",
                "was_canceled": "true" if was_canceled else "false",
            }
            if anchor is not None:
                params["min_last_modified"] = anchor
            if min_created is not None:
                params["min_created"] = min_created
            body = self._call(
                "GET", f"/v3/application/shops/{shop_id}/receipts", params=params, auth=auth
            )
            results = body.get("results")
            if not isinstance(results, list):
                raise EtsyError("Etsy's receipts answer has no results list.")
            fresh, at_anchor, newest = [], [], anchor
            for raw in results:
                stamp, rid = updated_timestamp(raw), receipt_id_of(raw)
                if stamp is not None and anchor is not None and stamp < anchor:
                    continue  # older than we asked for: a stale or repeated page
                if stamp is not None and stamp == anchor and rid in seen_at_anchor:
                    at_anchor.append(rid)
                    continue
                fresh.append(raw)
                if stamp is not None and (newest is None or stamp > newest):
                    newest = stamp
            full = len(results) >= PAGE_LIMIT
            if full and not fresh and stale_pages < 3:
                stale_pages += 1  # nothing new on a full page: ask once more before moving on
                continue
            stale_pages = 0
            yield Page(receipts=fresh, resume_from=anchor, max_updated=newest)
            if not full:
                return
            if newest is None or newest == anchor:
                # The whole page shares the anchor's timestamp: walk on by offset inside it.
                offset += len(results)
                seen_at_anchor.update(r for r in map(receipt_id_of, fresh) if r is not None)
                if offset > MAX_OFFSET:
                    raise EtsyError("More than 12000 receipts share one timestamp.")
            else:
                anchor, offset = newest, 0
                seen_at_anchor = {
                    rid
                    for raw in fresh
                    if updated_timestamp(raw) == newest and (rid := receipt_id_of(raw)) is not None
                }

    # -- one call, paced and retried ------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        auth: TokenSource | None,
        params: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        json: Any = None,
    ) -> dict[str, Any]:
        token = auth.access_token() if auth is not None else None
        refreshed = False
        limited = failed = 0
        while True:
            if self.pacer.remaining_today == 0:
                raise EtsyUnavailable("Etsy's daily request quota for this app is used up.")
            self.pacer.wait()
            headers = {"authorization": f"Bearer {token}"} if token else {}
            self.requests += 1
            try:
                response = self._http.request(
                    method,
                    self.api_url + path,
                    params=params,
                    data=data,
                    json=json,
                    headers=headers,
                )
            except httpx.HTTPError as exc:
                failed += 1
                if failed > MAX_5XX:
                    raise EtsyUnavailable(f"Etsy is unreachable ({type(exc).__name__}).") from None
                self._back_off(failed)
                continue
            self.pacer.observe(response.headers)
            status = response.status_code
            if status == 429:
                limited += 1
                delay = _retry_after(response)
                if limited > MAX_429 or delay > MAX_RETRY_AFTER:
                    raise EtsyUnavailable("Etsy's rate limit: try again later.", status=429)
                self.sleep(delay)
                continue
            if status >= 500:
                failed += 1
                if failed > MAX_5XX:
                    raise EtsyUnavailable(
                        f"Etsy answered {status} {_error_text(response)}".strip(), status=status
                    )
                self._back_off(failed)
                continue
            if status == 401 and auth is not None and not refreshed:
                refreshed = True
                token = auth.refreshed(token or "")
                continue
            if status >= 400:
                error, description = _error_fields(response)
                if error == "invalid_grant":
                    raise ReconnectNeeded(
                        f"Etsy refused the grant: {description or error}",
                        status=status,
                        error=error,
                    )
                text = description or error or response.reason_phrase
                raise EtsyError(f"Etsy answered {status}: {text}"[:300], status=status, error=error)
            try:
                body = response.json()
            except ValueError:
                raise EtsyError(f"Etsy answered {status} with a body that is not JSON.") from None
            if not isinstance(body, dict):
                raise EtsyError("Etsy answered with JSON that is not an object.")
            return body

    def _back_off(self, attempt: int) -> None:
        delay = self.backoff * 2 ** (attempt - 1)
        self.sleep(delay * (0.5 + random.random() / 2))


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "1")
    try:
        return max(float(value), 0.0)
    except ValueError:
        return 1.0


def _error_fields(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    error, description = body.get("error"), body.get("error_description")
    return (
        error[:200] if isinstance(error, str) else "",
        description[:200] if isinstance(description, str) else "",
    )


def _error_text(response: httpx.Response) -> str:
    error, description = _error_fields(response)
    return description or error

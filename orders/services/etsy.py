"""The Etsy connection (OAuth PKCE, tokens) and the receipt sync into orders.

Reference: /work/shared/reference/etsy-api.md. The HTTP side is ``orders/etsy/client.py``; this
module owns the rows: who asked to connect (state, single use, 10 minutes), the encrypted tokens
(refreshed one at a time per shop, the rotated refresh token saved every time), and the sync's
high-water mark, claimed by one process at a time.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import queue
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from j3d import events
from j3d.lib import limits
from j3d.lib.bulk import insert_new
from j3d.lib.errors import Conflict, DomainError, NotFound
from orders.etsy.client import (
    EtsyClient,
    EtsyError,
    EtsyUnavailable,
    Page,
    ReconnectNeeded,
    Tokens,
    authorize_url,
    pkce_challenge,
    pkce_verifier,
)
from orders.etsy.receipts import BadReceipt, Receipt, Transaction, parse_receipt
from orders.models import EtsyAuthorization, EtsyConnection, Order, OrderItem
from orders.services import order_announce_changed, order_mark_shipped, order_ship_check
from orders.services.matching import ProfileMatcher

logger = logging.getLogger(__name__)

STATE_MINUTES = 10
# What secrets.token_urlsafe(32) mints as a connect's state, within EtsyAuthorization.state.
_MINTED_STATE = re.compile(r"[A-Za-z0-9_-]{1,64}")
READ_SCOPES = ["transactions_r", "shops_r"]
WRITE_SCOPE = "transactions_w"
REFRESH_EARLY = timedelta(seconds=120)  # refresh a token this long before Etsy expires it
REFRESH_CLAIM = timedelta(seconds=30)
SYNC_CLAIM = timedelta(minutes=5)
EARLIEST = 946684800  # Etsy refuses min_last_modified before 2000-01-01
CENT = Decimal("0.01")
PREFETCH_PAGES = 4  # pages of receipts fetched ahead of the one being written


class EtsyNotConnected(NotFound):
    """The owner has no Etsy shop connected."""


class EtsyConnectFailed(DomainError):
    """The connect callback cannot finish; the message is shown to the person as it is."""


def etsy_configured() -> bool:
    return bool(settings.ETSY_KEYSTRING and settings.ETSY_SHARED_SECRET)


def etsy_client() -> EtsyClient:
    return EtsyClient(
        api_url=settings.ETSY_API_URL,
        keystring=settings.ETSY_KEYSTRING,
        shared_secret=settings.ETSY_SHARED_SECRET,
        backoff=settings.ETSY_RETRY_BACKOFF_SECONDS,
    )


# -- connecting ---------------------------------------------------------------------------------


def etsy_connect_start(*, user: Any, mark_shipped: bool = False) -> str:
    """The Etsy authorize URL to send the owner to; its state is bound to ``user`` server-side."""
    if not etsy_configured():
        raise Conflict(
            "Etsy is not set up on this server: set ETSY_KEYSTRING and ETSY_SHARED_SECRET."
        )
    verifier, state = pkce_verifier(), secrets.token_urlsafe(32)
    scopes = READ_SCOPES + ([WRITE_SCOPE] if mark_shipped else [])
    now = timezone.now()
    with transaction.atomic():
        EtsyAuthorization.objects.filter(user=user, expires_at__lt=now).delete()
        EtsyAuthorization.objects.create(
            user=user,
            state=state,
            code_verifier=verifier,
            scopes=" ".join(scopes),
            expires_at=now + timedelta(minutes=STATE_MINUTES),
        )
    return authorize_url(
        settings.ETSY_CONNECT_URL,
        client_id=settings.ETSY_KEYSTRING,
        redirect_uri=settings.ETSY_REDIRECT_URI,
        scopes=scopes,
        state=state,
        code_challenge=pkce_challenge(verifier),
    )


class _Fixed:
    """The token source of a connection being made: the pair just received, no refresh."""

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens

    def access_token(self) -> str:
        return self.tokens.access_token

    def refreshed(self, stale: str) -> str:
        raise EtsyError("Etsy refused the token it has just issued.")


def etsy_connect_finish(
    *, state: str, code: str, error: str = "", error_description: str = ""
) -> EtsyConnection:
    """Finish the OAuth callback: claim the state (once), exchange the code, find the shop, store
    the tokens encrypted. Raises EtsyConnectFailed with a message for the page; stores nothing
    then."""
    now = timezone.now()
    # Only a state J3D could have minted is looked up: one holding a NUL (which PostgreSQL
    # refuses in a query: it was a 500) or anything else it never mints claims nothing.
    claimed = (
        _MINTED_STATE.fullmatch(state) is not None
        and EtsyAuthorization.objects.filter(
            state=state, used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        == 1
    )
    if not claimed:
        raise EtsyConnectFailed(
            "This Etsy connection link has expired or was already used. "
            "Start again with “Connect Etsy shop” in J3D."
        )
    grant = EtsyAuthorization.objects.select_related("user").get(state=state)
    if error:
        said = (error_description or error)[:200]
        raise EtsyConnectFailed(f"Etsy did not connect the shop: {said}.")
    if not code:
        raise EtsyConnectFailed("Etsy sent no authorization code. Start again from J3D.")
    try:
        with etsy_client() as client:
            tokens = client.exchange_code(
                code=code[:500],
                code_verifier=grant.code_verifier,
                redirect_uri=settings.ETSY_REDIRECT_URI,
            )
            source = _Fixed(tokens)
            me = client.me(source)
            shop_id = me.get("shop_id")
            if not isinstance(shop_id, int) or isinstance(shop_id, bool) or shop_id <= 0:
                raise EtsyConnectFailed("This Etsy account has no shop to connect.")
            shop = client.shop(shop_id, source)
    except EtsyError as exc:
        logger.warning("etsy connect for user %s failed: %s", grant.user_id, exc)
        raise EtsyConnectFailed(f"Etsy could not connect the shop: {exc}") from None
    name = shop.get("shop_name") if isinstance(shop.get("shop_name"), str) else ""
    user_id = me.get("user_id") if isinstance(me.get("user_id"), int) else tokens.etsy_user_id
    try:
        return _connection_save(grant, tokens, shop_id, name[:200], user_id or 0)
    except IntegrityError:
        raise EtsyConnectFailed(
            "This Etsy shop is already connected to another J3D account."
        ) from None


@transaction.atomic
def _connection_save(
    grant: EtsyAuthorization, tokens: Tokens, shop_id: int, shop_name: str, etsy_user_id: int
) -> EtsyConnection:
    if EtsyConnection.objects.filter(shop_id=shop_id).exclude(user_id=grant.user_id).exists():
        raise IntegrityError("shop connected elsewhere")
    now = timezone.now()
    connection = EtsyConnection.objects.select_for_update().filter(user_id=grant.user_id).first()
    if connection is None:
        connection = EtsyConnection(user_id=grant.user_id, connected_at=now)
    elif connection.shop_id != shop_id:  # another shop: its sync starts from the beginning
        connection.connected_at = now
        connection.sync_high_water = connection.sync_resume_from = None
    connection.shop_id, connection.shop_name = shop_id, shop_name
    connection.etsy_user_id = etsy_user_id
    connection.scopes = grant.scopes
    connection.mark_shipped = WRITE_SCOPE in grant.scopes.split()
    connection.access_token, connection.refresh_token = tokens.access_token, tokens.refresh_token
    connection.access_expires_at = now + timedelta(seconds=tokens.expires_in)
    connection.token_version = (connection.token_version or 0) + 1
    connection.refresh_claimed_until = None
    connection.reconnect_needed = False
    connection.last_error = ""
    connection.save()
    return connection


@transaction.atomic
def etsy_connection_update(*, connection: EtsyConnection, **fields: Any) -> EtsyConnection:
    for name, value in fields.items():
        setattr(connection, name, value)
    connection.full_clean()
    connection.save()
    return connection


def etsy_disconnect(*, user: Any) -> None:
    """Forget the shop's tokens; its orders stay."""
    deleted, _ = EtsyConnection.objects.filter(user=user).delete()
    if not deleted:
        raise EtsyNotConnected("Etsy is not connected.")


# -- tokens -------------------------------------------------------------------------------------


class ConnectionTokens:
    """The TokenSource of a stored connection: refreshes before expiry and after a 401."""

    def __init__(self, connection: EtsyConnection, client: EtsyClient) -> None:
        self.connection, self.client = connection, client

    def access_token(self) -> str:
        if self.connection.access_expires_at - REFRESH_EARLY <= timezone.now():
            return self.refreshed(self.connection.access_token)
        return self.connection.access_token

    def refreshed(self, stale: str) -> str:
        self.connection = etsy_token_refresh(
            connection=self.connection, client=self.client, stale=stale
        )
        return self.connection.access_token


def etsy_token_refresh(
    *, connection: EtsyConnection, client: EtsyClient, stale: str, wait_seconds: float = 40.0
) -> EtsyConnection:
    """A connection holding a usable access token other than ``stale``.

    One refresh at a time per shop: the refresh is claimed with a conditional UPDATE on the token
    version (a second caller waits for the first one's result instead of spending the rotated
    refresh token again), and the new pair is saved only over the version it was made from.
    ``invalid_grant`` marks the connection "reconnect needed" and tells the owner.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        row = EtsyConnection.objects.get(pk=connection.pk)
        now = timezone.now()
        if row.reconnect_needed:
            raise ReconnectNeeded("Etsy needs the shop to be connected again.")
        if row.access_token != stale and row.access_expires_at - REFRESH_EARLY > now:
            return row  # someone else refreshed meanwhile
        claimed = (
            EtsyConnection.objects.filter(pk=row.pk, token_version=row.token_version)
            .filter(Q(refresh_claimed_until__isnull=True) | Q(refresh_claimed_until__lt=now))
            .update(refresh_claimed_until=now + REFRESH_CLAIM)
        )
        if claimed:
            break
        if time.monotonic() > deadline:
            raise EtsyUnavailable("Another refresh of this shop's Etsy token did not finish.")
        time.sleep(0.05)
    try:
        tokens = client.refresh(refresh_token=row.refresh_token)
    except ReconnectNeeded as exc:
        etsy_mark_reconnect_needed(connection=row, reason=str(exc))
        raise
    except EtsyError:
        EtsyConnection.objects.filter(pk=row.pk).update(refresh_claimed_until=None)
        raise
    saved = EtsyConnection.objects.filter(pk=row.pk, token_version=row.token_version).update(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        access_expires_at=timezone.now() + timedelta(seconds=tokens.expires_in),
        token_version=F("token_version") + 1,
        refresh_claimed_until=None,
        updated_at=timezone.now(),
    )
    if not saved:  # the shop was connected again meanwhile: that grant wins
        logger.warning("etsy token refresh for shop %s lost to a reconnect", row.shop_id)
    return EtsyConnection.objects.get(pk=row.pk)


def etsy_mark_reconnect_needed(*, connection: EtsyConnection, reason: str) -> None:
    """Etsy refused the grant: say so on the connection and tell the owner (once)."""
    with transaction.atomic():
        changed = EtsyConnection.objects.filter(pk=connection.pk, reconnect_needed=False).update(
            reconnect_needed=True,
            refresh_claimed_until=None,
            last_error=f"Reconnect needed: connect the Etsy shop again ({reason})"[:500],
            updated_at=timezone.now(),
        )
        if changed:
            events.publish(
                events.EtsyReconnectNeeded(
                    user_id=connection.user_id,
                    shop_id=connection.shop_id,
                    shop_name=connection.shop_name,
                    reason=reason[:200],
                )
            )


# -- the sync -----------------------------------------------------------------------------------


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0
    cancelled: int = 0
    items: int = 0
    unmatched_items: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    complete: bool = True
    error: str = ""
    requests: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def etsy_sync_orders(
    *,
    user: Any,
    full: bool = False,
    budget_seconds: float | None = None,
    client: EtsyClient | None = None,
) -> SyncResult:
    """Import the receipts Etsy changed since the last sync (all of them with ``full``).

    Two passes, as Etsy hides canceled receipts unless asked (reference §5.3): open receipts, then
    ``was_canceled=true``, both from the high-water mark minus the overlap. The high-water mark
    moves only when both passes finished; an interrupted first pass resumes where it stopped.
    One sync per shop at a time (a claim on the connection row); a second one is a Conflict.
    """
    connection = EtsyConnection.objects.filter(user=user).first()
    if connection is None:
        raise EtsyNotConnected("Etsy is not connected. Connect your Etsy shop first.")
    if connection.reconnect_needed:
        raise Conflict("Your Etsy shop must be connected again (Etsy refused the old grant).")
    claim = uuid.uuid4().hex
    now = timezone.now()
    claimed = (
        EtsyConnection.objects.filter(pk=connection.pk)
        .filter(Q(sync_claimed_until__isnull=True) | Q(sync_claimed_until__lt=now))
        .update(sync_claimed_until=now + SYNC_CLAIM, sync_claim=claim)
    )
    if not claimed:
        raise Conflict("A sync of this Etsy shop is already running.")
    own_client = client is None
    client = client or etsy_client()
    try:
        return _Sync(connection, client, claim, full, budget_seconds).run()
    finally:
        EtsyConnection.objects.filter(pk=connection.pk, sync_claim=claim).update(
            sync_claimed_until=None, sync_claim=""
        )
        if own_client:
            client.close()


class _Sync:
    def __init__(
        self,
        connection: EtsyConnection,
        client: EtsyClient,
        claim: str,
        full: bool,
        budget: float | None,
    ) -> None:
        self.connection, self.client, self.claim = connection, client, claim
        self.full = full
        self.deadline = time.monotonic() + budget if budget else None
        self.result = SyncResult()
        self.matcher = ProfileMatcher.for_owner(connection.user_id)
        self.tokens = ConnectionTokens(connection, client)
        self.requests_before = client.requests

    def run(self) -> SyncResult:
        connection = self.connection
        since = None
        if not self.full and connection.sync_high_water:
            since = max(connection.sync_high_water - settings.ETSY_SYNC_OVERLAP_SECONDS, EARLIEST)
        first_from = since if self.full else (connection.sync_resume_from or since)
        newest = connection.sync_high_water
        try:
            for canceled, start in ((False, first_from), (True, since)):
                pages = Prefetched(
                    lambda auth, start=start, canceled=canceled: self.client.receipt_pages(
                        connection.shop_id, auth, since=start, was_canceled=canceled
                    ),
                    self.tokens,
                )
                for page in pages:
                    self.import_page(page.receipts)
                    if page.max_updated is not None:
                        newest = max(newest or 0, page.max_updated)
                    if not self.checkpoint(None if canceled else page.max_updated):
                        return self.stop("Another sync of this shop took over.")
                    if self.deadline and time.monotonic() > self.deadline:
                        return self.stop("Time is up for this run; the next sync goes on.")
        except ReconnectNeeded as exc:
            return self.stop(f"Reconnect needed: connect the Etsy shop again ({exc})")
        except EtsyError as exc:
            logger.warning("etsy sync of shop %s stopped: %s", connection.shop_id, exc)
            return self.stop(str(exc))
        EtsyConnection.objects.filter(pk=connection.pk, sync_claim=self.claim).update(
            sync_high_water=newest,
            sync_resume_from=None,
            last_sync_at=timezone.now(),
            last_error="",
        )
        self.result.requests = self.client.requests - self.requests_before
        return self.result

    def checkpoint(self, resume_from: int | None) -> bool:
        """Keep the claim alive; remember how far the first pass got (written pages only)."""
        fields: dict[str, Any] = {"sync_claimed_until": timezone.now() + SYNC_CLAIM}
        if resume_from is not None and not self.full:
            fields["sync_resume_from"] = resume_from
        return bool(
            EtsyConnection.objects.filter(pk=self.connection.pk, sync_claim=self.claim).update(
                **fields
            )
        )

    def stop(self, error: str) -> SyncResult:
        self.result.complete = False
        self.result.error = error[:500]
        self.result.requests = self.client.requests - self.requests_before
        EtsyConnection.objects.filter(pk=self.connection.pk).update(
            last_sync_at=timezone.now(), last_error=error[:500]
        )
        return self.result

    def import_page(self, raws: list[Any]) -> None:
        receipts: dict[int, tuple[Receipt, str]] = {}
        for raw in raws:
            try:
                receipt = parse_receipt(raw)
            except BadReceipt as bad:
                self.skip(bad.receipt_id, bad.reason)
                continue
            receipts[receipt.receipt_id] = (receipt, _digest(raw))
        if not receipts:
            return
        user_id = self.connection.user_id
        known = {
            order.external_id: order
            for order in Order.objects.filter(
                user_id=user_id,
                source=Order.Source.ETSY,
                external_id__in=[str(rid) for rid in receipts],
            ).only("id", "external_id", "external_digest", "status")
        }
        new = []
        for rid, (receipt, digest) in receipts.items():
            order = known.get(str(rid))
            if order is None:
                new.append((receipt, digest))
            elif order.external_digest != digest:
                self.upsert_one(receipt, digest)
        if new:
            self.create_many(new)

    def skip(self, receipt_id: int | None, reason: str) -> None:
        logger.warning("etsy receipt %s skipped: %s", receipt_id, reason)
        self.result.skipped.append({"receipt_id": receipt_id, "reason": reason})

    def create_many(self, new: list[tuple[Receipt, str]]) -> None:
        """New receipts of one page in one transaction (fast path); when another sync inserted
        one of them meanwhile, each is upserted on its own instead."""
        built = []
        for receipt, digest in new:
            try:
                built.append((receipt, *_build(receipt, digest, self.connection.user_id)))
            except ValidationError as exc:
                self.skip(receipt.receipt_id, _reason(exc))
        try:
            with transaction.atomic():
                insert_new([order for _, order, _ in built])
                rows = []
                for _, order, items in built:
                    for item in items:
                        item.order = order
                        self.link_profile(item)
                        rows.append(item)
                    _announce_paid(order, self.connection.schedule_paid_orders)
                insert_new(rows)
        except IntegrityError:
            for receipt, order, _ in built:
                self.upsert_one(receipt, order.external_digest)
            return
        for _, _, items in built:
            self.count_items(items)
        self.result.created += len(built)

    def upsert_one(self, receipt: Receipt, digest: str) -> None:
        try:
            outcome, items = order_upsert_from_etsy(
                user_id=self.connection.user_id,
                receipt=receipt,
                digest=digest,
                link=self.link_profile,
                announce_paid=self.connection.schedule_paid_orders,
            )
        except ValidationError as exc:
            self.skip(receipt.receipt_id, _reason(exc))
            return
        if outcome == "created":
            self.result.created += 1
        elif outcome in ("updated", "cancelled"):
            self.result.updated += 1
            self.result.cancelled += outcome == "cancelled"
        self.count_items(items)

    def link_profile(self, item: OrderItem) -> None:
        if item.product_profile_id is None:
            item.product_profile = self.matcher.match(
                listing_id=item.listing_id, variation=item.variation_label, sku=item.sku
            )

    def count_items(self, items: list[OrderItem]) -> None:
        self.result.items += len(items)
        self.result.unmatched_items += sum(1 for i in items if i.product_profile_id is None)


class Prefetched:
    """Pages fetched ahead in a worker thread while this thread writes the earlier ones.

    At Etsy's rate limit the sync waits for Etsy anyway; fetching the next pages (request, Etsy's
    JSON, decoding) while the database takes the last one keeps both busy, and a few pages of
    slack (``PREFETCH_PAGES``, a bounded queue, so memory stays flat) let a slow write on a busy
    machine not stall the requests, which the pacer keeps at Etsy's limit. The worker does HTTP
    only: a token refresh (database rows) is asked of this thread and answered here, so every
    query stays in the thread that owns the transaction. Leaving the loop early stops the worker.
    """

    def __init__(self, pages: Any, tokens: ConnectionTokens) -> None:
        self.pages, self.tokens = pages, tokens
        self.token = tokens.access_token()
        self.inbox: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=PREFETCH_PAGES)
        self.stopped = threading.Event()

    # the worker's TokenSource
    def access_token(self) -> str:
        return self.token

    def refreshed(self, stale: str) -> str:
        reply: queue.Queue[Any] = queue.Queue(maxsize=1)
        self.put(("refresh", stale, reply))
        answer = reply.get()
        if isinstance(answer, BaseException):
            raise answer
        self.token = answer
        return answer

    def put(self, item: tuple[Any, ...]) -> None:
        while not self.stopped.is_set():
            try:
                self.inbox.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise _Stopped

    def work(self) -> None:
        try:
            for page in self.pages(self):
                self.put(("page", page))
            self.put(("done",))
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the consuming thread, which raises it
            with contextlib.suppress(_Stopped):
                self.put(("error", exc))

    def __iter__(self) -> Iterator[Page]:
        worker = threading.Thread(target=self.work, name="etsy-prefetch", daemon=True)
        worker.start()
        try:
            while True:
                kind, *rest = self.inbox.get()
                if kind == "page":
                    yield rest[0]
                elif kind == "refresh":
                    stale, reply = rest
                    try:
                        reply.put(self.tokens.refreshed(stale))
                    except BaseException as exc:
                        reply.put(exc)
                elif kind == "error":
                    raise rest[0]
                else:
                    return
        finally:
            self.stopped.set()
            worker.join(timeout=30)


class _Stopped(Exception):
    pass


def order_upsert_from_etsy(
    *, user_id: int, receipt: Receipt, digest: str, link: Any, announce_paid: bool = False
) -> tuple[str, list[OrderItem]]:
    """Create or update the order of one receipt with its items, all or nothing.

    Returns ("created" | "updated" | "cancelled" | "unchanged", the items written). Safe against
    a concurrent import of the same receipt: the insert is guarded by the unique constraints, and
    the loser updates what the winner created.
    """
    for _attempt in range(2):
        try:
            with transaction.atomic():
                order = (
                    Order.objects.select_for_update()
                    .filter(
                        user_id=user_id,
                        source=Order.Source.ETSY,
                        external_id=str(receipt.receipt_id),
                    )
                    .first()
                )
                if order is None:
                    order, items = _build(receipt, digest, user_id)
                    order.save()
                    for item in items:
                        item.order = order
                        link(item)
                    OrderItem.objects.bulk_create(items)
                    _announce_paid(order, announce_paid)
                    return "created", items
                if order.external_digest == digest:
                    return "unchanged", []
                return _update(order, receipt, digest, link, announce_paid)
        except IntegrityError:
            continue  # another import created it first: update that one
    raise ValidationError(f"Receipt {receipt.receipt_id} keeps changing under the import.")


def _update(
    order: Order, receipt: Receipt, digest: str, link: Any, announce_paid: bool
) -> tuple[str, list[OrderItem]]:
    was_status, was_paid, was_due = order.status, order.is_paid, order.due_by
    for name, value in _order_fields(receipt, digest).items():
        setattr(order, name, value)
    order.status = _status(receipt, was_status)
    outcome = "updated"
    if order.status == Order.Status.CANCELLED and was_status != Order.Status.CANCELLED:
        outcome = "cancelled"
        order.cancelled_at = timezone.now()
        order.cancel_reason = _cancel_reason(receipt)
    _validate(order, ORDER_CHECKED)
    order.save()
    existing = {item.external_id: item for item in order.items.all()}
    fresh, changed = [], []
    for transaction_ in _printable(receipt):
        values = _item_fields(transaction_)
        item = existing.get(values["external_id"])
        if item is None:
            item = OrderItem(order=order, **values)
            _validate(item, ITEM_CHECKED)
            link(item)
            fresh.append(item)
            continue
        for name, value in values.items():
            setattr(item, name, value)
        _validate(item, ITEM_CHECKED)
        link(item)
        changed.append(item)
    OrderItem.objects.bulk_create(fresh)
    if changed:
        OrderItem.objects.bulk_update(changed, [*ITEM_FIELDS, "product_profile", "updated_at"])
    if outcome == "cancelled":
        events.publish(
            events.OrderCancelled(
                user_id=order.user_id,
                order_id=order.pk,
                order_number=order.order_number,
                reason=order.cancel_reason,
            )
        )
    elif order.is_paid and not was_paid:
        _announce_paid(order, announce_paid)
    if outcome != "cancelled" and order.due_by != was_due:
        order_announce_changed(order=order, fields=["due_by"])
    return outcome, fresh + changed


def _announce_paid(order: Order, announce: bool) -> None:
    """order.paid for an order that now waits to be printed, when its owner has J3D schedule paid
    orders (that is what the event is for). Not for every imported receipt: a first sync brings a
    shop's whole history, and each durable event costs a q2 task."""
    if announce and order.status == Order.Status.PAID:
        events.publish(
            events.OrderPaid(
                user_id=order.user_id, order_id=order.pk, order_number=order.order_number
            )
        )


# What the receipt reader cannot vouch for: a value within its type may still break a model
# bound (limits.py). Other fields are typed, trimmed to their lengths, or links the sync sets to
# the owner's own rows (a link's validation costs a query per row), so only these are validated.
ORDER_CHECKED = ("total_amount", "currency", "buyer_email", "due_by")
ITEM_CHECKED = ("quantity", "unit_price", "currency")
ITEM_FIELDS = [
    "external_id",
    "title",
    "sku",
    "listing_id",
    "product_id",
    "quantity",
    "unit_price",
    "unit_price_minor",
    "price_divisor",
    "currency",
    "variations",
    "personalization",
    "variation_label",
]


def _build(receipt: Receipt, digest: str, user_id: int) -> tuple[Order, list[OrderItem]]:
    """Unsaved rows for a new receipt, their fields validated (ValidationError: skip it)."""
    order = Order(
        user_id=user_id,
        source=Order.Source.ETSY,
        external_id=str(receipt.receipt_id),
        status=_status(receipt, None),
        **_order_fields(receipt, digest),
    )
    if order.status == Order.Status.CANCELLED:
        order.cancelled_at = timezone.now()
        order.cancel_reason = _cancel_reason(receipt)
    _validate(order, ORDER_CHECKED)
    items = [OrderItem(**_item_fields(t)) for t in _printable(receipt)]
    if len(items) > limits.MAX_ORDER_ITEMS:
        raise ValidationError(f"More than {limits.MAX_ORDER_ITEMS} items.")
    for item in items:
        _validate(item, ITEM_CHECKED)
    return order, items


def _validate(row: Order | OrderItem, names: tuple[str, ...]) -> None:
    """The model's own field validators, on the fields named (ValidationError: skip receipt)."""
    row.clean_fields(exclude=_others(type(row), names))


@functools.cache
def _others(model: type[Order | OrderItem], names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(f.name for f in model._meta.fields if f.name not in names)


def _printable(receipt: Receipt) -> list[Transaction]:
    """Transactions that are something to print (digital downloads and empty lines are not)."""
    return [t for t in receipt.transactions if not t.is_digital and t.quantity > 0]


def _order_fields(receipt: Receipt, digest: str) -> dict[str, Any]:
    total = receipt.grandtotal
    return {
        "order_number": str(receipt.receipt_id),
        "buyer_name": receipt.buyer_name,
        "buyer_email": _email(receipt.buyer_email),
        "is_paid": receipt.is_paid,
        "is_shipped": receipt.is_shipped,
        "total_amount": _money(total.decimal()),
        "currency": total.currency,
        "due_by": receipt.ship_by,
        "buyer_message": receipt.message_from_buyer,
        "etsy_status": receipt.status,
        "total_minor": total.amount,
        "total_divisor": total.divisor,
        "external_updated": receipt.updated_timestamp,
        "external_digest": digest,
    }


def _item_fields(transaction_: Transaction) -> dict[str, Any]:
    price = transaction_.price
    return {
        "external_id": str(transaction_.transaction_id),
        "title": transaction_.title,
        "sku": transaction_.sku,
        "listing_id": str(transaction_.listing_id or ""),
        "product_id": str(transaction_.product_id or ""),
        "quantity": transaction_.quantity,
        "unit_price": _money(price.decimal()),
        "unit_price_minor": price.amount,
        "price_divisor": price.divisor,
        "currency": price.currency,
        "variations": [v.as_dict() for v in transaction_.variations],
        "personalization": transaction_.personalization_text,
        "variation_label": transaction_.variation_label[:255],
    }


def _status(receipt: Receipt, current: str | None) -> str:
    """The order's status from Etsy's facts (is_paid / is_shipped, cancel and refunds); J3D's own
    production progress (printing, printed) is kept while Etsy just says "paid"."""
    S = Order.Status
    if receipt.is_canceled or receipt.is_fully_refunded or current == S.CANCELLED:
        return S.CANCELLED
    if receipt.is_shipped or receipt.status == "completed":
        return S.COMPLETED if current == S.COMPLETED else S.SHIPPED
    if not receipt.is_paid:
        return S.PENDING
    if current in (S.IN_PRODUCTION, S.READY, S.SHIPPED, S.COMPLETED):
        return current
    return S.PAID


def _cancel_reason(receipt: Receipt) -> str:
    return "Cancelled on Etsy" if receipt.is_canceled else "Fully refunded on Etsy"


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _email(value: str) -> str:
    try:
        validate_email(value)
    except ValidationError:
        return ""
    return value


def _digest(raw: Any) -> str:
    return hashlib.sha256(
        json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str).encode(
            "utf-8", "replace"
        )
    ).hexdigest()


def _reason(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        parts = [f"{name}: {' '.join(msgs)}" for name, msgs in exc.message_dict.items()]
        return "; ".join(parts)[:300]
    return " ".join(exc.messages)[:300]


def etsy_sync_all_due() -> list[int]:
    """The ids of the connections the schedule should sync now (connected, no reconnect)."""
    return list(EtsyConnection.objects.filter(reconnect_needed=False).values_list("id", flat=True))


class EtsyFailed(DomainError):
    """Etsy refused or failed a change J3D asked for; the message says what Etsy said."""


def order_ship(
    *, user: Any, order_id: Any, carrier_name: str = "", tracking_code: str = ""
) -> Order:
    """Mark an order shipped once all its jobs are done; an Etsy order is marked shipped on Etsy
    too (createReceiptShipment) when its owner connected the shop with ``transactions_w``."""
    order = Order.objects.filter(user=user, pk=order_id).first()
    if order is None:
        raise NotFound(f"No order with id {order_id}.")
    order_ship_check(order=order)
    receipt = None
    connection = EtsyConnection.objects.filter(user=user).first()
    if order.source == Order.Source.ETSY and connection is not None and connection.mark_shipped:
        if connection.reconnect_needed:
            raise Conflict("Your Etsy shop must be connected again before J3D can tell Etsy.")
        try:
            with etsy_client() as client:
                receipt = client.create_receipt_shipment(
                    connection.shop_id,
                    int(order.external_id),
                    ConnectionTokens(connection, client),
                    carrier_name=carrier_name,
                    tracking_code=tracking_code,
                )
        except EtsyError as exc:
            raise EtsyFailed(f"Etsy did not mark the order shipped: {exc}") from None
    return order_mark_shipped(
        order_id=order.pk,
        carrier_name=carrier_name,
        tracking_code=tracking_code,
        etsy_receipt=receipt,
    )

"""Reading Etsy receipts: a raw ``ShopReceipt`` dict in, typed values out, or ``BadReceipt``.

The contract: a receipt J3D cannot trust raises ``BadReceipt`` naming the receipt and the reason
(a missing or mistyped field, an unknown status), so the caller skips that receipt whole and goes
on. Never any other exception, whatever Etsy sends. What is tolerated, as the live API does it
(reference §3): status in any casing (``"Paid"`` although the spec says ``paid``), the duplicated
``update_``/``updated_`` timestamps, null strings, and personalization spread over several
``property_id: 54`` variations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from j3d.lib.text import storable_text

# A variation with this property id (or a question id) is the buyer's personalization (§3.3).
PERSONALIZATION_PROPERTY_ID = 54
# The OAS enum of ShopReceipt.status (§3.4), compared case-insensitively.
STATUSES = frozenset(
    {
        "open",
        "payment processing",
        "paid",
        "completed",
        "canceled",
        "fully refunded",
        "partially refunded",
    }
)
# Plausible epoch seconds: Etsy's own minimum for time filters .. year 3000.
MIN_TIMESTAMP = 0
MAX_TIMESTAMP = 32503680000
MAX_ID = 2**63 - 1


class BadReceipt(ValueError):
    """This receipt cannot be imported; ``reason`` says why (no secrets, no raw payloads)."""

    def __init__(self, receipt_id: int | None, reason: str) -> None:
        super().__init__(reason)
        self.receipt_id = receipt_id
        self.reason = reason


@dataclass(frozen=True)
class Money:
    """Etsy's Money: ``amount / divisor`` in ``currency``, kept as integers (never floats)."""

    amount: int
    divisor: int
    currency: str

    def decimal(self) -> Decimal:
        return Decimal(self.amount) / Decimal(self.divisor)


@dataclass(frozen=True)
class Variation:
    property_id: int | None
    value_id: int | None
    name: str
    value: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "property_id": self.property_id,
            "value_id": self.value_id,
            "formatted_name": self.name,
            "formatted_value": self.value,
        }


@dataclass(frozen=True)
class Transaction:
    transaction_id: int
    listing_id: int | None
    product_id: int | None
    sku: str
    title: str
    quantity: int
    price: Money
    variations: tuple[Variation, ...]
    personalization: tuple[Variation, ...]
    is_digital: bool
    expected_ship_date: datetime | None

    @property
    def variation_label(self) -> str:
        """The buyer's choices as one line ("Sage Green / Medium (10 cm)"); "" when none."""
        return " / ".join(v.value for v in self.variations if v.value)

    @property
    def personalization_text(self) -> str:
        """The buyer's personalization; several answers become one "question: answer" a line."""
        if len(self.personalization) == 1:
            return self.personalization[0].value
        return "\n".join(f"{p.name}: {p.value}" for p in self.personalization)


@dataclass(frozen=True)
class Receipt:
    receipt_id: int
    status: str  # lower case, one of STATUSES
    is_paid: bool
    is_shipped: bool
    buyer_name: str
    buyer_email: str
    message_from_buyer: str
    grandtotal: Money
    refunded: int  # sum of refund amounts, in grandtotal's units
    created_at: datetime
    updated_timestamp: int
    transactions: tuple[Transaction, ...]

    @property
    def is_canceled(self) -> bool:
        return self.status == "canceled"

    @property
    def is_fully_refunded(self) -> bool:
        # Refunds do not bump updated_timestamp (§5.3), so the refunds themselves are read too.
        if self.status == "fully refunded":
            return True
        return self.grandtotal.amount > 0 and self.refunded >= self.grandtotal.amount

    @property
    def ship_by(self) -> datetime | None:
        """The earliest ship-by date of its transactions (a receipt has none of its own)."""
        dates = [t.expected_ship_date for t in self.transactions if t.expected_ship_date]
        return min(dates) if dates else None


def updated_timestamp(raw: Any) -> int | None:
    """A raw receipt's last-modified time, or None when it has no readable one."""
    if not isinstance(raw, dict):
        return None
    for key in ("updated_timestamp", "update_timestamp"):
        value = raw.get(key)
        if _is_int(value) and MIN_TIMESTAMP <= value <= MAX_TIMESTAMP:
            return value
    return None


def receipt_id_of(raw: Any) -> int | None:
    value = raw.get("receipt_id") if isinstance(raw, dict) else None
    return value if _is_int(value) and 0 < value <= MAX_ID else None


def parse_receipt(raw: Any) -> Receipt:
    """Read one ShopReceipt; raise BadReceipt (only) when it cannot be trusted."""
    if not isinstance(raw, dict):
        raise BadReceipt(None, "the receipt is not a JSON object")
    receipt_id = receipt_id_of(raw)
    if receipt_id is None:
        raise BadReceipt(None, "receipt_id is missing or not a positive integer")
    read = _Reader(raw, receipt_id, "")
    status = " ".join(read.string("status", required=True).lower().split())
    if status not in STATUSES:
        raise BadReceipt(receipt_id, f"unknown status {read.raw['status']!r}"[:200])
    updated = updated_timestamp(raw)
    if updated is None:
        raise BadReceipt(receipt_id, "updated_timestamp is missing or not a timestamp")
    grandtotal = read.money("grandtotal")
    transactions = read.list("transactions", required=True)
    if not transactions:
        raise BadReceipt(receipt_id, "the receipt has no transactions")
    refunds = read.list("refunds")
    refunded = 0
    for index, refund in enumerate(refunds):
        if not isinstance(refund, dict):
            raise BadReceipt(receipt_id, f"refunds[{index}] is not an object")
        money = _Reader(refund, receipt_id, f"refunds[{index}].").money("amount")
        refunded += money.amount * grandtotal.divisor // money.divisor
    parsed = tuple(_transaction(item, receipt_id, index) for index, item in enumerate(transactions))
    ids = [t.transaction_id for t in parsed]
    if len(set(ids)) != len(ids):
        repeated = next(tid for tid in ids if ids.count(tid) > 1)
        raise BadReceipt(receipt_id, f"transaction {repeated} appears twice")
    return Receipt(
        receipt_id=receipt_id,
        status=status,
        is_paid=read.boolean("is_paid"),
        is_shipped=read.boolean("is_shipped"),
        buyer_name=read.string("name")[:200],
        buyer_email=read.string("buyer_email")[:254],
        message_from_buyer=read.string("message_from_buyer")[:5000],
        grandtotal=grandtotal,
        refunded=refunded,
        created_at=read.timestamp("created_timestamp", fallback="create_timestamp"),
        updated_timestamp=updated,
        transactions=parsed,
    )


def _transaction(raw: Any, receipt_id: int, index: int) -> Transaction:
    if not isinstance(raw, dict):
        raise BadReceipt(receipt_id, f"transactions[{index}] is not an object")
    read = _Reader(raw, receipt_id, f"transactions[{index}].")
    owner = read.integer("receipt_id", nullable=True)
    if owner is not None and owner != receipt_id:
        raise BadReceipt(receipt_id, f"transactions[{index}] belongs to receipt {owner}")
    quantity = read.integer("quantity", required=True)
    if quantity < 0:
        raise BadReceipt(receipt_id, f"transactions[{index}].quantity is negative")
    listing_id = read.integer("listing_id", nullable=True)
    chosen, personal = [], []
    for position, variation in enumerate(read.list("variations")):
        if not isinstance(variation, dict):
            raise BadReceipt(receipt_id, f"transactions[{index}].variations[{position}] is odd")
        vread = _Reader(variation, receipt_id, f"transactions[{index}].variations[{position}].")
        parsed = Variation(
            property_id=vread.integer("property_id", nullable=True),
            value_id=vread.integer("value_id", nullable=True),
            name=vread.string("formatted_name")[:200],
            value=vread.string("formatted_value")[:1000],
        )
        is_personal = (
            parsed.property_id == PERSONALIZATION_PROPERTY_ID
            or vread.integer("question_id", nullable=True) is not None
        )
        (personal if is_personal else chosen).append(parsed)
    title = read.string("title")[:255] or f"Etsy listing {listing_id or '?'}"
    return Transaction(
        transaction_id=read.integer("transaction_id", required=True),
        listing_id=listing_id,
        product_id=read.integer("product_id", nullable=True),
        sku=read.string("sku")[:64],
        title=title,
        quantity=quantity,
        price=read.money("price"),
        variations=tuple(chosen),
        personalization=tuple(personal),
        is_digital=read.boolean("is_digital", default=False),
        expected_ship_date=read.optional_timestamp("expected_ship_date"),
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Reader:
    """Typed reads of one JSON object; each failure is a BadReceipt naming the field path."""

    def __init__(self, raw: dict[str, Any], receipt_id: int, prefix: str) -> None:
        self.raw, self.receipt_id, self.prefix = raw, receipt_id, prefix

    def fail(self, key: str, problem: str) -> BadReceipt:
        return BadReceipt(self.receipt_id, f"{self.prefix}{key} {problem}")

    def string(self, key: str, *, required: bool = False) -> str:
        value = self.raw.get(key)
        if value is None:
            if required:
                raise self.fail(key, "is missing")
            return ""
        if not isinstance(value, str):
            raise self.fail(key, "is not a string")
        return storable_text(value).strip()

    def integer(self, key: str, *, required: bool = False, nullable: bool = False) -> Any:
        if key not in self.raw and not required:
            return None
        value = self.raw.get(key)
        if value is None and nullable:
            return None
        if not _is_int(value):
            raise self.fail(key, "is missing" if value is None else "is not an integer")
        if not -MAX_ID <= value <= MAX_ID:
            raise self.fail(key, "is out of range")
        return value

    def boolean(self, key: str, *, default: bool | None = None) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, "is missing" if value is None else "is not true or false")
        return value

    def list(self, key: str, *, required: bool = False) -> list[Any]:
        value = self.raw.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list):
            raise self.fail(key, "is missing" if value is None else "is not a list")
        return value

    def money(self, key: str) -> Money:
        value = self.raw.get(key)
        if not isinstance(value, dict):
            raise self.fail(key, "is missing" if value is None else "is not a Money object")
        amount, divisor = value.get("amount"), value.get("divisor")
        currency = value.get("currency_code")
        if not _is_int(amount) or not -(10**15) <= amount <= 10**15:
            raise self.fail(key, "has no whole amount")
        if not _is_int(divisor) or not 0 < divisor <= 10**6:
            raise self.fail(key, "has no positive divisor")
        if not isinstance(currency, str) or len(currency) != 3 or not currency.isascii():
            raise self.fail(key, "has no 3-letter currency_code")
        if not currency.isalpha():
            raise self.fail(key, "has no 3-letter currency_code")
        return Money(amount=amount, divisor=divisor, currency=currency.upper())

    def timestamp(self, key: str, *, fallback: str) -> datetime:
        value = self.optional_timestamp(key)
        if value is None:
            value = self.optional_timestamp(fallback)
        if value is None:
            raise self.fail(key, "is missing")
        return value

    def optional_timestamp(self, key: str) -> datetime | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not _is_int(value) or not MIN_TIMESTAMP <= value <= MAX_TIMESTAMP:
            raise self.fail(key, "is not a timestamp")
        return datetime.fromtimestamp(value, tz=UTC)

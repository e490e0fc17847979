"""Which product profile prints an ordered item: Etsy listing (+ variation), then SKU."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orders.models import ProductProfile


class ProfileMatcher:
    """The owner's profiles, loaded once, answering ``match(listing_id, variation, sku)``.

    A profile with an Etsy listing id and a variation matches only that variation of the listing;
    one with a listing id and no variation matches the rest of the listing; then the SKU (case
    does not matter). The oldest profile wins a tie, so a match never flips between two syncs.
    """

    def __init__(self, profiles: Iterable[ProductProfile] = ()) -> None:
        self.by_listing_variation: dict[tuple[str, str], ProductProfile] = {}
        self.by_listing: dict[str, ProductProfile] = {}
        self.by_sku: dict[str, ProductProfile] = {}
        for profile in profiles:
            self.add(profile)

    @classmethod
    def for_owner(cls, user_id: int) -> ProfileMatcher:
        return cls(ProductProfile.objects.filter(user_id=user_id).order_by("-id"))

    def add(self, profile: ProductProfile) -> None:
        """Learn a profile (newest first while loading: older ones overwrite)."""
        listing = profile.etsy_listing_id.strip()
        if listing and profile.etsy_variation.strip():
            key = (listing, profile.etsy_variation.strip().lower())
            self.by_listing_variation[key] = profile
        elif listing:
            self.by_listing[listing] = profile
        if profile.sku.strip():
            self.by_sku[profile.sku.strip().lower()] = profile

    def match(self, *, listing_id: str, variation: str, sku: str) -> ProductProfile | None:
        listing = listing_id.strip()
        if listing:
            found: Any = self.by_listing_variation.get((listing, variation.strip().lower()))
            found = found or self.by_listing.get(listing)
            if found:
                return found
        return self.by_sku.get(sku.strip().lower()) if sku.strip() else None

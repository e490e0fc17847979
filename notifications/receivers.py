"""Owners are told what needs them: an order cancelled on Etsy, an Etsy shop to reconnect."""

from __future__ import annotations

from j3d import events
from notifications.services import owner_tell


def on_order_cancelled(event: events.OrderCancelled) -> None:
    owner_tell(
        user_id=event.user_id,
        subject=f"Order #{event.order_number} was cancelled",
        body=(
            f"Order #{event.order_number}: {event.reason or 'cancelled'}.\n"
            "Its print jobs that had not started are cancelled; a print already running goes on"
            " until you stop it."
        ),
    )


def on_etsy_reconnect_needed(event: events.EtsyReconnectNeeded) -> None:
    owner_tell(
        user_id=event.user_id,
        subject="Connect your Etsy shop to J3D again",
        body=(
            f"Etsy no longer accepts J3D's access to {event.shop_name or event.shop_id} "
            f"({event.reason or 'the grant was revoked'}), so new orders are not coming in.\n"
            "Use “Connect Etsy shop” in J3D to connect it again."
        ),
    )


def register() -> None:
    events.subscribe(events.OrderCancelled, on_order_cancelled)
    events.subscribe(events.EtsyReconnectNeeded, on_etsy_reconnect_needed)

"""A stand-in for the MQTT hub, to test the printer link's logic without a network.

:class:`PrinterLink` takes its hub from ``hub_factory``; :class:`FakeHub` implements the part of
:class:`printers.bambu.mqtt.MqttHub` the link uses and lets a test play the hub thread: connect a
printer, deliver a report, fail a connect. Everything runs on the test's thread, so there is
nothing to wait for. A few wire-level tests (test_link_status.py) keep the real broker path.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any

from printers.bambu.mqtt import Endpoint, FailureKind, LinkState
from printers.link import PrinterLink


class FakeHub:
    def __init__(self, listener: Any) -> None:
        self.listener = listener
        self.endpoints: dict[Hashable, Endpoint] = {}
        self.states: dict[Hashable, LinkState] = {}
        self.published: list[tuple[Hashable, bytes]] = []

    # -- the MqttHub interface ------------------------------------------------------------------

    def add(self, endpoint: Endpoint) -> None:
        self.endpoints[endpoint.key] = endpoint
        self.states[endpoint.key] = LinkState.CONNECTING

    update = add

    def remove(self, key: Hashable) -> None:
        self.endpoints.pop(key, None)
        self.states.pop(key, None)

    def publish(self, key: Hashable, payload: bytes, qos: int = 1) -> bool:
        if self.states.get(key) is not LinkState.CONNECTED:
            return False
        self.published.append((key, payload))
        return True

    def status(self, key: Hashable) -> LinkState | None:
        return self.states.get(key)

    def step(self, timeout: float = 0.0) -> None:
        pass

    def run(self, stop: Any, tick: float = 0.25) -> None:
        stop.wait()

    def close(self) -> None:
        pass

    # -- playing the hub thread -----------------------------------------------------------------

    def connect(self, key: Hashable) -> None:
        self.states[key] = LinkState.CONNECTED
        self.listener.on_connected(key)

    def fail(
        self, key: Hashable, kind: FailureKind, reason: str = "", retry_in: float | None = 5.0
    ) -> None:
        """A connect attempt fails (kind AUTH: no retries, like the real hub)."""
        self.states[key] = LinkState.AUTH_FAILED if kind is FailureKind.AUTH else LinkState.BACKOFF
        self.listener.on_connect_failed(key, kind, reason or f"{kind} failure", retry_in)

    def drop(self, key: Hashable, reason: str = "connection lost") -> None:
        """A connected link goes down (the hub retries)."""
        self.states[key] = LinkState.BACKOFF
        self.listener.on_disconnected(key, reason)

    def report(self, key: Hashable, message: dict[str, Any] | bytes) -> None:
        payload = message if isinstance(message, bytes) else json.dumps(message).encode()
        self.listener.on_report(key, payload)

    def requests(self, key: Hashable) -> list[dict[str, Any]]:
        return [json.loads(payload) for k, payload in self.published if k == key]


def fake_link(**kwargs: Any) -> PrinterLink:
    """A PrinterLink on a FakeHub (``link.hub``); reconcile it to pick up the printers."""
    kwargs.setdefault("hub_factory", FakeHub)
    return PrinterLink(**kwargs)


def status_message(**fields: Any) -> dict[str, Any]:
    """A status push; ``msg`` 1 (a delta) unless given."""
    return {"print": {"command": "push_status", "msg": 1, "sequence_id": "1", **fields}}

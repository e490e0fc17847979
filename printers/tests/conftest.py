"""Shared fixtures for printer tests: real parts on loopback (STYLE.md, Tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from j3d.lib.mosquitto import MosquittoBroker

TEST_ACCESS_CODE = "12345678"


@pytest.fixture(scope="session")
def mqtt_broker() -> Iterator[MosquittoBroker]:
    """One TLS broker (user bblp, access code TEST_ACCESS_CODE) for the whole session.

    Tests must not stop or kill it; use ``fresh_broker`` for that.
    """
    with MosquittoBroker(TEST_ACCESS_CODE) as broker:
        yield broker


@pytest.fixture
def fresh_broker() -> Iterator[MosquittoBroker]:
    """A broker of the test's own, free to be killed and restarted."""
    with MosquittoBroker(TEST_ACCESS_CODE) as broker:
        yield broker

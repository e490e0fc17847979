"""With REDIS_URL set, django-q2 queues through Redis instead of the database."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/15"
PROBE = """
from django_q.brokers import get_broker
broker = get_broker()
broker.purge_queue()
broker.enqueue("ping")
print(type(broker).__name__, broker.queue_size(), broker.dequeue()[0][1].decode())
broker.delete_queue()
"""


def _redis_running() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _redis_running(), reason="no Redis on 127.0.0.1:6379")
def test_redis_url_makes_the_q2_broker_redis():
    env = {**os.environ, "REDIS_URL": REDIS_URL}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["Redis", "1", "ping"]

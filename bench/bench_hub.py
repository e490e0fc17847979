"""Load bench for printers.bambu.mqtt.MqttHub: N printers, 1 report/s each, one hub.

The bar (from the link's brief): 500 printers at 1 report/s, under 1 s lag, under half a
core, bounded memory. A throwaway TLS Mosquitto plays all the printers' brokers; a separate
publisher process (so its CPU is not counted) sends a ~200-byte push_status delta per
printer per second with its send time inside; the hub runs on a thread of this process.

Usage:  .venv/bin/python bench/bench_hub.py [--printers 500] [--seconds 30]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import ssl
import statistics
import sys
import threading
import time
from collections.abc import Hashable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as paho  # noqa: E402

from j3d.lib.mosquitto import MosquittoBroker  # noqa: E402
from printers.bambu.mqtt import Endpoint, MqttHub  # noqa: E402

SERIAL_PREFIX = "01P00A"
# A realistic P1S push_status delta (msg=1), padded to ~200 bytes; "ts" goes last.
PAYLOAD = (
    '{"print":{"command":"push_status","msg":1,"sequence_id":"%d","nozzle_temper":219.8,'
    '"bed_temper":55.0,"mc_percent":42,"mc_remaining_time":73,"layer_num":118,'
    '"wifi_signal":"-51dBm","ts":%.6f}}'
)


def serial(n: int) -> str:
    return f"{SERIAL_PREFIX}{n:09d}"


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class LagListener:
    """Records publish→on_report lag; parses only the trailing timestamp (cheap)."""

    def __init__(self) -> None:
        self.connected: set[Hashable] = set()
        self.all_connected = threading.Event()
        self.expected = 0
        self.recording = False
        self.lags: list[float] = []
        self.received = 0
        self.disconnects = 0

    def on_connected(self, key: Hashable) -> None:
        self.connected.add(key)
        if len(self.connected) == self.expected:
            self.all_connected.set()

    def on_report(self, key: Hashable, payload: bytes) -> None:
        now = time.time()
        self.received += 1
        if self.recording:
            start = payload.rindex(b'"ts":') + 5
            self.lags.append(now - float(payload[start : payload.index(b"}", start)]))

    def on_disconnected(self, key: Hashable, reason: str) -> None:
        self.disconnects += 1

    def on_connect_failed(self, key: Hashable, kind: str, reason: str, retry_in: object) -> None:
        if kind == "auth":
            raise SystemExit(f"auth failed for {key}")


def publisher(host: str, port: int, code: str, ca_pem: str, printers: int, seconds: float,
              sent: mp.Value) -> None:  # fmt: skip
    """Child process (spawned: the parent has threads by now, so no fork) that sends
    1 report/s per printer, evenly spread, from one paho client."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    context = ssl.create_default_context(cadata=ca_pem)
    context.check_hostname = False
    client.tls_set_context(context)
    client.username_pw_set("bblp", code)
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    start = time.monotonic()
    count = 0
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * printers)  # message k goes to printer k % N at k/N seconds
        while count < due:
            client.publish(f"device/{serial(count % printers)}/report",
                           PAYLOAD % (count, time.time()), qos=0)  # fmt: skip
            count += 1
        time.sleep(0.005)
    sent.value = count
    time.sleep(0.5)
    client.loop_stop()
    client.disconnect()


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--printers", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured publishing time")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--connectors", type=int, default=32)
    args = parser.parse_args()

    with MosquittoBroker("12345678") as broker:
        rss_before = rss_mib()
        listener = LagListener()
        listener.expected = args.printers
        hub = MqttHub(listener, connectors=args.connectors)
        stop = threading.Event()
        loop = threading.Thread(target=hub.run, args=(stop,), name="mqtt-hub")
        loop.start()

        started = time.monotonic()
        for n in range(args.printers):
            hub.add(Endpoint(key=n, serial=serial(n), host=broker.host, port=broker.port,
                             password=broker.access_code))  # fmt: skip
        if not listener.all_connected.wait(60):
            raise SystemExit(f"only {len(listener.connected)} connected after 60 s")
        connect_time = time.monotonic() - started
        rss_connected = rss_mib()

        sent = mp.get_context("spawn").Value("q", 0)
        pub = mp.get_context("spawn").Process(
            target=publisher,
            args=(broker.host, broker.port, broker.access_code, broker.ca_pem or "",
                  args.printers, args.warmup + args.seconds, sent),
        )  # fmt: skip
        pub.start()
        time.sleep(args.warmup)
        listener.recording = True
        received_at_start = listener.received
        cpu0, wall0 = time.process_time(), time.monotonic()
        time.sleep(args.seconds)
        cpu1, wall1 = time.process_time(), time.monotonic()
        listener.recording = False
        received_in_window = listener.received - received_at_start
        pub.join(30)
        time.sleep(0.5)  # let the last reports land
        rss_after = rss_mib()
        stop.set()
        loop.join(10)

    lags = sorted(listener.lags)
    wall = wall1 - wall0
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"printers                 {args.printers}")
    print(f"connect all              {connect_time:.2f} s ({args.connectors} connector threads)")
    print(f"sent / received total    {sent.value} / {listener.received}")
    print(f"delivered                {received_in_window / wall:.1f} msg/s over {wall:.1f} s")
    print(
        f"lag p50/p99/max          {statistics.median(lags) * 1000:.1f} / "
        f"{percentile(lags, 0.99) * 1000:.1f} / {lags[-1] * 1000:.1f} ms  (n={len(lags)})"
    )
    print(f"hub process CPU          {(cpu1 - cpu0) / wall:.3f} s per wall second")
    print(
        f"RSS before/connected/after {rss_before:.1f} / {rss_connected:.1f} / "
        f"{rss_after:.1f} MiB (peak {maxrss:.1f})"
    )
    print(f"disconnects              {listener.disconnects}")
    print(f"pid                      {os.getpid()}")


if __name__ == "__main__":
    main()

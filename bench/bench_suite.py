"""How long the test suite takes, and how much of that it spends working rather than waiting.

Runs pytest once in a child process and prints:

- wall: the run's wall-clock time;
- CPU: user + sys of pytest and every child it reaped (Mosquitto brokers, manage.py runs, ...);
- CPU wait: the time pytest's main thread (each xdist worker's, with ``-n``) was ready to run but
  waited for a core. On a machine shared with other work this inflates the wall time without
  being the suite's fault, so "wall - CPU wait" estimates the wall time on an idle machine (with
  workers, the smallest of their waits is taken out: the run ends with its slowest worker);
- the ratio wall / CPU (the bar: <= 1.5), raw and with the CPU wait taken out;
- the tests that wait most: wall - CPU - CPU wait per test (setup + call + teardown), i.e. time
  spent sleeping, polling or blocked on a socket rather than working or queued for a core.

The same file is the pytest plugin that takes the per-test figures (``-p bench_suite``).

Runs the suite as ./scripts/test does (``-n 4 --dist worksteal``: four xdist workers, or
J3D_TEST_WORKERS of them; a later ``-n N`` wins); ``--serial`` runs it in one process, as before
xdist.

Usage:  .venv/bin/python bench/bench_suite.py [--top 25] [--serial] [pytest args...]
        DATABASE_URL=postgres://... to run the suite on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT_ENV = "J3D_BENCH_SUITE_OUT"


def _cpu_seconds() -> float:
    """user + sys of this process's threads and the children it has reaped."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _run_queue_wait() -> float:
    """Seconds the calling thread spent runnable but not running (Linux schedstat; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat").read_text()
    except OSError:
        return 0.0
    return int(fields.split()[1]) / 1e9


# -- the plugin (loaded inside the pytest child) ---------------------------------------------

_started: dict[str, tuple[float, float, float]] = {}
_per_test: dict[str, list[float]] = {}


def _sample() -> tuple[float, float, float]:
    return time.perf_counter(), _cpu_seconds(), _run_queue_wait()


def pytest_runtest_protocol(item: Any, nextitem: Any) -> None:
    _started[item.nodeid] = _sample()


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    # Subtests (schemathesis's operations) finish several times: the last one counts.
    start = _started.get(nodeid)
    if start is not None:
        end = _sample()
        _per_test[nodeid] = [end[i] - start[i] for i in range(3)]


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    out = os.environ.get(OUT_ENV)
    if not out:
        return
    worker = getattr(session.config, "workerinput", {}).get("workerid")
    if worker is None and session.config.pluginmanager.has_plugin("dsession"):
        return  # the xdist controller runs no test; each worker writes its own file
    path = Path(f"{out}.{worker}" if worker else out)
    path.write_text(json.dumps({"tests": _per_test, "cpu_wait": _run_queue_wait()}))


# -- the bench (runs pytest, prints the figures) ---------------------------------------------


def _read_reports(out: Path) -> list[dict[str, Any]]:
    """The figures the run wrote: one file, or one per xdist worker (``out.gw0``, ...)."""
    paths = [out, *sorted(out.parent.glob(out.name + ".gw*"))]
    reports = []
    for path in paths:
        raw = path.read_text() if path.exists() else ""
        if raw:
            reports.append(json.loads(raw))
        if path != out:
            path.unlink()
    return reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=25, help="how many waiting tests to list")
    parser.add_argument("--save", type=Path, help="write the per-test figures to this JSON file")
    parser.add_argument("--serial", action="store_true", help="one process, no xdist workers")
    args, pytest_args = parser.parse_known_args()
    count = os.environ.get("J3D_TEST_WORKERS", "4")  # the default of ./scripts/test
    workers = [] if args.serial else ["-n", count, "--dist", "worksteal"]

    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        env = dict(os.environ, **{OUT_ENV: out.name})
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as ./scripts/test runs it
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT / "bench"), env.get("PYTHONPATH")])
        )
        command = [sys.executable, "-m", "pytest", "-q", "-p", "bench_suite", *workers]
        command += pytest_args
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        status = subprocess.run(command, cwd=ROOT, env=env).returncode
        wall = time.perf_counter() - started
        load_after = os.getloadavg()[0]
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = children.ru_utime + children.ru_stime
        reports = _read_reports(Path(out.name))
    tests = {k: v for report in reports for k, v in report.get("tests", {}).items()}
    waits = [report.get("cpu_wait", 0.0) for report in reports]
    if args.save:
        args.save.write_text(json.dumps({"tests": tests, "cpu_waits": waits}))

    cpu_wait = min(waits, default=0.0)
    print()
    print(
        f"pytest exit status {status}; "
        f"load average {load_before:.1f} before, {load_after:.1f} after"
    )
    print(f"wall {wall:7.1f} s")
    print(f"CPU  {cpu:7.1f} s (user {children.ru_utime:.1f} + sys {children.ru_stime:.1f})")
    if len(waits) > 1:
        shown = ", ".join(f"{w:.1f}" for w in waits)
        print(f"CPU wait of the workers' main threads {shown} s (taken out: {cpu_wait:.1f})")
    else:
        print(f"CPU wait of pytest's main thread {cpu_wait:.1f} s")
    print(f"wall / CPU               {wall / cpu:5.2f}")
    print(f"(wall - CPU wait) / CPU  {(wall - cpu_wait) / cpu:5.2f}   (bar: <= 1.5)")
    if tests:
        idle = sorted(tests.items(), key=lambda kv: kv[1][0] - kv[1][1] - kv[1][2], reverse=True)
        total_idle = sum(max(0.0, w - c - q) for w, c, q in tests.values())
        print(f"\ntime the tests spent neither working nor queued for a core: {total_idle:.1f} s")
        print(f"{'idle':>6} {'wall':>6} {'CPU':>6} {'queue':>6}  test (setup + call + teardown)")
        for nodeid, (w, c, q) in idle[: args.top]:
            print(f"{w - c - q:6.2f} {w:6.2f} {c:6.2f} {q:6.2f}  {nodeid}")
    return status


if __name__ == "__main__":
    sys.exit(main())

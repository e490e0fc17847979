# J3D: `make demo` runs the whole system on the embedded defaults; `make test` runs every check.
PY := .venv/bin/python

.PHONY: setup demo run test lint format bench

setup:
	./scripts/bootstrap
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py setup_schedules

# Web on 127.0.0.1:8000, the q2 cluster, the printer link and simulated printers, demo login.
demo: setup
	$(PY) manage.py run_demo

# The same, for real printers only (no simulators).
run: setup
	$(PY) manage.py run_j3d

lint:
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

test:
	./scripts/bootstrap
	./scripts/ensure-postgres
	$(MAKE) lint
	$(PY) -m pytest

format:
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: setup
	$(PY) -m pip install -q -r bench/requirements.txt
	$(PY) bench/bench_ingest.py
	$(PY) bench/bench_hub.py
	$(PY) bench/bench_link.py

# Shortcuts for the scripts in scripts/ (which need nothing but bash on a fresh machine).
PY := .venv/bin/python

.PHONY: setup demo run test lint format bench

setup:
	./scripts/bootstrap
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py setup_schedules

demo:
	./scripts/demo

# Web + q2 cluster + printer link for real printers only (no simulators).
run: setup
	$(PY) manage.py run_j3d

test:
	./scripts/test

lint:
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

format:
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: setup
	$(PY) -m pip install -q -r bench/requirements.txt
	$(PY) bench/bench_ingest.py
	$(PY) bench/bench_hub.py
	$(PY) bench/bench_link.py
	$(PY) bench/bench_notify.py
	$(PY) bench/bench_plan.py

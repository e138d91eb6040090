# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint install call talk eval bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

## Set everything up on the embedded defaults and run the product (ASGI server + task cluster).
## The port is checked first; Ctrl-C stops everything it started.
run: install
	@$(BIN)/python manage.py runlocal --host $(HOST) --port $(PORT)

## Run the linters and the whole test suite (on whatever DATABASE_URL / REDIS_URL say).
test: install lint
	$(BIN)/python -m pytest

## A simulated phone call to the running server (make run), booking an oil change by voice.
call: install
	@mkdir -p var
	$(BIN)/python manage.py simulate_call --url http://$(HOST):$(PORT) --from +18655550100 \
	  --say "oil change on Tuesday at ten please" --say "yes" --say "that's all, bye" --record var/last-call.wav

## A typed conversation with the agent (real tools and database).
talk: install
	$(BIN)/python manage.py talk --from +18655550100

## The caller scenarios against the configured brain, judged by the database (fixtures/scenarios.yaml).
eval: install
	$(BIN)/python manage.py eval_agent --transcripts

## Benchmarks: figures printed, nothing asserted.
bench: install
	$(BIN)/python bench/voice_latency.py
	$(BIN)/python bench/booking.py
	$(BIN)/python bench/seed_crm.py
	$(BIN)/python bench/simulated_call.py
	$(BIN)/python bench/offline_stt_wer.py
	$(BIN)/python bench/junk_flood.py
	$(BIN)/python bench/stt_reconnect.py
	$(BIN)/python bench/faults.py
	$(BIN)/python bench/admin_pages.py
	$(BIN)/python bench/load.py --workers 1,2

lint: install
	$(BIN)/ruff check .
	$(BIN)/python -m mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) db.sqlite3 var

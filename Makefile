# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint install serve bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

## Set everything up on the embedded defaults and run the product (ASGI server + task cluster).
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_crm --if-empty
	$(BIN)/python manage.py create_demo_staff
	$(BIN)/python manage.py setup_schedules
	@echo "Admin: http://$(HOST):$(PORT)/admin/   Health: http://$(HOST):$(PORT)/healthz"
	@$(BIN)/python manage.py qcluster & QPID=$$!; \
	  trap 'kill $$QPID 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/python manage.py runserver $(HOST):$(PORT)

## Run the linters and the whole test suite (on whatever DATABASE_URL / REDIS_URL say).
test: install lint
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) db.sqlite3 var

# Two commands matter: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench soak clean system-packages

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

## demo: a simulated RS-485 line of meters read by the concentrator
demo: $(STAMP)
	$(PY) -m firmware_sim.demo $(DEMO_ARGS)

## system-packages: Debian packages the tests run (mosquitto, postgresql); fast when present
system-packages:
	@scripts/ensure-system-packages

## test: the whole default suite (installs what it needs first)
test: $(STAMP) system-packages
	$(PY) -m pytest -q -m "not soak" $(PYTEST_ARGS)

## bench: benchmarks; each prints its figures and a ratio against a reference
bench: $(STAMP) system-packages
	$(PY) -m bench $(BENCH_ARGS)

## soak: long runs kept out of the default suite
soak: $(STAMP) system-packages
	$(PY) -m pytest -q -m soak $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

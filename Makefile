# rmdepth_ros: `make demo` runs the main job, `make test` runs the tests.
# Both create .venv on first use and install everything pinned in requirements.txt.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Every ROS 2 process started from here stays on this machine: DDS runs on loopback and
# shared memory only (config/fastdds_localhost.xml), with no multicast on any interface.
# The venv's Fast DDS 3 (Kilted) reads FASTDDS_DEFAULT_PROFILES_FILE and warns in every process
# when the old FASTRTPS_DEFAULT_PROFILES_FILE is set, so that one is unset (docs/dds.md).
export FASTDDS_DEFAULT_PROFILES_FILE := $(CURDIR)/config/fastdds_localhost.xml
unexport FASTRTPS_DEFAULT_PROFILES_FILE
export RMW_IMPLEMENTATION := rmw_fastrtps_cpp
export AMENT_PREFIX_PATH := $(CURDIR)/$(VENV)
unexport ROS_AUTOMATIC_DISCOVERY_RANGE
# PyTorch's OpenMP threads sleep instead of spinning while they wait: on a shared 2-core machine
# spinning made a 192x64 frame take 4.4 s instead of 0.16 s (docs/backends.md).
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo test lint bench scorecard venv clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-backends.txt setup.py training/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10+ needed")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo '==> installing pinned dependencies into $(VENV) (first run only)'
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt \
		-r requirements-backends.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e . -e training
	@touch $@

demo: $(STAMP)
	ROS_DOMAIN_ID=$${ROS_DOMAIN_ID:-42} $(PY) -m rmdepth_ros.demo --out demo_output

test: $(STAMP)
	ROS_DOMAIN_ID=$${ROS_DOMAIN_ID:-87} $(PY) -m pytest -q -p no:cacheprovider

scorecard: $(STAMP)
	ROS_DOMAIN_ID=$${ROS_DOMAIN_ID:-43} $(PY) -m rmdepth_ros.evaluation.cli scorecard --out scorecard

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) bench/bench_inference.py

clean:
	rm -rf $(VENV) demo_output build install log

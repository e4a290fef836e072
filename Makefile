# Course commands. On a fresh clone `make demo` or `make test` alone sets everything up first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Written when the environment is installed and the assets are prepared; remade when the
# requirements or the package definition change.
STAMP  := $(VENV)/.course-setup-done

.PHONY: setup demo test test-lib students grade benchmarks mirror clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m utils.course.prepare
	touch $@

# Install (once) and prepare the assets: fetch what is missing (from $$COURSE_ASSETS, ../shared or
# the canonical sources), verify every checksum, convert dlib's face ResNet to Keras.
setup: $(STAMP)
	$(PY) -m utils.course.prepare

# The main job: enroll the course faces, identify the probes, stylise the default pair.
demo: $(STAMP)
	$(PY) -m utils.course.demo

# Every unit test and every notebook (nbval, fast mode).
test: $(STAMP)
	COURSE_FAST=1 $(PY) -m pytest

# Library tests only (no notebooks).
test-lib: $(STAMP)
	$(PY) -m pytest tests

# Generate the student notebooks (solutions replaced by stubs) into notebooks/student/.
students: $(STAMP)
	$(PY) -m utils.course.student notebooks --out notebooks/student

# Grade a folder of submitted student notebooks: make grade SUBMISSIONS=submissions/
# (writes grades.json and gradebook.csv here; see docs/GRADING.md)
grade: $(STAMP)
	$(PY) -m utils.grade $(SUBMISSIONS) --json grades.json --csv gradebook.csv

# Copy (or fetch) and verify every asset into DIR, for an offline classroom: make mirror DIR=/media/usb
mirror: $(STAMP)
	$(PY) -m utils.assets mirror $(DIR)

benchmarks: $(STAMP)
	$(PY) -m benchmarks.encoder_speed
	$(PY) -m benchmarks.identify_speed
	$(PY) -m benchmarks.lfw_eval
	$(PY) -m benchmarks.nst_speed

clean:
	rm -rf outputs notebooks/student .pytest_cache

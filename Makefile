# Course commands. Quick start:  make setup  ->  make demo  ->  make test
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: setup demo test test-lib students benchmarks clean

# Create the virtual environment, install the requirements and this package, and prepare the
# pretrained assets the project converts itself (dlib's face ResNet -> weights/dlib_face_resnet.keras).
setup:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m utils.prepare

# The main job: enroll the course faces, identify the probes, stylise the default pair.
demo:
	$(PY) -m utils.demo

# Every unit test and every notebook (nbval, fast mode).
test:
	COURSE_FAST=1 $(PY) -m pytest

# Library tests only (no notebooks).
test-lib:
	$(PY) -m pytest tests

# Generate the student notebooks (solutions replaced by stubs) into notebooks/student/.
students:
	$(PY) -m utils.student notebooks --out notebooks/student

benchmarks:
	$(PY) -m benchmarks.encoder_speed
	$(PY) -m benchmarks.identify_speed
	$(PY) -m benchmarks.lfw_eval
	$(PY) -m benchmarks.nst_speed

clean:
	rm -rf outputs notebooks/student .pytest_cache

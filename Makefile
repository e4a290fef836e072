# Course commands: a thin layer over `python -m utils.course COMMAND` (utils/course/cli.py), which
# also works without make (Windows: `py -m utils.course COMMAND`). On a fresh clone `make demo` or
# `make test` alone sets everything up first: every command checks the setup stamp
# $(VENV)/.course-setup-done (remade when requirements.txt, requirements-dev.txt or pyproject.toml change).
PYTHON   ?= python3
VENV     ?= .venv
AUDIENCE ?= both
COURSE   := $(PYTHON) -m utils.course --venv $(VENV)

.PHONY: setup demo test test-lib lint students grade site diagrams benchmarks mirror clean

# Install (once) and prepare the assets: fetch what is missing (from $$COURSE_ASSETS, ../shared or
# the canonical sources), verify every checksum, convert dlib's face ResNet to Keras.
setup:
	$(COURSE) setup

# The main job: enroll the course faces, identify the probes, stylise the default pair.
demo:
	$(COURSE) demo

# Every unit test and every notebook (nbval, fast mode).
test:
	$(COURSE) test

# Library tests only (no notebooks).
test-lib:
	$(COURSE) test-lib

# Lint and format check (ruff check, then ruff format --check; the rules are in pyproject.toml).
lint:
	$(COURSE) lint

# Generate the student notebooks (solutions replaced by stubs) into notebooks/student/.
students:
	$(COURSE) students

# Grade a folder of submitted student notebooks: make grade SUBMISSIONS=submissions/
# (writes grades.json and gradebook.csv here; see docs/GRADING.md)
grade:
	$(COURSE) grade $(SUBMISSIONS)

# Build the course site (every notebook executed once, rendered as pages): site/ for learners,
# site-instructor/ with the solutions; make site AUDIENCE=learner builds only the first.
site:
	$(COURSE) site --audience $(AUDIENCE)

# Redraw the concept diagrams the notebooks show (notebooks/images/); DIAGRAMS_ARGS=--check compares.
diagrams:
	$(COURSE) diagrams $(DIAGRAMS_ARGS)

# Copy (or fetch) and verify every asset into DIR, for an offline classroom: make mirror DIR=/media/usb
mirror:
	$(COURSE) mirror $(DIR)

benchmarks:
	$(COURSE) benchmarks

clean:
	$(COURSE) clean

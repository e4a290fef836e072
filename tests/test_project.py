"""The project's own configuration (pyproject.toml): dependencies from one source, the lint rules
that `make lint` applies, and warnings filtered only for named third-party modules (issue 29).
"""

from __future__ import annotations

import builtins
import email
import shutil
import subprocess
import sys
import tomllib
import warnings

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from utils import config

ROOT = config.REPO_ROOT
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def normalised(requirement: Requirement) -> str:
    """One requirement as a comparable string: canonical name, version specifier, marker."""
    return f"{canonicalize_name(requirement.name)}{requirement.specifier}; {requirement.marker}"


def requirements(name: str) -> set[str]:
    """The requirements of a requirements file (:func:`normalised`)."""
    lines = (line.split("#", 1)[0].strip() for line in (ROOT / name).read_text(encoding="utf-8").splitlines())
    return {normalised(Requirement(line)) for line in lines if line}


def test_the_package_metadata_lists_the_requirements_files(tmp_path):
    """Built as pip builds it, the package depends on requirements.txt and offers requirements-dev.txt as `dev`."""
    for name in ("pyproject.toml", "requirements.txt", "requirements-dev.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "utils").mkdir()
    (tmp_path / "utils" / "__init__.py").write_text("")
    (tmp_path / "meta").mkdir()
    script = (
        "import sys; from setuptools import build_meta; print(build_meta.prepare_metadata_for_build_wheel(sys.argv[1]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "meta")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    folder = done.stdout.strip().splitlines()[-1]
    metadata = email.message_from_string((tmp_path / "meta" / folder / "METADATA").read_text(encoding="utf-8"))
    runtime, dev = set(), set()
    for line in metadata.get_all("Requires-Dist"):
        requirement = Requirement(line)
        if requirement.marker and 'extra == "dev"' in str(requirement.marker):
            requirement.marker = None
            dev.add(normalised(requirement))
        else:
            runtime.add(normalised(requirement))
    assert runtime == requirements("requirements.txt")
    assert dev == requirements("requirements-dev.txt")
    assert metadata.get_all("Provides-Extra") == ["dev"]


def test_the_requirements_are_read_from_one_place():
    project = PYPROJECT["project"]
    assert "dependencies" not in project and set(project["dynamic"]) == {"dependencies", "optional-dependencies"}
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]
    assert dynamic["dependencies"] == {"file": ["requirements.txt"]}
    assert dynamic["optional-dependencies"] == {"dev": {"file": ["requirements-dev.txt"]}}
    assert not requirements("requirements.txt") & requirements("requirements-dev.txt")
    for name in ("requirements.txt", "requirements-dev.txt"):  # setuptools reads them: no pip options
        assert not [line for line in (ROOT / name).read_text().splitlines() if line.startswith("-")], name


def _ruff(*arguments, cwd):
    return subprocess.run(
        [sys.executable, "-m", "ruff", *arguments, "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_lint_applies_the_projects_rules(tmp_path):
    """The rules in pyproject.toml are the ones ruff applies: unused imports, import order, bugbear,
    pyupgrade; lines wrapped at 120 columns by the formatter."""
    source = tmp_path / "sample.py"
    source.write_text(
        "import sys\nimport os\nfrom typing import List\n\n\n"
        "def f(values: List[int] = []) -> int:\n    return len(values) + len(os.sep)\n"
    )
    found = _ruff("check", "--output-format", "concise", str(source), cwd=tmp_path).stdout
    assert {"F401", "I001", "B006", "UP006", "UP035"} <= set(found.replace(":", " ").split()), found
    fits = "x = [" + ", ".join(["1234567"] * 12) + "]\n"  # 113 columns: stays on one line
    too_long = "y = [" + ", ".join(["1234567"] * 14) + "]\n"  # 131 columns: wrapped
    source.write_text(fits + too_long)
    diff = _ruff("format", "--diff", str(source), cwd=tmp_path).stdout
    assert "-" + too_long.strip() in diff and fits.strip() not in diff.replace(" " + fits.strip(), "")


def _action(filters, category, module, message="a message"):
    """What the test filters do with a warning raised in ``module``: "error", "ignore" or "default".

    Each filter is ``action:message:category:module`` with regular expressions, as pytest reads
    the ini option ``filterwarnings``.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for entry in filters:  # applied in order: the last one that matches wins, as in pytest
            action, text, name, pattern = (entry.split(":") + [""] * 4)[:4]
            warnings.filterwarnings(action, text, getattr(builtins, name or "Warning"), pattern)
        try:
            warnings.warn_explicit(message, category, f"{module}.py", 1, module=module)
        except category:
            return "error"
    return "default" if caught else "ignore"


def test_warnings_are_filtered_by_module_never_by_category():
    filters = PYPROJECT["tool"]["pytest"]["ini_options"]["filterwarnings"]
    for entry in filters:
        action, message, category, module, *_ = entry.split(":") + [""] * 5
        assert action != "ignore" or module, f"{entry!r} hides a whole category: name the module"
    keras_message = "__array__ implementation doesn't accept a copy keyword, so passing copy=False failed."
    assert _action(filters, DeprecationWarning, "utils.faces.encoder") == "error"
    assert _action(filters, PendingDeprecationWarning, "utils.course.grading.runner") == "error"
    assert _action(filters, DeprecationWarning, "keras.src.backend.tensorflow.core", keras_message) == "ignore"
    assert _action(filters, DeprecationWarning, "keras.src.backend.tensorflow.core") == "default"
    assert _action(filters, DeprecationWarning, "somebody_elses_module") == "default"
    assert _action(filters, DeprecationWarning, "utilsx", keras_message) == "default"


def test_pytest_fails_a_deprecation_in_our_code_and_hides_only_the_named_ones(tmp_path):
    """The same filters, applied by pytest itself to a test that warns as our code and as keras do."""
    (tmp_path / "test_sample.py").write_text(
        "import warnings\n\n"
        "def warn(module, message='old call'):\n"
        "    warnings.warn_explicit(message, DeprecationWarning, module + '.py', 1, module=module)\n\n"
        "def test_ours():\n    warn('utils.faces.encoder')\n\n"
        "def test_keras():\n"
        "    warn('keras.src.backend.tensorflow.core', \"__array__ implementation doesn't accept a copy keyword\")\n\n"
        "def test_other():\n    warn('somebody_elses_module')\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(tmp_path),
            "-q",
            "-rA",
            str(tmp_path / "test_sample.py"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "FAILED test_sample.py::test_ours - DeprecationWarning: old call" in done.stdout, done.stdout
    assert "PASSED test_sample.py::test_keras" in done.stdout and "PASSED test_sample.py::test_other" in done.stdout
    assert "somebody_elses_module" in done.stdout and "copy keyword" not in done.stdout.split("warnings summary")[-1]

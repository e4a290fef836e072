"""Root pytest configuration: notebooks run under nbval (lax mode, see pyproject.toml).

TensorFlow writes warnings and progress to stderr; nbval must never fail a notebook for that, so
stderr streams are excluded from the comparison of the few cells marked ``# NBVAL_CHECK_OUTPUT``.
Generated student notebooks (notebooks/student/) contain stubs: tests/test_course_student.py runs
them instead of nbval.
"""

collect_ignore_glob = ["notebooks/student/*", "outputs/*", ".venv/*"]


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr", "text/html", "application/javascript", "image/png")

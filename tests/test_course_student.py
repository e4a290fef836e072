"""utils.course.student, the student-version generator: stubs, hidden checks, the command line, and
the generated course notebooks themselves."""

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

from utils import config, errors
from utils.course import student

NOTEBOOKS = sorted((config.REPO_ROOT / "notebooks").glob("[0-9]*.ipynb"))

SOLUTION_CELL = """import math

def area(radius):
    \"\"\"Area of a circle.\"\"\"
    ### BEGIN SOLUTION
    squared = radius ** 2
    return math.pi * squared
    ### END SOLUTION

def outer():
    def inner(x):
        if x:
            ### BEGIN SOLUTION
            return 1
            ### END SOLUTION
        return 0
    return inner"""


def test_stub_keeps_indentation_and_names_the_exercise():
    stubbed = student.stub_source(SOLUTION_CELL)
    assert "squared" not in stubbed and "math.pi" not in stubbed and "return 1" not in stubbed
    assert '    # YOUR CODE HERE\n    raise NotImplementedError("Exercise `area`' in stubbed
    assert '            raise NotImplementedError("Exercise `inner`' in stubbed
    namespace = {}
    exec(stubbed, namespace)
    with pytest.raises(NotImplementedError, match="area"):
        namespace["area"](2.0)
    assert namespace["outer"]()(0) == 0


def test_hidden_checks_are_removed_visible_checks_stay():
    source = "checks.check_area(area)\n### BEGIN HIDDEN CHECKS\nassert area(1) == 3.14159\n### END HIDDEN CHECKS"
    assert student.stub_source(source) == "checks.check_area(area)"


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without its BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN HIDDEN CHECKS\n### END HIDDEN CHECKS\n### END SOLUTION", "inside an open"),
    ("### BEGIN HIDDEN CHECKS\n### END SOLUTION", "without its BEGIN"),
])
def test_unbalanced_markers_are_errors(source, message):
    with pytest.raises(errors.NotebookFormatError, match=message):
        student.stub_source(source)


def test_generate_strips_outputs(tmp_path):
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(SOLUTION_CELL)
    cell.outputs = [nbformat.v4.new_output("stream", text="hi")]
    cell.execution_count = 3
    notebook.cells = [nbformat.v4.new_markdown_cell("# T"), cell]
    (tmp_path / "src").mkdir()
    nbformat.write(notebook, tmp_path / "src" / "01_t.ipynb")
    written = student.generate(tmp_path / "src", tmp_path / "out")
    generated = nbformat.read(written[0], as_version=4)
    assert generated.cells[1].outputs == [] and generated.cells[1].execution_count is None
    assert student.count_exercises(notebook) == 2 and student.count_exercises(generated) == 0



def _write_notebook(path, *sources):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def test_generate_leaves_no_temporaries_and_replaces_old_versions(tmp_path):
    _write_notebook(tmp_path / "src" / "01_a.ipynb", SOLUTION_CELL)
    _write_notebook(tmp_path / "src" / "02_b.ipynb", "print(1)")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "01_a.ipynb").write_text("an old, broken version")
    written = student.generate(tmp_path / "src", tmp_path / "out")
    assert [path.name for path in written] == ["01_a.ipynb", "02_b.ipynb"]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["01_a.ipynb", "02_b.ipynb"]
    assert "YOUR CODE HERE" in nbformat.read(written[0], as_version=4).cells[0].source


def test_a_broken_notebook_stops_before_anything_is_written(tmp_path):
    _write_notebook(tmp_path / "src" / "01_good.ipynb", SOLUTION_CELL)
    _write_notebook(tmp_path / "src" / "02_bad.ipynb", "x = 1", "### BEGIN SOLUTION\nx = 2")
    with pytest.raises(errors.NotebookFormatError, match=r"02_bad.ipynb: cell 1: region opened at line 1"):
        student.generate(tmp_path / "src", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unreadable_notebook_is_a_notebook_format_error(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "01_x.ipynb").write_text("{ not json")
    with pytest.raises(errors.NotebookFormatError, match="01_x.ipynb: not a readable notebook"):
        student.generate(tmp_path / "src", tmp_path / "out")


def test_command_line_exit_codes_and_one_line_errors(tmp_path, capsys):
    _write_notebook(tmp_path / "src" / "01_a.ipynb", SOLUTION_CELL)
    assert student.main([str(tmp_path / "src"), "--out", str(tmp_path / "out")]) == 0
    assert "01_a.ipynb: 2 exercises ->" in capsys.readouterr().out
    _write_notebook(tmp_path / "bad" / "01_a.ipynb", "### END SOLUTION")
    assert student.main([str(tmp_path / "bad"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == "error: 01_a.ipynb: cell 0: line 1: '### END SOLUTION' without its BEGIN marker\n"
    assert student.main([str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_runs_as_a_module(tmp_path):
    """`python -m utils.course.student` is the command `make students` runs."""
    import subprocess

    _write_notebook(tmp_path / "src" / "01_a.ipynb", SOLUTION_CELL)
    result = subprocess.run([sys.executable, "-m", "utils.course.student", str(tmp_path / "src"), "--out",
                             str(tmp_path / "out")], capture_output=True, text=True, cwd=config.REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "01_a.ipynb").exists()

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_course_notebooks_have_exercises_and_clean_student_versions(path):
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        f"{path.name} is committed with outputs"
    generated = student.make_student_notebook(notebook)
    text = json.dumps([cell.source for cell in generated.cells])
    assert student.BEGIN_SOLUTION not in text and student.BEGIN_HIDDEN not in text
    stubbed_cells = [c.source for c in generated.cells if c.cell_type == "code"]
    solution_cells = [c.source for c in notebook.cells if c.cell_type == "code"]
    for original, stubbed in zip(solution_cells, stubbed_cells):
        if student.BEGIN_SOLUTION in original:
            assert "raise NotImplementedError" in stubbed
            for region in _solution_regions(original):
                assert region not in stubbed, f"{path.name}: solution code left in the student version"


def _solution_regions(source):
    """The text strictly between each BEGIN/END SOLUTION pair."""
    regions, current = [], None
    for line in source.split("\n"):
        if line.strip() == student.BEGIN_SOLUTION:
            current = []
        elif line.strip() == student.END_SOLUTION:
            regions.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return [r for r in regions if r.strip()]


def _check_cells(notebook):
    return [index for index, cell in enumerate(notebook.cells)
            if cell.cell_type == "code" and "checks.check_" in cell.source]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_notebook_runs_and_every_check_says_not_implemented(path, tmp_path):
    """Run the whole student version (fast mode, errors allowed): every check cell must fail with
    the exercise's own "not implemented" message, never an unrelated traceback; and every cell
    before the first exercise must run cleanly."""
    from nbclient import NotebookClient

    notebook = student.make_student_notebook(nbformat.read(path, as_version=4))
    check_cells = _check_cells(notebook)
    if not check_cells:
        pytest.skip(f"{path.name} has no check cells")
    env_backup = dict(os.environ)
    os.environ[config.FAST_ENV_VAR] = "1"
    try:
        client = NotebookClient(notebook, timeout=600, allow_errors=True, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    first_exercise = next(i for i, c in enumerate(notebook.cells)
                          if c.cell_type == "code" and "raise NotImplementedError" in c.source)
    for index, cell in enumerate(notebook.cells[:first_exercise]):
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{path.name} cell {index} fails before the first exercise: {errors[0].ename}"
    for index in check_cells:
        outputs = notebook.cells[index].outputs
        text = "\n".join(o.get("text", "") + o.get("evalue", "") for o in outputs)
        assert "is not implemented yet" in text, (
            f"{path.name} cell {index} ({notebook.cells[index].source.splitlines()[0]!r}) should say the "
            f"exercise is not implemented; it printed: {text[-500:]}")

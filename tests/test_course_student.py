"""utils.course.student, the student-version generator: stubs, hidden checks, the command line, and
the generated course notebooks themselves."""

import json
import os
import sys

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
    source = (
        "checks.check_area(area)\n### BEGIN HIDDEN CHECKS\n# with a larger radius\n"
        "checks.check_area(area, radius=RADIUS)\n### END HIDDEN CHECKS"
    )
    assert student.stub_source(source) == "checks.check_area(area)"


def test_a_hidden_region_holding_anything_but_check_calls_is_refused():
    """The grader judges hidden checks as observations; an assert would run in the learner's kernel."""
    source = "checks.check_area(area)\n### BEGIN HIDDEN CHECKS\nassert area(1) == 3.14159\n### END HIDDEN CHECKS"
    with pytest.raises(errors.NotebookFormatError, match="line 3: a hidden-check region may hold only"):
        student.stub_source(source, "cell 4")


@pytest.mark.parametrize(
    "source, message",
    [
        ("### BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n### END SOLUTION", "without its BEGIN"),
        ("### BEGIN SOLUTION\n### BEGIN HIDDEN CHECKS\n### END HIDDEN CHECKS\n### END SOLUTION", "inside an open"),
        ("### BEGIN HIDDEN CHECKS\n### END SOLUTION", "without its BEGIN"),
    ],
)
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
    _write_notebook(
        tmp_path / "src" / "01_a.ipynb", "def old():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION"
    )
    student.generate(tmp_path / "src", tmp_path / "out")  # last term's student version
    _write_notebook(tmp_path / "src" / "01_a.ipynb", SOLUTION_CELL)
    _write_notebook(tmp_path / "src" / "02_b.ipynb", "print(1)")
    written = student.generate(tmp_path / "src", tmp_path / "out")
    assert [path.name for path in written] == ["01_a.ipynb", "02_b.ipynb"]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["01_a.ipynb", "02_b.ipynb"]
    assert "Exercise `area`" in nbformat.read(written[0], as_version=4).cells[0].source


def test_a_broken_notebook_stops_before_anything_is_written(tmp_path):
    _write_notebook(tmp_path / "src" / "01_good.ipynb", SOLUTION_CELL)
    _write_notebook(tmp_path / "src" / "02_bad.ipynb", "x = 1", "### BEGIN SOLUTION\nx = 2")
    with pytest.raises(errors.NotebookFormatError, match=r"02_bad.ipynb: cell 1: region opened at line 1"):
        student.generate(tmp_path / "src", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unreadable_notebook_is_a_notebook_format_error(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "01_x.ipynb").write_text("{ not json")
    with pytest.raises(errors.NotebookFormatError, match="01_x.ipynb: not a notebook \\(empty or not JSON\\)"):
        student.generate(tmp_path / "src", tmp_path / "out")


def test_command_line_exit_codes_and_one_line_errors(tmp_path, capsys):
    _write_notebook(tmp_path / "src" / "01_a.ipynb", SOLUTION_CELL)
    assert student.main([str(tmp_path / "src"), "--out", str(tmp_path / "out")]) == 0
    assert "01_a.ipynb: 2 exercises (2 solution regions) ->" in capsys.readouterr().out
    _write_notebook(tmp_path / "bad" / "01_a.ipynb", "### END SOLUTION")
    assert student.main([str(tmp_path / "bad"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == "error: 01_a.ipynb: cell 0: line 1: '### END SOLUTION' without its BEGIN marker\n"
    assert student.main([str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_runs_as_a_module(tmp_path):
    """`python -m utils.course.student` is the command `make students` runs."""
    import subprocess

    _write_notebook(tmp_path / "src" / "01_a.ipynb", SOLUTION_CELL)
    result = subprocess.run(
        [sys.executable, "-m", "utils.course.student", str(tmp_path / "src"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=config.REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "01_a.ipynb").exists()


# --- the notebooks' images travel with the student notebooks (issue 21) --------------------------


def test_images_are_copied_beside_the_student_notebooks(tmp_path, capsys):
    """`images/x.png` in the markdown must resolve from the student folder too."""
    source = tmp_path / "src"
    _write_notebook(source / "01_a.ipynb", SOLUTION_CELL)
    (source / "images" / "sub").mkdir(parents=True)
    (source / "images" / "a.png").write_bytes(b"\x89PNG first")
    (source / "images" / "sub" / "b.png").write_bytes(b"\x89PNG second")
    written = student.generate(source, tmp_path / "out")
    assert [path.name for path in written] == ["01_a.ipynb"]
    assert (tmp_path / "out" / "images" / "a.png").read_bytes() == b"\x89PNG first"
    assert (tmp_path / "out" / "images" / "sub" / "b.png").read_bytes() == b"\x89PNG second"
    assert "images/: 2 files ->" in capsys.readouterr().out
    (source / "images" / "a.png").write_bytes(b"\x89PNG redrawn")  # a regenerated diagram
    student.generate(source, tmp_path / "out")
    assert (tmp_path / "out" / "images" / "a.png").read_bytes() == b"\x89PNG redrawn"


def test_a_failed_image_copy_leaves_no_images_and_no_notebooks(tmp_path, monkeypatch):
    source = tmp_path / "src"
    _write_notebook(source / "01_a.ipynb", SOLUTION_CELL)
    (source / "images").mkdir()
    (source / "images" / "a.png").write_bytes(b"\x89PNG")
    real_read = type(source).read_bytes

    def failing_read(self):
        if self.suffix == ".png":
            raise OSError(5, "Input/output error")
        return real_read(self)

    monkeypatch.setattr(type(source), "read_bytes", failing_read)
    with pytest.raises(OSError, match="Input/output"):
        student.generate(source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_images_link_in_the_output_is_refused(tmp_path, capsys):
    source = tmp_path / "src"
    _write_notebook(source / "01_a.ipynb", SOLUTION_CELL)
    (source / "images").mkdir()
    (source / "images" / "a.png").write_bytes(b"\x89PNG")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "images").symlink_to(source / "images", target_is_directory=True)
    assert student.main([str(source), "--out", str(tmp_path / "out")]) == 2
    assert "refusing to copy the notebooks' images" in capsys.readouterr().err
    assert not (tmp_path / "out" / "01_a.ipynb").exists()


def test_every_image_the_course_notebooks_show_resolves_in_the_student_folder(tmp_path):
    import re

    student.generate(config.REPO_ROOT / "notebooks", tmp_path / "student")
    links = {
        (path.name, link)
        for path in (tmp_path / "student").glob("*.ipynb")
        for cell in nbformat.read(path, as_version=4).cells
        if cell.cell_type == "markdown"
        for link in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", cell.source)
        + re.findall(r'<img[^>]*src="([^"]+)"', cell.source)
        if not link.startswith(("http:", "https:", "attachment:"))
    }
    missing = sorted(f"{name}: {link}" for name, link in links if not (tmp_path / "student" / link).is_file())
    assert not missing, f"images shown in the student notebooks but not copied: {missing}"


# --- metadata for the autograder, points -------------------------------------------------------


def test_student_notebook_carries_the_notebook_id_and_each_cells_key(tmp_path):
    solution = nbformat.v4.new_notebook()
    solution.cells = [
        nbformat.v4.new_markdown_cell("# T"),
        nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION (points=2)\n    return x\n    ### END SOLUTION"),
        nbformat.v4.new_code_cell("check(f)"),
    ]
    solution.cells[1].metadata["course"] = {"points": 2}
    solution.cells[2].metadata["tags"] = ["keep-me"]
    (tmp_path / "src").mkdir()
    nbformat.write(solution, tmp_path / "src" / "07_topic.ipynb")
    generated = nbformat.read(student.generate(tmp_path / "src", tmp_path / "out")[0], as_version=4)
    assert generated.metadata["course"] == {
        "notebook": "07_topic",
        "generator": "utils.course.student",
        "student_version": True,
    }
    assert [cell.metadata.get("course") for cell in generated.cells] == [
        None,
        {"cell": solution.cells[1].id},
        {"cell": solution.cells[2].id},
    ]  # points stay behind
    assert generated.cells[2].metadata["tags"] == ["keep-me"]
    assert "points" not in json.dumps(generated.cells[1].source)
    assert student.is_student_notebook(generated) and not student.is_student_notebook(solution)


def _notebook(*sources, points_metadata=None):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    if points_metadata is not None:
        notebook.cells[0].metadata["course"] = {"points": points_metadata}
    return notebook


def test_points_come_from_the_marker_or_the_cell_metadata_and_default_to_one():
    notebook = _notebook(
        "def a():\n    ### BEGIN SOLUTION (points=2.5)\n    pass\n    ### END SOLUTION",
        "def b():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION\n"
        "def c():\n    ### BEGIN SOLUTION ( points = 0 )\n    pass\n    ### END SOLUTION",
        "### BEGIN SOLUTION (name=answer, points=3)\nanswer = 42\n### END SOLUTION",
        "### BEGIN SOLUTION\nx = 1\n### END SOLUTION",
    )
    assert [(e.name, e.points, e.cell) for e in student.find_exercises(notebook)] == [
        ("a", 2.5, 0),
        ("b", 1.0, 1),
        ("c", 0.0, 1),
        ("answer", 3.0, 2),
        ("exercise_5", 1.0, 3),
    ]
    in_metadata = _notebook("def a():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION", points_metadata=4)
    assert student.find_exercises(in_metadata)[0].points == 4.0
    stubbed = student.stub_source("### BEGIN SOLUTION (name=answer, points=3)\nanswer = 42\n### END SOLUTION")
    assert (
        stubbed == '# YOUR CODE HERE\nraise NotImplementedError("Exercise `answer`: replace this line with your code.")'
    )


def test_two_regions_of_one_function_are_one_exercise_declared_once():
    body = (
        "def a(x):\n    ### BEGIN SOLUTION{}\n    y = x\n    ### END SOLUTION\n    ### BEGIN SOLUTION{}\n"
        "    return y\n    ### END SOLUTION"
    )
    assert student.find_exercises(_notebook(body.format(" (points=2)", ""))) == [student.Exercise("a", 2.0, 0)]
    with pytest.raises(errors.NotebookFormatError, match="exercise `a` is given different points"):
        student.find_exercises(_notebook(body.format(" (points=2)", " (points=3)")))
    with pytest.raises(errors.NotebookFormatError, match="different points"):
        student.find_exercises(_notebook(body.format(" (points=2)", ""), points_metadata=5))


@pytest.mark.parametrize(
    "marker, message",
    [
        ("### BEGIN SOLUTION (points=two)", "points must be a number"),
        ("### BEGIN SOLUTION (points=-1)", "points must be a number"),
        ("### BEGIN SOLUTION (points=nan)", "points must be a number"),
        ("### BEGIN SOLUTION (weight=2)", "unknown option 'weight=2'"),
        ("### BEGIN SOLUTION points=2", "cannot read"),
    ],
)
def test_unreadable_marker_options_are_errors(marker, message):
    with pytest.raises(errors.NotebookFormatError, match=message):
        student.stub_source(f"def f():\n    {marker}\n    pass\n    ### END SOLUTION")


def test_points_in_metadata_of_a_cell_without_a_solution_is_an_error():
    with pytest.raises(errors.NotebookFormatError, match="without a solution region"):
        student.find_exercises(_notebook("x = 1", points_metadata=2))


# --- never write over a source notebook (issue 13, row 5) ---------------------------------------


def _snapshot(folder):
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.parametrize(
    "out",
    [
        "same",
        "dotdot",
        "symlink_to_source",
        "subfolder_with_copies",
        "file_links",
        "hard_link",
        "foreign_notebook",
        "folder_in_the_way",
    ],
)
def test_the_generator_never_writes_over_a_source_notebook(tmp_path, capsys, out):
    source = tmp_path / "notebooks"
    _write_notebook(source / "01_a.ipynb", SOLUTION_CELL)
    _write_notebook(source / "02_b.ipynb", "print(1)")
    if out == "same":
        target = source
    elif out == "dotdot":
        (source / "student").mkdir()
        target = source / "student" / ".." / ".." / "notebooks"
    elif out == "symlink_to_source":
        target = tmp_path / "link"
        target.symlink_to(source, target_is_directory=True)
    elif out == "subfolder_with_copies":  # an --out folder that holds (other copies of) solution notebooks
        target = source / "sub"
        _write_notebook(target / "01_a.ipynb", SOLUTION_CELL)
    elif out == "file_links":
        target = tmp_path / "out"
        target.mkdir()
        (target / "01_a.ipynb").symlink_to(source / "01_a.ipynb")
    elif out == "hard_link":
        target = tmp_path / "out"
        target.mkdir()
        os.link(source / "02_b.ipynb", target / "02_b.ipynb")
    elif out == "foreign_notebook":
        target = tmp_path / "out"
        _write_notebook(target / "02_b.ipynb", "my own work")
    else:
        target = tmp_path / "out"
        (target / "01_a.ipynb").mkdir(parents=True)
    before = _snapshot(tmp_path)
    assert student.main([str(source), "--out", str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert "refusing" in captured.err or "is the source folder" in captured.err
    assert _snapshot(tmp_path) == before


# --- unusable input: exit 2, one line, nothing partial (issue 13, row 12) ------------------------


@pytest.mark.parametrize(
    "case, message",
    [
        ("text_file_as_source", "is not a folder of notebooks"),
        ("missing_folder", "is not a folder of notebooks"),
        ("empty_folder", "holds no *.ipynb notebook"),
        ("empty_notebook_file", "02_b.ipynb: not a notebook (empty or not JSON)"),
        ("text_notebook_file", "02_b.ipynb: not a notebook (empty or not JSON)"),
        ("json_list", "02_b.ipynb: not a valid notebook"),
        ("json_without_cells", "02_b.ipynb: not a valid notebook"),
        ("binary_file", "02_b.ipynb: not a notebook (not UTF-8 text)"),
        ("student_notebook_as_source", "02_b.ipynb is a student notebook"),
    ],
)
def test_unusable_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, case, message):
    source = tmp_path / "src"
    _write_notebook(source / "01_a.ipynb", SOLUTION_CELL)
    bad = source / "02_b.ipynb"
    if case == "text_file_as_source":
        (tmp_path / "notes.txt").write_text("not a notebook")
        source = tmp_path / "notes.txt"
    elif case == "missing_folder":
        source = tmp_path / "missing"
    elif case == "empty_folder":
        source = tmp_path / "empty"
        source.mkdir()
    elif case == "empty_notebook_file":
        bad.write_text("")
    elif case == "text_notebook_file":
        bad.write_text("print('hello')\n")
    elif case == "json_list":
        bad.write_text("[]")
    elif case == "json_without_cells":
        bad.write_text('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}')
    elif case == "binary_file":
        bad.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    else:
        nbformat.write(student.make_student_notebook(_notebook("x = 1"), "02_b"), bad)
    out = tmp_path / "out"
    assert student.main([str(source), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1 and message in captured.err
    assert not out.exists()


def test_a_failed_write_replaces_nothing_and_leaves_no_temporaries(tmp_path, monkeypatch):
    _write_notebook(tmp_path / "src" / "01_a.ipynb", SOLUTION_CELL)
    _write_notebook(tmp_path / "src" / "02_b.ipynb", "print(1)")
    student.generate(tmp_path / "src", tmp_path / "out")
    before = _snapshot(tmp_path / "out")
    _write_notebook(tmp_path / "src" / "01_a.ipynb", "print('new version')")
    real_write, calls = nbformat.write, []

    def failing_write(notebook, handle, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_write(notebook, handle, *args, **kwargs)

    monkeypatch.setattr(student.nbformat, "write", failing_write)
    with pytest.raises(OSError, match="No space left"):
        student.generate(tmp_path / "src", tmp_path / "out")
    assert _snapshot(tmp_path / "out") == before  # the first notebook was not replaced either
    calls.clear()
    with pytest.raises(OSError):
        student.generate(tmp_path / "src", tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_course_notebooks_have_exercises_and_clean_student_versions(path):
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        f"{path.name} is committed with outputs"
    )
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
    return [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and "checks.check_" in cell.source
    ]


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
        client = NotebookClient(
            notebook,
            timeout=600,
            allow_errors=True,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    first_exercise = next(
        i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and "raise NotImplementedError" in c.source
    )
    for index, cell in enumerate(notebook.cells[:first_exercise]):
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{path.name} cell {index} fails before the first exercise: {errors[0].ename}"
    for index in check_cells:
        outputs = notebook.cells[index].outputs
        text = "\n".join(o.get("text", "") + o.get("evalue", "") for o in outputs)
        assert "is not implemented yet" in text, (
            f"{path.name} cell {index} ({notebook.cells[index].source.splitlines()[0]!r}) should say the "
            f"exercise is not implemented; it printed: {text[-500:]}"
        )

"""The learner's path (issue 21, "Done when"), checked on the committed solution notebooks.

(a) at least 8 concept diagrams appear in the notebooks' markdown and every image shown exists;
(b) each notebook's required path (markdown outside "Optional — beyond the lecture" sections) is at
    most 2,500 words;
(c) every exercise sits in a code cell whose function has a docstring, step comments and a
    "(≈ N lines)" hint next to each solution region, all of which survive in the student version,
    and is preceded by a markdown heading "Exercise N — `name`" (numbered 1, 2, ... per notebook);
(d) each notebook opens with a table of contents and has a "What you learned" (or "What you
    should remember") section and a glossary;
(e) no helper function is defined in two notebooks.

Plus unit tests of the word counter (utils.course.notebook_text) with hand-counted numbers.
"""

import ast
import re
import subprocess
import sys

import nbformat
import pytest

from utils import config
from utils.course import diagrams, notebook_text, student

NOTEBOOK_DIR = config.REPO_ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9]*.ipynb"))

#: "(≈ 4 lines)", "(≈ 2-3 lines)", "(≈ 1 line)"
LINE_HINT = re.compile(r"\(\s*≈\s*\d+(?:\s*[-–]\s*\d+)?\s+lines?\s*\)")


def _read(path):
    return nbformat.read(path, as_version=4)


def _code(source: str) -> str:
    """A code cell's source with IPython magics and shell lines blanked, so ``ast`` can parse it."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))


# --- the word counter --------------------------------------------------------------------------


def _notebook(*cells):
    return nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(cell) if isinstance(cell, str) else nbformat.v4.new_code_cell(cell[0])
            for cell in cells
        ]
    )


def test_count_words_by_hand():
    assert notebook_text.count_words("One two, three.") == 3
    assert notebook_text.count_words("## A heading\n* a list item — with a dash") == 8  # "##", "*", "—" are not words
    assert notebook_text.count_words("the cost $J(G) = \\alpha J_c + \\beta J_s$ here") == 4  # a formula is one word
    assert notebook_text.count_words("$$\nJ(G) = \\alpha J_{content} + \\beta J_{style}\n$$") == 0
    assert notebook_text.count_words("![a picture of a Siamese network](images/siamese_encoder.png)") == 0
    assert notebook_text.count_words("see [the FaceNet paper](https://arxiv.org/abs/1503.03832)") == 4
    assert notebook_text.count_words("<img src='images/a.png' width=400> <b>bold</b>") == 1


def test_optional_section_ends_at_the_next_heading_of_the_same_or_higher_level():
    notebook = _notebook(
        "# Title\none two",  # required: 3
        "## 1. Step\nthree four",  # required: 4
        "### Optional — beyond the lecture: extra\nfive six seven",  # optional: 8 (heading 5 + 3)
        ("x = 1\ny = 2",),  # optional code: 2 lines
        "#### a sub-heading inside it\neight",  # deeper: still optional (5)
        "### 1.1 Back on the path\nnine",  # same level ends it: required 6
        ("z = 3",),  # required code: 1 line
        "## 2. Optional - beyond the lecture (plain hyphen)\nten",  # optional (8)
        "# Next part\neleven",
    )  # level 1 ends it: required 3
    assert notebook_text.required_words(notebook) == 3 + 4 + 6 + 3
    assert notebook_text.optional_words(notebook) == 8 + 5 + 8
    assert notebook_text.code_lines(notebook) == {"required": 1, "optional": 2}


def test_headings_inside_code_fences_are_not_headings():
    notebook = _notebook(
        "## Optional — beyond the lecture\nskip\n```\n# a comment, not a heading\n```\nstill optional",
        "## Required\nread",
    )
    assert [heading.title for heading in notebook_text.headings(notebook)] == [
        "Optional — beyond the lecture",
        "Required",
    ]
    assert notebook_text.required_words(notebook) == 2


def test_command_line_prints_one_row_per_notebook():
    result = subprocess.run(
        [sys.executable, "-m", "utils.course.notebook_text", "--markdown"],
        capture_output=True,
        text=True,
        cwd=config.REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| `0")]
    assert [row.split("|")[1].strip(" `") for row in rows] == [path.stem for path in NOTEBOOKS]
    first = notebook_text.summarize(NOTEBOOKS[0])
    assert f"| {first.required_words:,} | {first.optional_words:,} |" in rows[0]


def test_the_readme_table_of_words_is_current():
    """The README's reading-load table is the command's output, not numbers typed by hand."""
    readme = (config.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- notebook-text:begin -->\n(.*?)\n<!-- notebook-text:end -->", readme, re.DOTALL)
    assert match, "README.md lost its <!-- notebook-text:begin --> ... <!-- notebook-text:end --> block"
    result = subprocess.run(
        [sys.executable, "-m", "utils.course.notebook_text", "--markdown"],
        capture_output=True,
        text=True,
        cwd=config.REPO_ROOT,
    )
    expected = "\n".join(line for line in result.stdout.splitlines() if line.startswith("|"))
    assert match.group(1).strip() == expected, (
        "README.md's reading-load table is stale; replace the lines between its notebook-text markers with "
        "the output of `python -m utils.course.notebook_text --markdown`:\n" + expected
    )


# --- (a) diagrams -------------------------------------------------------------------------------


def test_at_least_eight_concept_diagrams_are_shown_in_the_markdown():
    shown = {}
    for path in NOTEBOOKS:
        for target in notebook_text.images_shown(_read(path)):
            name = target.removeprefix("images/").removesuffix(".png")
            if target.startswith("images/") and name in diagrams.DIAGRAMS:
                shown.setdefault(name, path.stem)
    not_shown = sorted(set(diagrams.DIAGRAMS) - set(shown))
    assert len(shown) >= 8, (
        f"{len(shown)} concept diagrams appear in the notebooks' markdown "
        f"({sorted(shown)}); at least 8 must. Not shown yet: {not_shown} — add "
        f"![description](images/<name>.png) where the idea is taught"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_image_the_markdown_shows_exists(path):
    missing = [
        target
        for target in notebook_text.images_shown(_read(path))
        if not target.startswith(("http:", "https:", "attachment:")) and not (path.parent / target).is_file()
    ]
    assert not missing, (
        f"{path.name} shows images that do not exist: {missing} (draw them with "
        f"`python -m utils.course.diagrams`, or fix the file name)"
    )


# --- (b) the required path ----------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_required_path_is_at_most_2500_words(path):
    words = notebook_text.required_words(_read(path))
    assert words <= notebook_text.REQUIRED_WORDS_LIMIT, (
        f"{path.name}: the required path has {words:,} words (limit {notebook_text.REQUIRED_WORDS_LIMIT:,}). "
        f"Shorten it, or mark material beyond the lecture with a heading containing "
        f"'{notebook_text.OPTIONAL_MARK}'. `python -m utils.course.notebook_text` prints every notebook's count."
    )


# --- (c) exercise scaffolding -------------------------------------------------------------------


def _exercise_cases():
    cases = []
    for path in NOTEBOOKS:
        notebook = _read(path)
        for number, exercise in enumerate(student.find_exercises(notebook), start=1):
            cases.append(pytest.param(path, notebook, number, exercise, id=f"{path.stem}-{exercise.name}"))
    return cases


def _function(source: str, name: str):
    for node in ast.walk(ast.parse(_code(source))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return node
    return None


def _scaffolding_problems(source: str, name: str) -> list[str]:
    """What the student version of an exercise cell lacks: docstring, step comments, line hints."""
    stubbed = student.stub_source(source)
    function = _function(stubbed, name)
    problems = []
    if function is not None:
        if not ast.get_docstring(function):
            problems.append("the function has no docstring (say what it computes, its Args and Returns)")
        body = stubbed.split("\n")[function.lineno : function.end_lineno]
    else:
        body = stubbed.split("\n")  # a region outside a function (### BEGIN SOLUTION (name=...))
    steps = [
        line.strip()
        for line in body
        if line.strip().startswith("#")
        and line.strip() != "# YOUR CODE HERE"
        and re.search(r"[A-Za-z]{3}", LINE_HINT.sub("", line))
    ]  # not a bare "# (≈ 2 lines)"
    if not steps:
        problems.append(
            "no step comment is left in the student version (write the steps as comments "
            "outside ### BEGIN SOLUTION ... ### END SOLUTION)"
        )
    lines = source.split("\n")
    for index, line in enumerate(lines):
        if line.strip().startswith(student.BEGIN_SOLUTION):
            near = lines[max(0, index - 2) : index]
            if not any(LINE_HINT.search(text) for text in near):
                problems.append(
                    f"the solution region at line {index + 1} has no '(≈ N lines)' hint on the two "
                    f"lines above its BEGIN marker (the marker line itself is replaced)"
                )
    return problems


@pytest.mark.parametrize("path, notebook, number, exercise", _exercise_cases())
def test_exercise_has_docstring_step_comments_and_line_hints_in_the_student_version(path, notebook, number, exercise):
    problems = _scaffolding_problems(notebook.cells[exercise.cell].source, exercise.name)
    assert not problems, f"{path.name}, cell {exercise.cell}, exercise `{exercise.name}`:\n  - " + "\n  - ".join(
        problems
    )


GOOD_EXERCISE = '''def f(x):
    """Add one.

    Args:
        x: a number.

    Returns:
        x + 1
    """
    # Step 1: add one to x (≈ 1 line)
    ### BEGIN SOLUTION
    y = x + 1
    ### END SOLUTION
    return y'''


@pytest.mark.parametrize(
    "broken, message",
    [
        (re.sub(r'    """.*?"""\n', "", GOOD_EXERCISE, flags=re.DOTALL), "no docstring"),
        (GOOD_EXERCISE.replace("    # Step 1: add one to x (≈ 1 line)\n", "    # (≈ 1 line)\n"), "no step comment"),
        (
            GOOD_EXERCISE.replace(
                "    # Step 1: add one to x (≈ 1 line)\n",
                "    ### BEGIN SOLUTION\n    # Step 1: add one to x (≈ 1 line)\n    ### END SOLUTION\n",
            ),
            "no step comment",
        ),
        (GOOD_EXERCISE.replace(" (≈ 1 line)", ""), "no '(≈ N lines)' hint"),
    ],
)
def test_the_scaffolding_check_catches_each_missing_piece(broken, message):
    assert _scaffolding_problems(GOOD_EXERCISE, "f") == []
    assert any(message in problem for problem in _scaffolding_problems(broken, "f")), _scaffolding_problems(broken, "f")


@pytest.mark.parametrize("path, notebook, number, exercise", _exercise_cases())
def test_exercise_is_preceded_by_its_numbered_heading(path, notebook, number, exercise):
    expected = re.compile(rf"^#{{1,6}}\s+Exercise\s+{number}\s+—\s+`{re.escape(exercise.name)}`\s*$")
    previous_exercise_cell = max(
        [other.cell for other in student.find_exercises(notebook) if other.cell < exercise.cell], default=-1
    )
    above = [
        heading.title
        for heading in notebook_text.headings(notebook)
        if previous_exercise_cell < heading.cell < exercise.cell
    ]
    assert any(expected.match(f"### {title}") for title in above), (
        f"{path.name}, cell {exercise.cell}: exercise `{exercise.name}` needs the markdown heading "
        f"'### Exercise {number} — `{exercise.name}`' above it (after the previous exercise); "
        f"headings found there: {above}"
    )


# --- (d) table of contents, what you learned, glossary ------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_opens_with_a_table_of_contents_whose_links_work(path):
    notebook = _read(path)
    first_markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"][:3]
    toc = next(
        (text for text in first_markdown if re.search(r"(?im)^(#{1,6}\s+|\*\*)(table of )?contents\b", text)), None
    )
    assert toc is not None, (
        f"{path.name}: no table of contents in the first three markdown cells (a heading "
        f"'Contents' or '**Contents**' followed by the list of sections)"
    )
    entries = [line for line in toc.split("\n") if re.match(r"^\s*([-*]|\d+\.)\s+", line)]
    entries = entries or toc.split(" · ")  # or one paragraph: "1 Setup · 2 The cost · ..."
    assert len(entries) >= 3, (
        f"{path.name}: the table of contents lists {len(entries)} entries (a list, or entries separated by ' · ')"
    )
    titles = {_slug(heading.title) for heading in notebook_text.headings(notebook)}
    dead = [anchor for anchor in re.findall(r"\]\(#([^)]+)\)", toc) if _slug(anchor) not in titles]
    assert not dead, f"{path.name}: table-of-contents links with no heading of that name: {dead}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_closes_with_what_you_learned_and_a_glossary(path):
    titles = [heading.title for heading in notebook_text.headings(_read(path))]
    assert any(re.search(r"(?i)what you (learned|should remember)", title) for title in titles), (
        f"{path.name}: no 'What you learned' / 'What you should remember' heading; headings: {titles}"
    )
    assert any(re.search(r"(?i)glossary|key terms", title) for title in titles), (
        f"{path.name}: no 'Glossary' (or 'Key terms') heading defining the notebook's terms"
    )


# --- (e) no helper defined twice ----------------------------------------------------------------


def _defined_in_several(notebooks: dict) -> dict[str, list[str]]:
    """{name: [notebooks]} for every top-level function or class defined in more than one notebook."""
    homes = {}
    for stem, notebook in notebooks.items():
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(_code(cell.source))
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    homes.setdefault(node.name, set()).add(stem)
    return {name: sorted(places) for name, places in homes.items() if len(places) > 1}


def test_no_helper_function_is_defined_in_two_notebooks():
    twice = _defined_in_several({path.stem: _read(path) for path in NOTEBOOKS})
    assert not twice, (
        f"helpers defined in more than one notebook (move each into the library, e.g. "
        f"utils.plotting, and import it): {twice}"
    )


def test_the_duplicate_check_finds_a_helper_defined_twice():
    first = _notebook(("%matplotlib inline\ndef print_table(rows):\n    pass",), ("def only_here():\n    pass",))
    second = _notebook(("import numpy\n\ndef print_table(rows, title=None):\n    return rows",))
    assert _defined_in_several({"01_a": first, "02_b": second}) == {"print_table": ["01_a", "02_b"]}


# --- (f) the estimated time (issue 28) ---------------------------------------------------------------


def test_the_time_estimate_by_hand():
    """650 required words, 45 lines of code read, two exercises asking for 4 and 2-3 lines, two controls
    and three prediction prompts, 150 s of running."""
    code = "\n".join(f"x{number} = {number}" for number in range(30))  # 30 lines
    notebook = _notebook(
        "# Title\n" + " ".join(["word"] * 649),  # 650 words
        (code + "\n\n\n# a comment line counts, blank lines do not\n" + "y = 1\n" * 4,),  # 35 lines read
        ("# Try it (control): move the slider\nexplorer.show()",),  # 2 lines, 1 control
        (
            "# Try it (control): upload a photo\n# Try it (prediction): 2-D\n# Try it (prediction): 1-D\n"
            "# try it (Prediction): 3-D\nfor control in controls:\n    show(control)\n\n\n",
        ),  # 6 lines, 1 + 3
        ("def f(x):\n    # step (≈ 4 lines)\n    ### BEGIN SOLUTION\n    y = x\n    ### END SOLUTION\n    return y",),
        ("# NBVAL_CHECK_OUTPUT\nchecks.check_f(f)",),  # exercise: not read as code
        (
            "def g(x):\n    # step\n    # (≈ 2-3 lines)\n    ### BEGIN SOLUTION\n    y = x\n    ### END SOLUTION\n"
            "    return y",
        ),
        ("checks.check_g(g,\n               context)",),
        ("# a check call beside other code is read\nchecks.check_g(g)\nprint(g(1))",),  # 3 lines: 46 in all
        "## Optional — beyond the lecture: more\n" + " ".join(["skip"] * 500),  # not read
        ("# Try it (control): not on the required path\n" + code,),
    )
    estimate = notebook_text.estimate_time(notebook, run_seconds=150)
    assert (estimate.required_words, estimate.code_lines, estimate.exercises, estimate.exercise_lines) == (
        650,
        46,
        2,
        7,
    )
    assert (estimate.controls, estimate.prompts) == (2, 3)
    assert estimate.reading_minutes == 650 / notebook_text.READING_WORDS_PER_MINUTE == 5.0
    assert estimate.code_minutes == 46 / notebook_text.CODE_LINES_PER_MINUTE
    assert estimate.exercise_minutes == 2 * 5 + 7 * 1 == 17.0
    assert estimate.control_minutes == 2 * notebook_text.CONTROL_MINUTES + 3 * notebook_text.PROMPT_MINUTES
    assert estimate.running_minutes == 2.5
    assert notebook_text.CODE_LINES_PER_MINUTE == 15 and (
        notebook_text.CONTROL_MINUTES,
        notebook_text.PROMPT_MINUTES,
    ) == (3, 2)
    assert estimate.minutes == pytest.approx(5.0 + 46 / 15 + 17.0 + 12.0 + 2.5)  # 39.57
    assert estimate.rounded() == {"total": 40, "reading": 5, "code": 3, "exercises": 17, "controls": 12, "running": 3}
    assert (
        notebook_text.time_line(estimate)
        == "**Estimated time:** about 40 min (reading 5, code 3, exercises 17, controls 12, running 3)."
    )


@pytest.mark.parametrize(
    "source, exercise",
    [
        ("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION", True),
        ("# NBVAL_CHECK_OUTPUT\nchecks.check_gram_matrix(gram_matrix);", True),
        ("checks.check_train_step(train_step, image,\n                        alpha=ALPHA, optimizer=make(1))", True),
        ("checks.check_verify(verify)\nchecks.check_who_is_it(who_is_it)", True),
        ("checks.check_verify(verify)\nprint('and more')", False),
        ("print(checks.check_verify(verify))", False),
        ("# only a comment", False),
        ("x = 1", False),
    ],
)
def test_exercise_and_check_cells_are_told_from_other_code(source, exercise):
    assert notebook_text.is_exercise_cell(source) is exercise


def test_a_region_without_a_hint_counts_one_line_and_a_range_its_upper_end():
    notebook = _notebook(
        ("def f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION",),
        ("def g():\n    # (≈ 5–6 lines)\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION",),
    )
    assert notebook_text.exercise_lines(notebook) == [1, 6]


def _time_problem(path_or_notebook, run_seconds=None) -> str | None:
    """What is wrong with a notebook's stated time (None when it states the estimate)."""
    estimate = notebook_text.estimate_time(path_or_notebook, run_seconds)
    stated = notebook_text.stated_time(path_or_notebook)
    if stated is None:
        return (
            "no '**Estimated time:** about N min (reading R, code C, exercises E, controls K, running Z).' line "
            "in the table of contents"
        )
    if not notebook_text.time_agrees(stated, estimate):
        return f"it states {stated}; the estimate is {notebook_text.time_line(estimate)}"
    return None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_table_of_contents_states_the_estimated_time(path):
    problem = _time_problem(path)
    assert problem is None, (
        f"{path.name}: {problem}. When the notebook's text is final, run `.venv/bin/python -m "
        f"utils.course.notebook_text --write-time notebooks/{path.name}` (and update RUN_SECONDS in "
        f"utils/course/notebook_text.py if its normal-mode run time changed)."
    )


def test_the_time_check_catches_a_stale_or_missing_line():
    words = " ".join(["word"] * 1296)  # about 1,320 with the title, the contents and the line: 10 minutes
    right = "**Estimated time:** about 10 min (reading 10, code 0, exercises 0, controls 0, running 1)."
    contents = "# T\n\n**Contents**\n\n1. A\n2. B\n3. C\n\n"
    assert _time_problem(_notebook(contents + right + "\n\n" + words), run_seconds=30) is None
    stale = right.replace("about 10 min", "about 20 min")
    assert "the estimate is" in _time_problem(_notebook(contents + stale + "\n\n" + words), run_seconds=30)
    slow_reading = right.replace("reading 10", "reading 12")
    assert _time_problem(_notebook(contents + slow_reading + "\n\n" + words), run_seconds=30) is not None
    # 30 lines of code (2 minutes) and a control (3) the line does not state
    with_code = _notebook(contents + right + "\n\n" + words, ("\n".join(["x = 1"] * 29) + "\n# Try it (control): x",))
    assert "code 2, exercises 0, controls 3" in _time_problem(with_code, run_seconds=30)
    # the line of the earlier form (no code, no controls) is stale, and --write-time replaces it
    old_form = "**Estimated time:** about 10 min (reading 10, exercises 0, running 1)."
    assert "no '**Estimated time:**" in _time_problem(_notebook(contents + old_form + "\n\n" + words), run_seconds=30)
    assert "no '**Estimated time:**" in _time_problem(_notebook(contents + words), run_seconds=30)
    # one more sentence (13 words, 0.1 min) does not make a line stale
    assert (
        _time_problem(
            _notebook(
                contents + right + "\n\n" + words + " one more sentence of thirteen words "
                "that changes nothing in the rounded minutes."
            ),
            run_seconds=30,
        )
        is None
    )


def test_the_whole_required_path_is_at_most_four_hours():
    estimates = [notebook_text.estimate_time(path) for path in NOTEBOOKS]
    assert {estimate.name for estimate in estimates} == set(notebook_text.RUN_SECONDS), (
        "RUN_SECONDS in utils/course/notebook_text.py must list every notebook's normal-mode run time"
    )
    total = sum(estimate.minutes for estimate in estimates)
    assert total <= notebook_text.COURSE_MINUTES_LIMIT, (
        f"the required path takes about {total:.0f} min (limit {notebook_text.COURSE_MINUTES_LIMIT}): "
        + ", ".join(f"{estimate.name[:2]} {estimate.minutes:.0f}" for estimate in estimates)
        + ". Move material the lecture does not need into 'Optional — beyond the lecture' sections."
    )


def test_write_time_puts_the_line_under_the_table_of_contents_once(tmp_path):
    for source in (NOTEBOOK_DIR / "02_triplet_loss_training.ipynb", NOTEBOOK_DIR / "05_what_convnets_learn.ipynb"):
        copy = tmp_path / source.name
        original = _read(source)
        for cell in original.cells[:3]:  # start from a notebook without the line
            cell.source = "\n".join(line for line in cell.source.split("\n") if "Estimated time:" not in line)
        nbformat.write(original, copy)
        line = notebook_text.write_time_line(copy, run_seconds=60)
        again = notebook_text.write_time_line(copy, run_seconds=60)
        written = _read(copy)
        assert line == again and sum(cell.source.count("Estimated time:") for cell in written.cells) == 1
        assert _time_problem(copy, run_seconds=60) is None
        toc = next(cell.source for cell in written.cells if "Estimated time:" in cell.source)
        before = toc.split("Estimated time:")[0]
        assert re.search(r"(?i)contents", before), "the line goes under the table of contents"
        assert toc.count("\n\n\n") == 0
        changed = [
            index for index, (old, new) in enumerate(zip(original.cells, written.cells)) if old.source != new.source
        ]
        assert len(written.cells) == len(original.cells) and len(changed) == 1  # only the contents cell


def test_measured_run_times_come_from_normal_mode_executions_only(tmp_path):
    for name, mode, seconds in (("05_a", "normal", 52.3), ("06_b", "fast", 20.0)):
        notebook = _notebook("# A")
        notebook.metadata["course_site"] = {"mode": mode, "seconds": seconds}
        nbformat.write(notebook, tmp_path / f"{name}.ipynb")
    assert notebook_text.measured_run_seconds(tmp_path) == {"05_a": 52.3}


def _timed_cell(source, started, seconds):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["execution"] = {
        "iopub.status.busy": f"2026-12-07T10:{started // 60:02d}:{started % 60:02d}.000000Z",
        "shell.execute_reply": f"2026-12-07T10:{(started + seconds) // 60:02d}:{(started + seconds) % 60:02d}.500000Z",
    }
    return cell


def test_the_required_run_time_leaves_the_optional_cells_out(tmp_path):
    """Cells of 3 s, 40 s (optional) and 7 s: the required path ran 3.5 + 7.5 = 11 s; a whole run of 52 s."""
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# T"),
            _timed_cell("x = 1", 0, 3),
            nbformat.v4.new_markdown_cell("## Optional — beyond the lecture: a benchmark"),
            _timed_cell("slow()", 4, 40),
            nbformat.v4.new_markdown_cell("## 2. Back"),
            _timed_cell("y = 2", 45, 7),
        ]
    )
    assert notebook_text.required_run_seconds(notebook) == pytest.approx(11.0)
    notebook.metadata["course_site"] = {"mode": "normal", "seconds": 52.0}
    nbformat.write(notebook, tmp_path / "04_t.ipynb")
    assert notebook_text.measured_run_seconds(tmp_path) == {"04_t": pytest.approx(11.0)}
    del notebook.cells[-1].metadata["execution"]  # a required cell without its timing: the whole run
    assert notebook_text.required_run_seconds(notebook) is None
    nbformat.write(notebook, tmp_path / "04_t.ipynb")
    assert notebook_text.measured_run_seconds(tmp_path) == {"04_t": 52.0}


# --- controls and prediction prompts are marked (issue 28) -------------------------------------------


def _widget_classes() -> set[str]:
    """Names of the ipywidgets classes the course's ``utils.*.widgets`` modules define: the controls."""
    import importlib
    import inspect

    import ipywidgets

    names = set()
    for module_name in ("utils.faces.widgets", "utils.nst.widgets", "utils.convnets.widgets", "utils.widgets"):
        module = importlib.import_module(module_name)
        names.update(
            name
            for name, value in vars(module).items()
            if inspect.isclass(value) and issubclass(value, ipywidgets.Widget)
        )
    return names


def _controls_built(source: str, classes: set[str]) -> set[str]:
    """The widget classes a code cell calls (by name, e.g. ``ThresholdExplorer(...)``)."""
    try:
        tree = ast.parse(_code(source))
    except SyntaxError:
        return set()
    return {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in classes
    }


def _mark_problems(notebook, classes: set[str]) -> list[str]:
    problems = []
    optional_of = {}
    for cell, _line, optional in notebook_text._walk(notebook):
        optional_of.setdefault(id(cell), optional)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or optional_of[id(cell)]:
            continue
        built = _controls_built(cell.source, classes)
        marks = len(notebook_text.TRY_IT_MARK.findall(cell.source))
        if built and not marks:
            problems.append(f"cell {index} builds {sorted(built)} but has no '# Try it (control): ...' line")
        if marks and not built:
            problems.append(f"cell {index} has {marks} '# Try it' line(s) but builds no control")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_control_of_the_required_path_is_marked_and_counted(path):
    problems = _mark_problems(_read(path), _widget_classes())
    assert not problems, (
        f"{path.name}: " + "; ".join(problems) + ". A control or prediction prompt counts "
        f"{notebook_text.CONTROL_MINUTES} or {notebook_text.PROMPT_MINUTES} min in the estimated "
        f"time only through its mark (utils/course/notebook_text.py, TRY_IT_MARK)."
    )


def test_the_lecture_prediction_prompts_are_counted_one_by_one():
    from utils.convnets.widgets import LECTURE_MODELS

    marks = notebook_text.try_it_marks(_read(NOTEBOOK_DIR / "06_conv1d_conv3d_keras_workflow.ipynb"))
    assert marks == {"control": 0, "prediction": len(LECTURE_MODELS)} == {"control": 0, "prediction": 3}


def test_the_mark_check_finds_an_unmarked_control_and_a_stray_mark():
    classes = {"ThresholdExplorer"}
    unmarked = _notebook(("explorer = ThresholdExplorer(distances)\nexplorer.show()",))
    stray = _notebook(("# Try it (control): move it\nprint('no control here')",))
    marked = _notebook(
        ("explorer = ThresholdExplorer(distances)\n# Try it (control): move tau\nexplorer.show()",),
        "## Optional — beyond the lecture: more",
        ("ThresholdExplorer(other).show()",),
    )
    assert "has no '# Try it" in _mark_problems(unmarked, classes)[0]
    assert "builds no control" in _mark_problems(stray, classes)[0]
    assert _mark_problems(marked, classes) == []
    assert "ThresholdExplorer" in _widget_classes() and "PredictionControl" in _widget_classes()


def test_the_time_table_command_runs():
    result = subprocess.run(
        [sys.executable, "-m", "utils.course.notebook_text", "--time"],
        capture_output=True,
        text=True,
        cwd=config.REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "whole course:" in result.stdout and f"{notebook_text.READING_WORDS_PER_MINUTE} words/min" in result.stdout
    assert f"code at {notebook_text.CODE_LINES_PER_MINUTE} lines/min" in result.stdout
    assert sum(line.startswith("0") for line in result.stdout.splitlines()) == 2 * len(NOTEBOOKS)


# --- (g) required sections beyond the lecture are labelled (issue 28) --------------------------------

#: The required sections of these notebooks that the lecture does not cover (notebook 01's are its helper's).
BEYOND_THE_LECTURE = {
    "02_triplet_loss_training": ["2.", "3.", "4.", "5."],
    "05_what_convnets_learn": ["Step 5"],
    "06_conv1d_conv3d_keras_workflow": ["Step 2", "Step 3", "Step 4"],
}


@pytest.mark.parametrize("stem", sorted(BEYOND_THE_LECTURE))
def test_required_sections_beyond_the_lecture_say_so(stem):
    titles = [
        heading.title for heading in notebook_text.headings(_read(NOTEBOOK_DIR / f"{stem}.ipynb")) if heading.level == 2
    ]
    for number in BEYOND_THE_LECTURE[stem]:
        title = next((title for title in titles if title.startswith(number)), None)
        assert title is not None, f"{stem}: no '## {number}' heading; headings: {titles}"
        assert notebook_text.is_beyond_heading(title), (
            f"{stem}: '## {title}' goes beyond the lecture: put '{notebook_text.BEYOND_MARK}' in its heading"
        )
    assert not [
        title
        for title in titles
        if notebook_text.is_beyond_heading(title) and not title.startswith(tuple(BEYOND_THE_LECTURE[stem]))
    ], f"{stem}: an unexpected label"

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
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(cell) if isinstance(cell, str)
                                           else nbformat.v4.new_code_cell(cell[0]) for cell in cells])


def test_count_words_by_hand():
    assert notebook_text.count_words("One two, three.") == 3
    assert notebook_text.count_words("## A heading\n* a list item — with a dash") == 8   # "##", "*", "—" are not words
    assert notebook_text.count_words("the cost $J(G) = \\alpha J_c + \\beta J_s$ here") == 4   # a formula is one word
    assert notebook_text.count_words("$$\nJ(G) = \\alpha J_{content} + \\beta J_{style}\n$$") == 0
    assert notebook_text.count_words("![a picture of a Siamese network](images/siamese_encoder.png)") == 0
    assert notebook_text.count_words("see [the FaceNet paper](https://arxiv.org/abs/1503.03832)") == 4
    assert notebook_text.count_words("<img src='images/a.png' width=400> <b>bold</b>") == 1


def test_optional_section_ends_at_the_next_heading_of_the_same_or_higher_level():
    notebook = _notebook(
        "# Title\none two",                                   # required: 3
        "## 1. Step\nthree four",                             # required: 4
        "### Optional — beyond the lecture: extra\nfive six seven",   # optional: 8 (heading 5 + 3)
        ("x = 1\ny = 2",),                                    # optional code: 2 lines
        "#### a sub-heading inside it\neight",                # deeper: still optional (5)
        "### 1.1 Back on the path\nnine",                     # same level ends it: required 6
        ("z = 3",),                                           # required code: 1 line
        "## 2. Optional - beyond the lecture (plain hyphen)\nten",    # optional (8)
        "# Next part\neleven")                                # level 1 ends it: required 3
    assert notebook_text.required_words(notebook) == 3 + 4 + 6 + 3
    assert notebook_text.optional_words(notebook) == 8 + 5 + 8
    assert notebook_text.code_lines(notebook) == {"required": 1, "optional": 2}


def test_headings_inside_code_fences_are_not_headings():
    notebook = _notebook("## Optional — beyond the lecture\nskip\n```\n# a comment, not a heading\n```\nstill optional",
                         "## Required\nread")
    assert [heading.title for heading in notebook_text.headings(notebook)] == [
        "Optional — beyond the lecture", "Required"]
    assert notebook_text.required_words(notebook) == 2


def test_command_line_prints_one_row_per_notebook():
    result = subprocess.run([sys.executable, "-m", "utils.course.notebook_text", "--markdown"],
                            capture_output=True, text=True, cwd=config.REPO_ROOT)
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
    result = subprocess.run([sys.executable, "-m", "utils.course.notebook_text", "--markdown"],
                            capture_output=True, text=True, cwd=config.REPO_ROOT)
    expected = "\n".join(line for line in result.stdout.splitlines() if line.startswith("|"))
    assert match.group(1).strip() == expected, (
        "README.md's reading-load table is stale; replace the lines between its notebook-text markers with "
        "the output of `python -m utils.course.notebook_text --markdown`:\n" + expected)


# --- (a) diagrams -------------------------------------------------------------------------------

def test_at_least_eight_concept_diagrams_are_shown_in_the_markdown():
    shown = {}
    for path in NOTEBOOKS:
        for target in notebook_text.images_shown(_read(path)):
            name = target.removeprefix("images/").removesuffix(".png")
            if target.startswith("images/") and name in diagrams.DIAGRAMS:
                shown.setdefault(name, path.stem)
    not_shown = sorted(set(diagrams.DIAGRAMS) - set(shown))
    assert len(shown) >= 8, (f"{len(shown)} concept diagrams appear in the notebooks' markdown "
                             f"({sorted(shown)}); at least 8 must. Not shown yet: {not_shown} — add "
                             f"![description](images/<name>.png) where the idea is taught")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_image_the_markdown_shows_exists(path):
    missing = [target for target in notebook_text.images_shown(_read(path))
               if not target.startswith(("http:", "https:", "attachment:"))
               and not (path.parent / target).is_file()]
    assert not missing, (f"{path.name} shows images that do not exist: {missing} (draw them with "
                         f"`python -m utils.course.diagrams`, or fix the file name)")


# --- (b) the required path ----------------------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_required_path_is_at_most_2500_words(path):
    words = notebook_text.required_words(_read(path))
    assert words <= notebook_text.REQUIRED_WORDS_LIMIT, (
        f"{path.name}: the required path has {words:,} words (limit {notebook_text.REQUIRED_WORDS_LIMIT:,}). "
        f"Shorten it, or mark material beyond the lecture with a heading containing "
        f"'{notebook_text.OPTIONAL_MARK}'. `python -m utils.course.notebook_text` prints every notebook's count.")


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
        body = stubbed.split("\n")[function.lineno:function.end_lineno]
    else:
        body = stubbed.split("\n")     # a region outside a function (### BEGIN SOLUTION (name=...))
    steps = [line.strip() for line in body if line.strip().startswith("#") and line.strip() != "# YOUR CODE HERE"
             and re.search(r"[A-Za-z]{3}", LINE_HINT.sub("", line))]     # not a bare "# (≈ 2 lines)"
    if not steps:
        problems.append("no step comment is left in the student version (write the steps as comments "
                        "outside ### BEGIN SOLUTION ... ### END SOLUTION)")
    lines = source.split("\n")
    for index, line in enumerate(lines):
        if line.strip().startswith(student.BEGIN_SOLUTION):
            near = lines[max(0, index - 2):index]
            if not any(LINE_HINT.search(text) for text in near):
                problems.append(f"the solution region at line {index + 1} has no '(≈ N lines)' hint on the two "
                                f"lines above its BEGIN marker (the marker line itself is replaced)")
    return problems


@pytest.mark.parametrize("path, notebook, number, exercise", _exercise_cases())
def test_exercise_has_docstring_step_comments_and_line_hints_in_the_student_version(path, notebook, number,
                                                                                    exercise):
    problems = _scaffolding_problems(notebook.cells[exercise.cell].source, exercise.name)
    assert not problems, (f"{path.name}, cell {exercise.cell}, exercise `{exercise.name}`:\n  - "
                          + "\n  - ".join(problems))


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


@pytest.mark.parametrize("broken, message", [
    (re.sub(r'    """.*?"""\n', "", GOOD_EXERCISE, flags=re.DOTALL), "no docstring"),
    (GOOD_EXERCISE.replace("    # Step 1: add one to x (≈ 1 line)\n", "    # (≈ 1 line)\n"), "no step comment"),
    (GOOD_EXERCISE.replace("    # Step 1: add one to x (≈ 1 line)\n", "    ### BEGIN SOLUTION\n    # Step 1: add one "
                           "to x (≈ 1 line)\n    ### END SOLUTION\n"), "no step comment"),
    (GOOD_EXERCISE.replace(" (≈ 1 line)", ""), "no '(≈ N lines)' hint"),
])
def test_the_scaffolding_check_catches_each_missing_piece(broken, message):
    assert _scaffolding_problems(GOOD_EXERCISE, "f") == []
    assert any(message in problem for problem in _scaffolding_problems(broken, "f")), \
        _scaffolding_problems(broken, "f")


@pytest.mark.parametrize("path, notebook, number, exercise", _exercise_cases())
def test_exercise_is_preceded_by_its_numbered_heading(path, notebook, number, exercise):
    expected = re.compile(rf"^#{{1,6}}\s+Exercise\s+{number}\s+—\s+`{re.escape(exercise.name)}`\s*$")
    previous_exercise_cell = max([other.cell for other in student.find_exercises(notebook)
                                  if other.cell < exercise.cell], default=-1)
    above = [heading.title for heading in notebook_text.headings(notebook)
             if previous_exercise_cell < heading.cell < exercise.cell]
    assert any(expected.match(f"### {title}") for title in above), (
        f"{path.name}, cell {exercise.cell}: exercise `{exercise.name}` needs the markdown heading "
        f"'### Exercise {number} — `{exercise.name}`' above it (after the previous exercise); "
        f"headings found there: {above}")


# --- (d) table of contents, what you learned, glossary ------------------------------------------

def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_opens_with_a_table_of_contents_whose_links_work(path):
    notebook = _read(path)
    first_markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"][:3]
    toc = next((text for text in first_markdown
                if re.search(r"(?im)^(#{1,6}\s+|\*\*)(table of )?contents\b", text)), None)
    assert toc is not None, (f"{path.name}: no table of contents in the first three markdown cells (a heading "
                             f"'Contents' or '**Contents**' followed by the list of sections)")
    entries = [line for line in toc.split("\n") if re.match(r"^\s*([-*]|\d+\.)\s+", line)]
    entries = entries or toc.split(" · ")      # or one paragraph: "1 Setup · 2 The cost · ..."
    assert len(entries) >= 3, (f"{path.name}: the table of contents lists {len(entries)} entries (a list, or "
                               f"entries separated by ' · ')")
    titles = {_slug(heading.title) for heading in notebook_text.headings(notebook)}
    dead = [anchor for anchor in re.findall(r"\]\(#([^)]+)\)", toc) if _slug(anchor) not in titles]
    assert not dead, f"{path.name}: table-of-contents links with no heading of that name: {dead}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_closes_with_what_you_learned_and_a_glossary(path):
    titles = [heading.title for heading in notebook_text.headings(_read(path))]
    assert any(re.search(r"(?i)what you (learned|should remember)", title) for title in titles), (
        f"{path.name}: no 'What you learned' / 'What you should remember' heading; headings: {titles}")
    assert any(re.search(r"(?i)glossary|key terms", title) for title in titles), (
        f"{path.name}: no 'Glossary' (or 'Key terms') heading defining the notebook's terms")


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
    assert not twice, (f"helpers defined in more than one notebook (move each into the library, e.g. "
                       f"utils.plotting, and import it): {twice}")


def test_the_duplicate_check_finds_a_helper_defined_twice():
    first = _notebook(("%matplotlib inline\ndef print_table(rows):\n    pass",), ("def only_here():\n    pass",))
    second = _notebook(("import numpy\n\ndef print_table(rows, title=None):\n    return rows",))
    assert _defined_in_several({"01_a": first, "02_b": second}) == {"print_table": ["01_a", "02_b"]}

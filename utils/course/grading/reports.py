"""What grading produces: results per submission (saved as they complete), the table, JSON, gradebook, feedback.

* :class:`ResultStore` writes one JSON file per graded submission into a results folder, atomically
  (:func:`utils.files.write_text`), the moment it is graded: a crash or a kill loses at most the
  submissions in flight, and ``--resume`` skips every submission whose result is there for the
  same file content and the same solution notebook. Before a submission's kernel starts, the
  store marks it in flight (``<name>.inflight``, with how many runs were stopped during it);
  the mark goes when its result is saved. ``merge`` joins the folders of several shards.
* :func:`format_table` (stdout), :func:`to_json` (``--json``), :func:`gradebook_rows` (``--csv``).
  Names from file names are cleaned to one line (:func:`~utils.course.grading.text.clean_name`);
  a gradebook cell that a spreadsheet would read as a formula gets a leading ``'``.
* :func:`feedback_page` (``--feedback DIR``): one self-contained HTML page per submission that a
  learner can read: each exercise's status, points and message (hint included) and the learner's
  own code for it — never a hidden check or a line of the solution.

Example:
    >>> result = NotebookResult("alice.ipynb", "06_x", {
    ...     "conv_output_size": ExerciseResult("passed", 1.0, 1.0),
    ...     "conv_param_count": ExerciseResult("not attempted", 0.0, 1.0, "Exercise `conv_param_count` "
    ...                                        "is not implemented yet")})
    >>> print(format_table([result]))
    alice.ipynb  (06_x)  1 / 2 points
      conv_output_size  passed         1 / 1
      conv_param_count  not attempted  0 / 1  Exercise `conv_param_count` is not implemented yet
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import html
import io
import json
import re
from pathlib import Path

from utils import files
from utils.course.grading.judging import STATUSES, ExerciseResult
from utils.course.grading.text import MESSAGE_LIMIT, clean_name, clean_text, student_id
from utils.errors import UsageError

#: Version of the per-submission result files (a resumed or merged file of another version is refused).
RESULT_FORMAT = 1


@dataclasses.dataclass
class NotebookResult:
    """The grade of one submission; ``exercises`` in notebook order.

    Attributes:
        path: the submission as named on the command line.
        notebook: the solution notebook's id.
        exercises: exercise -> :class:`ExerciseResult`.
        seconds: grading time, kernel starts included.
        peak_memory_mib: the most memory the kernel's process tree used at once (PSS, else USS).
        peak_data_mib: the most private data of one process of the tree (what ``RLIMIT_DATA`` limits).
        digest: sha256 of the submission's bytes.
        solution_digest: sha256 of the solution notebook's bytes.
        code: exercise -> the learner's own code for it (for the feedback page; not in the JSON).
    """

    path: str
    notebook: str
    exercises: dict[str, ExerciseResult]
    seconds: float = 0.0
    peak_memory_mib: float = 0.0
    peak_data_mib: float = 0.0
    digest: str = ""
    solution_digest: str = ""
    code: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def score(self) -> float:
        return float(sum(result.points for result in self.exercises.values()))

    @property
    def max_score(self) -> float:
        return float(sum(result.max_points for result in self.exercises.values()))

    def to_dict(self) -> dict:
        """The JSON form (see docs/GRADING.md)."""
        return {
            "path": self.path,
            "notebook": self.notebook,
            "score": self.score,
            "max_score": self.max_score,
            "seconds": round(self.seconds, 1),
            "peak_memory_mib": round(self.peak_memory_mib, 1),
            "peak_data_mib": round(self.peak_data_mib, 1),
            "exercises": {name: dataclasses.asdict(result) for name, result in self.exercises.items()},
        }

    def to_record(self) -> dict:
        """The per-submission file: the JSON form plus what ``--resume`` and feedback need."""
        return {
            "format": RESULT_FORMAT,
            **self.to_dict(),
            "digest": self.digest,
            "solution_digest": self.solution_digest,
            "code": self.code,
        }

    @classmethod
    def from_record(cls, record, where: str = "result") -> NotebookResult:
        """Read a per-submission file's content back, checking every field.

        Raises:
            UsageError: a field is missing or of the wrong type, or a status is not one of the four.
        """
        try:
            if record.get("format") != RESULT_FORMAT:
                raise ValueError(f"format {record.get('format')!r}, expected {RESULT_FORMAT}")
            exercises = {}
            for name, value in record["exercises"].items():
                if value["status"] not in STATUSES:
                    raise ValueError(f"status {str(value['status'])[:40]!r}")
                exercises[str(name)] = ExerciseResult(
                    value["status"],
                    float(value["points"]),
                    float(value["max_points"]),
                    clean_text(value.get("message", ""), MESSAGE_LIMIT),
                )
            code = {str(key): clean_text(value, 200_000) for key, value in (record.get("code") or {}).items()}
            return cls(
                str(record["path"]),
                str(record["notebook"]),
                exercises,
                float(record.get("seconds", 0)),
                float(record.get("peak_memory_mib", 0)),
                float(record.get("peak_data_mib", 0)),
                str(record.get("digest", "")),
                str(record.get("solution_digest", "")),
                code,
            )
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise UsageError(f"{where}: not a grading result ({error})") from None


# ----------------------------------------------------------------------------------------------
# Per-submission results: written as they complete, resumed, merged
# ----------------------------------------------------------------------------------------------


def result_name(path: str) -> str:
    """The file name of a submission's result: its readable stem and a hash of its path.

    Example:
        >>> result_name("submissions/alice (2).ipynb")[:15]
        'alice__2_-7e776'
    """
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(path).stem)[:60] or "submission"
    return f"{stem}-{hashlib.sha256(path.encode('utf-8', 'surrogateescape')).hexdigest()[:12]}.json"


class ResultStore:
    """A folder of per-submission result files (``<stem>-<hash>.json``).

    Args:
        folder: the results folder (created when the first result is written).
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise UsageError(f"results folder {self.folder} is a file")

    def path_for(self, submission_path: str) -> Path:
        return self.folder / result_name(submission_path)

    def _in_flight_path(self, submission_path: str) -> Path:
        return self.folder / (result_name(submission_path)[: -len(".json")] + ".inflight")

    def stops(self, submission_path: str, digest: str, solution_digest: str) -> int:
        """How many runs were stopped while this submission (same bytes, same solution) was in flight."""
        try:
            mark = json.loads(self._in_flight_path(submission_path).read_text(encoding="utf-8"))
            if [mark["path"], mark["digest"], mark["solution_digest"]] == [submission_path, digest, solution_digest]:
                return max(0, int(mark["stops"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return 0

    def mark_in_flight(self, submission_path: str, digest: str, solution_digest: str, stops: int = 0) -> None:
        """Mark a submission in flight before its kernel starts: were the run stopped now, it would be
        the ``stops + 1``-th time."""
        mark = {"path": submission_path, "digest": digest, "solution_digest": solution_digest, "stops": stops + 1}
        files.write_text(self._in_flight_path(submission_path), json.dumps(mark) + "\n")

    def clear_in_flight(self, submission_path: str) -> None:
        """Remove the in-flight mark (its result is saved)."""
        self._in_flight_path(submission_path).unlink(missing_ok=True)

    def save(self, result: NotebookResult) -> Path:
        """Write one result atomically (a reader never sees half a file)."""
        return files.write_text(self.path_for(result.path), json.dumps(result.to_record(), indent=1) + "\n")

    def load(self, submission_path: str, digest: str, solution_digest: str) -> NotebookResult | None:
        """The saved result of this submission if it is for the same bytes and solution, else None."""
        path = self.path_for(submission_path)
        if not path.is_file():
            return None
        try:
            result = NotebookResult.from_record(json.loads(path.read_text(encoding="utf-8")), str(path))
        except (OSError, ValueError):
            return None
        if result.path != submission_path or result.digest != digest or result.solution_digest != solution_digest:
            return None
        return result

    def all(self) -> list[NotebookResult]:
        """Every result in the folder.

        Raises:
            UsageError: a file that is not a result.
        """
        results = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise UsageError(f"{path}: not a grading result ({type(error).__name__})") from None
            results.append(NotebookResult.from_record(record, str(path)))
        return results


def merge(folders: list) -> list[NotebookResult]:
    """The results of several shards' results folders, one per submission, sorted by submission path.

    Raises:
        UsageError: a folder is missing, or one submission has two different results.

    Example:
        >>> merge([])
        []
    """
    merged: dict[str, NotebookResult] = {}
    for folder in folders:
        if not Path(folder).is_dir():
            raise UsageError(f"results folder {folder} is not a folder")
        for result in ResultStore(folder).all():
            other = merged.get(result.path)
            if other is not None and other.to_dict()["exercises"] != result.to_dict()["exercises"]:
                raise UsageError(f"{result.path} was graded in two shards with different results; grade it once")
            merged.setdefault(result.path, result)
    return [merged[path] for path in sorted(merged)]


# ----------------------------------------------------------------------------------------------
# Table, JSON, gradebook
# ----------------------------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:g}"


def format_table(results: list[NotebookResult], width: int = 100) -> str:
    """A plain-text report: one block per submission, one line per exercise (first line of its message).

    Every message was cleaned of control characters when it was recorded, and is cleaned again here.
    """
    lines = []
    for result in results:
        lines.append(
            f"{clean_name(result.path)}  ({clean_name(result.notebook)})  "
            f"{_number(result.score)} / {_number(result.max_score)} points"
        )
        name_width = max((len(name) for name in result.exercises), default=0)
        status_width = max((len(exercise.status) for exercise in result.exercises.values()), default=0)
        for name, exercise in result.exercises.items():
            first_line = clean_text(exercise.message).strip().split("\n")[0] if exercise.message else ""
            if len(first_line) > width:
                first_line = first_line[: width - 3] + "..."
            row = (
                f"  {clean_name(name):{name_width}}  {exercise.status:{status_width}}  "
                f"{_number(exercise.points)} / {_number(exercise.max_points)}"
            )
            lines.append(f"{row}  {first_line}".rstrip())
    return "\n".join(lines)


def to_json(results: list[NotebookResult]) -> dict:
    """The JSON document: ``{"notebooks": [...]}``."""
    return {"notebooks": [result.to_dict() for result in results]}


def student_name(path: str) -> str:
    """The learner's identifier in the gradebook: the submission's file stem, cleaned to one line
    (:func:`~utils.course.grading.text.student_id`; name files by login or e-mail)."""
    return student_id(path)


#: First characters that make a spreadsheet read a cell as a formula (and tab/CR, which some strip first).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """``text`` as a spreadsheet shows it, never as a formula: a leading ``'`` where it would start one.

    Example:
        >>> spreadsheet_safe("=2+5+cmd|' /C calc'!A0"), spreadsheet_safe("alice")
        ("'=2+5+cmd|' /C calc'!A0", 'alice')
    """
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def gradebook_rows(results: list[NotebookResult]) -> list[list[str]]:
    """The CSV gradebook: a header, then one row per submission, one column of points per exercise.

    Columns: ``student`` (the file stem, see :func:`student_name`), ``submission``, ``notebook``,
    ``score``, ``max_score``, then the exercises (``notebook/exercise`` when the submissions belong
    to several notebooks). An exercise a submission does not have is an empty cell. Every text
    cell is one line and never a formula (:func:`spreadsheet_safe`).

    Raises:
        UsageError: two submissions of one notebook have the same student id (both are named).

    Example:
        >>> result = NotebookResult("bob.ipynb", "06_x", {"a": ExerciseResult("failed", 0.0, 1.0),
        ...                                               "b": ExerciseResult("passed", 2.0, 2.0)})
        >>> gradebook_rows([result])
        [['student', 'submission', 'notebook', 'score', 'max_score', 'a', 'b'], ['bob', 'bob.ipynb', '06_x', '2', '3', '0', '2']]
    """
    several = len({result.notebook for result in results}) > 1
    columns: list[str] = []
    owners: dict[tuple[str, str], str] = {}
    for result in results:
        key = (student_name(result.path), result.notebook)
        if key in owners:
            raise UsageError(
                f"two submissions of {clean_name(result.notebook)} have the student id {key[0]!r}: "
                f"{clean_name(owners[key])} and {clean_name(result.path)}; rename one (the gradebook has "
                f"one row per student and notebook)"
            )
        owners[key] = result.path
        for name in result.exercises:
            column = f"{result.notebook}/{name}" if several else name
            if column not in columns:
                columns.append(column)
    rows = [
        ["student", "submission", "notebook", "score", "max_score"]
        + [spreadsheet_safe(clean_name(column)) for column in columns]
    ]
    for result in results:
        points = {
            (f"{result.notebook}/{name}" if several else name): _number(exercise.points)
            for name, exercise in result.exercises.items()
        }
        text = [student_name(result.path), clean_name(result.path), clean_name(result.notebook)]
        rows.append(
            [spreadsheet_safe(cell) for cell in text]
            + [_number(result.score), _number(result.max_score)]
            + [points.get(column, "") for column in columns]
        )
    return rows


def write_gradebook(path, results: list[NotebookResult]) -> Path:
    """Write the CSV gradebook atomically (see :func:`gradebook_rows`)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(gradebook_rows(results))
    return files.write_text(path, buffer.getvalue())


def write_json(path, results: list[NotebookResult]) -> Path:
    """Write the JSON document atomically (see :func:`to_json`)."""
    return files.write_text(path, json.dumps(to_json(results), indent=2) + "\n")


# ----------------------------------------------------------------------------------------------
# Feedback pages
# ----------------------------------------------------------------------------------------------

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "h1{font-size:1.4rem}section{border:1px solid #ccc;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}"
    ".passed{color:#126b12}.failed,.error{color:#a11}.not-attempted{color:#8a5a00}"
    "pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;white-space:pre-wrap}"
)

_STATUS_TEXT = {
    "passed": "passed",
    "failed": "failed: the check found a wrong result",
    "not attempted": "not attempted: the stub is still there",
    "error": "error: your code raised, ran out of time or memory, or could not be checked",
}


def feedback_page(result: NotebookResult) -> str:
    """One self-contained HTML page (no script, no external file) for the learner of ``result``.

    Example:
        >>> page = feedback_page(NotebookResult("a.ipynb", "06_x", {"f": ExerciseResult("failed", 0.0, 1.0, "<b>")},
        ...                                     code={"f": "def f():\\n    return 2"}))
        >>> "&lt;b&gt;" in page and "return 2" in page and "<script" not in page
        True
    """
    escape = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Feedback: {escape(result.notebook)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(result.notebook)}: {_number(result.score)} / {_number(result.max_score)} points</h1>",
        f"<p>Submission <code>{escape(clean_name(Path(result.path).name))}</code>. Each exercise earns its points when "
        f"every check of it passes, hidden cases included; otherwise 0.</p>",
    ]
    for name, exercise in result.exercises.items():
        css = exercise.status.replace(" ", "-")
        parts.append(
            f'<section><h2><code>{escape(name)}</code> <span class="{escape(css)}">'
            f"{escape(_STATUS_TEXT.get(exercise.status, exercise.status))}</span> "
            f"({_number(exercise.points)} / {_number(exercise.max_points)})</h2>"
        )
        if exercise.message:
            parts.append(f"<h3>What the check says</h3><pre>{escape(clean_text(exercise.message))}</pre>")
        code = result.code.get(name)
        parts.append(
            f"<h3>Your code</h3><pre>{escape(code)}</pre>"
            if code
            else "<p>Your notebook has no cell defining this exercise.</p>"
        )
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_feedback(folder, result: NotebookResult) -> Path:
    """Write ``<folder>/<result name>.html`` atomically; returns its path."""
    return files.write_text(Path(folder) / (result_name(result.path)[: -len(".json")] + ".html"), feedback_page(result))

"""Verdicts that cannot be forged, and submissions that cannot touch each other.

One grading run (module fixture, two kernels at a time) grades a class of ``06_tiny`` submissions
(tests/test_course_grade_helpers.py): the basic statuses, each forgery of issue 25 with the
attack code in a learner cell of a stub notebook (an honest grade is 0), and the
cross-submission and leak attacks with their victim graded last. Each test reads its own
submission's grade, so a failing attack names itself.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import psutil
import pytest

from test_course_grade_helpers import RIGHT_SIZE, TinyCourse, needs_sandbox, statuses
from utils.course.grading import format_table, grade_all, reports
from utils.course.grading.kernel import Limits
from utils.course.grading.plan import OBSERVATION_MIME

pytestmark = [pytest.mark.slow, needs_sandbox]

MASTER = b"a fixed secret, so that a second run can compare"

# --- the forgeries of issue 25, each in a learner cell of a stub notebook --------------------------

FORGERIES = {
    "noop_checks": """\
import utils.checks
for name in dir(utils.checks):
    if name.startswith("check_") or name in ("observe", "judge"):
        setattr(utils.checks, name, lambda *args, **kwargs: None)
""",
    "swap_sys_modules": """\
import json, sys, types
fake = types.ModuleType("utils.checks")
class Forged:
    def __init__(self, exercise):
        self.exercise = exercise
    def to_json(self):
        return json.dumps({"exercise": self.exercise, "status": "passed", "cases": []})
fake.observe = lambda exercise, *args, **kwargs: Forged(exercise)
fake.__getattr__ = lambda name: (lambda *args, **kwargs: print("All tests passed."))
sys.modules["utils.checks"] = fake
import utils
utils.checks = fake
""",
    "rebind_checks": """\
import types
checks = types.SimpleNamespace(check_conv_output_size=lambda f: print("All tests passed."),
                               check_conv_param_count=lambda f: print("All tests passed."))
""",
    "wrap_exec": """\
import builtins, re
from IPython.display import publish_display_data
_real_exec = builtins.exec
def exec(code, *args, **kwargs):
    constants = [value for value in getattr(code, "co_consts", ()) if isinstance(value, str)]
    tokens = [value for value in constants if re.fullmatch(r"[0-9a-f]{32}", value)]
    if tokens:
        exercise = next(value for value in constants if value.startswith("conv_"))
        publish_display_data({"application/vnd.course-grade.observation+json": {
            "token": tokens[0], "exercise": exercise, "observation": '{"status": "passed"}'}})
        print("All tests passed.")
        return None
    return _real_exec(code, *args, **kwargs)
builtins.exec = exec
""",
    "redefine_grader_function": """\
from IPython.display import publish_display_data
def _course_grader_check(exercise, source, *args, **kwargs):
    publish_display_data({"application/vnd.course-grade.verdict+json": {"exercise": exercise, "status": "passed",
                                                                         "message": ""}})
_course_grader_observe = _course_grader_check
""",
    "patch_publish_display_data": """\
import json
import IPython.display
_real_publish = IPython.display.publish_display_data
def publish_display_data(data, *args, **kwargs):
    for key, value in data.items():
        if "course-grade" in key and isinstance(value, dict):
            value["observation"] = json.dumps({"exercise": value.get("exercise"), "status": "passed"})
    return _real_publish(data, *args, **kwargs)
IPython.display.publish_display_data = publish_display_data
""",
    "patch_transform_cell": """\
shell = get_ipython()
_real_transform = shell.transform_cell
shell.transform_cell = lambda cell: "print('All tests passed.')\\n" if "observe" in cell else _real_transform(cell)
""",
    "post_run_cell_hook": """\
import re
from IPython.display import publish_display_data
def forge(result):
    for token, exercise in re.findall(r"'token': '([0-9a-f]+)', 'exercise': '(\\w+)'", result.info.raw_cell):
        publish_display_data({"application/vnd.course-grade.observation+json": {
            "token": token, "exercise": exercise, "observation": '{"status": "passed"}'}})
get_ipython().events.register("post_run_cell", forge)
""",
    "fail_is_a_noop": """\
import utils.checks.declaration as declaration
from utils.checks.observation import Verdict
declaration.Exercise.decide = lambda self, *args, **kwargs: Verdict(self.name, "passed", "")
""",
    "startup_file_then_exit": """\
import os, pathlib
code = ("import pathlib; pathlib.Path(%r).write_text('the planted startup file ran')\\n"
        "import utils.checks\\nutils.checks.judge = lambda *a, **k: None\\n" % MARKER)
for root in (os.environ.get("IPYTHONDIR", ""), str(pathlib.Path.home() / ".ipython")):
    if root:
        startup = pathlib.Path(root) / "profile_default" / "startup"
        startup.mkdir(parents=True, exist_ok=True)
        (startup / "00-forge.py").write_text(code)
os._exit(0)
""",
}

#: Published inside the learner's function: a fake observation with the grader's own token (read
#: from the calling cell's code), then KeyboardInterrupt so the real one is never made.
FAKE_THEN_INTERRUPT = """\
    import re, sys
    from IPython.display import publish_display_data
    frame, tokens = sys._getframe(1), []
    while frame is not None and not tokens:
        tokens = [c for c in frame.f_code.co_consts if isinstance(c, str) and re.fullmatch(r"[0-9a-f]{32}", c)]
        frame = frame.f_back
    publish_display_data({"application/vnd.course-grade.observation+json": {
        "token": tokens[0] if tokens else "", "exercise": "conv_output_size", "observation": '{"status": "passed"}'}})
    raise KeyboardInterrupt
"""

# --- attacks on other submissions and on the grader ------------------------------------------------

PLANT_KERAS_JSON = """\
import json, os, pathlib
for folder in (os.environ.get("KERAS_HOME", ""), str(pathlib.Path.home() / ".keras")):
    if folder:
        pathlib.Path(folder).mkdir(parents=True, exist_ok=True)
        (pathlib.Path(folder) / "keras.json").write_text(json.dumps({"backend": "tensorflow", "floatx": "float16",
                                                                     "epsilon": 1e-07, "image_data_format": "channels_first"}))
"""
REWRITE_VICTIM = """\
import pathlib
pathlib.Path(VICTIM).write_text(pathlib.Path(VICTIM).read_text().replace("return (n + 2 * p - f) // s + 1", "return 0"))
"""
MALFORMED_MESSAGE = """\
ip = get_ipython()
session = ip.kernel.session
message = session.msg("stream", content={"name": "stdout", "text": "x"}, parent=ip.kernel.get_parent())
frames = session.serialize(message)
frames[-1] = b"[1, 2]"
frames[1] = session.sign(frames[2:6])
ip.kernel.iopub_socket.send_multipart(frames)
"""
HUGE_VERDICT = """\
from IPython.display import publish_display_data
publish_display_data({"application/vnd.course-grade.observation+json": {"status": "passed", "message": "x" * 20_000_000}})
"""
FLOOD = """\
for _ in range(200):
    print("y" * 1_000_000)
"""
CONTROL_CHARACTERS = '    return "\\x1b[1A\\x1b[2K\\r  conv_output_size  passed  1 / 1\\u202e"'
VICTIM_SIZE = (
    "    import keras\n    assert keras.config.floatx() == 'float32', 'planted keras.json'\n"
    "    assert keras.config.image_data_format() == 'channels_last', 'planted keras.json'\n" + RIGHT_SIZE
)


class Corpus:
    """The class graded once: paths by name, results by name, the outputs written."""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    course = TinyCourse(root)
    marker = root / "startup_file_ran.txt"
    victim = root / "submissions" / "zz_victim.ipynb"
    keras_json = Path.home() / ".keras" / "keras.json"
    instructor_before = keras_json.read_bytes() if keras_json.exists() else None
    made = {
        "alice_right": course.make("alice_right"),
        "bob_stub": course.make("bob_stub", size=None, params=None),
        "carol_wrong": course.make(
            "carol_wrong", size="    return (n + p - f) // s + 1", params="    return f ** rank * c_in * c_out"
        ),
        "dave_broken": course.make("dave_broken", size="    return (n +", params="    return 1 / 0"),
        "eve_answer_key": course.make(
            "eve_answer_key",
            size="    return arithmetic.conv_output_length(n, f, stride=s, padding=p)",
            params="    return arithmetic.conv_param_count(f, c_in, c_out, rank=rank)",
        ),
    }
    for name, attack in FORGERIES.items():
        code = attack.replace("MARKER", repr(str(marker))) if "MARKER" in attack else attack
        made[f"forge_{name}"] = course.make(f"forge_{name}", size=None, params=None, extra=[code])
    made["forge_fake_then_interrupt"] = course.make("forge_fake_then_interrupt", size=FAKE_THEN_INTERRUPT, params=None)
    made["x_plant_keras_json"] = course.make("x_plant_keras_json", size=None, params=None, extra=[PLANT_KERAS_JSON])
    made["x_rewrite_victim"] = course.make(
        "x_rewrite_victim", size=None, params=None, extra=[f"VICTIM = {str(victim)!r}\n" + REWRITE_VICTIM]
    )
    made["x_malformed_message"] = course.make("x_malformed_message", extra=[MALFORMED_MESSAGE])
    made["x_huge_verdict"] = course.make("x_huge_verdict", size=None, params=None, extra=[HUGE_VERDICT])
    made["x_flood"] = course.make("x_flood", extra=[FLOOD])
    made["x_control_characters"] = course.make("x_control_characters", size=CONTROL_CHARACTERS)
    made["zz_victim"] = course.make("zz_victim", size=VICTIM_SIZE)
    submissions = course.read(made.values())  # read now: the rewrite comes later
    solution_before = course.solution_path.read_bytes()
    peak = {"rss": 0}
    stop = threading.Event()

    def sample():
        me = psutil.Process()
        while not stop.wait(0.2):
            peak["rss"] = max(peak["rss"], me.memory_info().rss)

    baseline = psutil.Process().memory_info().rss
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        results = grade_all(submissions, Limits(cell_seconds=60, memory_mib=3000), jobs=2, master=MASTER, watch=None)
    finally:
        stop.set()
        sampler.join()
    reports.write_json(root / "grades.json", results)
    corpus = Corpus()
    corpus.root, corpus.course, corpus.paths, corpus.marker, corpus.victim = root, course, made, marker, victim
    corpus.results = dict(zip(made, results))
    corpus.submissions = submissions
    corpus.ordered = results
    corpus.solution_unchanged = course.solution_path.read_bytes() == solution_before
    corpus.instructor_keras_unchanged = (keras_json.read_bytes() if keras_json.exists() else None) == instructor_before
    corpus.grader_growth_mib = (peak["rss"] - baseline) / 2**20
    print("\n" + format_table(results))
    print(f"grader memory growth during the run: {corpus.grader_growth_mib:.0f} MiB")
    return corpus


def test_the_four_statuses_with_the_checks_hints(corpus):
    assert statuses(corpus.results["alice_right"]) == {
        "conv_output_size": ("passed", 1.0),
        "conv_param_count": ("passed", 2.0),
    }
    assert statuses(corpus.results["bob_stub"]) == {
        "conv_output_size": ("not attempted", 0.0),
        "conv_param_count": ("not attempted", 0.0),
    }
    carol = corpus.results["carol_wrong"].exercises
    assert carol["conv_output_size"].status == "failed" and "padding" in carol["conv_output_size"].message
    assert carol["conv_param_count"].status == "failed" and "bias" in carol["conv_param_count"].message
    dave = corpus.results["dave_broken"].exercises
    assert dave["conv_output_size"].status == "error"
    assert dave["conv_output_size"].message.startswith("the cell defining `conv_output_size` raised SyntaxError")
    assert dave["conv_param_count"].status == "error" and "ZeroDivisionError" in dave["conv_param_count"].message


def test_calling_the_library_reference_is_failed_and_says_so(corpus):
    eve = corpus.results["eve_answer_key"].exercises
    assert {name: result.status for name, result in eve.items()} == {
        "conv_output_size": "failed",
        "conv_param_count": "failed",
    }
    assert (
        "calls the course library's reference `utils.convnets.arithmetic.conv_output_length`"
        in eve["conv_output_size"].message
    )
    assert "utils.convnets.arithmetic.conv_param_count" in eve["conv_param_count"].message


@pytest.mark.parametrize("attack", [*FORGERIES, "fake_then_interrupt"])
def test_a_forgery_in_the_learners_cells_gets_no_points(corpus, attack):
    result = corpus.results[f"forge_{attack}"]
    assert result.score == 0.0 and result.max_score == 3.0, format_table([result])
    assert "passed" not in {exercise.status for exercise in result.exercises.values()}


def test_a_planted_startup_file_is_never_loaded_by_another_kernel(corpus):
    """The attacker wrote an IPython startup file into its HOME and IPYTHONDIR, then killed its kernel:
    the replacement kernel (and every later one) has new private folders and never ran it."""
    assert not corpus.marker.exists()
    result = corpus.results["forge_startup_file_then_exit"]
    assert {exercise.status for exercise in result.exercises.values()} == {"not attempted"}


def test_one_submission_cannot_change_another_ones_grade_or_the_instructors_files(corpus):
    """A planted keras.json (float16, channels_first) and a rewrite of the victim's file on disk:
    the victim, graded after both, keeps full marks; the sandbox never let the rewrite reach the
    file (without a sandbox it did; the grader would then refuse the changed file, never grade it);
    the instructor's files are unchanged."""
    assert statuses(corpus.results["zz_victim"]) == {
        "conv_output_size": ("passed", 1.0),
        "conv_param_count": ("passed", 2.0),
    }
    assert "return 0" not in corpus.victim.read_text()
    assert corpus.solution_unchanged and corpus.instructor_keras_unchanged


def test_a_malformed_kernel_message_makes_that_submission_an_error_and_the_run_goes_on(corpus):
    result = corpus.results["x_malformed_message"]
    assert {exercise.status for exercise in result.exercises.values()} == {"error"}
    assert "malformed message" in result.exercises["conv_output_size"].message
    assert statuses(corpus.results["zz_victim"])["conv_param_count"] == ("passed", 2.0)  # graded after it


def test_a_huge_fake_verdict_and_an_output_flood_cost_bounded_memory(corpus):
    """A 20 MB fake observation drops the kernel's connection (16 MiB cap): that cell is a runaway,
    the kernel is replaced, and the stub's exercises are graded as stubs. A 200 MB print is cut in
    the kernel: the right exercises after it keep their points."""
    fake = corpus.results["x_huge_verdict"]
    assert statuses(fake) == {"conv_output_size": ("not attempted", 0.0), "conv_param_count": ("not attempted", 0.0)}
    assert statuses(corpus.results["x_flood"]) == {
        "conv_output_size": ("passed", 1.0),
        "conv_param_count": ("passed", 2.0),
    }
    assert (corpus.root / "grades.json").stat().st_size < 100_000
    assert corpus.grader_growth_mib < 400, corpus.grader_growth_mib  # not the 200 MB flood twice


def test_control_characters_from_the_kernel_never_reach_the_reports(corpus):
    result = corpus.results["x_control_characters"]
    assert result.exercises["conv_output_size"].status == "failed"
    text = (corpus.root / "grades.json").read_text() + format_table(corpus.ordered)
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text and "\\u001b" not in text


def test_every_status_is_one_of_the_four_and_every_message_is_short(corpus):
    document = json.loads((corpus.root / "grades.json").read_text())
    for notebook in document["notebooks"]:
        for exercise in notebook["exercises"].values():
            assert exercise["status"] in ("passed", "failed", "not attempted", "error")
            assert len(exercise["message"]) <= 4000
            assert OBSERVATION_MIME not in exercise["message"]


def test_two_at_a_time_gives_the_same_results_as_one_at_a_time(corpus):
    """Ten submissions graded serially with the same run secret: identical to the parallel run."""
    names = [
        "alice_right",
        "bob_stub",
        "carol_wrong",
        "dave_broken",
        "eve_answer_key",
        "forge_noop_checks",
        "forge_swap_sys_modules",
        "forge_wrap_exec",
        "forge_post_run_cell_hook",
        "x_control_characters",
    ]
    chosen = [submission for submission, name in zip(corpus.submissions, corpus.paths) if name in names]
    serial = grade_all(chosen, Limits(cell_seconds=60, memory_mib=3000), jobs=1, master=MASTER, watch=None)
    assert [result.path for result in serial] == [corpus.results[name].path for name in names]

    def comparable(result):
        return {
            key: value
            for key, value in result.to_dict().items()
            if key not in ("seconds", "peak_memory_mib", "peak_data_mib")
        }

    assert [comparable(result) for result in serial] == [comparable(corpus.results[name]) for name in names]

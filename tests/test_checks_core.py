"""Tests of the checks' split (utils.checks.registry, observation, values): observe in the kernel, judge elsewhere.

The learner functions here are written the way a learner would write them; the ones that call
earlier exercises are executed into a fresh namespace (as a notebook's cells are), so that the
check finds the earlier exercises by name, as it does in a notebook.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from utils import checks
from utils.checks import EXERCISES, OBSERVATION_LIMIT, STATUSES, Observation, Verdict, judge, observe
from utils.checks.learner_errors import clean_error_text
from utils.checks.registry import dependencies_of
from utils.checks.values import decode_value
from utils.errors import CheckFailed, ExerciseCrashed, ExerciseNotImplemented, ObservationInvalid

RIGHT_CONV = "def conv_output_size(n, f, p, s):\n    return (n + 2 * p - f) // s + 1\n"


def notebook(source: str) -> dict:
    """Run ``source`` like notebook cells; return the namespace."""
    namespace = {"tf": tf, "np": np, "keras": keras}
    exec(compile(source, "<notebook cell>", "exec"), namespace)
    return namespace


def failure(check, *args) -> CheckFailed:
    with pytest.raises(CheckFailed) as raised:
        check(*args)
    return raised.value


# ---------------------------------------------------------------------------- the API


def test_every_exercise_of_the_notebooks_is_registered_with_its_dependencies():
    assert (
        list(EXERCISES)
        == list(checks.ORDER)
        == [  # notebook order: 01, 02, 03, 04, 05, 06
            "triplet_loss",
            "verify",
            "who_is_it",
            "batch_hard_triplet_loss",
            "chi_square_features",
            "build_siamese_head",
            "compute_content_cost",
            "gram_matrix",
            "compute_layer_style_cost",
            "compute_style_cost",
            "total_cost",
            "train_step",
            "receptive_field_step",
            "conv_output_size",
            "conv_param_count",
        ]
    )
    assert STATUSES == ("passed", "failed", "not attempted", "error")
    assert EXERCISES["compute_style_cost"].depends_on == ("compute_layer_style_cost",)
    assert dependencies_of("train_step") == (
        "compute_content_cost",
        "gram_matrix",
        "compute_layer_style_cost",
        "compute_style_cost",
        "total_cost",
    )
    assert "utils.losses.triplet_loss" in EXERCISES["triplet_loss"].answer_key


def test_observe_then_judge_in_another_process_gives_the_same_verdict():
    function = notebook(RIGHT_CONV)["conv_output_size"]
    text = observe("conv_output_size", function, seed=99).to_json()
    verdict = judge("conv_output_size", Observation.from_json(text), seed=99, grading=True)
    assert verdict == Verdict("conv_output_size", "passed", "")
    wrong = observe("conv_output_size", lambda n, f, p, s: (n - f) // s + 1, seed=99)
    verdict = judge("conv_output_size", Observation.from_json(wrong.to_json()), seed=99, grading=True)
    assert verdict.status == "failed" and "(forgot the padding)" in verdict.message


@pytest.mark.parametrize(
    "function, status, words",
    [
        (None, "error", "should be a function"),
        (lambda n, f, p, s: 1 / 0, "error", "ZeroDivisionError"),
        (lambda n, f, p, s: "ten", "failed", "Wrong type"),
    ],
)
def test_observe_never_raises_and_judge_gives_the_status(function, status, words):
    verdict = judge("conv_output_size", observe("conv_output_size", function))
    assert verdict.status == status and words in verdict.message


def test_a_stub_is_not_attempted():
    def conv_output_size(n, f, p, s):
        raise NotImplementedError("Exercise `conv_output_size`: replace this line with your code.")

    verdict = judge("conv_output_size", observe("conv_output_size", conv_output_size))
    assert verdict.status == "not attempted" and "is not implemented yet" in verdict.message


def test_the_seed_adds_hidden_cases_that_a_lookup_table_fails():
    public = [case.args for case in EXERCISES["conv_output_size"].cases({}, None)]
    table = {args: (args[0] + 2 * args[2] - args[1]) // args[3] + 1 for args in public}

    def memorised(n, f, p, s):
        return table.get((n, f, p, s), 1)

    assert judge("conv_output_size", observe("conv_output_size", memorised)).status == "passed"
    observation = observe("conv_output_size", memorised, seed=5)
    assert len(observation.runs["own"]) > len(public)
    assert judge("conv_output_size", observation, seed=5, grading=True).status == "failed"
    assert judge("conv_output_size", observation, seed=6, grading=True).status == "error"  # another seed


def test_calling_the_library_reference_is_recorded_and_fails_in_grading():
    namespace = notebook(
        "from utils import losses\n"
        "from utils.losses import triplet_loss as library_loss\n"
        "def by_module(y_true, y_pred, alpha=0.2):\n"
        "    return losses.triplet_loss(y_true, y_pred, alpha)\n"
        "def by_name(y_true, y_pred, alpha=0.2):\n"
        "    return library_loss(y_true, y_pred, alpha)\n"
    )
    for function in (namespace["by_module"], namespace["by_name"]):
        observation = observe("triplet_loss", function, seed=1)
        assert observation.delegated == ("utils.losses.triplet_loss",)
        assert judge("triplet_loss", observation, seed=1).status == "passed"  # the notebook says nothing
        verdict = judge("triplet_loss", Observation.from_json(observation.to_json()), seed=1, grading=True)
        assert verdict.status == "failed"
        assert "calls the course library's reference `utils.losses.triplet_loss`" in verdict.message
    # the spy is gone afterwards: the library's function is itself again
    from utils import losses

    assert losses.triplet_loss.__module__ == "utils.losses" and namespace["library_loss"] is losses.triplet_loss


# ---------------------------------------------------------------------------- strict reading


def _valid_payload() -> dict:
    return json.loads(
        observe(
            "total_cost", lambda J_content, J_style, alpha=10, beta=40: alpha * J_content + beta * J_style
        ).to_json()
    )


def _mutated(change) -> str:
    payload = _valid_payload()
    change(payload)
    return json.dumps(payload)


def _nested(depth: int):
    value = 1
    for _ in range(depth):
        value = {"$list": [value]}
    return value


def _first_result(payload):
    return payload["runs"]["own"][0]["result"]


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        json.dumps({"format": 1}),
        "x" * (OBSERVATION_LIMIT + 1),
        "[" * 100_000 + "]" * 100_000,  # a depth bomb
        _mutated(lambda p: p.update(extra=1)),  # unknown key
        _mutated(lambda p: p.update(exercise="rm -rf")),  # unknown exercise
        _mutated(lambda p: p.update(seed="7")),  # wrong type
        _mutated(lambda p: p.update(delegated=["os.system"])),  # not an answer key
        _mutated(lambda p: p["runs"].update(other=[])),
        _mutated(lambda p: p["runs"]["own"][0].update(result={"$pickle": "gASV"})),  # unknown tag
        _mutated(lambda p: p["runs"]["own"][0].update(result="y" * 5000)),  # a huge string
        _mutated(lambda p: _first_result(p)["$array"].update(data="%%%not base64")),  # bad base64
        _mutated(lambda p: _first_result(p)["$array"].update(shape=[2, 3])),  # shape/data mismatch
        _mutated(lambda p: _first_result(p)["$array"].update(dtype="object")),
        _mutated(lambda p: _first_result(p).update(kind="tf.Whatever")),
        _mutated(lambda p: p["runs"]["own"][0].update(error={"type": "X"})),  # result and error
        _mutated(lambda p: p["runs"]["own"][0].update(result=_nested(40))),  # nested too deeply
        _mutated(lambda p: p.update(problem={"kind": "missing", "message": 3})),
        '{"format": 1, "seed": NaN}',  # bare NaN
    ],
)
def test_malformed_observations_are_refused(text):
    with pytest.raises(ObservationInvalid):
        Observation.from_json(text)
    assert issubclass(ObservationInvalid, ValueError)


def test_a_nan_result_is_a_value_and_judged_as_a_wrong_answer():
    observation = observe("conv_output_size", lambda n, f, p, s: float("nan"))
    text = observation.to_json()
    assert '{"$float":"nan"}' in text
    verdict = judge("conv_output_size", Observation.from_json(text))
    assert verdict.status == "failed" and "nan" in verdict.message


def test_arrays_round_trip_exactly_and_an_oversized_value_is_an_error():
    array = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    observation = observe("gram_matrix", lambda A: tf.constant(array))
    decoded = decode_value(Observation.from_json(observation.to_json()).runs["own"][0]["result"])
    assert decoded.kind == "tf.Tensor" and np.array_equal(decoded.numpy(), array)
    huge = observe("gram_matrix", lambda A: np.zeros((600, 600), np.float32))
    assert len(huge.to_json()) < OBSERVATION_LIMIT
    verdict = judge("gram_matrix", Observation.from_json(huge.to_json()))
    assert verdict.status == "error" and "too large to record" in verdict.message


# ---------------------------------------------------------------------------- hints that are true


def test_a_mistake_is_named_only_when_it_explains_every_case():
    """k hard-coded to 3 agrees with "used the new jump" on no case; the old check named the latter."""
    message = str(
        failure(
            checks.check_receptive_field_step,
            lambda r, j, c, k, s, p: (r + (3 - 1) * j, j * s, c + ((3 - 1) / 2 - p) * j),
        )
    )
    assert "(k hard-coded to 3)" in message and "new jump" not in message

    def half_right(r, j, c, k, s, p):  # right on stride 1, "used the new jump" on stride > 1 ... but not start
        size = r + (k - 1) * j * s
        return size, j * s, c + ((k - 1) / 2 - p) * j

    message = str(failure(checks.check_receptive_field_step, half_right))
    assert "Likely mistake" not in message and "size = size_in + (k - 1) * jump_in" in message
    assert "axis" not in message


@pytest.mark.parametrize(
    "check, source, hint",
    [
        (
            checks.check_compute_layer_style_cost,
            "def f(a_S, a_G):\n    _, n_H, n_W, n_C = a_G.get_shape().as_list()\n"
            "    S = tf.transpose(tf.reshape(a_S, [-1, n_C])); G = tf.transpose(tf.reshape(a_G, [-1, n_C]))\n"
            "    return tf.reduce_sum(tf.square(tf.matmul(S, S, transpose_b=True) - tf.matmul(G, G, transpose_b=True)))"
            " / (4 * n_C ** 2 * n_H * n_W ** 2)\n",
            "(only n_W squared)",
        ),
        (
            checks.check_compute_layer_style_cost,
            "def f(a_S, a_G):\n    _, n_C, n_H, n_W = a_G.get_shape().as_list()\n"
            "    S = tf.transpose(tf.reshape(a_S, [-1, n_C])); G = tf.transpose(tf.reshape(a_G, [-1, n_C]))\n"
            "    return tf.reduce_sum(tf.square(tf.matmul(S, S, transpose_b=True) - tf.matmul(G, G, transpose_b=True)))"
            " / (4 * n_C ** 2 * (n_H * n_W) ** 2)\n",
            "(channels-first unpacking)",
        ),
        (
            checks.check_compute_content_cost,
            "def f(content_output, generated_output):\n    a_C, a_G = content_output[-1], generated_output[-1]\n"
            "    _, n_H, n_W, n_C = a_G.get_shape().as_list()\n"
            "    return tf.reduce_sum(tf.square(a_C - a_G)) / 4 * n_H * n_W * n_C\n",
            "(operator precedence)",
        ),
        (
            checks.check_conv_output_size,
            "def f(n, f, p, s):\n    return n + 2 * p - f // s + 1\n",
            "(operator precedence)",
        ),
        (
            checks.check_conv_param_count,
            "def f(f, rank, c_in, c_out):\n    return f ** rank * c_in + 1 * c_out\n",
            "(parentheses missing)",
        ),
        (
            checks.check_compute_style_cost,
            "from utils import losses\n"
            "def f(style_image_output, generated_image_output, STYLE_LAYERS):\n"
            "    for (name, weight), a_S, a_G in zip(STYLE_LAYERS, style_image_output[:-1], generated_image_output[:-1]):\n"
            "        J_style = weight * losses.layer_style_cost(a_S, a_G)\n    return J_style\n",
            "(`=` instead of `+=`)",
        ),
    ],
)
def test_new_classic_mistakes_get_their_hint(check, source, hint):
    message = str(failure(check, notebook(source)["f"]))
    assert hint in message and message.count("Likely mistake") == 1, message


def test_int_defaults_in_tf_multiply_get_a_hint_not_a_numpy_one():
    namespace = notebook(
        "@tf.function()\ndef total_cost(J_content, J_style, alpha=10, beta=40):\n"
        "    return tf.multiply(alpha, J_content) + tf.multiply(beta, J_style)\n"
    )
    message = str(failure(checks.check_total_cost, namespace["total_cost"]))
    assert "(int defaults in tf.multiply)" in message and "NumPy" not in message


def test_tf_functions_on_keras_inputs_get_the_keras_ops_hint_and_why():
    namespace = notebook(
        "def chi(a, b, epsilon=1e-6):\n    return tf.square(a - b) / (tf.abs(a) + tf.abs(b) + epsilon)\n"
    )
    message = str(failure(checks.check_chi_square_features, namespace["chi"]))
    assert "use keras.ops operations" in message and "(or tf.*)" not in message
    assert "neither can tf.* functions, because Keras 3's symbolic tensors are not TensorFlow tensors" in message


def test_an_input_changed_in_place_is_reported_and_the_expected_value_uses_pristine_inputs():
    def centred(labels, embeddings, margin=0.2):
        from utils import losses

        embeddings -= embeddings.mean(axis=0)  # in place: the caller's array changes
        return losses.batch_hard_triplet_loss(labels, embeddings, margin)

    message = str(failure(checks.check_batch_hard_triplet_loss, centred))
    assert "your function changed `embeddings` in place" in message


def test_tensorflow_op_prefixes_are_stripped_from_error_text():
    text = (
        "{{function_node __wrapped__Sub_device_/job:localhost/replica:0/task:0/device:CPU:0}} "
        "Incompatible shapes: [2,2] vs. [3,3] [Op:Sub] name: "
    )
    assert clean_error_text(text) == "Incompatible shapes: [2,2] vs. [3,3] [Op:Sub]"
    assert clean_error_text("Graph execution error:\n\nDetected at node x\nreal reason here") == "real reason here"


def test_every_generic_hint_belongs_to_its_exercise():
    for name, check in EXERCISES.items():
        assert "Re-read the formula" not in check.hint, name
        if name in (
            "verify",
            "who_is_it",
            "total_cost",
            "build_siamese_head",
            "conv_output_size",
            "conv_param_count",
            "receptive_field_step",
            "train_step",
        ):
            assert "axis" not in check.hint, name


# ---------------------------------------------------------------------------- blaming the right exercise

STYLE_CELLS = """
def gram_matrix(A):
    return tf.matmul(A, tf.transpose(A))

def compute_layer_style_cost(a_S, a_G):
    _, n_H, n_W, n_C = a_G.get_shape().as_list()
    a_S = tf.transpose(tf.reshape(a_S, [-1, n_C]))
    a_G = tf.transpose(tf.reshape(a_G, [-1, n_C]))
    return tf.reduce_sum(tf.square(gram_matrix(a_S) - gram_matrix(a_G))) / ({denominator})

def compute_style_cost(style_image_output, generated_image_output, STYLE_LAYERS):
    J_style = 0.0
    for (name, weight), a_S, a_G in zip(STYLE_LAYERS, style_image_output[{start}], generated_image_output[:-1]):
        J_style += weight * compute_layer_style_cost(a_S, a_G)
    return J_style
"""
RIGHT = "4 * n_C ** 2 * (n_H * n_W) ** 2"


def test_a_right_later_exercise_calling_a_wrong_earlier_one_names_the_earlier_one():
    namespace = notebook(STYLE_CELLS.format(denominator="n_C ** 2 * (n_H * n_W) ** 2", start=":-1"))
    message = str(failure(checks.check_compute_style_cost, namespace["compute_style_cost"]))
    assert message.startswith("`compute_style_cost` looks right, but `compute_layer_style_cost` is wrong: fix it first")
    assert "you left out the 4" in message
    # graded, the later exercise is judged with the library's compute_layer_style_cost: it gets its point
    observation = observe("compute_style_cost", namespace["compute_style_cost"], seed=3)
    assert (
        judge("compute_style_cost", Observation.from_json(observation.to_json()), seed=3, grading=True).status
        == "passed"
    )
    assert (
        judge(
            "compute_layer_style_cost",
            observe("compute_layer_style_cost", namespace["compute_layer_style_cost"], seed=3),
            seed=3,
            grading=True,
        ).status
        == "failed"
    )


def test_an_unfinished_earlier_exercise_is_named_and_the_later_one_graded_alone():
    namespace = notebook(STYLE_CELLS.format(denominator=RIGHT, start=":-1"))
    namespace["gram_matrix"] = notebook(
        "def gram_matrix(A):\n    raise NotImplementedError('Exercise `gram_matrix`: replace this line.')\n"
    )["gram_matrix"]
    with pytest.raises(ExerciseNotImplemented, match=r"`gram_matrix` is not implemented yet \(`compute_style_cost`"):
        checks.check_compute_style_cost(namespace["compute_style_cost"])
    observation = observe("compute_style_cost", namespace["compute_style_cost"], seed=4)
    assert judge("compute_style_cost", observation, seed=4, grading=True).status == "passed"


def test_misaligned_lists_are_reported_against_compute_style_cost_without_tensorflow_noise():
    namespace = notebook(STYLE_CELLS.format(denominator=RIGHT, start="1:"))
    error = failure(checks.check_compute_style_cost, namespace["compute_style_cost"])
    message = str(error)
    assert isinstance(error, ExerciseCrashed)
    assert message.startswith("Exercise `compute_style_cost` raised an error at line")
    assert "(misaligned lists)" in message and "your `compute_layer_style_cost` raised" not in message
    assert "{{function_node" not in message and "fails its own check" not in message
    assert len(message.splitlines()) <= 3


def test_an_observation_over_the_limit_becomes_an_error_and_stays_under_it():
    observation = observe("gram_matrix", lambda A: tf.zeros(240_000, tf.float64))  # ~2.6 MB of base64 per case
    text = observation.to_json()
    assert len(text) <= OBSERVATION_LIMIT
    read = Observation.from_json(text)
    assert read.problem["kind"] == "oversized"
    verdict = judge("gram_matrix", read)
    assert verdict.status == "error" and "over the limit" in verdict.message


def test_a_learner_calling_exit_is_an_error_not_the_end_of_the_check():
    def conv_output_size(n, f, p, s):
        raise SystemExit(0)

    verdict = judge("conv_output_size", observe("conv_output_size", conv_output_size))
    assert verdict.status == "error" and "SystemExit" in verdict.message


def test_spies_installed_for_good_see_a_reference_kept_before_a_check_runs(monkeypatch):
    """What the grader's first cell does: after `install`, a reference the learner keeps (a default
    argument, another module's re-export) is the recording wrapper; a run of a check records it."""
    import sys
    import types

    from utils.checks.instrumentation import Spies

    library = types.ModuleType("utils.spy_probe_library")
    library.reference = lambda x: 2 * x
    reexport = types.ModuleType("utils.spy_probe_reexport")
    reexport.reference, reexport.STRATEGIES = library.reference, {"double": library.reference}
    monkeypatch.setitem(sys.modules, library.__name__, library)
    monkeypatch.setitem(sys.modules, reexport.__name__, reexport)
    spies = Spies()
    spies.install(["utils.spy_probe_library.reference"])

    def learner(x, kept=library.reference):  # kept after the spies were installed
        return kept(x)

    assert reexport.reference is library.reference and reexport.STRATEGIES["double"] is library.reference
    assert learner(3) == 6 and not spies.recordings  # outside a check: nothing recorded
    with spies.recording(["utils.spy_probe_library.reference"]) as called:
        assert learner(4) == 8
    assert called == {"utils.spy_probe_library.reference"}
    with spies.recording(["utils.spy_probe_library.reference"]) as called:
        assert learner.__defaults__[0].__wrapped__(5) == 10  # the reference itself, unwrapped: not seen
    assert called == set()

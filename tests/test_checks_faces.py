"""Tests for the face checks of notebooks 01 and 03 (utils.checks.faces, utils.checks.siamese).

The course solutions pass; each classic mistake, written here on purpose the way a learner might
write it, makes the check print that mistake's hint and raise ``CheckFailed``; a stub that still
raises ``NotImplementedError`` gives ``ExerciseNotImplemented``.

``verify`` / ``who_is_it`` use the real converted dlib encoder and the course images (skipped when
the encoder asset is missing). The learner functions below encode through a small cache, so each
image is detected and encoded once per test session. The notebook-03 checks need no weights.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from utils import assets, checks
from utils.errors import CheckFailed, ExerciseNotImplemented
from utils.faces import img_to_encoding, load_encoder

ENCODER = assets.find("dlib_face_resnet_keras")
needs_encoder = pytest.mark.skipif(
    ENCODER is None,
    reason="asset dlib_face_resnet_keras not found (run `make setup` / `python -m utils.course.prepare`)",
)
THRESHOLD = 0.6
NOT_RECOGNIZED = "not recognized"


def _failure(capsys, check, function, *args) -> str:
    """The message of the CheckFailed that ``check(function, *args)`` raises; nothing is printed."""
    with pytest.raises(CheckFailed) as failure:
        check(function, *args)
    assert not isinstance(failure.value, ExerciseNotImplemented)
    assert capsys.readouterr().out == ""  # the message is raised once, not printed as well
    return str(failure.value)


def _assert_hint(capsys, check, function, *args, hint):
    message = _failure(capsys, check, function, *args)
    assert hint in message, message
    assert message.count("Likely mistake") <= 1, message


# ---------------------------------------------------------------------------- notebook 01: triplet_loss

GRAPH_HINT = "use tf.* operations: NumPy cannot run inside the compiled training step"


def triplet_solution(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    positive_distance = tf.reduce_sum(tf.square(tf.subtract(anchor, positive)), axis=-1)
    negative_distance = tf.reduce_sum(tf.square(tf.subtract(anchor, negative)), axis=-1)
    return tf.reduce_sum(tf.maximum(positive_distance - negative_distance + alpha, 0.0))


def _triplet_variant(hinge="each", axis=-1, power=2, margin=True, reduce="sum", squared_twice=False):
    """A learner's triplet loss; each keyword reproduces one slip (the defaults are right)."""

    def loss(y_true, y_pred, alpha=0.2):
        anchor, positive, negative = (tf.convert_to_tensor(value, tf.float32) for value in y_pred)
        if power == 2:
            positive_distance = tf.reduce_sum(tf.square(anchor - positive), axis=axis)
            negative_distance = tf.reduce_sum(tf.square(anchor - negative), axis=axis)
        else:
            positive_distance = tf.sqrt(tf.reduce_sum(tf.square(anchor - positive), axis=axis))
            negative_distance = tf.sqrt(tf.reduce_sum(tf.square(anchor - negative), axis=axis))
        if squared_twice:
            positive_distance, negative_distance = positive_distance**2, negative_distance**2
        basic = positive_distance - negative_distance + (alpha if margin else 0.0)
        total = tf.reduce_sum if reduce == "sum" else tf.reduce_mean
        if hinge == "each":
            return total(tf.maximum(basic, 0.0))
        if hinge == "after":
            return tf.maximum(total(basic), 0.0)
        return total(basic)

    return loss


def triplet_numpy(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = (np.asarray(value) for value in y_pred)
    basic = np.sum((anchor - positive) ** 2, axis=-1) - np.sum((anchor - negative) ** 2, axis=-1) + alpha
    return np.sum(np.maximum(basic, 0.0))


def triplet_numpy_wrapped(y_true, y_pred, alpha=0.2):
    """Converts to NumPy and back: a tensor with the right value, but not inside tf.function."""
    return tf.constant(triplet_numpy(y_true, [np.asarray(value) for value in y_pred], alpha))


def test_triplet_solutions_pass(capsys):
    assert checks.check_triplet_loss(triplet_solution) is None
    assert checks.check_triplet_loss(tf.function(triplet_solution)) is None
    assert checks.check_triplet_loss(_triplet_variant()) is None
    assert capsys.readouterr().out == "All tests passed.\n" * 3


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_triplet_variant(hinge="after"), "max of the sum"),
        (_triplet_variant(axis=None), "missing axis=-1"),
        (_triplet_variant(power=1), "distances not squared"),
        (_triplet_variant(squared_twice=True), "squared twice"),
        (_triplet_variant(margin=False), "forgot alpha"),
        (_triplet_variant(reduce="mean"), "mean instead of sum"),
        (_triplet_variant(hinge=None), "no hinge"),
    ],
)
def test_triplet_mistakes_get_their_own_hint_only(capsys, wrong, hint):
    message = _failure(capsys, checks.check_triplet_loss, wrong)
    assert f"Likely mistake ({hint})" in message
    assert message.count("Likely mistake") == 1, message


def test_triplet_in_numpy_gets_a_hint_about_types(capsys):
    message = _failure(capsys, checks.check_triplet_loss, triplet_numpy)
    assert "the value is right" in message and "numpy.float" in message
    assert "the course expects a tf.Tensor" in message and GRAPH_HINT in message


def test_triplet_through_numpy_fails_inside_tf_function(capsys):
    message = _failure(capsys, checks.check_triplet_loss, triplet_numpy_wrapped)
    assert "fails inside tf.function" in message and GRAPH_HINT in message
    assert "np.asarray(value) for value in y_pred" in message


def test_tensorflow_raising_not_implemented_is_not_taken_for_a_stub(capsys):
    """The learner's own @tf.function with NumPy inside: TensorFlow raises NotImplementedError
    ("Cannot convert a symbolic tf.Tensor to a numpy array") from its own code, not the learner's."""
    compiled_numpy = tf.function(triplet_numpy)
    message = _failure(capsys, checks.check_triplet_loss, compiled_numpy)
    assert "not implemented" not in message
    assert "NotImplementedError: Cannot convert a symbolic tf.Tensor" in message and GRAPH_HINT in message


def test_triplet_stub_is_not_implemented():
    def triplet_loss(y_true, y_pred, alpha=0.2):
        # YOUR CODE HERE
        raise NotImplementedError("Exercise `triplet_loss`: replace this line with your code.")

    with pytest.raises(ExerciseNotImplemented, match="Exercise `triplet_loss` is not implemented yet"):
        checks.check_triplet_loss(triplet_loss)


def test_a_stub_compiled_by_tf_function_is_still_a_stub():
    @tf.function
    def triplet_loss(y_true, y_pred, alpha=0.2):
        raise NotImplementedError("Exercise `triplet_loss`: replace this line with your code.")

    with pytest.raises(ExerciseNotImplemented, match="Exercise `triplet_loss` is not implemented yet"):
        checks.check_triplet_loss(triplet_loss)


def test_check_failed_shows_as_one_short_message_in_ipython(capsys):
    with pytest.raises(CheckFailed) as failure:
        checks.check_triplet_loss(_triplet_variant(hinge=None))
    rendered = failure.value._render_traceback_()
    assert len(rendered) == 1 and rendered[0].startswith("CheckFailed: Exercise `triplet_loss`: wrong result")
    assert "Traceback" not in rendered[0] and "utils/checks" not in rendered[0]


# ---------------------------------------------------------------------------- notebook 01 setup
_encodings = {}


def encode(image_path, model):
    """img_to_encoding with a cache (the learner functions below call this)."""
    key = str(image_path)
    if key not in _encodings:
        _encodings[key] = img_to_encoding(image_path, model)
    return _encodings[key]


@pytest.fixture(scope="module")
def course():
    """(model, database) with four course people, built the course's way."""
    model = load_encoder()
    folder = assets.resolve("faces_demo") / "course"
    database = {name: encode(folder / f"{name}.jpg", model) for name in ("younes", "bertrand", "benoit", "kian")}
    return model, database


# ---- verify ------------------------------------------------------------------------------------


def verify_solution(image_path, identity, database, model):
    encoding = encode(image_path, model)
    dist = np.linalg.norm(encoding - database[identity])
    if dist < THRESHOLD:
        print("It's " + str(identity) + ", welcome in!")
        door_open = True
    else:
        print("It's not " + str(identity) + ", please go away")
        door_open = False
    return dist, door_open


def verify_reversed(image_path, identity, database, model):
    dist = np.linalg.norm(encode(image_path, model) - database[identity])
    return dist, dist > THRESHOLD


def verify_squared(image_path, identity, database, model):
    dist = np.sum(np.square(encode(image_path, model) - database[identity]))
    return dist, dist < THRESHOLD


def verify_squared_returned(image_path, identity, database, model):
    difference = encode(image_path, model) - database[identity]
    return np.sum(difference**2), np.linalg.norm(difference) < THRESHOLD


def verify_vector_returned(image_path, identity, database, model):
    dist = encode(image_path, model) - database[identity]
    return dist, bool(np.linalg.norm(dist) < THRESHOLD)


def verify_vector_compared(image_path, identity, database, model):
    dist = encode(image_path, model) - database[identity]
    if dist < THRESHOLD:  # a (1, 128) array: NumPy refuses
        return dist, True
    return dist, False


def verify_facenet_threshold(image_path, identity, database, model):
    dist = np.linalg.norm(encode(image_path, model) - database[identity])
    return dist, dist < 0.7


def verify_nearest(image_path, identity, database, model):
    encoding = encode(image_path, model)
    dist = min(np.linalg.norm(encoding - stored) for stored in database.values())
    return dist, dist < THRESHOLD


def verify_stub(image_path, identity, database, model):
    raise NotImplementedError("Exercise `verify`: replace this line with your code.")


@pytest.mark.slow
@needs_encoder
def test_verify_solution_passes(capsys, course):
    model, database = course
    assert checks.check_verify(verify_solution, database, model) is None
    printed = capsys.readouterr().out
    assert printed.strip() == "All tests passed."  # the learner's own prints are silenced


@pytest.mark.slow
@needs_encoder
@pytest.mark.parametrize(
    "wrong, hint",
    [
        (verify_reversed, "threshold comparison reversed"),
        (verify_squared, "squared distance"),
        (verify_squared_returned, "squared distance returned"),
        (verify_vector_returned, "the vector instead of the norm"),
        (verify_vector_compared, "the vector instead of the norm"),
        (verify_facenet_threshold, "the course's FaceNet threshold"),
        (verify_nearest, "compared with the wrong identity"),
    ],
)
def test_verify_mistakes_get_their_hint(capsys, course, wrong, hint):
    model, database = course
    _assert_hint(capsys, checks.check_verify, wrong, database, model, hint=f"({hint})")


def verify_int_flag(image_path, identity, database, model):
    dist = np.linalg.norm(encode(image_path, model) - database[identity])
    return dist, int(dist < THRESHOLD)


def verify_three_values(image_path, identity, database, model):
    dist = np.linalg.norm(encode(image_path, model) - database[identity])
    return dist, dist < THRESHOLD, identity


@pytest.mark.slow
@needs_encoder
def test_verify_facenet_threshold_is_not_mistaken_for_a_reversed_comparison(capsys, course):
    """At distance 0.65 both "0.7" and "dist > 0.6" open the door; only 0.7 also agrees on every other case."""
    model, database = course
    message = _failure(capsys, checks.check_verify, verify_facenet_threshold, database, model)
    assert "(the course's FaceNet threshold)" in message
    assert "reversed" not in message


@pytest.mark.slow
@needs_encoder
@pytest.mark.parametrize(
    "wrong, words",
    [
        (verify_int_flag, "expected a bool (True or False); got the int 1"),
        (verify_three_values, "return exactly 2 values"),
    ],
)
def test_verify_type_errors_get_a_hint_about_types(capsys, course, wrong, words):
    model, database = course
    message = _failure(capsys, checks.check_verify, wrong, database, model)
    assert "Wrong type" in message and words in message


@pytest.mark.slow
@needs_encoder
def test_verify_stub_is_not_implemented(course):
    model, database = course
    with pytest.raises(ExerciseNotImplemented):
        checks.check_verify(verify_stub, database, model)


@needs_encoder
def test_verify_check_needs_the_course_database(capsys):
    with pytest.raises(CheckFailed, match="younes"):
        checks.check_verify(verify_solution, {"somebody": np.zeros((1, 128))}, None)


# ---- who_is_it ---------------------------------------------------------------------------------


def who_is_it_solution(image_path, database, model):
    encoding = encode(image_path, model)
    min_dist = 100
    identity = None
    for name, db_enc in database.items():
        dist = np.linalg.norm(encoding - db_enc)
        if dist < min_dist:
            min_dist = dist
            identity = name
    if min_dist >= THRESHOLD:
        print("Not in the database.")
        identity = NOT_RECOGNIZED
    else:
        print("it's " + str(identity) + ", the distance is " + str(min_dist))
    return min_dist, identity


def _who_is_it_variant(
    image_path,
    database,
    model,
    comparison=lambda dist, best: dist < best,
    start=100,
    update_distance=True,
    square=False,
    reject=lambda dist: dist >= THRESHOLD,
    rejection=NOT_RECOGNIZED,
):
    encoding = encode(image_path, model)
    min_dist, identity = start, None
    for name, db_enc in database.items():
        dist = np.sum((encoding - db_enc) ** 2) if square else np.linalg.norm(encoding - db_enc)
        if comparison(dist, min_dist):
            if update_distance:
                min_dist = dist
            identity = name
    if reject(min_dist):
        identity = rejection
    return min_dist, identity


def who_keeps_last(image_path, database, model):
    encoding = encode(image_path, model)
    for name, db_enc in database.items():
        min_dist = np.linalg.norm(encoding - db_enc)
        identity = name
    return min_dist, identity if min_dist < THRESHOLD else NOT_RECOGNIZED


def who_never_updates(image_path, database, model):
    return _who_is_it_variant(image_path, database, model, update_distance=False)


def who_reversed_from_100(image_path, database, model):
    return _who_is_it_variant(image_path, database, model, comparison=lambda dist, best: dist > best)


def who_keeps_maximum(image_path, database, model):
    return _who_is_it_variant(image_path, database, model, comparison=lambda dist, best: dist > best, start=0)


def who_threshold_reversed(image_path, database, model):
    return _who_is_it_variant(image_path, database, model, reject=lambda dist: dist < THRESHOLD)


def who_squared(image_path, database, model):
    return _who_is_it_variant(image_path, database, model, square=True)


def who_never_rejects(image_path, database, model):  # the original course's version
    return _who_is_it_variant(image_path, database, model, reject=lambda dist: False)


def who_returns_message(image_path, database, model):
    return _who_is_it_variant(image_path, database, model, rejection="Not in the database.")


def who_returns_none(image_path, database, model):
    return _who_is_it_variant(image_path, database, model, rejection=None)


def who_facenet_threshold(image_path, database, model):
    return _who_is_it_variant(image_path, database, model, reject=lambda dist: dist >= 0.7)


def who_is_it_stub(image_path, database, model):
    raise NotImplementedError("Exercise `who_is_it`: replace this line with your code.")


@pytest.mark.slow
@needs_encoder
def test_who_is_it_solution_passes(capsys, course):
    model, database = course
    assert checks.check_who_is_it(who_is_it_solution, database, model) is None
    assert capsys.readouterr().out.strip() == "All tests passed."


@pytest.mark.slow
@needs_encoder
@pytest.mark.parametrize(
    "wrong, hint",
    [
        (who_keeps_last, "keeps the last distance"),
        (who_never_updates, "min_dist never updated"),
        (who_reversed_from_100, "min_dist never updated"),
        (who_keeps_maximum, "comparison in the loop reversed"),
        (who_threshold_reversed, "threshold comparison reversed"),
        (who_squared, "squared distance"),
        (who_never_rejects, "no rejection"),
        (who_returns_message, "the course's message instead of the identity"),
        (who_returns_none, "None instead of the identity"),
        (who_facenet_threshold, "the course's FaceNet threshold"),
    ],
)
def test_who_is_it_mistakes_get_their_hint(capsys, course, wrong, hint):
    model, database = course
    _assert_hint(capsys, checks.check_who_is_it, wrong, database, model, hint=f"({hint})")


@pytest.mark.slow
@needs_encoder
def test_who_is_it_returning_only_the_name_gets_a_hint_about_types(capsys, course):
    model, database = course
    message = _failure(capsys, checks.check_who_is_it, lambda *args: who_is_it_solution(*args)[1], database, model)
    assert "Wrong type: return a tuple of 2 values" in message


@pytest.mark.slow
@needs_encoder
def test_who_is_it_stub_is_not_implemented(course):
    model, database = course
    with pytest.raises(ExerciseNotImplemented):
        checks.check_who_is_it(who_is_it_stub, database, model)


# ---------------------------------------------------------------------------- notebook 03

KERAS_HINT = "NumPy cannot run on the symbolic keras.Input tensors of a Keras model"


def chi_square_solution(encodings_a, encodings_b, epsilon=1e-6):
    return keras.ops.square(encodings_a - encodings_b) / (
        keras.ops.abs(encodings_a) + keras.ops.abs(encodings_b) + epsilon
    )


def chi_square_numpy(encodings_a, encodings_b, epsilon=1e-6):
    """Right on arrays; the notebook's model-building cell calls it on keras.Input tensors."""
    return (encodings_a - encodings_b) ** 2 / (np.abs(encodings_a) + np.abs(encodings_b) + epsilon)


def chi_square_signed(encodings_a, encodings_b, epsilon=1e-6):
    return keras.ops.square(encodings_a - encodings_b) / (encodings_a + encodings_b + epsilon)


def chi_square_abs_of_sum(encodings_a, encodings_b, epsilon=1e-6):
    return keras.ops.square(encodings_a - encodings_b) / (keras.ops.abs(encodings_a + encodings_b) + epsilon)


def chi_square_no_epsilon(encodings_a, encodings_b, epsilon=1e-6):
    return keras.ops.square(encodings_a - encodings_b) / (keras.ops.abs(encodings_a) + keras.ops.abs(encodings_b))


def chi_square_not_squared(encodings_a, encodings_b, epsilon=1e-6):
    return keras.ops.abs(encodings_a - encodings_b) / (
        keras.ops.abs(encodings_a) + keras.ops.abs(encodings_b) + epsilon
    )


def chi_square_summed(encodings_a, encodings_b, epsilon=1e-6):
    return keras.ops.sum(chi_square_solution(encodings_a, encodings_b, epsilon), axis=-1)


def chi_square_stub(encodings_a, encodings_b, epsilon=1e-6):
    raise NotImplementedError("Exercise `chi_square_features`: replace this line with your code.")


def test_chi_square_solution_passes(capsys):
    assert checks.check_chi_square_features(chi_square_solution) is None
    assert capsys.readouterr().out == "All tests passed.\n"


def test_chi_square_in_numpy_fails_in_its_own_check(capsys):
    message = _failure(capsys, checks.check_chi_square_features, chi_square_numpy)
    assert "`chi_square_features` gives the right answer on arrays, but fails on the symbolic keras.Input" in message
    assert "np.abs(encodings_a)" in message and KERAS_HINT in message


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (chi_square_signed, "signed denominator"),
        (chi_square_abs_of_sum, "abs of the sum"),
        (chi_square_no_epsilon, "forgot epsilon"),
        (chi_square_not_squared, "numerator not squared"),
        (chi_square_summed, "summed over the features"),
    ],
)
def test_chi_square_mistakes_get_their_hint(capsys, wrong, hint):
    _assert_hint(capsys, checks.check_chi_square_features, wrong, hint=f"({hint})")


def test_chi_square_stub_is_not_implemented():
    with pytest.raises(ExerciseNotImplemented, match="`chi_square_features` is not implemented yet"):
        checks.check_chi_square_features(chi_square_stub)


def _head(features, activation="sigmoid", hidden=None, name="same_person"):
    def build(dimension=128):
        encoding_a = keras.Input(shape=(dimension,))
        encoding_b = keras.Input(shape=(dimension,))
        values = features(encoding_a, encoding_b)
        if hidden:
            values = keras.layers.Dense(hidden, activation="relu")(values)
        output = keras.layers.Dense(1, activation=activation, name=name)(values)
        return keras.Model([encoding_a, encoding_b], output)

    return build


head_solution = _head(lambda a, b: keras.ops.abs(a - b))


def head_with_lambda_layer(dimension=128):
    encoding_a = keras.Input(shape=(dimension,))
    encoding_b = keras.Input(shape=(dimension,))
    features = keras.layers.Lambda(lambda tensors: keras.ops.abs(tensors[0] - tensors[1]))([encoding_a, encoding_b])
    output = keras.layers.Dense(1, activation="sigmoid", name="same_person")(features)
    return keras.Model([encoding_a, encoding_b], output)


def head_stub(dimension=128):
    raise NotImplementedError("Exercise `build_siamese_head`: replace this line with your code.")


def test_siamese_head_solutions_pass(capsys):
    assert checks.check_build_siamese_head(head_solution) is None
    assert checks.check_build_siamese_head(head_with_lambda_layer) is None
    assert capsys.readouterr().out == "All tests passed.\n" * 2


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_head(lambda a, b: keras.ops.abs(a - b), activation=None), "(no sigmoid)"),
        (_head(lambda a, b: a - b), "(signed difference)"),
        (_head(lambda a, b: keras.ops.square(a - b)), "(squared difference)"),
        (_head(lambda a, b: a), "(one encoding only)"),
        (_head(lambda a, b: keras.ops.abs(a - b), hidden=4), "expected exactly one Dense(1) layer"),
    ],
)
def test_siamese_head_mistakes_get_their_hint(capsys, wrong, hint):
    _assert_hint(capsys, checks.check_build_siamese_head, wrong, hint=hint)


@pytest.mark.parametrize("name", [None, "output"])
def test_siamese_head_needs_the_dense_layer_named_same_person(capsys, name):
    """A later cell of notebook 03 calls head.get_layer("same_person"): the check requires the name."""
    message = _failure(capsys, checks.check_build_siamese_head, _head(lambda a, b: keras.ops.abs(a - b), name=name))
    assert 'the output values are right, but the Dense layer is not named "same_person"' in message
    assert 'keras.layers.Dense(1, activation="sigmoid", name="same_person")' in message


def test_siamese_head_stub_is_not_implemented():
    with pytest.raises(ExerciseNotImplemented):
        checks.check_build_siamese_head(head_stub)


# ---- issue 22: thresholds just inside/outside, inputs changed in place, the global database -------


def _verify_with(threshold):
    def verify(image_path, identity, database, model):
        dist = np.linalg.norm(encode(image_path, model) - database[identity])
        return dist, dist < threshold

    return verify


def _who_is_it_with(threshold):
    def who_is_it(image_path, database, model):
        return _who_is_it_variant(image_path, database, model, reject=lambda dist: dist >= threshold)

    return who_is_it


@pytest.mark.slow
@needs_encoder
@pytest.mark.parametrize(
    "threshold, hint",
    [
        (0.5, "(a threshold below 0.6)"),
        (0.55, "(a threshold below 0.6)"),
        (0.62, "(a threshold above 0.6)"),
        (0.65, "(a threshold above 0.6)"),
    ],
)
def test_a_hard_coded_threshold_near_0_6_fails(capsys, course, threshold, hint):
    model, database = course
    for check, function in (
        (checks.check_verify, _verify_with(threshold)),
        (checks.check_who_is_it, _who_is_it_with(threshold)),
    ):
        message = _failure(capsys, check, function, database, model)
        assert hint in message, message


def verify_in_place(image_path, identity, database, model):
    stored = database[identity]
    stored -= encode(image_path, model)  # changes the caller's database
    dist = np.linalg.norm(stored)
    return dist, dist < THRESHOLD


def who_is_it_in_place(image_path, database, model):
    encoding = encode(image_path, model)
    min_dist, identity = 100, None
    for name, db_enc in database.items():
        db_enc -= encoding  # changes the caller's database
        dist = np.linalg.norm(db_enc)
        if dist < min_dist:
            min_dist, identity = dist, name
    return min_dist, identity if min_dist < THRESHOLD else NOT_RECOGNIZED


@pytest.mark.slow
@needs_encoder
@pytest.mark.parametrize(
    "check, function", [(checks.check_verify, verify_in_place), (checks.check_who_is_it, who_is_it_in_place)]
)
def test_a_function_that_changes_the_database_is_told_so(capsys, course, check, function):
    model, database = course
    before = {name: value.copy() for name, value in database.items()}
    message = _failure(capsys, check, function, database, model)
    assert "your function changed `database` in place" in message
    assert "expected" not in message  # no "expected" computed on a corrupted database
    assert all(np.array_equal(before[name], database[name]) for name in database)  # the learner's data is intact


@pytest.mark.slow
@needs_encoder
def test_the_global_database_instead_of_the_argument_is_named(capsys, course):
    model, database = course

    def verify(image_path, identity, db, model):
        dist = np.linalg.norm(encode(image_path, model) - database[identity])
        return dist, dist < THRESHOLD

    def who_is_it(image_path, db, model):
        return who_is_it_solution(image_path, database, model)

    assert "(the global `database` instead of the argument)" in _failure(
        capsys, checks.check_verify, verify, database, model
    )
    assert "(the global `database` instead of the argument)" in _failure(
        capsys, checks.check_who_is_it, who_is_it, database, model
    )


@pytest.mark.slow
@needs_encoder
def test_graded_without_context_the_judge_builds_the_course_database_itself(course):
    from utils.checks import Observation, judge, observe

    model, database = course
    for name, right, wrong in (
        ("verify", verify_solution, _verify_with(0.5)),
        ("who_is_it", who_is_it_solution, _who_is_it_with(0.5)),
    ):
        for function, status in ((right, "passed"), (wrong, "failed")):
            text = observe(name, function, database, model, seed=2024).to_json()
            verdict = judge(name, Observation.from_json(text), seed=2024, grading=True)
            assert verdict.status == status, verdict.message

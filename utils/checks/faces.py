"""Checks for the face-recognition exercises (notebooks 01-03)."""

from __future__ import annotations

import contextlib
import io
from typing import Callable

import numpy as np

from utils import assets, losses
from utils.checks._framework import Case, CheckFailed, Mistake, _tf, check_function, fail
from utils.faces import DEFAULT_THRESHOLD, NOT_RECOGNIZED, img_to_encoding

__all__ = ['check_triplet_loss', 'check_verify', 'check_who_is_it', 'check_chi_square_features',
           'check_build_siamese_head']

# ==============================================================================================

def _triplet_cases():
    rng = np.random.default_rng(1)
    encodings = [rng.normal(size=(3, 4, 8)).astype(np.float32), rng.normal(size=(3, 5, 16)).astype(np.float32)]
    return [
        Case((None, [np.array([[1.0, 1.0]], np.float32)] * 3), {"alpha": 5.0},
             "a perfect triplet with margin 5"),
        Case((None, (np.array([[1.0, 1.0]], np.float32), np.array([[1.0, 1.0]], np.float32),
                     np.array([[0.0, 0.0]], np.float32))), {"alpha": 3.0}, "d(A,P)=0, d(A,N)=2, margin 3"),
        Case((None, tuple(encodings[0])), {"alpha": 0.2}, "a random batch of 4 triplets, alpha=0.2"),
        Case((None, tuple(encodings[1])), {}, "a random batch of 5 triplets with the default alpha"),
        Case((None, (np.array([[0.0, 0.0], [0.0, 0.0]], np.float32), np.array([[1.0, 0.0], [0.0, 2.0]], np.float32),
                     np.array([[0.0, 2.0], [1.0, 0.0]], np.float32))), {"alpha": 4.0},
             "a batch of 2 where summing over the batch first changes the answer"),
        Case((None, (np.array([[0.0, 0.0], [0.0, 0.0]], np.float32), np.array([[1.0, 0.0], [0.0, 1.0]], np.float32),
                     np.array([[0.0, 0.0], [3.0, 0.0]], np.float32))), {"alpha": 1.0},
             "a hard triplet (loss 2) and an easy one (basic loss -7): the batch sum is negative"),
    ]


def _triplet_mistakes() -> list[Mistake]:
    tf = _tf()

    def distances(y_pred, squared=True, axis=-1):
        anchor, positive, negative = (tf.convert_to_tensor(t, tf.float32) for t in y_pred)
        square = tf.square if squared else tf.abs
        return (tf.reduce_sum(square(anchor - positive), axis=axis),
                tf.reduce_sum(square(anchor - negative), axis=axis))

    def max_of_sum(y_true, y_pred, alpha=0.2):
        pos, neg = distances(y_pred)
        return tf.maximum(tf.reduce_sum(pos - neg + alpha), 0.0)

    def no_axis(y_true, y_pred, alpha=0.2):
        pos, neg = distances(y_pred, axis=None)
        return tf.reduce_sum(tf.maximum(pos - neg + alpha, 0.0))

    def not_squared(y_true, y_pred, alpha=0.2):
        anchor, positive, negative = (tf.convert_to_tensor(t, tf.float32) for t in y_pred)
        pos = tf.norm(anchor - positive, axis=-1)
        neg = tf.norm(anchor - negative, axis=-1)
        return tf.reduce_sum(tf.maximum(pos - neg + alpha, 0.0))

    def squared_twice(y_true, y_pred, alpha=0.2):
        pos, neg = distances(y_pred)
        return tf.reduce_sum(tf.maximum(tf.square(pos) - tf.square(neg) + alpha, 0.0))

    def no_alpha(y_true, y_pred, alpha=0.2):
        pos, neg = distances(y_pred)
        return tf.reduce_sum(tf.maximum(pos - neg, 0.0))

    def mean_not_sum(y_true, y_pred, alpha=0.2):
        pos, neg = distances(y_pred)
        return tf.reduce_mean(tf.maximum(pos - neg + alpha, 0.0))

    def no_hinge(y_true, y_pred, alpha=0.2):
        pos, neg = distances(y_pred)
        return tf.reduce_sum(pos - neg + alpha)

    return [
        Mistake("max of the sum", "apply the hinge max(., 0) to EACH triplet's loss, then sum over the "
                "batch: tf.reduce_sum(tf.maximum(basic_loss, 0.0)), not tf.maximum(tf.reduce_sum(...), 0).",
                max_of_sum),
        Mistake("missing axis=-1", "sum the squared differences over the encoding axis only: "
                "tf.reduce_sum(tf.square(anchor - positive), axis=-1). Without axis=-1 the whole batch "
                "collapses into one number before the hinge.", no_axis),
        Mistake("distances not squared", "the triplet loss uses SQUARED distances ||f(A)-f(P)||^2: "
                "tf.reduce_sum(tf.square(...), axis=-1), not tf.norm.", not_squared),
        Mistake("squared twice", "you squared the distances twice: tf.reduce_sum(tf.square(a - p), axis=-1) "
                "is already the squared distance.", squared_twice),
        Mistake("forgot alpha", "add the margin alpha inside the hinge: pos_dist - neg_dist + alpha.", no_alpha),
        Mistake("mean instead of sum", "the course's loss SUMS the per-triplet losses over the batch "
                "(tf.reduce_sum), it does not average them.", mean_not_sum),
        Mistake("no hinge", "clip each triplet's loss at zero with tf.maximum(basic_loss, 0.0): easy "
                "triplets must contribute 0, not a negative number.", no_hinge),
    ]


def check_triplet_loss(triplet_loss: Callable) -> None:
    """Check the course exercise ``triplet_loss(y_true, y_pred, alpha=0.2)``.

    The result must be a ``tf.Tensor`` and the function must also work inside ``tf.function``
    (Keras compiles the loss into its training step).
    """
    check_function("triplet_loss", triplet_loss, losses.triplet_loss, _triplet_cases(), _triplet_mistakes(),
                   tensor_result=True, compiled="tf.function")




# ==============================================================================================
# Notebook 01: verify (1:1) and who_is_it (1:K) on the course faces.
#
# The learner's functions encode a real course image with ``img_to_encoding`` and compare it with
# a database. To reach every branch with exact, known distances, the checks also build small
# synthetic databases whose entries sit at chosen distances from the probe's real encoding
# (probe + distance * a random unit vector), plus one case with the learner's own database.

# The course's verify / who_is_it decide with dlib's threshold DEFAULT_THRESHOLD (0.6) and answer
# NOT_RECOGNIZED beyond it (both from utils.faces.constants).

#: Threshold of the original course's FaceNet (another encoder, another distance scale).
FACENET_THRESHOLD = 0.7

_encoding_cache: dict = {}


def _course_image(name: str):
    return assets.resolve("faces_demo") / "course" / name


def _probe_encoding(image_path, model) -> np.ndarray:
    """The course encoding (1, 128) of an image, computed once per (image, model)."""
    key = (str(image_path), id(model))
    if key not in _encoding_cache:
        _encoding_cache[key] = np.asarray(img_to_encoding(image_path, model), dtype=np.float64)
    return _encoding_cache[key]


def _database_at_distances(center: np.ndarray, distances: dict, seed: int) -> dict:
    """``{name: (1, d) float32}``, each entry ``distances[name]`` away from ``center``."""
    rng = np.random.default_rng(seed)
    database = {}
    for name, distance in distances.items():
        direction = rng.normal(size=center.shape)
        direction /= np.linalg.norm(direction)
        database[name] = (center + distance * direction).astype(np.float32)
    return database


def _plain(value):
    """Tensors and one-element arrays -> Python scalars, so 0.5, np.float32(0.5) and [0.5] compare equal."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    if isinstance(value, np.ndarray) and value.size == 1:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _quiet_learner(exercise: str, function: Callable) -> Callable:
    """Run the learner's function without its prints and normalise its ``(number, answer)`` result.

    Comparing a whole vector with the threshold (``if dist < 0.6`` on an array) is explained
    instead of showing NumPy's "truth value ... is ambiguous" error.
    """
    def run(*args, **kwargs):
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                result = function(*args, **kwargs)
        except ValueError as error:
            if "truth value of an array" not in str(error):
                raise
            raise CheckFailed(
                f"Exercise `{exercise}`: an array was compared with the threshold.\n  Likely mistake (the "
                f"vector instead of the norm): `dist` must be ONE number, the L2 norm of the difference: "
                f"np.linalg.norm(encoding - database[name]).") from None
        if isinstance(result, (tuple, list)):
            return tuple(_plain(item) for item in result)
        return result

    return run


def _distance(image_path, stored, model) -> float:
    return float(np.linalg.norm(_probe_encoding(image_path, model) - np.asarray(stored, np.float64)))


def _verify_reference(image_path, identity, database, model):
    distance = _distance(image_path, database[identity], model)
    return distance, distance < DEFAULT_THRESHOLD


def _verify_mistakes() -> list[Mistake]:
    def reversed_comparison(image_path, identity, database, model):
        distance, _ = _verify_reference(image_path, identity, database, model)
        return distance, distance > DEFAULT_THRESHOLD

    def squared_distance(image_path, identity, database, model):
        distance, _ = _verify_reference(image_path, identity, database, model)
        return distance ** 2, distance ** 2 < DEFAULT_THRESHOLD

    def squared_distance_returned(image_path, identity, database, model):
        distance, door_open = _verify_reference(image_path, identity, database, model)
        return distance ** 2, door_open

    def vector_returned(image_path, identity, database, model):
        vector = _probe_encoding(image_path, model) - np.asarray(database[identity], np.float64)
        return vector, bool(np.linalg.norm(vector) < DEFAULT_THRESHOLD)

    def facenet_threshold(image_path, identity, database, model):
        distance, _ = _verify_reference(image_path, identity, database, model)
        return distance, distance < FACENET_THRESHOLD

    def nearest_identity(image_path, identity, database, model):
        distance = min(_distance(image_path, stored, model) for stored in database.values())
        return distance, distance < DEFAULT_THRESHOLD

    squared_hint = ("return the Euclidean distance itself, np.linalg.norm(encoding - database[identity]), "
                    "not its square: the threshold 0.6 applies to the distance.")
    return [
        Mistake("threshold comparison reversed", "open the door when the distance is SMALL: "
                "door_open = dist < 0.6 (a small distance means the same person).", reversed_comparison),
        Mistake("squared distance", squared_hint, squared_distance),
        Mistake("squared distance returned", squared_hint, squared_distance_returned),
        Mistake("the vector instead of the norm", "`dist` must be one number: the L2 norm of the "
                "difference, np.linalg.norm(encoding - database[identity]), not the difference vector.",
                vector_returned),
        Mistake("the course's FaceNet threshold", "this notebook's encoder (dlib's ResNet) uses the "
                "threshold 0.6; 0.7 belonged to the course's FaceNet and its own distance scale.",
                facenet_threshold),
        Mistake("compared with the wrong identity", "compare the probe with database[identity], the "
                "person the visitor CLAIMS to be, not with whoever is closest in the database (that is "
                "who_is_it's job).", nearest_identity),
    ]


def _needs_course_database(exercise: str, database, names=("younes", "bertrand")) -> None:
    if not isinstance(database, dict) or any(name not in database for name in names):
        fail(f"check_{exercise} needs the course database: a dict {{name: img_to_encoding(image, model)}} "
              f"that holds {', '.join(repr(name) for name in names)} (build it in the cells above).")


def check_verify(verify: Callable, database: dict, model) -> None:
    """Check the course exercise ``verify(image_path, identity, database, model) -> (dist, door_open)``.

    Args:
        verify: the learner's function (its prints are silenced during the check).
        database: the learner's ``{name: encoding (1, 128)}`` of the course faces.
        model: the face encoder, passed through to ``img_to_encoding``.

    Returns:
        None; prints "All tests passed." when every case matches.
    """
    _needs_course_database("verify", database)
    probe = _course_image("camera_0.jpg")  # younes at the door
    center = _probe_encoding(probe, model)
    synthetic = _database_at_distances(center, {"anna": 0.35, "ben": 0.92, "carl": 0.65, "dora": 0.5}, seed=7)
    cases = [
        Case((probe, "anna", synthetic, model), description="a database entry at distance 0.35 from the probe"),
        Case((probe, "ben", synthetic, model),
             description="a claimed identity at distance 0.92 while another one is at 0.35"),
        Case((probe, "carl", synthetic, model), description="an entry at distance 0.65 (between 0.6 and 0.7)"),
        Case((probe, "younes", database, model), description="camera_0.jpg (younes) claiming to be younes"),
    ]
    check_function("verify", _quiet_learner("verify", verify), _verify_reference, cases, _verify_mistakes())


def _who_is_it_reference(image_path, database, model):
    best_distance, best_name = float("inf"), None
    for name, stored in database.items():
        distance = _distance(image_path, stored, model)
        if distance < best_distance:
            best_distance, best_name = distance, name
    return best_distance, best_name if best_distance < DEFAULT_THRESHOLD else NOT_RECOGNIZED


def _who_is_it_mistakes() -> list[Mistake]:
    def all_distances(image_path, database, model):
        return [(_distance(image_path, stored, model), name) for name, stored in database.items()]

    def decide(distance, name, threshold=DEFAULT_THRESHOLD):
        return distance, name if distance < threshold else NOT_RECOGNIZED

    def keeps_last(image_path, database, model):
        return decide(*all_distances(image_path, database, model)[-1])

    def never_updated(image_path, database, model):  # `if dist > min_dist` from 100, or min_dist not updated
        return 100, NOT_RECOGNIZED

    def keeps_maximum(image_path, database, model):
        return decide(*max(all_distances(image_path, database, model)))

    def threshold_reversed(image_path, database, model):
        distance, name = min(all_distances(image_path, database, model))
        return distance, name if distance > DEFAULT_THRESHOLD else NOT_RECOGNIZED

    def squared(image_path, database, model):
        distance, name = min(all_distances(image_path, database, model))
        return decide(distance ** 2, name)

    def never_rejects(image_path, database, model):
        return min(all_distances(image_path, database, model))

    def course_message(image_path, database, model):
        distance, name = min(all_distances(image_path, database, model))
        return distance, name if distance < DEFAULT_THRESHOLD else "Not in the database."

    def returns_none(image_path, database, model):
        distance, name = min(all_distances(image_path, database, model))
        return distance, name if distance < DEFAULT_THRESHOLD else None

    def facenet_threshold(image_path, database, model):
        return decide(*min(all_distances(image_path, database, model)), threshold=FACENET_THRESHOLD)

    message_hint = (f"beyond the threshold return the identity \"{NOT_RECOGNIZED}\" (the string the "
                    f"library's FaceDatabase uses); printing a message is fine, but the returned "
                    f"identity must say that nobody was recognized.")
    return [
        Mistake("keeps the last distance", "update BOTH min_dist and identity only when dist < min_dist; "
                "your loop ends with the last person of the database, not the closest.", keeps_last),
        Mistake("min_dist never updated", "min_dist is still its starting value 100: inside the loop, "
                "`if dist < min_dist:` then set BOTH min_dist = dist and identity = name.", never_updated),
        Mistake("comparison in the loop reversed", "keep the SMALLEST distance: `if dist < min_dist:`; "
                "your loop keeps the largest.", keeps_maximum),
        Mistake("threshold comparison reversed", f"the person is recognized when min_dist < 0.6; "
                f"answer \"{NOT_RECOGNIZED}\" when min_dist >= 0.6.", threshold_reversed),
        Mistake("squared distance", "use the Euclidean distance np.linalg.norm(encoding - db_enc), not "
                "its square.", squared),
        Mistake("no rejection", f"when even the closest person is at distance >= 0.6, the visitor is "
                f"not in the database: return (min_dist, \"{NOT_RECOGNIZED}\").", never_rejects),
        Mistake("the course's message instead of the identity", message_hint, course_message),
        Mistake("None instead of the identity", message_hint, returns_none),
        Mistake("the course's FaceNet threshold", "this notebook's encoder (dlib's ResNet) uses the "
                "threshold 0.6; 0.7 belonged to the course's FaceNet and its own distance scale.",
                facenet_threshold),
    ]


def check_who_is_it(who_is_it: Callable, database: dict, model) -> None:
    """Check the course exercise ``who_is_it(image_path, database, model) -> (min_dist, identity)``.

    Beyond the threshold 0.6 the identity must be ``"not recognized"``.

    Args:
        who_is_it: the learner's function (its prints are silenced during the check).
        database: the learner's ``{name: encoding (1, 128)}`` of the course faces.
        model: the face encoder, passed through to ``img_to_encoding``.

    Returns:
        None; prints "All tests passed." when every case matches.
    """
    _needs_course_database("who_is_it", database)
    probe = _course_image("camera_0.jpg")
    center = _probe_encoding(probe, model)
    # The closest entry sits in the middle: first, last and largest are all wrong answers.
    closest_inside = _database_at_distances(center, {"anna": 0.8, "ben": 0.35, "carl": 0.9, "dora": 0.5}, seed=11)
    all_far = _database_at_distances(center, {"anna": 0.95, "ben": 0.75, "carl": 0.85}, seed=12)
    between = _database_at_distances(center, {"anna": 0.9, "ben": 0.65}, seed=13)
    cases = [
        Case((probe, closest_inside, model), description="4 people at distances 0.8, 0.35, 0.9, 0.5"),
        Case((probe, all_far, model), description="3 people, all at distances >= 0.75 (a stranger)"),
        Case((probe, between, model), description="2 people at distances 0.9 and 0.65 (0.6 < 0.65 < 0.7)"),
        Case((_course_image("camera_1.jpg"), database, model), description="camera_1.jpg (bertrand)"),
    ]
    check_function("who_is_it", _quiet_learner("who_is_it", who_is_it), _who_is_it_reference, cases,
                          _who_is_it_mistakes())


# ==============================================================================================
# Notebook 03: verification as binary classification (a Siamese head on frozen encodings).

def _chi_square_reference(encodings_a, encodings_b, epsilon=1e-6):
    a = np.asarray(encodings_a, np.float64)
    b = np.asarray(encodings_b, np.float64)
    return (a - b) ** 2 / (np.abs(a) + np.abs(b) + epsilon)


def _feature_cases() -> list[Case]:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 0.1, (2, 4, 8)).astype(np.float32)
    c, d = rng.normal(0, 1.0, (2, 3, 5)).astype(np.float32)
    signs_a = np.array([[0.5, -0.25, 0.1, -0.4]], np.float32)
    signs_b = np.array([[-0.3, 0.25, 0.3, -0.1]], np.float32)
    return [
        Case((signs_a, signs_b), {"epsilon": 0.1}, "one pair of opposite-sign values, epsilon=0.1"),
        Case((a, b), {"epsilon": 0.01}, "4 pairs of 8-d encodings of dlib's scale, epsilon=0.01"),
        Case((c, d), {}, "3 pairs of 5-d encodings with the default epsilon"),
    ]


def check_chi_square_features(chi_square_features: Callable) -> None:
    """Check ``chi_square_features(encodings_a, encodings_b, epsilon=1e-6)`` -> (n, d).

    The features are ``(a - b)^2 / (|a| + |b| + epsilon)``, element by element (the absolute
    values make the denominator positive for signed encodings). The notebook then calls the
    function on the symbolic ``keras.Input`` tensors of a Keras model, so the check does too:
    NumPy code that works on arrays but not on Keras tensors fails here, with its own hint.
    """
    def signed_denominator(encodings_a, encodings_b, epsilon=1e-6):
        a, b = np.asarray(encodings_a, np.float64), np.asarray(encodings_b, np.float64)
        return (a - b) ** 2 / (a + b + epsilon)

    def no_epsilon(encodings_a, encodings_b, epsilon=1e-6):
        a, b = np.asarray(encodings_a, np.float64), np.asarray(encodings_b, np.float64)
        return (a - b) ** 2 / (np.abs(a) + np.abs(b))

    def not_squared(encodings_a, encodings_b, epsilon=1e-6):
        a, b = np.asarray(encodings_a, np.float64), np.asarray(encodings_b, np.float64)
        return np.abs(a - b) / (np.abs(a) + np.abs(b) + epsilon)

    def abs_of_sum(encodings_a, encodings_b, epsilon=1e-6):
        a, b = np.asarray(encodings_a, np.float64), np.asarray(encodings_b, np.float64)
        return (a - b) ** 2 / (np.abs(a + b) + epsilon)

    def summed(encodings_a, encodings_b, epsilon=1e-6):
        return np.sum(_chi_square_reference(encodings_a, encodings_b, epsilon), axis=-1)

    check_function("chi_square_features", chi_square_features, _chi_square_reference, _feature_cases(), [
        Mistake("signed denominator", "the encodings are signed, so f_i + f_j can be zero or negative: "
                "divide by |f_i| + |f_j| + epsilon (keras.ops.abs on each).", signed_denominator),
        Mistake("abs of the sum", "take the absolute value of EACH encoding: |f_i| + |f_j|, not |f_i + f_j| "
                "(which is 0 when they have opposite signs).", abs_of_sum),
        Mistake("forgot epsilon", "add epsilon to the denominator, so that two zeros give 0 instead of 0/0.",
                no_epsilon),
        Mistake("numerator not squared", "the numerator is the SQUARED difference (f_i - f_j)^2.", not_squared),
        Mistake("summed over the features", "return one feature per dimension, shape (n, d): do not sum "
                "over axis -1; the Dense layer of the head does the weighted sum.", summed),
    ], rtol=1e-4, atol=1e-6, compiled="keras")


def _head_output(build_siamese_head: Callable, encodings_a, encodings_b):
    """Build the learner's head for d = encodings_a.shape[1], give it known weights, run it."""
    dimension = encodings_a.shape[1]
    head = build_siamese_head(dimension)
    weights = getattr(head, "weights", None)
    if weights is None or not callable(head):
        fail(f"build_siamese_head({dimension}) should return a Keras model; got {type(head).__name__}.")
    shapes = sorted(tuple(int(size) for size in weight.shape) for weight in weights)
    if shapes != sorted([(dimension, 1), (1,)]):
        fail(f"build_siamese_head({dimension}): expected exactly one Dense(1) layer, i.e. weights of shapes "
              f"({dimension}, 1) and (1,); your model has {shapes or 'no weights'}.")
    for weight in weights:
        if len(weight.shape) == 2:
            weight.assign(_head_kernel(dimension))
        else:
            weight.assign(np.array([_HEAD_BIAS], np.float32))
    try:
        output = head([encodings_a, encodings_b], training=False)
    except CheckFailed:
        raise
    except Exception as error:
        fail(f"build_siamese_head({dimension}): calling the model on [encodings_a, encodings_b] (two inputs "
              f"of shape (n, {dimension})) raised {type(error).__name__}: {error}")
    return np.asarray(output, np.float64).reshape(len(encodings_a), -1)


_HEAD_BIAS = 0.3


def _head_kernel(dimension: int) -> np.ndarray:
    return np.linspace(-2.0, 3.0, dimension, dtype=np.float32).reshape(dimension, 1)


def _head_formula(features: np.ndarray, sigmoid: bool = True) -> np.ndarray:
    logits = features @ _head_kernel(features.shape[1]).astype(np.float64) + _HEAD_BIAS
    return 1.0 / (1.0 + np.exp(-logits)) if sigmoid else logits


#: The name of the head's Dense layer: the notebook reads its weights with ``get_layer(HEAD_LAYER)``.
HEAD_LAYER = "same_person"


def _require_named_dense(build_siamese_head: Callable, dimension: int = 4) -> None:
    """The head's Dense(1) layer must be named ``HEAD_LAYER`` (a later cell looks it up by name)."""
    import keras  # deferred: Keras is slow to import

    head = build_siamese_head(dimension)
    names = [layer.name for layer in getattr(head, "layers", [])]
    layer = next((layer for layer in getattr(head, "layers", []) if layer.name == HEAD_LAYER), None)
    if not isinstance(layer, keras.layers.Dense):
        found = f"a {type(layer).__name__} layer" if layer is not None else f"layers named {names}"
        fail(f"Exercise `build_siamese_head`: the output values are right, but the Dense layer is not named "
             f"\"{HEAD_LAYER}\" (your model has {found}).\n  Likely mistake (unnamed layer): create it as "
             f"keras.layers.Dense(1, activation=\"sigmoid\", name=\"{HEAD_LAYER}\"): a later cell reads its "
             f"weights with get_layer(\"{HEAD_LAYER}\").")


def check_build_siamese_head(build_siamese_head: Callable) -> None:
    """Check ``build_siamese_head(dimension)``: a Keras model [f_i, f_j] -> sigma(w . |f_i - f_j| + b).

    The check builds the learner's model for small dimensions, sets its Dense kernel and bias to
    known values and compares its output with the formula. The Dense layer must be named
    ``"same_person"`` (the notebook's instructions say so; a later cell calls
    ``get_layer("same_person")``).
    """
    rng = np.random.default_rng(5)
    cases = [Case(tuple(rng.normal(0, 0.3, (2, 3, 4)).astype(np.float32)), description="3 pairs of 4-d encodings"),
             Case(tuple(rng.normal(0, 0.1, (2, 5, 16)).astype(np.float32)), description="5 pairs of 16-d encodings")]

    def learner(encodings_a, encodings_b):
        return _head_output(build_siamese_head, encodings_a, encodings_b)

    def reference(encodings_a, encodings_b):
        return _head_formula(np.abs(encodings_a.astype(np.float64) - encodings_b))

    mistakes = [
        Mistake("no sigmoid", "the head outputs a probability: Dense(1, activation=\"sigmoid\").",
                lambda a, b: _head_formula(np.abs(a.astype(np.float64) - b), sigmoid=False)),
        Mistake("signed difference", "feed the ABSOLUTE difference |f_i - f_j| (keras.ops.abs): with the "
                "signed difference, swapping the two images changes the answer.",
                lambda a, b: _head_formula(a.astype(np.float64) - b)),
        Mistake("squared difference", "this head uses |f_i - f_j|, not its square (the chi-square variant "
                "comes later).", lambda a, b: _head_formula((a.astype(np.float64) - b) ** 2)),
        Mistake("one encoding only", "the head must combine BOTH encodings: |f_i - f_j|.",
                lambda a, b: _head_formula(a.astype(np.float64))),
    ]
    check_function("build_siamese_head", learner, reference, cases, mistakes, rtol=1e-4, atol=1e-5, quiet=True)
    _require_named_dense(build_siamese_head)
    print("All tests passed.")

"""Checks for the face-recognition exercises (notebooks 01-03)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from utils import assets, losses
from utils.checks._core import ContextProblem, ExerciseCheck, Finding, hidden_rng, register, run_check
from utils.checks._framework import Case, Mistake, _tf
from utils.faces import DEFAULT_THRESHOLD, NOT_RECOGNIZED, img_to_encoding, load_encoder, read_manifest

__all__ = ['check_triplet_loss', 'check_verify', 'check_who_is_it', 'check_chi_square_features',
           'check_build_siamese_head']

# ==============================================================================================

# What each case rules out: the perfect triplet: forgot alpha (the loss is alpha, not 0); d(A,P)=0,
# d(A,N)=2 with margin 3: distances not squared, squared twice; the random batches: missing
# axis=-1, mean instead of sum, a hard-coded alpha (alpha=0.2 and the default); the batch of 2:
# max of the sum; the hard + easy pair: no hinge (the batch sum is negative).
def _triplet_cases(context=None, seed=None):
    rng = np.random.default_rng(1)
    encodings = [rng.normal(size=(3, 4, 8)).astype(np.float32), rng.normal(size=(3, 5, 16)).astype(np.float32)]
    cases = [
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
    if seed is not None:
        hidden = hidden_rng(seed, "triplet_loss")
        for size, dimension in ((3, 6), (7, 16)):
            triplet = hidden.normal(0, 0.3, (3, size, dimension)).astype(np.float32)
            cases.append(Case((None, tuple(triplet)), {"alpha": float(hidden.uniform(0.1, 1.0))},
                              f"a random batch of {size} triplets"))
    return cases


def _triplet_mistakes(context=None) -> list[Mistake]:
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


register(ExerciseCheck(
    "triplet_loss", losses.triplet_loss, _triplet_cases, mistakes=_triplet_mistakes, tensor_result=True,
    compiled="tf.function", arg_names=("y_true", "y_pred", "alpha"), answer_key=("utils.losses.triplet_loss",),
    generic_hint="For each triplet (each row), take the squared distances ||A - P||^2 and ||A - N||^2 with "
                 "tf.reduce_sum(tf.square(...), axis=-1), then max(d(A,P) - d(A,N) + alpha, 0) per triplet, "
                 "then the sum over the batch."))


def check_triplet_loss(triplet_loss: Callable) -> None:
    """Check the course exercise ``triplet_loss(y_true, y_pred, alpha=0.2)``.

    The result must be a ``tf.Tensor`` and the function must also work inside ``tf.function``
    (Keras compiles the loss into its training step).

    Args:
        triplet_loss: the learner's function.

    Returns:
        None; prints "All tests passed." when every case matches.
    """
    run_check("triplet_loss", triplet_loss)




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


def _plain_result(exercise: str, function: Callable) -> Callable:
    """The learner's function with its ``(number, answer)`` result made plain Python values, so 0.5,
    np.float32(0.5) and [0.5] compare equal (prints are silenced by the check)."""
    def run(*args, **kwargs):
        result = function(*args, **kwargs)
        if isinstance(result, (tuple, list)):
            return tuple(_plain(item) for item in result)
        return result

    return run


def _compared_an_array(record: dict) -> bool:
    """The learner compared a whole vector with the threshold (NumPy: "truth value ... ambiguous")."""
    return record["type"] == "ValueError" and "truth value of an array" in record["message"]


_VECTOR_HINT = ("Likely mistake (the vector instead of the norm): an array was compared with the threshold; "
                "`dist` must be ONE number, the L2 norm of the difference: np.linalg.norm(encoding - database[name]).")


def _global_database_used(names) -> Callable:
    def predicate(record: dict) -> bool:
        return record["type"] == "KeyError" and any(repr(name) in record["message"] for name in names)

    return predicate


_GLOBAL_DATABASE_HINT = ("Likely mistake (the global `database` instead of the argument): look the names up in the "
                         "`database` your function receives; the check passes small databases of its own.")


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

    def low_threshold(image_path, identity, database, model):
        distance, _ = _verify_reference(image_path, identity, database, model)
        return distance, distance < 0.5

    def high_threshold(image_path, identity, database, model):
        distance, _ = _verify_reference(image_path, identity, database, model)
        return distance, distance < 0.63

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
        Mistake("a threshold below 0.6", "the door opens for every distance under THRESHOLD = 0.6 (the claim "
                "at 0.59 is the same person): compare with THRESHOLD, not with a number of your own.", low_threshold),
        Mistake("a threshold above 0.6", "the door stays shut from THRESHOLD = 0.6 on (the claim at 0.61 is "
                "somebody else): compare with THRESHOLD, not with a number of your own.", high_threshold),
        Mistake("compared with the wrong identity", "compare the probe with database[identity], the "
                "person the visitor CLAIMS to be, not with whoever is closest in the database (that is "
                "who_is_it's job).", nearest_identity),
    ]


def _needs_course_database(exercise: str, database, names=("younes", "bertrand")) -> None:
    if not isinstance(database, dict) or any(name not in database for name in names):
        raise ContextProblem(
            f"check_{exercise} needs the course database: a dict {{name: img_to_encoding(image, model)}} "
            f"that holds {', '.join(repr(name) for name in names)} (build it in the cells above).")


def _verify_context(database, model):
    _needs_course_database("verify", database)


_SYNTHETIC_NAMES = ("anna", "ben", "carl", "dora", "emil", "fay", "gus")


def _verify_cases(context: dict, seed=None) -> list[Case]:
    """The claims; what each rules out:

    * anna at 0.35 (door opens): threshold comparison reversed, the vector instead of the norm;
    * ben at 0.92 while anna is at 0.35: compared with the wrong identity (the closest one);
    * carl at 0.65: the course's FaceNet threshold 0.7, a threshold of 0.65 or above;
    * dora at 0.59 (just inside 0.6): a hard-coded threshold of 0.5 or 0.55, a squared distance
      (0.35 < 0.6 too, but 0.59² = 0.35 changes the returned distance);
    * emil at 0.61 (just outside): `<=` against a larger threshold, 0.62 ... 0.65;
    * younes claiming younes on the learner's own database: a real encoding and the learner's data.
    """
    database, model = context["database"], context["model"]
    probe = _course_image("camera_0.jpg")  # younes at the door
    center = _probe_encoding(probe, model)
    synthetic = _database_at_distances(center, {"anna": 0.35, "ben": 0.92, "carl": 0.65, "dora": 0.59,
                                                "emil": 0.61}, seed=7)
    cases = [
        Case((probe, "anna", synthetic, model), description="a database entry at distance 0.35 from the probe"),
        Case((probe, "ben", synthetic, model),
             description="a claimed identity at distance 0.92 while another one is at 0.35"),
        Case((probe, "carl", synthetic, model), description="an entry at distance 0.65 (between 0.6 and 0.7)"),
        Case((probe, "dora", synthetic, model), description="a claim at distance 0.59, just inside the threshold 0.6"),
        Case((probe, "emil", synthetic, model), description="a claim at distance 0.61, just outside the threshold 0.6"),
        Case((probe, "younes", database, model), description="camera_0.jpg (younes) claiming to be younes"),
    ]
    if seed is not None:
        rng = hidden_rng(seed, "verify")
        distances = {name: float(rng.uniform(low, high)) for name, (low, high) in
                     zip(("fay", "gus"), ((0.4, 0.595), (0.605, 0.9)))}
        hidden = _database_at_distances(center, distances, seed=int(rng.integers(1 << 30)))
        for name, distance in distances.items():
            cases.append(Case((probe, name, hidden, model), description=f"a claim at distance {distance:.3f}"))
    return cases


def _verify_mistakes_with_context(context: dict) -> list[Mistake]:
    def global_database(image_path, identity, database, model):
        return _verify_reference(image_path, identity, context["database"], model)

    return _verify_mistakes() + [
        Mistake("the global `database` instead of the argument", _GLOBAL_DATABASE_HINT.split(": ", 1)[1],
                global_database)]


def _trusted_faces_context() -> dict:
    """The course encoder and the course database, built the notebook's way from the assets."""
    model = load_encoder()
    rows = [row for row in read_manifest(assets.resolve("faces_demo") / "course") if row["role"] == "database"]
    return {"database": {row["identity"]: img_to_encoding(row["path"], model) for row in rows}, "model": model}


register(ExerciseCheck(
    "verify", _verify_reference, _verify_cases, mistakes=_verify_mistakes_with_context,
    arg_names=("image_path", "identity", "database", "model"), context=_verify_context,
    trusted_context=_trusted_faces_context, adapter=lambda function, context: _plain_result("verify", function),
    answer_key=("utils.faces.course.verify", "utils.faces.database.FaceDatabase.verify"),
    error_hints=[(_compared_an_array, "failed", _VECTOR_HINT),
                 (_global_database_used(_SYNTHETIC_NAMES), "failed", _GLOBAL_DATABASE_HINT)],
    generic_hint="Compute dist = np.linalg.norm(encoding - database[identity]) for the CLAIMED identity, and "
                 "open the door exactly when dist < THRESHOLD (0.6); return (dist, door_open)."))


def check_verify(verify: Callable, database: dict, model) -> None:
    """Check the course exercise ``verify(image_path, identity, database, model) -> (dist, door_open)``.

    Args:
        verify: the learner's function (its prints are silenced during the check).
        database: the learner's ``{name: encoding (1, 128)}`` of the course faces.
        model: the face encoder, passed through to ``img_to_encoding``.

    Returns:
        None; prints "All tests passed." when every case matches.
    """
    run_check("verify", verify, database, model)


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

    def low_threshold(image_path, database, model):
        return decide(*min(all_distances(image_path, database, model)), threshold=0.5)

    def high_threshold(image_path, database, model):
        return decide(*min(all_distances(image_path, database, model)), threshold=0.63)

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
        Mistake("a threshold below 0.6", "recognize the closest person whenever min_dist < THRESHOLD = 0.6 (at "
                "0.59 it is that person): compare with THRESHOLD, not with a number of your own.", low_threshold),
        Mistake("a threshold above 0.6", f"answer \"{NOT_RECOGNIZED}\" from THRESHOLD = 0.6 on (at 0.61 it is "
                f"a stranger): compare with THRESHOLD, not with a number of your own.", high_threshold),
    ]


def _who_is_it_context(database, model):
    _needs_course_database("who_is_it", database)


def _who_is_it_cases(context: dict, seed=None) -> list[Case]:
    """The visitors; what each rules out:

    * 4 people at 0.8, 0.35, 0.9, 0.5 (the closest in the middle): keeps the last distance, keeps
      the maximum, min_dist never updated, threshold comparison reversed, squared distance;
    * 3 people all >= 0.75 (a stranger): no rejection, the course's message, None as the identity;
    * closest at 0.65: the course's FaceNet threshold 0.7, any threshold above 0.65;
    * closest at 0.59 (just inside): a hard-coded 0.5 or 0.55;
    * closest at 0.61 (just outside): a threshold in (0.61, 0.65];
    * camera_1.jpg on the learner's own database: real encodings; the global `database` instead of
      the argument (the synthetic names are not in it).
    """
    database, model = context["database"], context["model"]
    probe = _course_image("camera_0.jpg")
    center = _probe_encoding(probe, model)
    # The closest entry sits in the middle: first, last and largest are all wrong answers.
    closest_inside = _database_at_distances(center, {"anna": 0.8, "ben": 0.35, "carl": 0.9, "dora": 0.5}, seed=11)
    all_far = _database_at_distances(center, {"anna": 0.95, "ben": 0.75, "carl": 0.85}, seed=12)
    between = _database_at_distances(center, {"anna": 0.9, "ben": 0.65}, seed=13)
    just_inside = _database_at_distances(center, {"emil": 0.8, "fay": 0.59, "gus": 0.7}, seed=14)
    just_outside = _database_at_distances(center, {"emil": 0.61, "fay": 0.95}, seed=15)
    cases = [
        Case((probe, closest_inside, model), description="4 people at distances 0.8, 0.35, 0.9, 0.5"),
        Case((probe, all_far, model), description="3 people, all at distances >= 0.75 (a stranger)"),
        Case((probe, between, model), description="2 people at distances 0.9 and 0.65 (0.6 < 0.65 < 0.7)"),
        Case((probe, just_inside, model), description="3 people at 0.8, 0.59 and 0.7 (0.59: just inside 0.6)"),
        Case((probe, just_outside, model), description="2 people at 0.61 and 0.95 (0.61: just outside 0.6)"),
        Case((_course_image("camera_1.jpg"), database, model), description="camera_1.jpg (bertrand)"),
    ]
    if seed is not None:
        rng = hidden_rng(seed, "who_is_it")
        for low, high in ((0.45, 0.595), (0.605, 0.8)):
            closest = float(rng.uniform(low, high))
            distances = {"anna": closest + 0.3, "ben": closest, "carl": closest + float(rng.uniform(0.05, 0.4))}
            hidden = _database_at_distances(center, distances, seed=int(rng.integers(1 << 30)))
            cases.append(Case((probe, hidden, model), description=f"3 people, the closest at {closest:.3f}"))
    return cases


def _who_is_it_mistakes_with_context(context: dict) -> list[Mistake]:
    def global_database(image_path, database, model):
        return _who_is_it_reference(image_path, context["database"], model)

    return _who_is_it_mistakes() + [
        Mistake("the global `database` instead of the argument", _GLOBAL_DATABASE_HINT.split(": ", 1)[1],
                global_database)]


register(ExerciseCheck(
    "who_is_it", _who_is_it_reference, _who_is_it_cases, mistakes=_who_is_it_mistakes_with_context,
    arg_names=("image_path", "database", "model"), context=_who_is_it_context,
    trusted_context=_trusted_faces_context, adapter=lambda function, context: _plain_result("who_is_it", function),
    answer_key=("utils.faces.course.who_is_it", "utils.faces.database.FaceDatabase.identify",
                "utils.faces.database.FaceDatabase.identify_many"),
    error_hints=[(_compared_an_array, "failed", _VECTOR_HINT)],
    generic_hint=(f"Loop over the database keeping the SMALLEST distance and its name (update both when "
                  f"dist < min_dist); then answer that name when min_dist < THRESHOLD (0.6), else "
                  f"\"{NOT_RECOGNIZED}\"; return (min_dist, identity).")))


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
    run_check("who_is_it", who_is_it, database, model)


# ==============================================================================================
# Notebook 03: verification as binary classification (a Siamese head on frozen encodings).

def _chi_square_reference(encodings_a, encodings_b, epsilon=1e-6):
    a = np.asarray(encodings_a, np.float64)
    b = np.asarray(encodings_b, np.float64)
    return (a - b) ** 2 / (np.abs(a) + np.abs(b) + epsilon)


# What each case rules out: opposite signs with epsilon=0.1: signed denominator, abs of the sum,
# forgot epsilon, a hard-coded epsilon; dlib-scale encodings: numerator not squared; the default
# epsilon on unit-scale values: summed over the features (the shape), a hard-coded epsilon.
def _feature_cases(context=None, seed=None) -> list[Case]:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 0.1, (2, 4, 8)).astype(np.float32)
    c, d = rng.normal(0, 1.0, (2, 3, 5)).astype(np.float32)
    signs_a = np.array([[0.5, -0.25, 0.1, -0.4]], np.float32)
    signs_b = np.array([[-0.3, 0.25, 0.3, -0.1]], np.float32)
    cases = [
        Case((signs_a, signs_b), {"epsilon": 0.1}, "one pair of opposite-sign values, epsilon=0.1"),
        Case((a, b), {"epsilon": 0.01}, "4 pairs of 8-d encodings of dlib's scale, epsilon=0.01"),
        Case((c, d), {}, "3 pairs of 5-d encodings with the default epsilon"),
    ]
    if seed is not None:
        hidden = hidden_rng(seed, "chi_square_features")
        e, f = hidden.normal(0, 0.2, (2, 6, 12)).astype(np.float32)
        cases.append(Case((e, f), {"epsilon": float(hidden.uniform(0.001, 0.1))}, "6 pairs of 12-d encodings"))
    return cases


def _chi_square_mistakes(context=None) -> list[Mistake]:
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

    def fixed_epsilon(encodings_a, encodings_b, epsilon=1e-6):
        return _chi_square_reference(encodings_a, encodings_b, 1e-6)

    return [
        Mistake("signed denominator", "the encodings are signed, so f_i + f_j can be zero or negative: "
                "divide by |f_i| + |f_j| + epsilon (keras.ops.abs on each).", signed_denominator),
        Mistake("abs of the sum", "take the absolute value of EACH encoding: |f_i| + |f_j|, not |f_i + f_j| "
                "(which is 0 when they have opposite signs).", abs_of_sum),
        Mistake("forgot epsilon", "add epsilon to the denominator, so that two zeros give 0 instead of 0/0.",
                no_epsilon),
        Mistake("numerator not squared", "the numerator is the SQUARED difference (f_i - f_j)^2.", not_squared),
        Mistake("summed over the features", "return one feature per dimension, shape (n, d): do not sum "
                "over axis -1; the Dense layer of the head does the weighted sum.", summed),
        Mistake("epsilon hard-coded", "use the epsilon argument, not the number 1e-6.", fixed_epsilon),
    ]


register(ExerciseCheck(
    "chi_square_features", _chi_square_reference, _feature_cases, mistakes=_chi_square_mistakes, rtol=1e-4,
    atol=1e-6, compiled="keras", arg_names=("encodings_a", "encodings_b", "epsilon"),
    generic_hint="Compute element by element (a - b)^2 / (|a| + |b| + epsilon) with keras.ops (keras.ops.square, "
                 "keras.ops.abs), keeping one feature per dimension: the result has the shape (n, d) of the inputs."))


def check_chi_square_features(chi_square_features: Callable) -> None:
    """Check ``chi_square_features(encodings_a, encodings_b, epsilon=1e-6)`` -> (n, d).

    The features are ``(a - b)^2 / (|a| + |b| + epsilon)``, element by element (the absolute
    values make the denominator positive for signed encodings). The notebook then calls the
    function on the symbolic ``keras.Input`` tensors of a Keras model, so the check does too:
    NumPy or tf.* code that works on arrays but not on Keras tensors fails here, with its own hint.

    Args:
        chi_square_features: the learner's function.

    Returns:
        None; prints "All tests passed." when every case matches.
    """
    run_check("chi_square_features", chi_square_features)


def _head_output(build_siamese_head: Callable, encodings_a, encodings_b):
    """Build the learner's head for d = encodings_a.shape[1], give it known weights, run it.

    Raises :class:`Finding` when the learner's object is not a model with one Dense(1) layer or
    cannot be called on two inputs (the judge turns it into a message).
    """
    dimension = encodings_a.shape[1]
    head = build_siamese_head(dimension)
    weights = getattr(head, "weights", None)
    if weights is None or not callable(head):
        raise Finding("not a model", f"build_siamese_head({dimension}) should return a Keras model; got "
                                     f"{type(head).__name__}.")
    shapes = sorted(tuple(int(size) for size in weight.shape) for weight in weights)
    if shapes != sorted([(dimension, 1), (1,)]):
        raise Finding("weights", f"build_siamese_head({dimension}): expected exactly one Dense(1) layer, i.e. "
                                 f"weights of shapes ({dimension}, 1) and (1,); your model has {shapes or 'no weights'}.")
    for weight in weights:
        if len(weight.shape) == 2:
            weight.assign(_head_kernel(dimension))
        else:
            weight.assign(np.array([_HEAD_BIAS], np.float32))
    try:
        output = head([encodings_a, encodings_b], training=False)
    except Exception as error:
        raise Finding("call", f"build_siamese_head({dimension}): calling the model on [encodings_a, encodings_b] "
                              f"(two inputs of shape (n, {dimension})) raised {type(error).__name__}: "
                              f"{str(error)[:200]}") from None
    return np.asarray(output, np.float64).reshape(len(encodings_a), -1)


_HEAD_BIAS = 0.3


def _head_kernel(dimension: int) -> np.ndarray:
    return np.linspace(-2.0, 3.0, dimension, dtype=np.float32).reshape(dimension, 1)


def _head_formula(features: np.ndarray, sigmoid: bool = True) -> np.ndarray:
    logits = features @ _head_kernel(features.shape[1]).astype(np.float64) + _HEAD_BIAS
    return 1.0 / (1.0 + np.exp(-logits)) if sigmoid else logits


#: The name of the head's Dense layer: the notebook reads its weights with ``get_layer(HEAD_LAYER)``.
HEAD_LAYER = "same_person"


def _dense_layer_name(build_siamese_head: Callable, context: dict) -> dict:
    """Kernel side: is the head's Dense(1) layer named ``HEAD_LAYER``? (a later cell looks it up by name)."""
    import keras  # deferred: Keras is slow to import

    try:
        head = build_siamese_head(4)
        layers = list(getattr(head, "layers", []))
    except Exception:
        return {"dense_layer": "unbuildable"}
    layer = next((layer for layer in layers if layer.name == HEAD_LAYER), None)
    if isinstance(layer, keras.layers.Dense):
        return {"dense_layer": "ok"}
    found = f"a {type(layer).__name__} layer" if layer is not None else f"layers named {[l.name for l in layers]}"
    return {"dense_layer": found[:300]}


def _dense_named(extras: dict) -> str | None:
    found = extras.get("dense_layer", "ok")
    if found in ("ok", "unbuildable"):
        return None
    return (f"the output values are right, but the Dense layer is not named \"{HEAD_LAYER}\" (your model has "
            f"{found}).\n  Likely mistake (unnamed layer): create it as keras.layers.Dense(1, activation=\"sigmoid\", "
            f"name=\"{HEAD_LAYER}\"): a later cell reads its weights with get_layer(\"{HEAD_LAYER}\").")


def _head_reference(encodings_a, encodings_b):
    return _head_formula(np.abs(encodings_a.astype(np.float64) - encodings_b))


# What each case rules out: 3 pairs of 4-d encodings with the check's kernel (signs mixed): no
# sigmoid, signed difference, squared difference, one encoding only; 5 pairs of 16-d small encodings:
# a hard-coded dimension (128) and a head that ignores the `dimension` argument.
def _head_cases(context=None, seed=None) -> list[Case]:
    rng = np.random.default_rng(5)
    cases = [Case(tuple(rng.normal(0, 0.3, (2, 3, 4)).astype(np.float32)), description="3 pairs of 4-d encodings"),
             Case(tuple(rng.normal(0, 0.1, (2, 5, 16)).astype(np.float32)), description="5 pairs of 16-d encodings")]
    if seed is not None:
        hidden = hidden_rng(seed, "build_siamese_head")
        dimension = int(hidden.integers(5, 40))
        cases.append(Case(tuple(hidden.normal(0, 0.2, (2, 4, dimension)).astype(np.float32)),
                          description=f"4 pairs of {dimension}-d encodings"))
    return cases


def _head_mistakes(context=None) -> list[Mistake]:
    return [
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


register(ExerciseCheck(
    "build_siamese_head", _head_reference, _head_cases, mistakes=_head_mistakes, rtol=1e-4, atol=1e-5,
    arg_names=("encodings_a", "encodings_b"),
    adapter=lambda function, context: (lambda a, b: _head_output(function, a, b)),
    findings={"not a model": "{detail}", "weights": "{detail}", "call": "{detail}"},
    extras=_dense_layer_name, finish=_dense_named,
    generic_hint="The model takes [f_i, f_j] (two keras.Input of shape (dimension,)), computes |f_i - f_j| with "
                 "keras.ops.abs, and ends in ONE Dense(1, activation=\"sigmoid\") layer: output = "
                 "sigma(w . |f_i - f_j| + b)."))


def check_build_siamese_head(build_siamese_head: Callable) -> None:
    """Check ``build_siamese_head(dimension)``: a Keras model [f_i, f_j] -> sigma(w . |f_i - f_j| + b).

    The check builds the learner's model for small dimensions, sets its Dense kernel and bias to
    known values and compares its output with the formula. The Dense layer must be named
    ``"same_person"`` (the notebook's instructions say so; a later cell calls
    ``get_layer("same_person")``).

    Args:
        build_siamese_head: the learner's function.

    Returns:
        None; prints "All tests passed." when every case matches.
    """
    run_check("build_siamese_head", build_siamese_head)

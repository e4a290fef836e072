"""Checks for notebook 01: face verification (1:1) and face recognition (1:K) (the triplet loss: :mod:`.triplet`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from utils import assets
from utils.checks.cases import Case, ErrorHint, Mistake, hidden_rng
from utils.checks.declaration import Exercise
from utils.errors import CheckContextError
from utils.faces import DEFAULT_THRESHOLD, NOT_RECOGNIZED, img_to_encoding, load_encoder, read_manifest

__all__ = ["check_verify", "check_who_is_it"]

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


def _compared_an_array(record: dict) -> bool:
    """NumPy refused to use a whole array as one True/False ("The truth value of an array ... is ambiguous")."""
    return record["type"] == "ValueError" and "truth value of an array" in record["message"]


#: An array used as one True/False: the distance is a vector, not its norm.
VECTOR_COMPARED = ErrorHint(
    _compared_an_array,
    (
        "Likely mistake (the vector instead of the norm): an array was used where one True/False is needed (in a "
        "comparison with the threshold or with min_dist); `dist` must be ONE number, the L2 norm of the difference: "
        "np.linalg.norm(encoding - database[name])."
    ),
)

#: The names of the check's own small databases: a KeyError naming one shows the learner looked them
#: up in another dict than the argument.
_SYNTHETIC_NAMES = ("anna", "ben", "carl", "dora", "emil", "fay", "gus", "gwen", "hugo", "ivan", "jon")

GLOBAL_DATABASE = ErrorHint(
    lambda record: record["type"] == "KeyError" and any(repr(name) in record["message"] for name in _SYNTHETIC_NAMES),
    "Likely mistake (the global `database` instead of the argument): look the names up in the `database` your "
    "function receives; the check passes small databases of its own.",
)


def _distance(image_path, stored, model) -> float:
    return float(np.linalg.norm(_probe_encoding(image_path, model) - np.asarray(stored, np.float64)))


def _verify_reference(image_path, identity, database, model):
    distance = _distance(image_path, database[identity], model)
    return distance, distance < DEFAULT_THRESHOLD


def _verify_reversed_comparison(image_path, identity, database, model):
    distance, _ = _verify_reference(image_path, identity, database, model)
    return distance, distance > DEFAULT_THRESHOLD


def _verify_squared_distance(image_path, identity, database, model):
    distance, _ = _verify_reference(image_path, identity, database, model)
    return distance**2, distance**2 < DEFAULT_THRESHOLD


def _verify_squared_distance_returned(image_path, identity, database, model):
    distance, door_open = _verify_reference(image_path, identity, database, model)
    return distance**2, door_open


def _verify_vector_returned(image_path, identity, database, model):
    vector = _probe_encoding(image_path, model) - np.asarray(database[identity], np.float64)
    return vector, bool(np.linalg.norm(vector) < DEFAULT_THRESHOLD)


def _verify_facenet_threshold(image_path, identity, database, model):
    distance, _ = _verify_reference(image_path, identity, database, model)
    return distance, distance < FACENET_THRESHOLD


def _verify_low_threshold(image_path, identity, database, model):
    distance, _ = _verify_reference(image_path, identity, database, model)
    return distance, distance < 0.5


def _verify_high_threshold(image_path, identity, database, model):
    distance, _ = _verify_reference(image_path, identity, database, model)
    return distance, distance < 0.63


def _verify_squared_compared(image_path, identity, database, model):
    distance, _ = _verify_reference(image_path, identity, database, model)
    return distance, distance**2 < DEFAULT_THRESHOLD


def _verify_nearest_identity(image_path, identity, database, model):
    distance = min(_distance(image_path, stored, model) for stored in database.values())
    return distance, distance < DEFAULT_THRESHOLD


def _verify_mistakes(context: dict) -> list[Mistake]:
    squared_hint = (
        "return the Euclidean distance itself, np.linalg.norm(encoding - database[identity]), "
        "not its square: the threshold 0.6 applies to the distance."
    )
    return [
        Mistake(
            "threshold comparison reversed",
            "open the door when the distance is SMALL: "
            "door_open = dist < 0.6 (a small distance means the same person).",
            _verify_reversed_comparison,
        ),
        Mistake("squared distance", squared_hint, _verify_squared_distance),
        Mistake("squared distance returned", squared_hint, _verify_squared_distance_returned),
        Mistake(
            "squared distance compared with the threshold",
            "compare the distance itself with the "
            "threshold: door_open = dist < THRESHOLD, not dist ** 2 < THRESHOLD (the claim at 0.74 is somebody "
            "else, though 0.74 ** 2 < 0.6).",
            _verify_squared_compared,
        ),
        Mistake(
            "the vector instead of the norm",
            "`dist` must be one number: the L2 norm of the "
            "difference, np.linalg.norm(encoding - database[identity]), not the difference vector.",
            _verify_vector_returned,
        ),
        Mistake(
            "the course's FaceNet threshold",
            "this notebook's encoder (dlib's ResNet) uses the "
            "threshold 0.6; 0.7 belonged to the course's FaceNet and its own distance scale.",
            _verify_facenet_threshold,
        ),
        Mistake(
            "a threshold below 0.6",
            "the door opens for every distance under THRESHOLD = 0.6 (the claim "
            "at 0.59 is the same person): compare with THRESHOLD, not with a number of your own.",
            _verify_low_threshold,
        ),
        Mistake(
            "a threshold above 0.6",
            "the door stays shut from THRESHOLD = 0.6 on (the claim at 0.61 is "
            "somebody else): compare with THRESHOLD, not with a number of your own.",
            _verify_high_threshold,
        ),
        Mistake(
            "compared with the wrong identity",
            "compare the probe with database[identity], the "
            "person the visitor CLAIMS to be, not with whoever is closest in the database (that is "
            "who_is_it's job).",
            _verify_nearest_identity,
        ),
    ]


def _needs_course_database(exercise: str, database, names=("younes", "bertrand")) -> None:
    """Raise :class:`CheckContextError` unless ``database`` is the course's (a dict holding ``names``)."""
    if not isinstance(database, dict) or any(name not in database for name in names):
        raise CheckContextError(
            f"check_{exercise} needs the course database: a dict {{name: img_to_encoding(image, model)}} "
            f"that holds {', '.join(repr(name) for name in names)} (build it in the cells above)."
        )


def _verify_cases(context: dict, seed: int | None) -> list[Case]:
    """The claims; what each rules out:

    * anna at 0.35 (door opens): threshold comparison reversed, the vector instead of the norm;
    * ben at 0.92 while anna is at 0.35: compared with the wrong identity (the closest one);
    * carl at 0.65: the course's FaceNet threshold 0.7, a threshold of 0.65 or above;
    * dora at 0.59 (just inside 0.6): a hard-coded threshold of 0.5 or 0.55, a squared distance
      (0.35 < 0.6 too, but 0.59² = 0.35 changes the returned distance);
    * emil at 0.61 (just outside): `<=` against a larger threshold, 0.62 ... 0.65;
    * gwen at 0.74 (0.74² = 0.55 < 0.6 < 0.7 < 0.74): the squared distance compared with the
      threshold, told apart from FaceNet's 0.7;
    * younes claiming younes on the learner's own database: a real encoding and the learner's data.
    """
    database, model = context["database"], context["model"]
    probe = _course_image("camera_0.jpg")  # younes at the door
    center = _probe_encoding(probe, model)
    synthetic = _database_at_distances(
        center, {"anna": 0.35, "ben": 0.92, "carl": 0.65, "dora": 0.59, "emil": 0.61, "gwen": 0.74}, seed=7
    )
    cases = [
        Case((probe, "anna", synthetic, model), description="a database entry at distance 0.35 from the probe"),
        Case(
            (probe, "ben", synthetic, model),
            description="a claimed identity at distance 0.92 while another one is at 0.35",
        ),
        Case((probe, "carl", synthetic, model), description="an entry at distance 0.65 (between 0.6 and 0.7)"),
        Case((probe, "dora", synthetic, model), description="a claim at distance 0.59, just inside the threshold 0.6"),
        Case((probe, "emil", synthetic, model), description="a claim at distance 0.61, just outside the threshold 0.6"),
        Case((probe, "gwen", synthetic, model), description="a claim at distance 0.74 (its square 0.55 is below 0.6)"),
        Case((probe, "younes", database, model), description="camera_0.jpg (younes) claiming to be younes"),
    ]
    if seed is not None:
        rng = hidden_rng(seed, "verify")
        distances = {
            name: float(rng.uniform(low, high))
            for name, (low, high) in zip(("fay", "gus"), ((0.4, 0.595), (0.605, 0.9)))
        }
        hidden = _database_at_distances(center, distances, seed=int(rng.integers(1 << 30)))
        for name, distance in distances.items():
            cases.append(Case((probe, name, hidden, model), description=f"a claim at distance {distance:.3f}"))
    return cases


def _trusted_faces_context() -> dict:
    """The course encoder and the course database, built the notebook's way from the assets."""
    model = load_encoder()
    rows = [row for row in read_manifest(assets.resolve("faces_demo") / "course") if row["role"] == "database"]
    return {"database": {row["identity"]: img_to_encoding(row["path"], model) for row in rows}, "model": model}


@Exercise.declare(
    reference=_verify_reference,
    cases=_verify_cases,
    mistakes=_verify_mistakes,
    trusted_context=_trusted_faces_context,
    answer_key=("utils.faces.course.verify", "utils.faces.database.FaceDatabase.verify"),
    error_hints=[VECTOR_COMPARED, GLOBAL_DATABASE],
    hint="Compute dist = np.linalg.norm(encoding - database[identity]) for the CLAIMED identity, and open the door "
    "exactly when dist < THRESHOLD (0.6); return (dist, door_open).",
)
def check_verify(verify: Callable, database: dict, model) -> None:
    """Check the course exercise ``verify(image_path, identity, database, model) -> (dist, door_open)``.

    ``dist`` is one number (a float, not an array of shape (1,)), ``door_open`` a bool.

    Args:
        verify: the learner's function (its prints are silenced during the check).
        database: the learner's ``{name: encoding (1, 128)}`` of the course faces.
        model: the face encoder, passed through to ``img_to_encoding``.

    Returns:
        None; prints "All tests passed." when every case matches.

    Raises:
        CheckContextError: ``database`` is not the course's (checked first, by the body below).
    """
    _needs_course_database("verify", database)


def _who_is_it_reference(image_path, database, model):
    best_distance, best_name = float("inf"), None
    for name, stored in database.items():
        distance = _distance(image_path, stored, model)
        if distance < best_distance:
            best_distance, best_name = distance, name
    return best_distance, best_name if best_distance < DEFAULT_THRESHOLD else NOT_RECOGNIZED


# Wrong who_is_it answers, as learners write them (the mistakes below name them).
def _who_all_distances(image_path, database, model):
    return [(_distance(image_path, stored, model), name) for name, stored in database.items()]


def _who_decide(distance, name, threshold=DEFAULT_THRESHOLD):
    return distance, name if distance < threshold else NOT_RECOGNIZED


def _who_keeps_last(image_path, database, model):
    return _who_decide(*_who_all_distances(image_path, database, model)[-1])


def _who_never_updated(image_path, database, model):  # `if dist > min_dist` from 100, or min_dist not updated
    return 100, NOT_RECOGNIZED


def _who_starts_at_one(image_path, database, model):  # min_dist = 1.0 before the loop
    distance, name = min(_who_all_distances(image_path, database, model))
    return _who_decide(distance, name) if distance < 1.0 else (1.0, NOT_RECOGNIZED)


def _who_global_database(context: dict) -> Callable:
    def who_is_it(image_path, database, model):
        return _who_is_it_reference(image_path, context["database"], model)

    return who_is_it


def _who_keeps_maximum(image_path, database, model):
    return _who_decide(*max(_who_all_distances(image_path, database, model)))


def _who_threshold_reversed(image_path, database, model):
    distance, name = min(_who_all_distances(image_path, database, model))
    return distance, name if distance > DEFAULT_THRESHOLD else NOT_RECOGNIZED


def _who_squared(image_path, database, model):
    distance, name = min(_who_all_distances(image_path, database, model))
    return _who_decide(distance**2, name)


def _who_never_rejects(image_path, database, model):
    return min(_who_all_distances(image_path, database, model))


def _who_course_message(image_path, database, model):
    distance, name = min(_who_all_distances(image_path, database, model))
    return distance, name if distance < DEFAULT_THRESHOLD else "Not in the database."


def _who_low_threshold(image_path, database, model):
    return _who_decide(*min(_who_all_distances(image_path, database, model)), threshold=0.5)


def _who_high_threshold(image_path, database, model):
    return _who_decide(*min(_who_all_distances(image_path, database, model)), threshold=0.63)


def _who_returns_none(image_path, database, model):
    distance, name = min(_who_all_distances(image_path, database, model))
    return distance, name if distance < DEFAULT_THRESHOLD else None


def _who_facenet_threshold(image_path, database, model):
    return _who_decide(*min(_who_all_distances(image_path, database, model)), threshold=FACENET_THRESHOLD)


def _who_is_it_mistakes(context: dict) -> list[Mistake]:
    message_hint = (
        f'beyond the threshold return the identity "{NOT_RECOGNIZED}" (the string the '
        f"library's FaceDatabase uses); printing a message is fine, but the returned "
        f"identity must say that nobody was recognized."
    )
    return [
        Mistake(
            "keeps the last distance",
            "update BOTH min_dist and identity only when dist < min_dist; "
            "your loop ends with the last person of the database, not the closest.",
            _who_keeps_last,
        ),
        Mistake(
            "min_dist never updated",
            "min_dist is still its starting value 100: inside the loop, "
            "`if dist < min_dist:` then set BOTH min_dist = dist and identity = name.",
            _who_never_updated,
        ),
        Mistake(
            "min_dist starts at 1.0",
            'start min_dist above any distance (100, or float("inf")): a '
            "stranger can be farther than 1.0 from everybody, and then min_dist must be that distance.",
            _who_starts_at_one,
        ),
        Mistake(
            "comparison in the loop reversed",
            "keep the SMALLEST distance: `if dist < min_dist:`; your loop keeps the largest.",
            _who_keeps_maximum,
        ),
        Mistake(
            "threshold comparison reversed",
            f'the person is recognized when min_dist < 0.6; answer "{NOT_RECOGNIZED}" when min_dist >= 0.6.',
            _who_threshold_reversed,
        ),
        Mistake(
            "squared distance",
            "use the Euclidean distance np.linalg.norm(encoding - db_enc), not its square.",
            _who_squared,
        ),
        Mistake(
            "no rejection",
            f"when even the closest person is at distance >= 0.6, the visitor is "
            f'not in the database: return (min_dist, "{NOT_RECOGNIZED}").',
            _who_never_rejects,
        ),
        Mistake("the course's message instead of the identity", message_hint, _who_course_message),
        Mistake("None instead of the identity", message_hint, _who_returns_none),
        Mistake(
            "the course's FaceNet threshold",
            "this notebook's encoder (dlib's ResNet) uses the "
            "threshold 0.6; 0.7 belonged to the course's FaceNet and its own distance scale.",
            _who_facenet_threshold,
        ),
        Mistake(
            "a threshold below 0.6",
            "recognize the closest person whenever min_dist < THRESHOLD = 0.6 (at "
            "0.59 it is that person): compare with THRESHOLD, not with a number of your own.",
            _who_low_threshold,
        ),
        Mistake(
            "a threshold above 0.6",
            f'answer "{NOT_RECOGNIZED}" from THRESHOLD = 0.6 on (at 0.61 it is '
            f"a stranger): compare with THRESHOLD, not with a number of your own.",
            _who_high_threshold,
        ),
        Mistake(
            "the global `database` instead of the argument",
            GLOBAL_DATABASE.hint.split(": ", 1)[1],
            _who_global_database(context),
        ),
    ]


def _who_is_it_cases(context: dict, seed: int | None) -> list[Case]:
    """The visitors; what each rules out:

    * 4 people at 0.8, 0.35, 0.9, 0.5 (the closest in the middle): keeps the last distance, keeps
      the maximum, min_dist never updated, threshold comparison reversed, squared distance;
    * 3 people all >= 0.75 (a stranger): no rejection, the course's message, None as the identity;
    * 3 people all farther than 1.0 (dlib's impostors can be): min_dist starting at 1.0;
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
    far_away = _database_at_distances(center, {"hugo": 1.3, "ivan": 1.1, "jon": 1.45}, seed=16)
    cases = [
        Case((probe, closest_inside, model), description="4 people at distances 0.8, 0.35, 0.9, 0.5"),
        Case((probe, all_far, model), description="3 people, all at distances >= 0.75 (a stranger)"),
        Case((probe, between, model), description="2 people at distances 0.9 and 0.65 (0.6 < 0.65 < 0.7)"),
        Case((probe, just_inside, model), description="3 people at 0.8, 0.59 and 0.7 (0.59: just inside 0.6)"),
        Case((probe, just_outside, model), description="2 people at 0.61 and 0.95 (0.61: just outside 0.6)"),
        Case((probe, far_away, model), description="3 people at 1.3, 1.1 and 1.45 (a stranger farther than 1.0)"),
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


@Exercise.declare(
    reference=_who_is_it_reference,
    cases=_who_is_it_cases,
    mistakes=_who_is_it_mistakes,
    trusted_context=_trusted_faces_context,
    error_hints=[VECTOR_COMPARED],
    answer_key=(
        "utils.faces.course.who_is_it",
        "utils.faces.database.FaceDatabase.identify",
        "utils.faces.database.FaceDatabase.identify_many",
    ),
    hint=(
        f"Loop over the database keeping the SMALLEST distance and its name (update both when dist < min_dist); "
        f'then answer that name when min_dist < THRESHOLD (0.6), else "{NOT_RECOGNIZED}"; return '
        f"(min_dist, identity)."
    ),
)
def check_who_is_it(who_is_it: Callable, database: dict, model) -> None:
    """Check the course exercise ``who_is_it(image_path, database, model) -> (min_dist, identity)``.

    ``min_dist`` is one number (a float); beyond the threshold 0.6 the identity is ``"not recognized"``.

    Args:
        who_is_it: the learner's function (its prints are silenced during the check).
        database: the learner's ``{name: encoding (1, 128)}`` of the course faces.
        model: the face encoder, passed through to ``img_to_encoding``.

    Returns:
        None; prints "All tests passed." when every case matches.

    Raises:
        CheckContextError: ``database`` is not the course's (checked first, by the body below).
    """
    _needs_course_database("who_is_it", database)

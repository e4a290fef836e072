"""Tests for utils.faces.distractors: the two-level Gaussian fitted to encodings with identities.

The data are drawn from a known model (between-person and within-person covariances chosen by
hand), so the fitted covariances and the sampled spreads can be checked against true values.
"""

import numpy as np
import pytest

from utils.errors import UsageError
from utils.faces.distractors import DistractorModel


def _known_model_data(people=2000, photos=4, seed=0):
    rng = np.random.default_rng(seed)
    between = np.diag(np.linspace(0.02, 0.002, 16))  # spread of the people's centres
    within_sd = 0.03  # spread of one person's photos, in every dimension
    centres = 0.1 + rng.multivariate_normal(np.zeros(16), between, people)
    encodings = np.repeat(centres, photos, axis=0) + rng.normal(0, within_sd, (people * photos, 16))
    return encodings, np.repeat(np.arange(people), photos), between, within_sd


def test_fit_recovers_the_between_and_within_covariances():
    encodings, identities, between, within_sd = _known_model_data()
    model = DistractorModel.fit(encodings, identities)
    assert model.people == 2000 and model.photos == 8000 and model.dimension == 16
    np.testing.assert_allclose(model.mean, 0.1, atol=0.01)
    np.testing.assert_allclose(np.diag(model.within_covariance), within_sd**2, rtol=0.05)
    np.testing.assert_allclose(np.diag(model.between_covariance), np.diag(between), rtol=0.1, atol=2e-4)
    assert np.all(np.linalg.eigvalsh(model.between_covariance) >= -1e-12)  # clipped to be a covariance


def test_samples_have_the_real_spreads():
    encodings, identities, between, within_sd = _known_model_data()
    model = DistractorModel.fit(encodings, identities)
    vectors, person = model.sample(100_000, photos_per_identity=2, seed=3)
    assert vectors.shape == (100_000, 16) and vectors.dtype == np.float32
    assert person[:6].tolist() == [0, 0, 1, 1, 2, 2] and person[-1] == 49_999
    total = np.trace(np.cov(vectors, rowvar=False))
    assert total == pytest.approx(np.trace(between) + 16 * within_sd**2, rel=0.03)
    same_person = np.linalg.norm(vectors[0::2] - vectors[1::2], axis=1)  # two photos of one synthetic person
    assert np.mean(same_person**2) == pytest.approx(2 * 16 * within_sd**2, rel=0.03)
    np.testing.assert_array_equal(model.sample(1000, seed=5)[0], model.sample(1000, seed=5)[0])  # reproducible


def test_bad_input_is_refused():
    with pytest.raises(UsageError, match="at least one identity with two"):
        DistractorModel.fit(np.zeros((3, 4)), ["a", "b", "c"])
    with pytest.raises(UsageError, match=r"encodings \(n, d\) and identities \(n,\)"):
        DistractorModel.fit(np.zeros((3, 4)), ["a", "a"])
    encodings, identities, _, _ = _known_model_data(people=20)
    with pytest.raises(UsageError, match="photos_per_identity >= 1"):
        DistractorModel.fit(encodings, identities).sample(5, photos_per_identity=0)

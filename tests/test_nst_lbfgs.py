"""Tests of utils.nst.lbfgs: projected L-BFGS in TensorFlow, on small problems with known minima."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from scipy.optimize import minimize as scipy_minimize
from scipy.optimize import rosen, rosen_der

from utils.nst import lbfgs


def quadratic(target, scales):
    """f(x) = Σ scale_i (x_i - target_i)², an ill-conditioned bowl (condition number = max/min scale)."""
    target, scales = tf.constant(target, tf.float32), tf.constant(scales, tf.float32)

    def function(x):
        difference = x - target
        return tf.reduce_sum(scales * difference**2), 2.0 * scales * difference

    return function


def test_bounded_minimum_of_an_ill_conditioned_bowl():
    rng = np.random.default_rng(0)
    target = rng.uniform(-0.5, 1.5, 200).astype(np.float32)  # about half of the minimum lies outside [0, 1]
    scales = np.exp(rng.uniform(-3, 3, 200)).astype(np.float32)
    result = lbfgs.minimize(quadratic(target, scales), tf.fill([200], 0.5), max_evaluations=200)
    optimum = float(np.sum(scales * (np.clip(target, 0, 1) - target) ** 2))
    assert result.value == pytest.approx(optimum, rel=1e-6)  # float32's resolution
    steep = scales > 0.5  # where float32 can see the error
    np.testing.assert_allclose(result.x.numpy()[steep], np.clip(target, 0, 1)[steep], atol=3e-3)
    assert result.stop == "no progress" and result.evaluations < 120  # stops at float32's limit ...
    assert float(tf.reduce_min(result.x)) >= 0.0 and float(tf.reduce_max(result.x)) <= 1.0  # ... inside the box


def test_as_good_as_scipy_on_bounded_rosenbrock():
    """50-dimensional Rosenbrock in [-2, 2]: the same budget reaches the minimum (f = 0) as scipy's does."""

    def function(x):
        point = x.numpy().astype(np.float64)
        return tf.constant(rosen(point), tf.float32), tf.constant(rosen_der(point), tf.float32)

    start = np.full(50, 0.2, np.float32)
    ours = lbfgs.minimize(function, tf.constant(start), max_evaluations=300, lower=-2.0, upper=2.0)
    theirs = scipy_minimize(
        lambda x: (rosen(x), rosen_der(x)),
        start.astype(np.float64),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-2, 2)] * 50,
        options={"maxfun": 300, "maxcor": 10},
    )
    assert ours.value < 1e-4 and theirs.fun < 1e-4
    np.testing.assert_allclose(ours.x.numpy(), np.ones(50), atol=1e-2)


@pytest.mark.parametrize("budget", [1, 2, 3, 7])
def test_never_more_evaluations_than_the_budget(budget):
    calls = []
    function = quadratic(np.full(30, 0.3, np.float32), np.linspace(1, 100, 30).astype(np.float32))

    def counted(x):
        calls.append(1)
        return function(x)

    result = lbfgs.minimize(counted, tf.fill([30], 0.9), max_evaluations=budget)
    assert len(calls) == result.evaluations == budget


def test_first_evaluation_is_reused_and_callback_sees_every_evaluation():
    function = quadratic(np.full(10, 0.3, np.float32), np.ones(10, np.float32))
    start = tf.fill([10], 0.8)
    calls, seen = [], []

    def counted(x):
        calls.append(1)
        return function(x)

    value, gradient = function(start)
    result = lbfgs.minimize(
        counted,
        start,
        max_evaluations=5,
        first_evaluation=(value, gradient),
        callback=lambda x, value, gradient, extra: seen.append(value) or False,
    )
    assert len(calls) == result.evaluations - 1 and len(seen) == result.evaluations
    assert seen[0] == pytest.approx(float(value))
    assert result.value == pytest.approx(min(seen))


def test_callback_stops_at_once_and_the_best_point_is_returned():
    function = quadratic(np.full(10, 0.3, np.float32), np.ones(10, np.float32))
    result = lbfgs.minimize(
        function, tf.fill([10], 0.8), max_evaluations=50, callback=lambda x, value, gradient, extra: value < 0.5
    )
    assert result.stop == "callback" and result.value < 0.5 and result.evaluations < 50


def test_extra_values_travel_with_the_best_point():
    target = tf.constant([0.4, 0.6])

    def function(x):
        value = tf.reduce_sum((x - target) ** 2)
        return value, 2.0 * (x - target), {"total": value, "note": "mine"}

    result = lbfgs.minimize(function, tf.constant([0.0, 1.0]), max_evaluations=10)
    assert result.extra["note"] == "mine" and float(result.extra["total"]) == pytest.approx(result.value)
    np.testing.assert_allclose(result.x.numpy(), [0.4, 0.6], atol=1e-4)


def test_a_bad_budget_is_refused():
    with pytest.raises(ValueError, match="max_evaluations must be at least 1"):
        lbfgs.minimize(quadratic([0.5], [1.0]), tf.constant([0.1]), max_evaluations=0)

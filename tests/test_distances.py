"""Unbiased cross-validated distances (seed 001 §7): unbiased by simulation, naive biased up."""

import numpy as np
import pytest

from neurodyn.analysis.distances import (
    cv_distance_sq,
    cv_distance_sq_sequential,
    naive_distance_sq,
    task_space_diameter,
)


def _check_unbiased(est, truth, naive=None):
    est = np.asarray(est)
    se = est.std(ddof=1) / np.sqrt(est.size)
    assert abs(est.mean() - truth) < 3.5 * se, (est.mean(), truth, se)
    if naive is not None:
        naive = np.asarray(naive)
        assert naive.mean() - truth > 5 * naive.std(ddof=1) / np.sqrt(naive.size)


def test_simultaneous_full_and_projected_unbiased():
    # True squared distance ||mu_a - mu_b||^2 is known; noise sd 2 with 6 and 9 trials biases the naive
    # estimate up by N * 4 (1/6 + 1/9) = 16.7 in expectation.
    rng = np.random.default_rng(0)
    N, K = 15, 3
    mu_a, mu_b = rng.normal(size=N), rng.normal(size=N)
    W = np.linalg.qr(rng.normal(size=(N, K)))[0]
    truth = np.sum((mu_a - mu_b) ** 2)
    truth_w = np.sum(((mu_a - mu_b) @ W) ** 2)
    est, est_w, naive, naive_w = [], [], [], []
    for _ in range(1500):
        a = mu_a + 2.0 * rng.normal(size=(6, N))
        b = mu_b + 2.0 * rng.normal(size=(9, N))
        est.append(cv_distance_sq(a, b))
        est_w.append(cv_distance_sq(a, b, W))
        naive.append(naive_distance_sq(a, b))
        naive_w.append(naive_distance_sq(a, b, W))
    _check_unbiased(est, truth, naive)
    _check_unbiased(est_w, truth_w, naive_w)
    assert np.mean(naive) - truth == pytest.approx(N * 4 * (1 / 6 + 1 / 9), rel=0.1)


def test_sequential_full_and_projected_unbiased():
    # Each neuron recorded on its own trials with its own trial counts (§7.1).
    rng = np.random.default_rng(1)
    D, K = 8, 2
    mu_a, mu_b = rng.normal(size=D), rng.normal(size=D)
    W = rng.normal(size=(D, K))
    truth = np.sum((mu_a - mu_b) ** 2)
    truth_w = np.sum(((mu_a - mu_b) @ W) ** 2)
    m_counts = rng.integers(3, 8, D)
    n_counts = rng.integers(3, 8, D)
    est, est_w, naive_w = [], [], []
    for _ in range(800):
        ta = [mu_a[d] + 1.5 * rng.normal(size=m_counts[d]) for d in range(D)]
        tb = [mu_b[d] + 1.5 * rng.normal(size=n_counts[d]) for d in range(D)]
        est.append(cv_distance_sq_sequential(ta, tb))
        est_w.append(cv_distance_sq_sequential(ta, tb, W))
        delta = np.array([x.mean() for x in ta]) - np.array([x.mean() for x in tb])
        naive_w.append(np.sum((delta @ W) ** 2))
    _check_unbiased(est, truth)
    _check_unbiased(est_w, truth_w, naive_w)


def test_sequential_projection_equals_brute_force_fold_combinations():
    # §7.1 defines the projected estimate as the mean over all fold combinations (f_1..f_D); with
    # D = 3 neurons and 2-3 folds each, enumerate them all and compare with the closed form.
    import itertools
    rng = np.random.default_rng(2)
    ta = [rng.normal(size=n) for n in (2, 3, 3)]
    tb = [rng.normal(size=n) for n in (3, 3, 2)]
    W = rng.normal(size=(3, 2))
    folds = []
    for a, b in zip(ta, tb):
        F = min(a.size, b.size)
        ia, ib = np.arange(a.size) % F, np.arange(b.size) % F
        folds.append([(a[ia != i].mean() - b[ib != i].mean(), a[ia == i].mean() - b[ib == i].mean())
                      for i in range(F)])
    vals = []
    for combo in itertools.product(*folds):
        L = np.array([c[0] for c in combo])
        S = np.array([c[1] for c in combo])
        vals.append(np.sum((L @ W) * (S @ W)))
    assert cv_distance_sq_sequential(ta, tb, W) == pytest.approx(np.mean(vals), rel=1e-12)


def test_time_axis_and_diameter():
    rng = np.random.default_rng(3)
    T, N = 5, 4
    traj = np.cumsum(rng.normal(size=(3, T, N)), axis=1)
    trials = [traj[c] + 0.01 * rng.normal(size=(6, T, N)) for c in range(3)]
    d2 = cv_distance_sq(trials[0], trials[1])
    assert d2.shape == (T,)
    np.testing.assert_allclose(d2, np.sum((traj[0] - traj[1]) ** 2, -1), rtol=1e-2)
    diam, p, q = task_space_diameter(trials)
    # nearly noise-free: the diameter is the largest distance between the true trajectory points
    pts = traj.reshape(-1, N)
    true = np.max(np.linalg.norm(pts[:, None] - pts[None], axis=-1))
    assert diam == pytest.approx(true, rel=1e-2)
    assert np.linalg.norm(traj[p] - traj[q]) == pytest.approx(true, rel=1e-2)


def test_bad_input():
    with pytest.raises(ValueError, match="trials_a"):
        cv_distance_sq(np.ones((1, 3)), np.ones((4, 3)))
    with pytest.raises(ValueError, match="trials_b"):
        cv_distance_sq(np.ones((4, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="W="):
        cv_distance_sq(np.ones((4, 3)), np.ones((4, 3)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        cv_distance_sq(np.full((4, 3), np.nan), np.ones((4, 3)))

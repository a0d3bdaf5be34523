"""Reduced-rank regression (Semedo et al. 2019) against a plain NumPy implementation and known ranks."""

import json

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from neurodyn.analysis import (ReducedRankRegression, predictive_alignment, rrr_cross_validate,
                               synthetic_communication)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def _numpy_rrr(X, Y, rank):
    """Textbook RRR: OLS by the normal equations, then projection onto the top PCs of the fitted values."""
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    B = np.linalg.solve(Xc.T @ Xc, Xc.T @ Yc)
    _, _, Vt = np.linalg.svd(Xc @ B, full_matrices=False)
    V = Vt[:rank].T
    return B @ V @ V.T


def test_rrr_matches_numpy_reference_and_is_optimal_among_rank_r():
    X, Y, _ = synthetic_communication(400, 12, 9, rank=3, noise=1.0, seed=3)
    for r in (1, 2, 4):
        model = ReducedRankRegression(r).fit(X, Y)
        ref = _numpy_rrr(X, Y, r)
        np.testing.assert_allclose(model.coef_, ref, rtol=1e-8, atol=1e-10)
        assert np.linalg.matrix_rank(model.coef_, tol=1e-8) == r
        # Eckart-Young: no random rank-r perturbation of the solution does better on the training data.
        Xc, Yc = X - X.mean(0), Y - Y.mean(0)
        err = np.sum((Yc - Xc @ model.coef_) ** 2)
        rng = np.random.default_rng(r)
        for _ in range(5):
            U, s, Vt = np.linalg.svd(model.coef_ + 0.01 * rng.standard_normal(model.coef_.shape))
            other = (U[:, :r] * s[:r]) @ Vt[:r]
            assert np.sum((Yc - Xc @ other) ** 2) >= err
    # Full rank equals ordinary least squares (with intercept).
    full = ReducedRankRegression(9).fit(X, Y)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    ols = np.linalg.lstsq(A, Y, rcond=None)[0]
    np.testing.assert_allclose(full.coef_, ols[:-1], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(full.intercept_, ols[-1], rtol=1e-8, atol=1e-10)


def test_cross_validation_recovers_rank_and_baselines():
    X, Y, B = synthetic_communication(600, 20, 15, rank=2, noise=1.5, seed=0)
    cv = rrr_cross_validate(X, Y, ranks=np.arange(1, 9), n_folds=10, seed=0)
    assert cv.optimal_rank == 2
    assert cv.performance.shape == (8,) and cv.fold_performance.shape == (10, 8)
    # rank-2 performance is close to the full-rank and ridge baselines (the true map has rank 2)
    assert abs(cv.performance[1] - cv.full_rank_performance) < 0.02
    assert abs(cv.ridge_performance - cv.full_rank_performance) < 0.02
    assert cv.performance[0] < cv.performance[1] - 0.05
    # The predictive dimensions span the true source-side subspace (columns of B span it: B = V U^T).
    Vtrue = np.linalg.qr(B)[0][:, :2]
    P = cv.model.predictive_dimensions_
    s = np.linalg.svd(Vtrue.T @ P, compute_uv=False)
    assert s.min() > 0.98  # cosines of principal angles


def test_predictive_alignment_identifies_dominant_dimensions():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 6)) * np.array([5.0, 4.0, 1.0, 1.0, 1.0, 1.0])
    top = np.eye(6)[:, :2]
    low = np.eye(6)[:, 4:6]
    a_top = predictive_alignment(X, top)
    a_low = predictive_alignment(X, low)
    assert np.all(a_top["principal_angles_deg"] < 3.0)
    assert a_top["variance_ratio"] == pytest.approx(1.0, abs=0.02)
    # low-variance dims: variance share (1+1)/(25+16+4) vs top (25+16)/45 -> ratio 2/41
    assert a_low["variance_ratio"] == pytest.approx(2.0 / 41.0, rel=0.1)
    assert np.all(a_low["principal_angles_deg"] > 85.0)


def test_errors_are_one_line():
    with pytest.raises(ValueError, match="target"):
        ReducedRankRegression(1).fit(np.zeros((10, 3)), np.zeros((9, 2)))
    with pytest.raises(ValueError, match="rank"):
        ReducedRankRegression(5).fit(np.ones((10, 3)), np.ones((10, 2)))
    with pytest.raises(TypeError, match="rank"):
        ReducedRankRegression(1.5).fit(np.ones((10, 3)), np.ones((10, 2)))


def test_rrr_fit_experiment(tmp_path):
    from neurodyn.runner import run_experiment

    X, Y, _ = synthetic_communication(300, 10, 8, rank=2, noise=1.0, seed=1)
    data = tmp_path / "pair.npz"
    np.savez(data, source=X, target=Y)
    metrics = run_experiment("rrr-fit", tmp_path / "run", quick=True, config={"data": str(data)})
    assert metrics["optimal_rank"] == 2
    assert len(metrics["cv_performance"]) == 8
    ref = _numpy_rrr(X, Y, 2)
    stored = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert stored["optimal_rank"] == 2
    arrays = np.load(tmp_path / "run" / "arrays.npz")
    np.testing.assert_allclose(arrays["coef"], ref, rtol=1e-8, atol=1e-10)
    from neurodyn.models import load_model

    np.testing.assert_allclose(load_model(tmp_path / "run").coef_, ref, rtol=1e-8, atol=1e-10)

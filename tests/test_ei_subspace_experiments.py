"""Experiments around the subspace E/I network (seed 001 §11, §14): small, fast configurations."""

import json

import numpy as np
import pytest

from neurodyn.runner import run_experiment
from neurodyn.perturb import decay_time, manifold_basis


def test_decay_time_of_an_exponential():
    # d(t) = exp(-t / 70 ms) sampled every 10 ms: the 1/e time is 70 ms (linear interpolation between samples
    # of a convex curve overestimates slightly, by less than one sample's curvature)
    t = np.arange(0.0, 500.0, 10.0)
    assert decay_time(np.exp(-t / 70.0), 10.0) == pytest.approx(70.0, abs=1.0)
    assert decay_time(np.ones(10), 10.0) == 90.0          # never decays: censored at the window length


def test_task_activity_basis_dimension():
    # activity confined to a 3-d plane in R^20: 95% of variance needs at most those 3 PCs, orthonormal columns
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(20, 3)))[0]
    X = rng.normal(size=(200, 3)) * np.array([5.0, 2.0, 1.0]) @ basis.T
    B = manifold_basis(X, threshold=0.95)
    assert B.shape[1] <= 3
    np.testing.assert_allclose(B.T @ B, np.eye(B.shape[1]), atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(basis.T @ B, axis=0), 1.0, atol=1e-8)


def test_dale_svd_experiment_small(tmp_path):
    out = tmp_path / "run"
    run_experiment("dale-svd", out, config={"sizes": [40, 80, 160, 320], "n_draws": 2, "fit_units": 0})
    m = json.loads((out / "metrics.json").read_text())
    # seed 001 §14: sigma_1 ~ sqrt(N) -> exponent 1/2 (finite-size bias small at these sizes)
    assert m["sigma1_exponent"] == pytest.approx(0.5, abs=0.08)
    assert m["u1_coactivation"] is True and m["v1_differential"] is True


def test_shuffled_pairing_keeps_spectrum_and_eigenvectors_real():
    from neurodyn.experiments.seed001.icms import shuffled_pairing

    rng = np.random.default_rng(1)
    V = rng.normal(size=(5, 5))
    th = 0.3
    L = np.zeros((5, 5))
    L[:2, :2] = 0.9 * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    L[2, 2], L[3, 3], L[4, 4] = 0.5, 0.7, 0.95
    A = V @ L @ np.linalg.inv(V)
    As = shuffled_pairing(A, np.random.default_rng(2))
    assert np.isrealobj(As)
    # same eigenvalues (a permutation of the spectrum) ...
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(As)), np.sort_complex(np.linalg.eigvals(A)),
                               atol=1e-10)
    # ... but reassigned: the real eigenvalues sit on different eigenvectors (seed 2 permutes them)
    assert not np.allclose(As, A)


def test_reservoir_vs_subspace_quick_gives_the_texts_ordering(tmp_path):
    # seed 001 §13: E-targeted stimulation lasts in the SOC reservoir (slowest time constant
    # tau / (1 - alpha) = 400 ms for alpha = 0.5) and decays fast in the self-contained subspace network
    # (random E/I bulk, |lambda| <= 0.85 per 10 ms, ~60 ms). Quick run measured: SOC 360 ms, subspace 87 ms
    # (with the spectral-radius bound; without it the fitted task mode expands and the subspace decay is
    # censored at 600 ms). Margin asserted: a factor 2. One BLAS thread: the SOC's small Schur
    # decompositions are much slower with oversubscribed threads on a shared machine.
    from threadpoolctl import threadpool_limits

    out = tmp_path / "run"
    with threadpool_limits(limits=1):
        run_experiment("reservoir-vs-subspace", out, quick=True)
    m = json.loads((out / "metrics.json").read_text())
    assert m["subspace_eig_max_abs"] <= 0.99 + 1e-9
    assert m["decay_time_subspace_ms"] < 150.0
    assert m["decay_time_soc_ms"] > 2.0 * m["decay_time_subspace_ms"]
    assert m["h2_supported"] is True
    assert m["soc_alpha"] == pytest.approx(0.5, abs=0.02)

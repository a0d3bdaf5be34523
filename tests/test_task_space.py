from pathlib import Path
"""Task activity space (seed 001 §6): PCA with noise-corrected signal variance."""

import numpy as np
import pytest

from neurodyn.analysis.task_space import noise_residual_matrix, task_space


def _dataset(rng, C=6, T=20, N=30, R=8, noise=1.0):
    t = np.linspace(0, 1, T)
    latent = np.stack([np.stack([np.sin(2 * np.pi * t + c), np.cos(np.pi * t * (1 + c / 3))], -1)
                       for c in range(C)])                     # (C, T, 2): rank-2 signal
    M = np.random.default_rng(99).normal(size=(2, N))
    true = latent @ M + 5.0
    trials = [true[c] + noise * rng.normal(size=(R, T, N)) for c in range(C)]
    return true, trials


def test_signal_variance_unbiased_and_dimensionality():
    # The noise-corrected total signal variance sum(s^2) - sum(s_noise^2) is compared with the true
    # signal variance ||X_true - mean||^2 over repeated synthetic datasets (analytic truth).
    rng = np.random.default_rng(0)
    true, _ = _dataset(rng)
    flat = true.reshape(-1, true.shape[-1])
    truth = np.sum((flat - flat.mean(0)) ** 2)
    est, raw, dims = [], [], []
    for _ in range(40):
        _, trials = _dataset(rng)
        avg = np.stack([t.mean(0) for t in trials])
        ts = task_space(avg, trials)
        est.append(ts.variance.sum() - ts.noise_variance.sum())
        raw.append(ts.variance.sum())
        dims.append(ts.dimensionality)
    est = np.array(est)
    se = est.std(ddof=1) / np.sqrt(est.size)
    assert abs(est.mean() - truth) < 3.5 * se
    assert np.mean(raw) - truth > 10 * se          # uncorrected variance includes the noise
    # a rank-2 signal: 95% of the signal variance within 2 PCs in most datasets, while the total
    # variance (noise included) needs many more PCs to reach 95%
    assert np.median(dims) == 2
    assert int(np.argmax(ts.total_fraction >= 0.95)) + 1 > 5


def _few_points_dataset(rng, C=4, T=5, N=80, R=6, noise=1.0):
    # C*T = 20 points in N = 80 dimensions: a rank-3 signal along orthonormal directions Q with
    # centred, mutually orthogonal latents of variances 144, 100, 64 (total 308, each >= 20%)
    Q = np.linalg.qr(np.random.default_rng(7).normal(size=(N, 3)))[0]
    lat = np.random.default_rng(8).normal(size=(C * T, 3))
    lat = np.linalg.qr(lat - lat.mean(0))[0] * np.array([12.0, 10.0, 8.0])
    true = (lat @ Q.T).reshape(C, T, N) + 3.0
    return true, [true[c] + noise * rng.normal(size=(R, T, N)) for c in range(C)]


def test_signal_variance_with_fewer_points_than_neurons():
    # C*T < N: X has 20 singular values, X_noise (RT = 120 rows) has 80. The total signal variance
    # ||X||^2 - ||X_noise||^2 must subtract all 80 (the analytic truth is 308 by construction);
    # keeping only the top 20 leaves about 100 of noise in it and pushes the dimensionality to ~10.
    rng = np.random.default_rng(0)
    true, _ = _few_points_dataset(rng)
    flat = true.reshape(-1, true.shape[-1])
    truth = np.sum((flat - flat.mean(0)) ** 2)
    assert truth == pytest.approx(308.0)
    est, dims = [], []
    for _ in range(30):
        _, trials = _few_points_dataset(rng)
        ts = task_space(np.stack([t.mean(0) for t in trials]), trials)
        est.append(ts.total_signal_variance)
        dims.append(ts.dimensionality)
    est = np.array(est)
    se = est.std(ddof=1) / np.sqrt(est.size)
    assert abs(est.mean() - truth) < 3.5 * se
    assert dims == [3] * 30                    # the known signal dimension, in every dataset


def test_pca_consistency_and_projection():
    # s_k^2 equals scikit-learn's explained variance times (n-1); W has orthonormal columns.
    rng = np.random.default_rng(1)
    true, trials = _dataset(rng, noise=0.1)
    avg = np.stack([t.mean(0) for t in trials])
    ts = task_space(avg, trials)
    from sklearn.decomposition import PCA
    flat = avg.reshape(-1, avg.shape[-1])
    p = PCA().fit(flat)
    np.testing.assert_allclose(ts.variance, p.explained_variance_[:ts.variance.size] * (flat.shape[0] - 1),
                               rtol=1e-10)
    np.testing.assert_allclose(ts.W.T @ ts.W, np.eye(ts.dimensionality), atol=1e-12)
    assert ts.project(avg).shape == avg.shape[:2] + (ts.dimensionality,)


def test_noise_matrix_scaling():
    # Expected ||X_noise||^2 equals the summed noise variance of the averages: C*T*N*sigma^2/R.
    rng = np.random.default_rng(2)
    vals = []
    for _ in range(200):
        trials = [rng.normal(0, 2.0, size=(5, 3, 4)) for _ in range(2)]
        vals.append(np.sum(noise_residual_matrix(trials) ** 2))
    assert np.mean(vals) == pytest.approx(2 * 3 * 4 * 4.0 / 5, rel=0.05)


def test_bad_input():
    with pytest.raises(ValueError, match="rates"):
        task_space(np.ones((3, 4)))
    with pytest.raises(ValueError, match="trials"):
        task_space(np.random.default_rng(0).normal(size=(2, 3, 4)), [np.ones((1, 3, 4)), np.ones((3, 3, 4))])
    with pytest.raises(ValueError, match="threshold"):
        task_space(np.random.default_rng(0).normal(size=(2, 3, 4)), threshold=1.5)


YU = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "yu_pmd_delayed_reach" / "ps4_realdata.mat")


@pytest.mark.skipif(not __import__("os").path.exists(YU), reason="premotor teaching dataset not present")
def test_task_space_experiment_on_premotor_data(tmp_path):
    # The naive-minus-unbiased gap must match its analytic expectation, the summed noise variance of
    # the two trial averages (sum_n s_a^2/n_a + s_b^2/n_b), averaged over direction pairs.
    import json
    from itertools import combinations
    from neurodyn.data import load_mat
    from neurodyn.runner import run_experiment
    run_experiment("task-space", tmp_path / "run", quick=True)
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    d = load_mat(YU, bin_ms=50, t0_ms=-200.0).select_time(0.0, 500.0)
    win = (d.t_ms > 150) & (d.t_ms <= 350)
    plan = [t[:30][:, win].mean(1) for t in d.trial_list()]
    expected_bias = np.mean([np.sum(plan[a].var(0, ddof=1) / 30 + plan[b].var(0, ddof=1) / 30)
                             for a, b in combinations(range(8), 2)])
    assert m["naive_bias_full"] == pytest.approx(expected_bias, rel=0.25)
    assert m["signal_fraction_at_dim"] >= 0.95
    assert 1 <= m["dimensionality"] < m["n_neurons"]
    assert m["mean_naive_distance_sq_task"] > m["mean_cv_distance_sq_task"]

"""Targets, readout, error and input validation of neurodyn.learning (thesis seed 003 §3.2, App. D)."""

import numpy as np
import pytest
from sklearn.metrics import r2_score

from neurodyn.connectivity import random_ei
from neurodyn.learning import (
    GainTask, Readout, TrialDynamics, emg_kernel, emg_targets, fit_readout, fit_readout_on_trials,
    load_gain_network, noisy_initial_conditions, output_error, r2_error, sample_times, slow_fast_targets,
    snr_noise_sd,
)


def test_kernel_matches_direct_evaluation():
    t = sample_times(500.0, 400.0)
    assert t.shape == (200,) and t[1] - t[0] == 2.5
    K = emg_kernel(t, 110.0, 50.0)
    i, j = 37, 91
    E = lambda s: s * np.exp(-s**2 / 4)  # noqa: E731  (E(t) of eq. 3.3, written out independently)
    direct = np.exp(-(t[i] - t[j]) ** 2 / (2 * 50.0**2)) * E(t[i] / 110.0) * E(t[j] / 110.0)
    assert K[i, j] == pytest.approx(direct, rel=1e-13)
    assert np.allclose(K, K.T)
    assert np.linalg.eigvalsh(K).min() > -1e-10 * K.max()


def test_targets_have_the_gp_covariance():
    # the empirical covariance of many draws approaches K (scaled so that peak |y| is not imposed)
    t, Y = emg_targets(4000, seed=3, duration_ms=100.0, rate_hz=100.0, sigma_ms=30.0, length_ms=20.0,
                       amplitude=None)
    K = emg_kernel(t, 30.0, 20.0)
    C = Y.T @ Y / Y.shape[0]
    assert np.max(np.abs(C - K)) < 0.06 * np.max(K)  # sampling error ~ sqrt(2/4000) of the scale


def test_target_scaling_and_variable_lengths():
    t, Y = emg_targets(3, seed=0, length_ms=[35.0, 50.0, 80.0], amplitude=7.0)
    assert Y.shape == (3, 200)
    assert np.allclose(np.abs(Y).max(axis=1), 7.0)
    _, Y2 = emg_targets(3, seed=0, length_ms=[35.0, 50.0, 80.0], amplitude=7.0)
    assert np.array_equal(Y, Y2)


def test_slow_fast_targets():
    t, slow, fast = slow_fast_targets(2, seed=1)
    assert t.shape == (500,) and t[1] - t[0] == 5.0
    assert np.array_equal(fast[:, :100], slow[:, ::5])
    assert np.all(fast[:, 100:] == 0.0)


def test_error_is_one_minus_sklearn_r2():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(50, 3))                       # (time, readouts)
    z = y + 0.3 * rng.normal(size=(50, 3))
    expected = [1.0 - r2_score(y[:, k], z[:, k]) for k in range(3)]
    assert np.allclose(np.asarray(r2_error(z, y)), expected, rtol=1e-12)
    assert float(output_error(z, y)) == pytest.approx(np.mean(expected), rel=1e-12)
    assert float(output_error(np.full((50, 1), y[:, 0].mean()), y[:, :1])) == pytest.approx(1.0)


def test_error_on_constant_target_names_the_target():
    # 1 - R^2 divides by the target's variance: a constant target is a user error, not a diverged network
    y = np.stack([np.linspace(0.0, 1.0, 20), np.full(20, 3.0)], axis=1)   # (time, readouts)
    with pytest.raises(ValueError, match=r"^y=.*constant"):
        r2_error(np.zeros_like(y), y)
    with pytest.raises(ValueError, match=r"^y=.*constant"):
        output_error(np.zeros_like(y), y)


def test_readout_matches_numpy_lstsq():
    rng = np.random.default_rng(1)
    rates = rng.normal(size=(5, 40, 6))
    Y = rng.normal(size=(40, 2))                       # (time, readouts)
    ro = fit_readout(rates, Y)
    X = np.hstack([rates.reshape(-1, 6), np.ones((200, 1))])
    coef, *_ = np.linalg.lstsq(X, np.tile(Y, (5, 1)), rcond=None)
    assert np.allclose(np.asarray(ro.m), coef[:6].T, atol=1e-10)
    assert np.allclose(np.asarray(ro.b), coef[6], atol=1e-10)


def test_snr_noise():
    x0 = np.full(100, 2.0)
    assert snr_noise_sd(x0, 30.0) == pytest.approx(2.0 / np.sqrt(1000.0))
    X = noisy_initial_conditions(x0, 2000, 20.0, seed=0)
    assert np.std(X - x0) == pytest.approx(0.2, rel=0.02)
    for bad in (0.0, -3.0):
        with pytest.raises(ValueError, match="snr_db"):
            snr_noise_sd(x0, bad)


@pytest.fixture(scope="module")
def small():
    net = random_ei(20, 0.2, 0.5, 1.0, seed=2)
    t = sample_times(100.0, 100.0)
    x0 = np.random.default_rng(0).normal(size=20)
    dyn = TrialDynamics(net, x0, t)
    return net, dyn, t


def test_bad_inputs(small, tmp_path):
    net, dyn, t = small
    ro = Readout(np.ones((1, 10)), np.zeros(1))
    y = np.sin(t / 20.0)
    with pytest.raises(ValueError, match="targets"):
        GainTask(dyn, ro, y[:-1])
    bad = y.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="targets"):
        GainTask(dyn, ro, bad)
    with pytest.raises(ValueError, match="readout.m"):
        GainTask(dyn, Readout(np.ones((1, 11)), np.zeros(1)), y)
    with pytest.raises(ValueError, match="snr_db"):
        fit_readout_on_trials(dyn, y, snr_db=0.0, n_trials=3)
    with pytest.raises(ValueError, match="x0"):
        TrialDynamics(net, np.ones(19), t)
    with pytest.raises(ValueError, match="t_ms"):
        TrialDynamics(net, np.ones(20), np.array([0.0, 1.0, 3.0]))
    # user network files
    good = dict(W=np.asarray(net.W), x0=np.ones(20), m=np.ones(10), b=0.5, target=y)
    np.savez(tmp_path / "ok.npz", **good)
    user = load_gain_network(tmp_path / "ok.npz")
    assert user.dynamics.t_ms[-1] == 500.0 and user.target.shape == (10,)
    assert user.task().targets.shape == (1, 10, 1)
    for key, value, match in [("m", np.ones(9), "m="), ("target", np.r_[y[:-1], np.nan], "target"),
                              ("x0", np.ones(21), "x0"), ("W", np.ones((3, 3)), "W=")]:
        np.savez(tmp_path / "bad.npz", **{**good, key: value})
        with pytest.raises(ValueError, match=match):
            load_gain_network(tmp_path / "bad.npz")
    np.savez(tmp_path / "short.npz", **{**good, "t_ms": np.arange(5.0)})
    with pytest.raises(ValueError, match="t_ms"):
        load_gain_network(tmp_path / "short.npz")
    np.savez(tmp_path / "missing.npz", W=good["W"])
    with pytest.raises(ValueError, match="missing"):
        load_gain_network(tmp_path / "missing.npz")

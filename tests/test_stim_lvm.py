"""StimLVM fits on simulated stimulation data (seed 001 §8.1-§8.5, Extended Data Fig. 9m), small scale."""

import numpy as np
import pytest

import neurodyn  # noqa: F401
from neurodyn.models.stim_lvm import (
    StimLVM,
    additive_delta,
    contraction_factor,
    distortion,
    null_distortions,
    shuffle_labels,
    stimulated_dataset,
    synthetic_population,
)

T_MS = np.arange(20.0, 320.0, 20.0)         # 15 bins of 20 ms
ON, OFF = 100.0, 220.0


@pytest.fixture(scope="module")
def base():
    return synthetic_population(5, 24, 2, T_MS, seed=0)


def _fit(ds, variant, **kw):
    return StimLVM(2, variant, max_iter=400, **kw).fit(ds["xhat"], ds["yhat"], ds["n_x"], ds["n_y"], T_MS, ON, OFF)


def test_simulated_truth_has_the_requested_contraction(base):
    C, d, z = base
    ds = stimulated_dataset(C, d, z, T_MS, ON, OFF, kind="contraction", factor=0.4, n_trials=3, seed=0)
    beta = contraction_factor(ds["z"], ds["z_stim"], C)
    win = (T_MS >= ON) & (T_MS < OFF)
    np.testing.assert_allclose(beta[win], 0.4, rtol=1e-12)
    np.testing.assert_allclose(beta[~win], 1.0, rtol=1e-12)


def test_additive_case_beta_near_one_and_distortion_within_null(base):
    C, d, z = base
    delta = additive_delta(T_MS, 24, ON, OFF, scale=6.0, seed=1)
    ds = stimulated_dataset(C, d, z, T_MS, ON, OFF, kind="additive", delta=delta, n_trials=30, seed=2)
    m = _fit(ds, "unconstrained")
    win = m.window_mask(None)
    beta = contraction_factor(m.z_, m.z_stim_, m.readout_)
    assert abs(beta[win].mean() - 1.0) < 0.15
    # Delta is recovered where it matters: the fitted additive term tracks the true one in the window
    r = np.corrcoef(m.delta_[win].ravel(), delta[win].ravel())[0, 1]
    assert r > 0.9
    obs = distortion(m.z_, m.z_stim_, m.readout_, win)
    null = null_distortions(m, "poisson", 3, window=win, seed=5)
    assert obs <= 2.0 * null.max()


def test_contraction_recovered_across_range(base):
    C, d, z = base
    for a in (0.25, 0.75):
        ds = stimulated_dataset(C, d, z, T_MS, ON, OFF, kind="contraction", factor=a, n_trials=30, seed=3)
        m = _fit(ds, "contraction")
        beta = contraction_factor(m.z_, m.z_stim_, m.readout_)
        est = beta[m.window_mask()].mean()
        assert abs(est - a) < 0.12, (a, est)
        np.testing.assert_allclose(m.rotation_.T @ m.rotation_, np.eye(2), atol=1e-10)   # on SO(2)


def test_shuffle_tracks_stimulated_fractions():
    rng = np.random.default_rng(0)
    x = [np.zeros((4, 3, 2)) for _ in range(3)]
    y = [np.ones((6, 3, 2)) for _ in range(3)]
    out = shuffle_labels(x, y, seed=int(rng.integers(100)))
    # stim trials are 1, non-stim 0: each shuffled average equals its tracked stimulated fraction
    np.testing.assert_allclose(out["xhat"][:, 0, 0], out["phi_x"])
    np.testing.assert_allclose(out["yhat"][:, 0, 0], out["phi_y"])
    np.testing.assert_allclose(4 * out["phi_x"] + 6 * out["phi_y"], 6.0)   # all 6 stim trials accounted for
    assert out["n_x"].tolist() == [4, 4, 4] and out["n_y"].tolist() == [6, 6, 6]


def test_validation_errors():
    x = np.ones((3, 5, 4))
    with pytest.raises(ValueError, match="variant"):
        StimLVM(2, "bogus")
    with pytest.raises(ValueError, match="yhat"):
        StimLVM(2).fit(x, np.ones((3, 5, 5)), 1, 1, np.arange(5.0), 1, 3)
    with pytest.raises(ValueError, match="stim_off_ms"):
        StimLVM(2).fit(x, x, 1, 1, np.arange(5.0), 3, 1)
    with pytest.raises(ValueError, match="n_latents"):
        StimLVM(5).fit(x, x, 1, 1, np.arange(5.0), 1, 3)
    with pytest.raises(ValueError, match="factor"):
        stimulated_dataset(np.ones((4, 2)), np.ones(4), np.ones((3, 5, 2)), np.arange(5.0) * 20, 20, 60,
                           kind="additive", factor=0.5)


def test_paired_conditions_from_condition_table():
    from neurodyn.data import PopulationData
    from neurodyn.experiments.stim_lvm import paired_conditions

    rates = np.ones((4, 3, 2))
    pop = PopulationData(rates, np.arange(3.0) * 20, condition_table={"stimulated": np.array([1, 0, 0, 1]),
                                                                       "pair": np.array(["b", "a", "b", "a"])})
    ix, iy = paired_conditions(pop)
    assert ix.tolist() == [1, 2] and iy.tolist() == [3, 0]      # a: (1, 3), b: (2, 0)
    with pytest.raises(ValueError, match="stimulated"):
        paired_conditions(PopulationData(rates, np.arange(3.0) * 20))

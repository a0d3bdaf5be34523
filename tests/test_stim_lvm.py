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
    null_threshold,
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
    # §8.6: significance is the 95th percentile of the null distribution of the distortion metric.
    # 9 Poisson-null refits (§8.3) keep the test small; the additive data must not be significant.
    obs = distortion(m.z_, m.z_stim_, m.readout_, win)
    null = null_distortions(m, "poisson", 9, window=win, seed=5)
    assert obs <= null_threshold(null, 95.0), (obs, np.sort(null))


def test_contraction_recovered_across_range(base):
    C, d, z = base
    for a in (0.25, 0.75):
        ds = stimulated_dataset(C, d, z, T_MS, ON, OFF, kind="contraction", factor=a, n_trials=30, seed=3)
        m = _fit(ds, "contraction")
        beta = contraction_factor(m.z_, m.z_stim_, m.readout_)
        est = beta[m.window_mask()].mean()
        # measured over noise seeds 3-8 of this fixture (either reading of kappa's units; 0.3% of the
        # rates are negative): 0.31-0.40 for a = 0.25 and 0.80-0.90 for a = 0.75, an upward bias (the
        # prior on log b is centred on b = 1) of at most 0.151; seed 3 gives 0.370 and 0.824.
        assert abs(est - a) < 0.16, (a, est)
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
        StimLVM(2, "bogus").fit(x, x, 1, 1, np.arange(5.0), 1, 3)
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
    from neurodyn.experiments.fits.stim_lvm_fit import paired_conditions

    rates = np.ones((4, 3, 2))
    pop = PopulationData(rates, np.arange(3.0) * 20, condition_table={"stimulated": np.array([1, 0, 0, 1]),
                                                                       "pair": np.array(["b", "a", "b", "a"])})
    ix, iy = paired_conditions(pop)
    assert ix.tolist() == [1, 2] and iy.tolist() == [3, 0]      # a: (1, 3), b: (2, 0)
    with pytest.raises(ValueError, match="stimulated"):
        paired_conditions(PopulationData(rates, np.arange(3.0) * 20))


def _tiny(seed=0, n_trials=40, n_cond=3, n_neurons=8, t=np.arange(20.0, 180.0, 20.0), on=60.0, off=120.0):
    C, d, z = synthetic_population(n_cond, n_neurons, 1, t, seed=seed)
    delta = additive_delta(t, n_neurons, on, off, rank=1, scale=3.0, seed=seed + 1)
    return C, d, z, delta


def test_bands_use_the_full_observed_information():
    # §8.5: inverse of the observed Fisher information (Hessian of the negative log-likelihood).
    # (a) the Hessian equals a finite-difference Hessian of the full objective (second differences of
    # its values, all parameter pairs); (b) the reported marginal covariance is the block of the inverse
    # of that full matrix, wider than the per-block inverse with the other parameters held fixed.
    import jax
    import jax.flatten_util
    import jax.numpy as jnp

    from neurodyn.models.stim_lvm.objective import objective

    t = np.arange(20.0, 140.0, 20.0)
    C, d, z, delta = _tiny(n_cond=2, n_neurons=4, t=t)
    ds = stimulated_dataset(C, d, z, t, 40.0, 100.0, kind="additive", delta=delta, n_trials=30, seed=1)
    m = StimLVM(1, max_iter=2000, tol=1e-9, delta_rank=1).fit(ds, t_ms=t, stim_on_ms=40.0, stim_off_ms=100.0)
    H, layout = m.observed_information()
    params = {k: jnp.asarray(v) for k, v in m.params_.items()}
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    f = jax.jit(jax.vmap(lambda x: objective(unravel(x), m._data, m._static(m.bin_ms_ / 1000.0))))
    n, h = flat.size, 1e-3
    E = np.eye(n) * h
    i, j = np.triu_indices(n)
    pts = np.concatenate([flat + E[i] + E[j], flat + E[i] - E[j], flat - E[i] + E[j], flat - E[i] - E[j]])
    v = np.asarray(f(jnp.asarray(pts))).reshape(4, -1)
    Hfd = np.zeros((n, n))
    Hfd[i, j] = (v[0] - v[1] - v[2] + v[3]) / (4 * h * h)
    Hfd = Hfd + np.triu(Hfd, 1).T
    np.testing.assert_allclose(H, Hfd, rtol=1e-3, atol=1e-3 * np.abs(H).max())
    cov_fd = np.linalg.inv(Hfd)
    sl = layout["v"][0]
    cov_v = m.posterior_covariance(["v"])
    np.testing.assert_allclose(cov_v, cov_fd[sl, sl], rtol=1e-3, atol=1e-3 * np.abs(cov_v).max())
    fixed = np.linalg.inv(H[sl, sl])            # the others held fixed
    assert np.all(np.diag(m.posterior_covariance(["v"])) > np.diag(fixed))


def test_posterior_spread_matches_refits_on_simulated_data():
    # Laplace SD (full observed information) of the window-mean latent of each condition (z and z~),
    # centred across conditions (a common shift of all conditions trades off against d and Delta and is
    # fixed by the priors alone), against the root-mean-square error about the truth of MAP refits to
    # datasets simulated from one known model (same readout). Under the GP prior the MAP is shrunk, so
    # its error about the truth (spread and shrinkage bias), not its spread alone, is what the posterior
    # SD describes; 10 refits estimate it to ~ +-25%.
    C, d, z, delta = _tiny()
    t = np.arange(20.0, 180.0, 20.0)
    win = (t >= 60.0) & (t < 120.0)
    truth = StimLVM(1, delta_rank=1, max_iter=2000, tol=1e-8)
    ds = stimulated_dataset(C, d, z, t, 60.0, 120.0, kind="additive", delta=delta, n_trials=300, seed=0)
    truth.fit(ds, t_ms=t, stim_on_ms=60.0, stim_off_ms=120.0, readout=C, offset=d)

    def summary(a, b):
        def c(v):
            return v - v.mean(-3, keepdims=True)
        return np.concatenate([c(a)[..., win, :].mean(-2), c(b)[..., win, :].mean(-2)], -2)

    zs, zss = truth.latent_posterior_samples(400, seed=1)
    post_sd = summary(zs, zss).std(0).ravel()
    ref = summary(truth.z_, truth.z_stim_).ravel()
    err = []
    for r in range(10):
        sim = truth.sample(300, seed=100 + r)
        m = StimLVM(1, delta_rank=1, max_iter=2000, tol=1e-6).fit(sim, t_ms=t, stim_on_ms=60.0, stim_off_ms=120.0,
                                                                  readout=C, offset=d)
        err.append(summary(m.z_, m.z_stim_).ravel() - ref)
    rms = np.sqrt(np.mean(np.square(err), axis=0))
    ratio = post_sd / rms
    # measured: z~ (the bands of beta_t and the distortion during stimulation) 1.04-1.49, median 1.08;
    # z 1.75-1.82: the bands of the non-stimulated latents are wider than the refit error, not narrower.
    # (The sandwich H^-1 J H^-1 of the same Hessian gives 0.09 as well: the excess is not the prior.
    # The shaped likelihood is not the Poisson likelihood of the counts, so its curvature need not equal
    # the variance of its score.)
    assert 0.7 < np.median(ratio[3:]) < 1.4, (post_sd, rms)
    assert np.all(ratio > 0.7), (post_sd, rms)


def test_fitted_rates_do_not_depend_on_the_bin_width():
    # kappa is fixed in rate units (10 per spikes/s; likelihood docstring), so counts of the same rates
    # binned at 10 ms and at 20 ms give the same fitted rates.
    t10 = np.arange(5.0, 300.0, 10.0)
    C, d, z = synthetic_population(3, 10, 1, t10, loading_sd=6.0, base_rate=(4.0, 16.0), seed=3)
    ds = stimulated_dataset(C, d, z, t10, 100.0, 200.0, kind="additive",
                            delta=additive_delta(t10, 10, 100.0, 200.0, rank=1, scale=4.0, seed=4), n_trials=40, seed=5)
    t20 = t10.reshape(-1, 2).mean(1)
    pair = {k: ds[k].reshape(3, -1, 2, 10).mean(2) for k in ("xhat", "yhat")}     # 20 ms bins: mean of two 10 ms
    fits = {}
    for name, data, t in (("10", ds, t10), ("20", pair, t20)):
        m = StimLVM(1, delta_rank=1, max_iter=2000, tol=1e-8).fit(data["xhat"], data["yhat"], 40.0, 40.0, t, 100.0, 200.0)
        fits[name] = m.predict()
    r10 = fits["10"].reshape(6, -1, 2, 10).mean(2)
    r20 = fits["20"]
    # seeded fixture (8% of the true stimulated rates are negative, 20% below 5 spikes/s): mean
    # |difference| 0.20 spikes/s of a mean |rate| of 11.0 (1.8%; what remains is the censoring, which is
    # not additive over bins); with kappa re-applied per data bin (kappa_bin_ms = the bin width: 0.1 and
    # 0.2 per spikes/s) it is 0.34 (3.0%)
    scale = np.abs(r20).mean()
    assert np.abs(r10 - r20).mean() < 0.024 * scale, (np.abs(r10 - r20).mean(), scale)


def test_convergence_is_the_optimisers_own_report():
    # converged_ / status_ / message_ come from the optimiser (SciPy's res.success, res.status,
    # res.message), and a fit that is stopped early says so. (The JAX path reports status 1 and
    # "max_iter=3" the same way; it is left out here for its compile time.)
    t = np.arange(20.0, 140.0, 20.0)
    C, d, z, delta = _tiny(n_cond=2, n_neurons=4, t=t)
    ds = stimulated_dataset(C, d, z, t, 40.0, 100.0, kind="additive", delta=delta, n_trials=30, seed=1)
    kw = dict(t_ms=t, stim_on_ms=40.0, stim_off_ms=100.0)
    with pytest.warns(RuntimeWarning, match="did not report convergence"):
        short = StimLVM(1, delta_rank=1, max_iter=3).fit(ds, **kw)
    assert not short.converged_ and short.status_ == 1 and short.n_iter_ == 3
    assert "ITERATIONS REACHED LIMIT" in short.message_
    full = StimLVM(1, delta_rank=1, max_iter=3000).fit(ds, **kw)
    assert full.converged_ and full.status_ == 0 and full.n_iter_ < 3000 and "CONVERGENCE" in full.message_

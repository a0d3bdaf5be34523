"""Self-contained-subspace E/I network (seed 001 §10-§12): constraints, exact x-dynamics, EM recovery."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from neurodyn.analysis import r2_score, signal_variance_explained
from neurodyn.models import EISubspaceNetwork, NotFittedError
from neurodyn.models.ei_subspace import (
    balance_residual,
    chance_projection,
    clip_spectral_radius,
    dale_violations,
    fit_w,
    projection_fraction,
    random_balanced_ei,
    self_containment_residual,
    shrink_to_radius,
    sparsity_mask,
    subspace_projection,
)
from neurodyn.models.ei_subspace.simulate import make_ground_truth, poisson_trials
from neurodyn.models.heldout import co_smoothing, heldout_neuron_split, pca_ridge_baseline
from neurodyn.perturb import OptogeneticStimulation


def _sorted_eigs(A):
    lam = np.linalg.eigvals(A)
    return lam[np.lexsort((lam.imag, np.round(np.abs(lam), 6)))]


def test_self_contained_x_evolves_by_JWJplus_exactly():
    # W = J^+ A J + (I - J^+ J) M satisfies J W (I - J^+ J) = 0 by construction (J (I - J^+ J) = 0);
    # then x_t = J nu_t must follow x_{t+1} = (J W J^+) x_t to rounding error, for any nu_0.
    rng = np.random.default_rng(0)
    N, K, T = 60, 3, 40
    J = subspace_projection(K, N, seed=1)
    Jp = np.linalg.pinv(J)
    A = 0.9 * np.linalg.qr(rng.normal(size=(K, K)))[0]
    W = Jp @ A @ J + (np.eye(N) - Jp @ J) @ rng.normal(0, 0.8 / np.sqrt(N), (N, N))
    assert self_containment_residual(W, J) < 1e-12
    nu = rng.normal(size=N)
    x = J @ nu
    Ax = J @ W @ Jp
    np.testing.assert_allclose(Ax, A, atol=1e-12)
    for _ in range(T):
        nu, x = W @ nu, Ax @ x
    np.testing.assert_allclose(J @ nu, x, rtol=1e-9, atol=1e-9)
    # a generic W is not self-contained: the same comparison fails, so the check has teeth
    W2 = rng.normal(0, 0.8 / np.sqrt(N), (N, N))
    assert self_containment_residual(W2, J) > 0.5
    nu = rng.normal(size=N)
    x = J @ nu
    A2 = J @ W2 @ Jp
    for _ in range(5):
        nu, x = W2 @ nu, A2 @ x
    assert np.linalg.norm(J @ nu - x) > 1e-3 * np.linalg.norm(x)


def test_random_balanced_ei_and_masks():
    N = 80
    e = np.arange(N) < N // 2
    mask = sparsity_mask(N, 0.25, seed=3)
    assert np.all(np.diag(mask))
    # off-diagonal density is Bernoulli(0.25): mean within 4 binomial SEs
    off = mask[~np.eye(N, dtype=bool)]
    assert abs(off.mean() - 0.25) < 4 * np.sqrt(0.25 * 0.75 / off.size)
    W = random_balanced_ei(mask, e, 0.85, seed=4)
    assert dale_violations(W, e, mask) == 0
    assert balance_residual(W) < 1e-12
    assert np.max(np.abs(np.linalg.eigvals(W))) == pytest.approx(0.85, rel=1e-10)


def test_fit_w_penalties_drive_residuals_to_zero_with_exact_dale():
    # matching J W J^+ to a target A (P = Q = I, M = A) under growing penalties: both residuals fall with the
    # weight (quadratic-penalty theory: residual ~ 1/eps), and the sign bounds hold exactly throughout.
    N, K = 120, 3
    e = np.arange(N) < N // 2
    J = subspace_projection(K, N, seed=5)
    mask = sparsity_mask(N, 0.25, seed=6)
    W = random_balanced_ei(mask, e, 0.5, seed=7)
    A = np.diag([0.95, 0.9, 0.0])
    res = []
    for eps in (1.0, 1e2, 1e4):
        W = fit_w(W, mask, e, J, np.eye(K), A, np.eye(K), eps, eps, max_iter=800)
        res.append((self_containment_residual(W, J), balance_residual(W)))
        assert dale_violations(W, e, mask) == 0
    assert res[-1][0] < 1e-2 * res[0][0] and res[-1][0] < 1e-3
    assert res[-1][1] < 1e-2 * res[0][1] and res[-1][1] < 1e-3


def test_chance_projection_matches_monte_carlo():
    # E ||P v|| / ||v|| for random K-dim subspaces: closed form (Beta distribution) vs 2000 Gaussian J draws
    N, K = 50, 4
    rng = np.random.default_rng(0)
    v = rng.normal(size=N)
    vals = np.array([projection_fraction(v, rng.normal(size=(K, N))) for _ in range(2000)])
    exact = chance_projection(K, N)
    assert abs(vals.mean() - exact) < 4 * vals.std() / np.sqrt(vals.size)
    assert exact == pytest.approx(np.sqrt(K / N), rel=0.08)


def test_opto_response_projection_is_at_chance():
    # E-targeted stimulation of a balanced Dale network: the response W s (amplified along the co-activation
    # pattern, §14) is a fixed vector with respect to an independent random J, so its projection on the row
    # space of J averages to the analytic chance level ~ sqrt(K/N) (§11).
    N, K = 200, 4
    e = np.arange(N) < N // 2
    W = random_balanced_ei(sparsity_mask(N, 0.25, seed=1), e, 0.85, seed=2)
    stim = OptogeneticStimulation(amplitude=1.0)
    rng = np.random.default_rng(3)
    fr = []
    for k in range(400):
        s = stim.vector(e, seed=k)
        resp = s + W @ s + W @ (W @ s)
        fr.append(projection_fraction(resp, subspace_projection(K, N, seed=int(rng.integers(1 << 30)))))
    fr = np.array(fr)
    assert abs(fr.mean() - chance_projection(K, N)) < 4 * fr.std() / np.sqrt(fr.size)
    assert fr.mean() == pytest.approx(np.sqrt(K / N), rel=0.1)


@pytest.fixture(scope="module")
def truth_and_fit():
    gt = make_ground_truth(200, 4, 30, 6, 50, 15, seed=0)
    rates = gt.rates(gt.run())
    Y = poisson_trials(rates, 50, gt.dt_ms, seed=1).mean(1)
    with pytest.warns(ConvergenceWarning, match="max_iter=25"):
        model = EISubspaceNetwork(200, 4, 15, max_iter=25, seed=1).fit(Y[:5])   # condition 5 held out
    return gt, rates, Y, model


def test_generator_is_self_contained_balanced_dale_and_stable(truth_and_fit):
    gt, rates, _, _ = truth_and_fit
    assert self_containment_residual(gt.W, gt.J) < 1e-5
    assert balance_residual(gt.W) < 1e-6
    assert dale_violations(gt.W, gt.is_excitatory, gt.mask) == 0
    assert np.max(np.abs(np.linalg.eigvals(gt.W))) < 1.0
    # the network's task dynamics are the prescribed ones (to penalty precision)
    np.testing.assert_allclose(_sorted_eigs(gt.A), _sorted_eigs(gt.A_target), atol=0.03)
    # x = J nu from the full N-unit simulation equals the K-dimensional recursion with A = J W J^+
    nu = gt.run()
    x = gt.m0.copy()
    Bu = np.einsum("btu,ku->btk", gt.inputs(), gt.B)
    for t in range(1, gt.n_times):
        x = x @ gt.A.T + Bu[:, t]
    np.testing.assert_allclose(nu[:, -1] @ gt.J.T, x, rtol=1e-3, atol=1e-3 * np.abs(x).max())


def test_fit_constraints_and_recovery(truth_and_fit):
    gt, rates, Y, m = truth_and_fit
    assert m.dale_violations() == 0
    assert m.self_containment_residual() < 1e-3
    assert m.balance_residual() < 1e-5
    assert m.W_.shape == (200, 200) and m.A_.shape == (4, 4)
    np.testing.assert_allclose(m.A_, m.J_ @ m.W_ @ m.J_pinv_, atol=1e-12)
    # x-space eigenvalues of the generator recovered approximately (moduli and rotation frequency)
    lt, lf = _sorted_eigs(gt.A), _sorted_eigs(m.A_)
    np.testing.assert_allclose(np.abs(lf), np.abs(lt), atol=0.06)
    assert np.max(np.abs(lf.imag)) == pytest.approx(np.max(np.abs(lt.imag)), abs=0.03)
    # forward prediction explains most of the true (noise-free) rates' variance
    assert signal_variance_explained(rates[:5], m.predict()) > 0.85
    # the recorded objective is the penalised one: below the likelihood by the (non-negative) penalties
    assert np.all(m.objective_ <= m.loglik_) and m.objective_.shape == m.loglik_.shape
    assert m.stop_reason_ == "max_iter"
    # network-space run reproduces the x-space prediction through x = J nu
    nu = m.simulate_network(np.atleast_2d(m.m0_) @ m.J_pinv_.T, m.condition_inputs())
    pred = (nu @ m.J_.T) @ m.C_.T + m.d_
    np.testing.assert_allclose(pred, m.predict(), atol=1e-2 * np.abs(m.predict()).max())


def test_latents_from_rates_is_the_noise_weighted_least_squares_state(truth_and_fit):
    # seed 001 §9.1's GLS initial state, shared by the latent models: x0 = argmin ||R^{-1/2}(C x + d - y0)||,
    # checked against an independent whitened least-squares solve on noisy rates of every condition
    _, _, Y, m = truth_and_fit
    y0 = Y[:, 0]
    w = 1.0 / np.sqrt(m.R_)
    ref = np.linalg.lstsq(m.C_ * w[:, None], ((y0 - m.d_) * w).T, rcond=None)[0].T
    np.testing.assert_allclose(m.latents_from_rates(y0), ref, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(m.latents_from_rates(y0[0]), ref[0], rtol=1e-9, atol=1e-9)


def test_heldout_condition_score(truth_and_fit):
    # Co-smoothing (protocol (b)) on condition 5, never seen in fit: 20% of the recorded neurons are predicted
    # from the others, with the initial state and inputs inferred from the held-in neurons only. The ceiling
    # is the R^2 of the true noise-free rates themselves on those noisy bins (measured 0.767); the fitted
    # network reaches 0.687, the PCA-ridge baseline fitted on conditions 0-4 0.673 (measured once).
    gt, rates, Y, m = truth_and_fit
    heldin, out = heldout_neuron_split(Y.shape[2], 0.2, seed=0)
    r2 = co_smoothing(m, Y[5:], out).r2
    ceiling = r2_score(Y[5:, :, out], rates[5:, :, out])
    assert ceiling - 0.12 < r2 <= ceiling + 0.02
    # seeded fixture value (derived once, 0.687); letting the scored neurons into the inference gives 0.746
    assert r2 == pytest.approx(0.687, abs=0.03)
    assert r2 > pca_ridge_baseline(Y[:5], Y[5:], heldin, out, 4)[0] - 0.02
    # the held-out neurons replaced by noise of their own mean and spread: nothing predicts it, so a score
    # above 0 would mean the scored neurons entered the inference (measured -0.03)
    Yn = Y[5:].copy()
    rng = np.random.default_rng(4)
    Yn[:, :, out] = Yn[:, :, out].mean((0, 1)) + Yn[:, :, out].std((0, 1)) * rng.standard_normal(Yn[:, :, out].shape)
    assert co_smoothing(m, Yn, out).r2 <= 0.02


def test_validation_errors():
    Y = np.zeros((2, 10, 5))
    with pytest.raises(ValueError, match="n_latents"):
        EISubspaceNetwork(40, 8).fit(Y)
    with pytest.raises(ValueError, match="transition"):
        EISubspaceNetwork(40, 2, transition=30).fit(Y)
    with pytest.raises(TypeError, match="n_units"):
        EISubspaceNetwork(40.5, 2).fit(Y)
    with pytest.raises(NotFittedError, match="fit"):
        EISubspaceNetwork(40, 2).predict()
    with pytest.raises(ValueError, match="3-d array"):
        EISubspaceNetwork(40, 2).fit(Y[0])


def test_clip_spectral_radius_moves_only_the_offending_eigenvalues():
    # A = V diag-blocks V^-1 with a rotation pair 1.05 e^{+-0.2i}, and real eigenvalues 1.02, 0.5, -0.3 built
    # by hand: clipping at 0.99 must give 0.99 e^{+-0.2i}, 0.99, 0.5, -0.3 on the same eigenvectors.
    rng = np.random.default_rng(0)
    V = rng.normal(size=(5, 5))
    th = 0.2
    L = np.zeros((5, 5))
    L[:2, :2] = 1.05 * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    L[2, 2], L[3, 3], L[4, 4] = 1.02, 0.5, -0.3
    Vi = np.linalg.inv(V)
    A = V @ L @ Vi
    Ac = clip_spectral_radius(A, 0.99)
    L_expected = L.copy()
    L_expected[:2, :2] *= 0.99 / 1.05
    L_expected[2, 2] = 0.99
    assert np.isrealobj(Ac)
    np.testing.assert_allclose(Vi @ Ac @ V, L_expected, atol=1e-10)
    # a matrix already inside the disc is returned unchanged
    np.testing.assert_allclose(clip_spectral_radius(0.5 * A, 0.99), 0.5 * A, atol=1e-12)


def test_shrink_to_radius_keeps_every_constraint():
    # c W with c = r / rho(J W J^+): rho(A) = r exactly, and Dale signs, mask, balance and the relative
    # self-containment residual are invariant under a positive scale (seed 001 §10.1, eqs. 41, 43)
    N, K = 100, 3
    e = np.arange(N) < N // 2
    J = subspace_projection(K, N, seed=2)
    mask = sparsity_mask(N, 0.25, seed=3)
    W = random_balanced_ei(mask, e, 0.6, seed=4)
    W = fit_w(W, mask, e, J, np.eye(K), np.diag([0.9, 0.7, 0.0]), np.eye(K), 1.0, 1.0, max_iter=200)
    assert self_containment_residual(W, J) > 1e-3        # not exactly self-contained: the ratio must persist
    rho = np.max(np.abs(np.linalg.eigvals(J @ W @ np.linalg.pinv(J))))
    r = 0.5 * rho
    Ws, c = shrink_to_radius(W, J, r)
    assert c == pytest.approx(0.5, rel=1e-12)
    assert np.max(np.abs(np.linalg.eigvals(J @ Ws @ np.linalg.pinv(J)))) == pytest.approx(r, rel=1e-10)
    assert dale_violations(Ws, e, mask) == 0
    assert balance_residual(Ws) == pytest.approx(balance_residual(W), rel=1e-10)
    assert self_containment_residual(Ws, J) == pytest.approx(self_containment_residual(W, J), rel=1e-10)
    # inside the disc nothing changes
    Wt, c1 = shrink_to_radius(0.5 * Ws, J, r)
    assert c1 == 1.0 and np.array_equal(Wt, 0.5 * Ws)


def test_spectral_radius_bound_on_m1_data():
    # Bundled M1 data (4 training conditions), small network. The initialising LDS is expanding (|lambda|
    # ~1.012 per 10-ms bin) and the unconstrained fit ends at rho(A) ~0.997; with the bound at 0.9 (binding
    # in every W update) rho(A) <= 0.9 exactly, all constraints hold, and the forward fit of the training
    # conditions drops only a little (measured 0.635 -> 0.604).
    from neurodyn.data import load_example, soft_normalize

    data = load_example("hatsopoulos2007").select_time(-200.0, 300.0)
    Y = soft_normalize(data.rates, 5.0)[::2]
    tb = int(np.searchsorted(data.t_ms, -150.0))
    kw = dict(max_iter=4, w_iter=100, lds_iter=30, seed=0)
    free = EISubspaceNetwork(120, 4, tb, max_spectral_radius=None, **kw).fit(Y)
    bound = EISubspaceNetwork(120, 4, tb, max_spectral_radius=0.9, **kw).fit(Y)
    rho_free = np.max(np.abs(np.linalg.eigvals(free.J_ @ free.W_ @ np.linalg.pinv(free.J_))))
    rho_bound = np.max(np.abs(np.linalg.eigvals(bound.J_ @ bound.W_ @ np.linalg.pinv(bound.J_))))
    assert np.max(np.abs(np.linalg.eigvals(free.lds_A_))) > 1.0
    assert rho_free > 0.95 and free.stability_shrink_.size == 0
    assert rho_bound <= 0.9 + 1e-9
    assert bound.stability_active_.all() and bound.stability_active_.size == 5
    assert bound.dale_violations() == 0
    assert bound.balance_residual() < 1e-3 and bound.self_containment_residual() < 5e-3
    sve_free = signal_variance_explained(Y, free.predict())
    sve_bound = signal_variance_explained(Y, bound.predict())
    assert sve_bound > sve_free - 0.06
    with pytest.raises(ValueError, match="max_spectral_radius"):
        EISubspaceNetwork(120, 4, tb, max_spectral_radius=-1.0).fit(Y)

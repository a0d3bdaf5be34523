"""State and dynamics perturbations (seed 000 Fig. 1d-e) against analytic results."""

import numpy as np
import pytest
import scipy.linalg

from neurodyn import Network
from neurodyn.connectivity import multi_area, random_ei
from neurodyn.dynamics import Linear, linear_solution, simulate
from neurodyn.perturb import (Cooling, Lesion, SilenceProjection, StateDisplacement, manifold_basis,
                              outside_manifold_displacement, slowing_factor, within_manifold_displacement)


def test_cooling_slows_linear_trajectories_by_exactly_c():
    net = random_ei(40, 0.2, rho=0.7, gamma=2.0, seed=0, tau=50.0)
    x0 = np.random.default_rng(0).standard_normal(40)
    c = 2.5
    cooled = Cooling(c).apply(net)
    np.testing.assert_allclose(cooled.tau, 125.0)
    t = np.arange(0.0, 400.0, 5.0)
    # analytic: x_c(c t) = expm((W - I) c t / (c tau)) x0 = x(t)
    x = linear_solution(net, x0, t)
    xc = linear_solution(cooled, x0, c * t)
    np.testing.assert_allclose(xc, x, rtol=1e-9, atol=1e-10)
    ref = np.stack([scipy.linalg.expm((np.asarray(net.W) - np.eye(40)) * tt / 50.0) @ x0 for tt in t[:5]])
    np.testing.assert_allclose(x[:5], ref, rtol=1e-9, atol=1e-12)
    # the measured time-warp factor of the nonlinear (RK4) simulation is c
    tt = np.arange(0.0, 1500.0, 5.0)
    a = np.asarray(simulate(net, 5 * x0, tt, dt=1.0))
    b = np.asarray(simulate(cooled, 5 * x0, tt, dt=1.0))
    assert slowing_factor(tt, a, b) == pytest.approx(c, rel=2e-3)
    assert slowing_factor(tt, a, a) == pytest.approx(1.0, abs=1e-4)


def test_cooling_one_area_and_lesion():
    m = multi_area((20, 16), rho=0.5, seed=2)
    net = m.network
    cooled = Cooling(3.0, area="A2").apply(net)
    tau = np.asarray(cooled.tau)
    assert np.all(tau[m.indices(0)] == 200.0) and np.all(tau[m.indices(1)] == 600.0)
    les = Lesion((0, 5, 25)).apply(net)
    keep = Lesion((0, 5, 25)).kept_indices(net.n)
    assert les.n == net.n - 3 and les.dale
    np.testing.assert_array_equal(np.asarray(les.W), np.asarray(net.W)[np.ix_(keep, keep)])
    assert les.areas.count("A1") == 18 and les.areas.count("A2") == 15
    with pytest.raises(ValueError, match="units"):
        Lesion((99,)).apply(net)
    with pytest.raises(ValueError, match="factor"):
        Cooling(0.0)


def test_silencing_a_projection_cuts_area_1_from_area_2():
    m = multi_area((20, 16), rho=0.5, strengths=0.8, seed=3)
    net = SilenceProjection("A1", "A2").apply(m.network)
    W, W0 = np.asarray(net.W), np.asarray(m.network.W)
    i1, i2 = m.indices(0), m.indices(1)
    assert np.all(W[np.ix_(i2, i1)] == 0) and np.any(W0[np.ix_(i2, i1)] != 0)
    np.testing.assert_array_equal(W[np.ix_(i1, i2)], W0[np.ix_(i1, i2)])
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(net.n)
    x0b = x0.copy()
    x0b[i1] += rng.standard_normal(i1.size)
    t = np.arange(0.0, 300.0, 10.0)
    for n_, same in ((net, True), (m.network, False)):
        a = np.asarray(simulate(n_, x0, t, gain_fn=Linear()))[:, i2]
        b = np.asarray(simulate(n_, x0b, t, gain_fn=Linear()))[:, i2]
        assert np.allclose(a, b, atol=1e-12) == same


def test_within_and_outside_manifold_displacements_have_equal_size():
    rng = np.random.default_rng(0)
    latent = rng.standard_normal((500, 3)) * [3.0, 2.0, 1.0]
    mix = np.linalg.qr(rng.standard_normal((10, 3)))[0]
    activity = latent @ mix.T + 0.01 * rng.standard_normal((500, 10))
    M = manifold_basis(activity, 3)
    # PCA recovers the mixing subspace (cosines of principal angles ~ 1)
    assert np.linalg.svd(M.T @ mix, compute_uv=False).min() > 0.999
    w = within_manifold_displacement(M, 2.0, seed=1)
    o = outside_manifold_displacement(M, 2.0, seed=1)
    assert w.size == pytest.approx(2.0) and o.size == pytest.approx(2.0)
    np.testing.assert_allclose(M @ (M.T @ w.delta), w.delta, atol=1e-12)
    np.testing.assert_allclose(M.T @ o.delta, 0.0, atol=1e-12)
    x = np.ones(10)
    np.testing.assert_allclose(w.apply(x), x + w.delta)
    assert isinstance(o, StateDisplacement) and o.kind == "outside"
    with pytest.raises(ValueError, match="basis"):
        within_manifold_displacement(np.ones((10, 2)), 1.0)
    with pytest.raises(ValueError, match="x"):
        w.apply(np.ones(3))


def test_network_type_errors():
    with pytest.raises(TypeError, match="network"):
        Cooling(2.0).apply(np.eye(3))
    with pytest.raises(ValueError, match="area"):
        SilenceProjection("A1", "A9").apply(Network(W=np.zeros((2, 2)), areas=("A1", "A2")))


def test_manifold_basis_by_variance_threshold():
    # six points +-s_i q_i on three orthonormal directions q_i of R^6 (zero mean): the PCA variances are
    # proportional to s_i^2 = 6, 3, 1, i.e. cumulative fractions 0.6, 0.9, 1.0 (exact, by construction), so
    # the task activity space (seed 001 §6) has 1, 2 or 3 dimensions for thresholds 0.5, 0.8 and 0.95
    Q = np.linalg.qr(np.random.default_rng(0).normal(size=(6, 3)))[0]
    s = np.sqrt([6.0, 3.0, 1.0])
    X = np.concatenate([s[:, None] * Q.T, -s[:, None] * Q.T])           # (6 samples, 6 neurons)
    for threshold, k in ((0.5, 1), (0.8, 2), (0.95, 3)):
        B = manifold_basis(X, threshold=threshold)
        assert B.shape == (6, k)
        np.testing.assert_allclose(np.abs(B.T @ Q[:, :k]), np.eye(k), atol=1e-12)   # the top-k directions
    np.testing.assert_allclose(manifold_basis(X, 2), manifold_basis(X, threshold=0.8), atol=0)
    with pytest.raises(ValueError, match="threshold"):
        manifold_basis(X, threshold=0.0)

"""Multi-area networks and the coupled multi-area LDS fitted by block-structured EM (seed 000)."""

import numpy as np
import pytest
import scipy.linalg
from threadpoolctl import threadpool_limits

from neurodyn.connectivity import multi_area
from neurodyn.models import (MultiAreaLDS, communication_subspace, random_two_area_params,
                             simulate_multi_area_lds)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def test_multi_area_network_dale_rank_and_proportions():
    m = multi_area((200, 160), p=0.1, rho=0.8, proportions=[[0, 0.05], [0.2, 0]], ranks=[[0, 1], [3, 0]],
                   strengths=[[0, 0.3], [0.7, 0]], taus=(100.0, 150.0), seed=4)
    net = m.network
    W = np.asarray(net.W)
    assert net.dale and net.n == 360 and net.n_excitatory == 180
    i1, i2 = m.indices(0), m.indices(1)
    np.testing.assert_array_equal(np.asarray(net.tau)[i1], 100.0)
    B12 = W[np.ix_(i2, i1)]
    # long-range projections come from E units only
    assert np.all(B12[:, 100:] == 0) and np.all(W[np.ix_(i1, i2)][:, 80:] == 0)
    assert np.linalg.matrix_rank(B12) == 3 and np.linalg.matrix_rank(W[np.ix_(i1, i2)]) == 1
    assert np.linalg.norm(B12, 2) == pytest.approx(0.7)
    # connection proportion: E[share nonzero] = 1 - (1 - a^2)^r = q by construction. Entries share factor
    # entries, so one draw varies (SD about 0.02 here); the mean over 20 draws is within 0.015 of q.
    from neurodyn.connectivity import projection_factors
    shares = []
    for s in range(20):
        U, V = projection_factors(160, 100, 3, 0.2, 1.0, np.random.default_rng(s))
        shares.append(np.mean(U @ V.T != 0))
    assert abs(np.mean(shares) - 0.2) < 0.015
    assert 0.1 < np.mean(B12[:, :100] != 0) < 0.3
    # the potent space is the row space of the block; its complement is output-null
    P = m.potent[(0, 1)]
    np.testing.assert_allclose(B12 @ P @ P.T, B12, atol=1e-12)
    null = scipy.linalg.null_space(P.T)
    np.testing.assert_allclose(B12 @ null, 0.0, atol=1e-12)
    # local blocks are the thesis construction (random_ei with seed + area)
    from neurodyn.connectivity import random_ei
    np.testing.assert_array_equal(W[np.ix_(i1, i1)], np.asarray(random_ei(200, 0.1, 0.8, 3.0, seed=4).W))
    with pytest.raises(ValueError, match="sizes"):
        multi_area((11, 10))


def test_em_recovers_rank2_communication_subspace_and_likelihood_never_decreases():
    k, p = 3, 12
    params = random_two_area_params((k, k), (p, p), rank=2, seed=0)
    x, y = simulate_multi_area_lds(params, 12, 80, seed=1)
    model = MultiAreaLDS((k, k), max_iter=60, tol=0.0).fit(y, (p, p))
    ll = model.loglik_
    assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[:-1]))
    assert ll[-1] > ll[0]
    fitted = model.communication_subspace(0, 1, rank=2)
    true = communication_subspace(params, (k, k), (p, p), 0, 1, rank=2)
    assert np.degrees(scipy.linalg.subspace_angles(fitted.potent, true.potent)).max() < 10.0
    assert np.degrees(scipy.linalg.subspace_angles(fitted.target_space, true.target_space)).max() < 10.0
    # the rank read from the singular values of the fitted block is 2
    assert model.communication_subspace(0, 1).rank == 2
    # potent and null spaces are orthogonal and together span the area's loading space
    assert fitted.null.shape == (p, 1)
    np.testing.assert_allclose(fitted.potent.T @ fitted.null, 0.0, atol=1e-10)
    assert fitted.potent_variance + fitted.null_variance == pytest.approx(1.0, abs=1e-8)
    # block structure is respected: C is block-diagonal
    C = np.asarray(model.params_.C)
    assert np.all(C[:p, k:] == 0) and np.all(C[p:, :k] == 0)


def test_true_subspaces_are_invariant_to_latent_basis_changes():
    # Neuron-space subspaces do not depend on the latent coordinates (docstring of neurodyn.models.multi_area_lds.subspace).
    k, p = 3, 10
    P = random_two_area_params((k, k), (p, p), rank=2, seed=5)
    rng = np.random.default_rng(0)
    T = scipy.linalg.block_diag(*(rng.standard_normal((k, k)) + 3 * np.eye(k) for _ in range(2)))
    Ti = np.linalg.inv(T)
    P2 = P._replace(A=T @ P.A @ Ti, C=P.C @ Ti, Q=T @ P.Q @ T.T)
    a = communication_subspace(P, (k, k), (p, p), 0, 1, rank=2)
    b = communication_subspace(P2, (k, k), (p, p), 0, 1, rank=2)
    assert np.degrees(scipy.linalg.subspace_angles(a.potent, b.potent)).max() < 1e-6
    assert np.degrees(scipy.linalg.subspace_angles(a.target_space, b.target_space)).max() < 1e-6


def test_fit_errors():
    with pytest.raises(ValueError, match="obs_sizes"):
        MultiAreaLDS((2, 2)).fit(np.zeros((2, 10, 7)), (3, 3))
    with pytest.raises(ValueError, match="latent_dims"):
        MultiAreaLDS((5, 2)).fit(np.zeros((2, 10, 6)), (3, 3))


def test_simulation_follows_the_joint_recursion_and_its_noise():
    # Without process noise the latents are x_t = A^t m0 (the closed form of the recursion); with it the
    # one-step residuals x_t - A x_{t-1} are N(0, Q): over 12 x 79 steps their sample covariance is within
    # 0.02 of Q = 0.1 I (sampling SD 0.1 sqrt(2 / 948) ~ 0.005) and their mean within 0.04 of 0 (SD 0.01).
    # Same system and shapes as the EM test above, so the suite compiles the simulation once.
    k, p = 3, 12
    params = random_two_area_params((k, k), (p, p), rank=2, seed=0)
    K = 2 * k
    m0 = np.linspace(-1.0, 1.0, K)
    still = params._replace(Q=np.zeros((K, K)), S0=np.zeros((K, K)), m0=m0)
    x, _ = simulate_multi_area_lds(still, 12, 80, seed=0)
    exact = np.stack([np.linalg.matrix_power(params.A, t) @ m0 for t in range(80)])
    np.testing.assert_allclose(x, np.broadcast_to(exact, x.shape), atol=1e-4)
    x, _ = simulate_multi_area_lds(params, 12, 80, seed=1)
    resid = (x[:, 1:] - x[:, :-1] @ params.A.T).reshape(-1, K)
    np.testing.assert_allclose(resid.mean(0), 0.0, atol=0.04)
    np.testing.assert_allclose(np.cov(resid.T), params.Q, atol=0.02)

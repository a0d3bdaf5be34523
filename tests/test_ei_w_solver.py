"""W update of the E/I subspace network (seed 001 §10.2, §10.4): gradient, bounded solver, initial W."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize as so

from neurodyn.connectivity import random_ei
from neurodyn.models.ei_subspace import (
    balance_residual,
    fit_w,
    random_balanced_ei,
    sparsity_mask,
    subspace_projection,
    w_objective_grad,
)


def _problem(N=30, K=3, seed=0):
    rng = np.random.default_rng(seed)
    e = np.arange(N) < N // 2
    mask = sparsity_mask(N, 0.3, seed=seed)
    J = subspace_projection(K, N, seed=seed + 1)
    X = rng.normal(size=(K, K))
    P = X @ X.T + 0.5 * np.eye(K)                     # SPD second moment
    Y = rng.normal(size=(K, K))
    Qi = np.linalg.inv(Y @ Y.T + 0.3 * np.eye(K))      # SPD inverse noise covariance
    M = rng.normal(size=(K, K))
    W = random_balanced_ei(mask, e, 0.8) + 0.05 * rng.normal(size=(N, N)) * mask
    return e, mask, J, P, M, Qi, W


@pytest.mark.parametrize("mu", [0.0, 0.7])
def testw_objective_gradient_equals_autodiff_of_the_penalised_objective(mu):
    # §10.4: the hand-derived gradient mask * (J^T R + beta (W1) 1^T + mu (W - Wref)) against jax.grad of
    # the objective 1/2 tr(Q^-1 (A P A^T - 2 M A^T)) + eps/2 ||J W (I - J^+ J)||^2 + beta/2 ||W 1||^2 (+ anchor),
    # written here from the definitions (A = J W J^+), not from w_objective_grad's value
    e, mask, J, P, M, Qi, W = _problem()
    rng = np.random.default_rng(5)
    Wref = rng.normal(size=W.shape) * mask
    Jp = np.linalg.pinv(J)
    eps, beta = 3.0, 2.0

    def objective(V):
        A = J @ V @ Jp
        Z = J @ V @ (np.eye(J.shape[1]) - Jp @ J)
        b = V @ jnp.ones(V.shape[1])
        return (0.5 * jnp.trace(Qi @ (A @ P @ A.T - 2.0 * M @ A.T)) + 0.5 * eps * jnp.sum(Z**2)
                + 0.5 * beta * jnp.sum(b**2) + 0.5 * mu * jnp.sum((V - Wref) ** 2))

    G, val = w_objective_grad(jnp.asarray(W), J, Jp, P, M, Qi, eps, beta, jnp.asarray(mask, float),
                     jnp.asarray(Wref) if mu else None, mu)
    G_ad = np.asarray(jax.grad(objective)(jnp.asarray(W))) * mask
    assert float(val) == pytest.approx(float(objective(jnp.asarray(W))), rel=1e-12)
    assert np.max(np.abs(np.asarray(G) - G_ad)) < 1e-12 * max(1.0, np.max(np.abs(G_ad)))
    assert np.max(np.abs(G_ad)) > 1e-2              # a non-trivial gradient


def test_fit_w_reaches_the_bounded_optimum_of_lbfgsb():
    # Independent route: SciPy's L-BFGS-B on the same bounded quadratic (free entries only, Dale bounds).
    e, mask, J, P, M, Qi, W0 = _problem(N=20, K=2, seed=3)
    eps, beta = 2.0, 2.0
    N = mask.shape[0]
    Jp = np.linalg.pinv(J)
    beta_s = beta / (mask.sum() / N)                 # fit_w's per-row scaling of the balance weight
    mk = jnp.asarray(mask, float)
    idx = np.flatnonzero(mask.ravel())
    lo = np.where(e[None, :], 0.0, -np.inf) * np.ones((N, 1))
    hi = np.where(e[None, :], np.inf, 0.0) * np.ones((N, 1))

    vg = jax.jit(lambda V: w_objective_grad(V, J, Jp, P, M, Qi, eps, beta_s, mk, None, 0.0))

    def fun(x):
        V = np.zeros(N * N)
        V[idx] = x
        G, v = vg(jnp.asarray(V.reshape(N, N)))
        return float(v), np.asarray(G).ravel()[idx]

    ref = so.minimize(fun, W0.ravel()[idx], jac=True, method="L-BFGS-B",
                      bounds=list(zip(lo.ravel()[idx], hi.ravel()[idx])),
                      options=dict(maxiter=20000, maxfun=40000, ftol=1e-15, gtol=1e-11))
    W = fit_w(W0, mask, e, J, P, M, Qi, eps, beta, max_iter=3000)
    f_fit = fun(W.ravel()[idx])[0]
    assert f_fit == pytest.approx(ref.fun, abs=1e-7 * max(1.0, abs(ref.fun)))
    assert np.all(W[:, e] >= 0) and np.all(W[:, ~e] <= 0) and np.all(W[~mask] == 0)
    assert fun(W0.ravel()[idx])[0] - ref.fun > 1e-2     # the start is far from the optimum


def test_random_balanced_ei_follows_the_hennequin_distribution():
    # §10.2 cites the weight distribution of Hennequin et al. 2014 (thesis eq. 1.15, `random_ei`): present
    # connections have one magnitude for E and one for I. Independent route: the closed form
    # W_ij = c (mask_ij [j in E] - mask_ij [j in I] n_E,i / n_I,i), c from numpy's eigenvalues.
    N = 60
    e = np.arange(N) < N // 2
    mask = sparsity_mask(N, 0.25, seed=2)
    W = random_balanced_ei(mask, e, 0.85)
    nE, nI = (mask & e).sum(1), (mask & ~e).sum(1)
    ok = (nE > 0) & (nI > 0)
    V = np.where(mask & e[None, :], 1.0, 0.0) - np.where(mask & ~e[None, :], (nE / np.maximum(nI, 1))[:, None], 0.0)
    V[~ok] = 0.0
    V *= 0.85 / np.max(np.abs(np.linalg.eigvals(V)))
    np.testing.assert_allclose(W, V, rtol=1e-12, atol=1e-15)
    # one excitatory magnitude, as in Hennequin's (and `random_ei`'s) matrix
    assert np.ptp(W[:, e][W[:, e] > 0]) < 1e-12
    We = random_ei(N, 0.25, 5.0, 3.0, seed=0).W[:, e]
    assert np.ptp(We[We > 0]) < 1e-12
    assert balance_residual(W) < 1e-12
    U = random_balanced_ei(mask, e, 0.85, seed=4, distribution="uniform")
    assert np.ptp(U[:, e][U[:, e] > 0]) > 0.1 and balance_residual(U) < 1e-12
    with pytest.raises(ValueError, match="distribution='lognormal'"):
        random_balanced_ei(mask, e, 0.85, distribution="lognormal")

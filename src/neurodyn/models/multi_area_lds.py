"""Coupled multi-area linear dynamical system, fitted by EM with its block structure (seed 000).

Seed 000 (section "Models of large scale, brain-wide neural population dynamics") writes the didactic
two-area model

    x1(t+1) = A1 x1(t) + B1 u1(t) + B_{2->1} x2(t)
    x2(t+1) = A2 x2(t) + B2 u2(t) + B_{1->2} x1(t)

where ``B_{1->2}`` "can be thought of as a communication subspace (CS) that selectively extracts
features of x1 to propagate to x2", and asks for "systems identification techniques to learn parameters
of coupled dynamical systems from multi-area neural recordings". Here, for M areas with latent
dimensions k_a, observed neurons p_a and inputs m_a, with the LDS of seed 000 Fig. 1a per area
(``y = C x + d``) and Gaussian noise::

    x_a(t) = A_a x_a(t-1) + sum_{b != a} B_{b->a} x_b(t-1) + B_a u_a(t) + w_a(t),  w_a ~ N(0, Q_a)
    y_a(t) = C_a x_a(t) + d_a + v_a(t),                                          v_a ~ N(0, diag R_a)

i.e. one joint LDS ``x(t) = A x(t-1) + B u(t) + w`` with a full block matrix ``A`` (diagonal blocks
A_a, off-diagonal blocks ``A[a, b] = B_{b->a}``), block-diagonal ``B = diag(B_a)``, ``Q = diag(Q_a)``,
``C = diag(C_a)`` and diagonal R (inputs are indexed as in `neurodyn.models.lds.inference`: u(t) drives
the step into t, seed 000's x(t+1) = A x(t) + B u(t) with the index shifted by one).

EM (derived here for this block structure; the E-step is the Kalman/RTS smoother of
`neurodyn.models.lds.inference.kalman_smoother_batch`). With smoothed moments summed over trials and
time, ``S_zz = sum E[z z^T]`` etc., the expected complete-data log-likelihood separates into one term
per area for the dynamics (Q block-diagonal) and one per neuron for the emissions (R diagonal):

* dynamics of area a: rows ``F_a = [A[a, :], B_a]`` regress ``x_a(t)`` on ``z_a(t) = [x(t-1); u_a(t)]``
  (all areas' previous states, only area a's inputs). Maximising
  ``-n/2 log|Q_a| - 1/2 tr(Q_a^{-1} sum E[(x_a - F_a z_a)(x_a - F_a z_a)^T])`` gives the constrained
  least-squares solution

      F_a = (sum E[x_a(t) z_a(t)^T]) (sum E[z_a(t) z_a(t)^T])^{-1}
      Q_a = (sum E[x_a(t) x_a(t)^T] - F_a sum E[z_a(t) x_a(t)^T]) / n

  (the zero blocks of B are enforced by leaving other areas' inputs out of z_a; the zero blocks of Q by
  fitting Q_a separately);
* emissions of area a: ``[C_a, d_a] = (sum y_a E[s_a]^T)(sum E[s_a s_a^T])^{-1}`` with
  ``s_a = [x_a; 1]`` (only area a's latents: C block-diagonal), and
  ``R_a = diag(sum y_a y_a^T - [C_a, d_a] sum E[s_a] y_a^T) / n``;
* initial state: ``m0`` = mean of E[x(0)], ``S0`` = mean of E[x(0) x(0)^T] - m0 m0^T.

Each update is the exact maximiser of its term, so the likelihood never decreases (checked in tests).

Communication subspace (seed 000: the CS and "output-null" spaces). Latent coordinates are identified
only up to an invertible map per area (x_a -> T_a x_a), so the subspaces are reported in neuron space,
where they are invariant: for the projection a -> b with fitted block ``B_{a->b} = A[b, a]``,

* potent space of area a: the row space of ``B_{a->b} C_a^+`` (``C_a^+`` the pseudo-inverse; under
  ``C_a -> C_a T_a^{-1}``, ``B -> T_b B T_a^{-1}`` it maps to ``T_b B C_a^+``, same row space);
* output-null space: the part of span(C_a) orthogonal to it (activity there does not reach area b);
* target space in area b: the column space of ``C_b B_{a->b}``;
* their rank: the number of singular values of ``B_{a->b} C_a^+`` above ``rel_tol`` x the largest, or
  given (e.g. by reduced-rank regression, `neurodyn.analysis.communication`);
* alignment: principal angles between the potent space and the top principal components of area a's
  denoised activity ``C_a E[x_a | y]``, and the share of that activity's variance in the potent and in
  the null space.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from sklearn.decomposition import PCA

from neurodyn.validation import fail, finite_array, in_range, positive_int
from neurodyn.models.base import NeurodynEstimator, check_rates
from neurodyn.models.lds.inference import LDSParams, kalman_smoother_batch
from neurodyn.progress import progress

__all__ = ["CommunicationSubspace", "MultiAreaLDS", "communication_subspace", "multi_area_lds_params",
           "random_two_area_params", "simulate_multi_area_lds"]


def _offsets(sizes):
    return np.concatenate([[0], np.cumsum(sizes)]).astype(int)


def multi_area_lds_params(A_blocks, C_blocks, *, B_blocks=None, Q_blocks=None, R=None, d=None, m0=None,
                          S0=None) -> LDSParams:
    """Assemble the joint `LDSParams` from per-area blocks.

    ``A_blocks[a][b]`` is the (k_a x k_b) block: ``A_a`` on the diagonal and ``B_{b->a}`` off it (None for
    zero). ``C_blocks[a]`` (p_a x k_a); ``B_blocks[a]`` (k_a x m_a) or None; ``Q_blocks[a]`` (k_a x k_a,
    default identity); ``R`` (sum p_a,) diagonal noise (default 0.1); ``d`` offsets (default 0).
    """
    M = len(C_blocks)
    k = [np.asarray(A_blocks[a][a]).shape[0] for a in range(M)]
    p = [np.asarray(C_blocks[a]).shape[0] for a in range(M)]
    ko, po = _offsets(k), _offsets(p)
    K, N = ko[-1], po[-1]
    A = np.zeros((K, K))
    C = np.zeros((N, K))
    Q = np.zeros((K, K))
    for a in range(M):
        for b in range(M):
            blk = A_blocks[a][b]
            if blk is not None:
                blk = finite_array(f"A_blocks[{a}][{b}]", blk, ndim=2)
                if blk.shape != (k[a], k[b]):
                    fail(f"A_blocks[{a}][{b}]", blk, f"shape ({k[a]}, {k[b]})")
                A[ko[a]:ko[a + 1], ko[b]:ko[b + 1]] = blk
        Cb = finite_array(f"C_blocks[{a}]", C_blocks[a], ndim=2)
        if Cb.shape[1] != k[a]:
            fail(f"C_blocks[{a}]", Cb, f"{k[a]} columns (latents of area {a})")
        C[po[a]:po[a + 1], ko[a]:ko[a + 1]] = Cb
        Q[ko[a]:ko[a + 1], ko[a]:ko[a + 1]] = (np.eye(k[a]) if Q_blocks is None
                                               else finite_array(f"Q_blocks[{a}]", Q_blocks[a], ndim=2))
    if B_blocks is None:
        B = np.zeros((K, 0))
    else:
        m = [0 if B_blocks[a] is None else np.asarray(B_blocks[a]).shape[1] for a in range(M)]
        mo = _offsets(m)
        B = np.zeros((K, mo[-1]))
        for a in range(M):
            if B_blocks[a] is not None:
                B[ko[a]:ko[a + 1], mo[a]:mo[a + 1]] = finite_array(f"B_blocks[{a}]", B_blocks[a], ndim=2)
    R = np.full(N, 0.1) if R is None else finite_array("R", R, ndim=1)
    d = np.zeros(N) if d is None else finite_array("d", d, ndim=1)
    m0 = np.zeros(K) if m0 is None else finite_array("m0", m0, ndim=1)
    S0 = np.eye(K) if S0 is None else finite_array("S0", S0, ndim=2)
    return LDSParams(A, B, C, d, Q, R, m0, S0)


def simulate_multi_area_lds(params: LDSParams, n_trials: int, n_steps: int, *, inputs=None, seed: int = 0):
    """Sample ``(x, y)`` of shapes (trials, T, K) and (trials, T, N) from the joint LDS (JAX ``lax.scan``).

    ``x(0) ~ N(m0, S0)``; ``x(t) = A x(t-1) + B u(t) + w(t)``; ``y(t) = C x(t) + d + v(t)`` with R a
    vector (diagonal). ``inputs``: (trials, T, U) or (T, U) or None.
    """
    n_trials = positive_int("n_trials", n_trials)
    n_steps = positive_int("n_steps", n_steps, 2)
    P = LDSParams(*(jnp.asarray(x) for x in params))
    K, N, U = P.A.shape[0], P.C.shape[0], P.B.shape[1]
    if inputs is None:
        drive = jnp.zeros((n_trials, n_steps, K))
    else:
        u = jnp.asarray(finite_array("inputs", inputs))
        u = jnp.broadcast_to(u, (n_trials, n_steps, U)) if u.ndim in (2, 3) else u
        if u.shape != (n_trials, n_steps, U):
            fail("inputs", u, f"shape ({n_trials}, {n_steps}, {U})")
        drive = u @ P.B.T
    key = jax.random.PRNGKey(seed)
    k0, kw, kv = jax.random.split(key, 3)
    Lq = jnp.linalg.cholesky(P.Q + 1e-12 * jnp.eye(K))
    L0 = jnp.linalg.cholesky(P.S0 + 1e-12 * jnp.eye(K))
    x0 = P.m0 + jax.random.normal(k0, (n_trials, K)) @ L0.T
    W = jax.random.normal(kw, (n_steps - 1, n_trials, K)) @ Lq.T

    def step(x, inp):
        w, dr = inp
        xn = x @ P.A.T + dr + w
        return xn, xn

    _, xs = jax.lax.scan(step, x0, (W, jnp.swapaxes(drive[:, 1:], 0, 1)))
    x = jnp.concatenate([x0[None], xs], axis=0).swapaxes(0, 1)
    y = x @ P.C.T + P.d + jax.random.normal(kv, (n_trials, n_steps, N)) * jnp.sqrt(P.R)
    return np.asarray(x), np.asarray(y)


@dataclass(frozen=True, eq=False)
class CommunicationSubspace:
    """Communication subspace of the projection ``source -> target`` (see module docstring).

    ``singular_values``: of ``B C_source^+``; ``potent`` (p_s x r) and ``null`` (p_s x (k_s - r)):
    orthonormal bases in the source area's neuron space; ``target`` (p_t x r): in the target's neuron
    space; ``latent_potent`` (k_s x r): row space of the fitted block in latent coordinates;
    ``pc_angles_deg``: principal angles between ``potent`` and the top-r PCs of the source's denoised
    activity; ``potent_variance``, ``null_variance``: shares of that activity's variance.
    """

    source: int
    target: int
    rank: int
    block: np.ndarray
    singular_values: np.ndarray
    potent: np.ndarray
    null: np.ndarray
    target_space: np.ndarray
    latent_potent: np.ndarray
    pc_angles_deg: np.ndarray
    potent_variance: float | None  # None when no latent means were given
    null_variance: float | None


class MultiAreaLDS(NeurodynEstimator):
    """Coupled multi-area LDS fitted by block-structured EM (seed 000; equations in the module docstring).

    Parameters
    ----------
    latent_dims : sequence of int
        Latent dimension k_a per area.
    max_iter, tol : EM iterations and relative log-likelihood tolerance.
    min_variance : float
        Floor added to the noise variances (Q, R, S0) to keep them positive definite.

    Initialisation (deterministic): PCA of each area's activity gives C_a and latent estimates, then the
    block least squares of the M-step on those estimates gives A, B and Q.

    Contract (`neurodyn.models.base`): ``fit(X, obs_sizes)`` returns self; ``transform(X)`` is the
    smoothed posterior mean ``E[x_t | y_1..T]`` (trials, T, sum k_a); ``predict(X)`` the denoised
    observations ``C E[x_t | y] + d``; ``score(X)`` the mean log-likelihood ``log p(y_1..T)`` per observed
    (trial, time) bin (Kalman filter, higher is better); ``sample(n, seed)`` draws trials from the fitted
    model.

    Attributes after `fit`: ``params_`` (joint `LDSParams`), ``loglik_`` (per iteration),
    ``obs_sizes_``, ``input_sizes_``, ``n_steps_`` (bins per training trial), ``means_`` (smoothed
    latents of the training data).
    """

    def __init__(self, latent_dims=(3, 3), *, max_iter: int = 100, tol: float = 1e-6, min_variance: float = 1e-6):
        self.latent_dims = latent_dims
        self.max_iter = max_iter
        self.tol = tol
        self.min_variance = min_variance

    def _validate_params(self):
        try:
            dims = tuple(self.latent_dims)
        except TypeError:
            fail("latent_dims", self.latent_dims, "a sequence of latent dimensions, one per area", TypeError)
        self._dims = tuple(positive_int(f"latent_dims[{i}]", k) for i, k in enumerate(dims))
        if not self._dims:
            fail("latent_dims", self.latent_dims, "at least one area")
        positive_int("max_iter", self.max_iter)
        in_range("tol", self.tol, 0.0, np.inf)
        in_range("min_variance", self.min_variance, 0.0, np.inf, lo_open=True)
        return self._dims

    # ---- data checks ------------------------------------------------------------------------
    def _check_data(self, Y, obs_sizes, inputs, input_sizes):
        Y = check_rates(Y, "X")
        if obs_sizes is None:
            fail("obs_sizes", obs_sizes, "the number of neurons of each area (areas' neurons in order)")
        obs_sizes = tuple(positive_int(f"obs_sizes[{i}]", p) for i, p in enumerate(obs_sizes))
        if len(obs_sizes) != len(self._dims):
            fail("obs_sizes", obs_sizes, f"{len(self._dims)} areas (one per entry of latent_dims)")
        if sum(obs_sizes) != Y.shape[2]:
            fail("obs_sizes", obs_sizes, f"sizes summing to the {Y.shape[2]} neurons of Y")
        for a, (p, k) in enumerate(zip(obs_sizes, self._dims)):
            if k > p:
                fail(f"latent_dims[{a}]", k, f"at most the {p} neurons of area {a}")
        if inputs is None:
            U = np.zeros(Y.shape[:2] + (0,))
            input_sizes = (0,) * len(obs_sizes)
        else:
            U = finite_array("inputs", inputs)
            if U.ndim == 2:
                U = np.broadcast_to(U, Y.shape[:2] + U.shape[1:])
            if U.ndim != 3 or U.shape[:2] != Y.shape[:2]:
                fail("inputs", U, f"an array ({Y.shape[0]}, {Y.shape[1]}, inputs)")
            input_sizes = tuple(int(m) for m in (input_sizes or (U.shape[2],) + (0,) * (len(obs_sizes) - 1)))
            if len(input_sizes) != len(obs_sizes) or sum(input_sizes) != U.shape[2]:
                fail("input_sizes", input_sizes, f"{len(obs_sizes)} sizes summing to {U.shape[2]} inputs")
        return Y, obs_sizes, np.asarray(U, float), input_sizes

    # ---- initialisation ---------------------------------------------------------------------
    def _init(self, Y, U, po, ko, mo) -> LDSParams:
        n_tr, T, N = Y.shape
        K = ko[-1]
        C = np.zeros((N, K))
        d = Y.reshape(-1, N).mean(0)
        R = np.zeros(N)
        X = np.zeros((n_tr, T, K))
        for a in range(len(self._dims)):
            ya = Y[:, :, po[a]:po[a + 1]].reshape(-1, po[a + 1] - po[a])
            pca = PCA(n_components=ko[a + 1] - ko[a], svd_solver="full").fit(ya)
            scale = np.sqrt(pca.explained_variance_)
            C[po[a]:po[a + 1], ko[a]:ko[a + 1]] = pca.components_.T * scale
            X[:, :, ko[a]:ko[a + 1]] = (pca.transform(ya) / scale).reshape(n_tr, T, -1)
            resid = ya - pca.inverse_transform(pca.transform(ya))
            R[po[a]:po[a + 1]] = np.maximum(resid.var(0), self.min_variance)
        Z = np.concatenate([X[:, :-1], U[:, 1:]], axis=2).reshape(-1, K + U.shape[2])
        Xn = X[:, 1:].reshape(-1, K)
        A = np.zeros((K, K))
        B = np.zeros((K, U.shape[2]))
        Q = np.zeros((K, K))
        for a in range(len(self._dims)):
            cols = np.r_[np.arange(K), K + np.arange(mo[a], mo[a + 1])]
            rows = slice(ko[a], ko[a + 1])
            F = np.linalg.lstsq(Z[:, cols], Xn[:, rows], rcond=None)[0].T
            A[rows] = F[:, :K]
            B[rows, mo[a]:mo[a + 1]] = F[:, K:]
            res = Xn[:, rows] - Z[:, cols] @ F.T
            Q[rows, rows] = res.T @ res / res.shape[0] + self.min_variance * np.eye(ko[a + 1] - ko[a])
        m0 = X[:, 0].mean(0)
        S0 = np.cov(X[:, 0].T) if n_tr > 1 else np.eye(K)
        S0 = np.atleast_2d(S0) + 1e-3 * np.eye(K)
        return LDSParams(A, B, C, d, Q, R, m0, S0)

    # ---- EM ---------------------------------------------------------------------------------
    def _m_step(self, Y, U, sm, po, ko, mo) -> LDSParams:
        means = np.asarray(sm.means)           # (n, T, K)
        covs = np.asarray(sm.covs)             # (T, K, K) shared by trials
        cross = np.asarray(sm.cross_covs)      # (T-1, K, K): Cov(x_{t+1}, x_t)
        n_tr, T, K = means.shape
        N = Y.shape[2]
        Mu = U.shape[2]
        prev, nxt = means[:, :-1].reshape(-1, K), means[:, 1:].reshape(-1, K)
        u_next = U[:, 1:].reshape(n_tr * (T - 1), Mu)
        S_pp = prev.T @ prev + n_tr * covs[:-1].sum(0)
        S_np = nxt.T @ prev + n_tr * cross.sum(0)
        S_nn = nxt.T @ nxt + n_tr * covs[1:].sum(0)
        S_pu = prev.T @ u_next
        S_nu = nxt.T @ u_next
        S_uu = u_next.T @ u_next
        n_dyn = prev.shape[0]
        A = np.zeros((K, K))
        B = np.zeros((K, Mu))
        Q = np.zeros((K, K))
        for a in range(len(self._dims)):
            r = slice(ko[a], ko[a + 1])
            ua = slice(mo[a], mo[a + 1])
            Szz = np.block([[S_pp, S_pu[:, ua]], [S_pu[:, ua].T, S_uu[ua, ua]]])
            Sxz = np.hstack([S_np[r], S_nu[r, ua]])
            F = scipy.linalg.solve(Szz, Sxz.T, assume_a="pos").T
            A[r] = F[:, :K]
            B[r, ua] = F[:, K:]
            Qa = (S_nn[r, r] - F @ Sxz.T) / n_dyn
            Q[r, r] = 0.5 * (Qa + Qa.T) + self.min_variance * np.eye(ko[a + 1] - ko[a])
        allm = means.reshape(-1, K)
        yall = Y.reshape(-1, N)
        S_xx = allm.T @ allm + n_tr * covs.sum(0)
        S_x = allm.sum(0)
        S_yx = yall.T @ allm
        S_y = yall.sum(0)
        n_all = allm.shape[0]
        C = np.zeros((N, K))
        d = np.zeros(N)
        R = np.zeros(N)
        for a in range(len(self._dims)):
            r = slice(ko[a], ko[a + 1])
            o = slice(po[a], po[a + 1])
            Sss = np.block([[S_xx[r, r], S_x[r, None]], [S_x[None, r], np.array([[n_all]])]])
            Sys = np.hstack([S_yx[o, r], S_y[o, None]])
            G = scipy.linalg.solve(Sss, Sys.T, assume_a="pos").T
            C[o, r] = G[:, :-1]
            d[o] = G[:, -1]
            R[o] = np.maximum((np.sum(yall[:, o] ** 2, 0) - np.sum(G * Sys, 1)) / n_all, self.min_variance)
        m0 = means[:, 0].mean(0)
        S0 = covs[0] + (means[:, 0] - m0).T @ (means[:, 0] - m0) / n_tr
        S0 = 0.5 * (S0 + S0.T) + self.min_variance * np.eye(K)
        return LDSParams(A, B, C, d, Q, R, m0, S0)

    def fit(self, X, obs_sizes=None, inputs=None, input_sizes=None, init_params: LDSParams | None = None,
            y=None) -> "MultiAreaLDS":
        """Fit by EM. ``X``: (trials, T, neurons) with areas' neurons in order, ``obs_sizes`` per area;
        ``inputs`` (trials, T, U) split among areas by ``input_sizes`` (default: all to area 0)."""
        self._validate_params()
        Y, obs_sizes, U, input_sizes = self._check_data(X, obs_sizes, inputs, input_sizes)
        po, ko, mo = _offsets(obs_sizes), _offsets(self._dims), _offsets(input_sizes)
        if init_params is None:
            params = self._init(Y, U, po, ko, mo)
        else:
            params = LDSParams(*(np.asarray(p) for p in init_params))
        Uj = jnp.asarray(U) if U.shape[2] else None
        Yj = jnp.asarray(Y)
        lls = []
        for _ in progress(range(int(self.max_iter)), int(self.max_iter), "multi-area LDS EM"):
            sm = kalman_smoother_batch(params, Yj, Uj)
            ll = float(np.sum(np.asarray(sm.loglik)))
            if not np.isfinite(ll):
                raise FloatingPointError("multi-area LDS EM: log-likelihood became non-finite")
            lls.append(ll)
            if len(lls) > 1 and abs(lls[-1] - lls[-2]) <= self.tol * abs(lls[-2]):
                break
            params = self._m_step(Y, U, sm, po, ko, mo)
        sm = kalman_smoother_batch(params, Yj, Uj)
        lls.append(float(np.sum(np.asarray(sm.loglik))))
        self.params_ = params
        self.loglik_ = np.asarray(lls)
        self.obs_sizes_ = obs_sizes
        self.input_sizes_ = input_sizes
        self.n_steps_ = int(Y.shape[1])
        self.means_ = np.asarray(sm.means)
        return self

    def _fitted(self):
        self._check_fitted("params_")
        if not hasattr(self, "_dims"):
            self._validate_params()

    def _smooth(self, X, inputs):
        self._fitted()
        Y = check_rates(X, "X")
        N = int(np.asarray(self.params_.C).shape[0])
        if Y.shape[2] != N:
            fail("X", Y, f"(trials, T, {N}) activity: the neurons of the fitted areas")
        U = None
        n_in = int(np.asarray(self.params_.B).shape[1])
        if inputs is not None:
            U = finite_array("inputs", inputs)
            U = np.broadcast_to(U, Y.shape[:2] + U.shape[-1:]) if U.ndim == 2 else U
            if U.shape != Y.shape[:2] + (n_in,):
                fail("inputs", U, f"shape {Y.shape[:2] + (n_in,)}")
            U = jnp.asarray(U)
        elif n_in:
            U = jnp.zeros(Y.shape[:2] + (n_in,))
        params = LDSParams(*(np.asarray(p) for p in self.params_))
        return Y, kalman_smoother_batch(params, jnp.asarray(Y), U)

    def transform(self, X, inputs=None) -> np.ndarray:
        """Posterior-mean latents ``E[x_t | y_1..T]`` (trials, T, sum k_a) by the Kalman/RTS smoother."""
        return np.asarray(self._smooth(X, inputs)[1].means)

    def predict(self, X, inputs=None) -> np.ndarray:
        """Denoised observations ``C E[x_t | y_1..T] + d`` (trials, T, neurons)."""
        m = self.transform(X, inputs)
        return m @ np.asarray(self.params_.C).T + np.asarray(self.params_.d)

    def score(self, X, inputs=None) -> float:
        """Mean log-likelihood per observed bin: ``sum_trials log p(y_1..T) / (trials * T)`` under the fitted
        model (the Kalman filter's prediction-error decomposition; higher is better)."""
        Y, sm = self._smooth(X, inputs)
        return float(np.sum(np.asarray(sm.loglik))) / (Y.shape[0] * Y.shape[1])

    def sample(self, n: int, seed: int = 0, *, n_steps: int | None = None, inputs=None):
        """``(x, y)``: latents (n, T, K) and observations (n, T, N) of ``n`` trials drawn from the fitted
        model (`simulate_multi_area_lds`); ``n_steps`` defaults to the training trials' length."""
        self._fitted()
        T = self.n_steps_ if n_steps is None else positive_int("n_steps", n_steps, 2)
        return simulate_multi_area_lds(self.params_, n, T, inputs=inputs, seed=seed)

    def block(self, source: int, target: int) -> np.ndarray:
        """Fitted ``B_{source->target}`` (k_target x k_source); ``block(a, a)`` is A_a."""
        self._fitted()
        ko = _offsets(self._dims)
        for name, v in (("source", source), ("target", target)):
            if not 0 <= v < len(self._dims):
                fail(name, v, f"an area index in [0, {len(self._dims) - 1}]")
        return self.params_.A[ko[target]:ko[target + 1], ko[source]:ko[source + 1]]

    def communication_subspace(self, source: int, target: int, rank: int | None = None, *,
                               rel_tol: float = 0.1, means=None) -> CommunicationSubspace:
        """Potent/null spaces of ``source -> target`` and their alignment with the source's top PCs."""
        self._fitted()
        return communication_subspace(self.params_, self._dims, self.obs_sizes_, source, target, rank,
                                      rel_tol=rel_tol, means=self.means_ if means is None else means)


def _orth(M, r):
    U, _, _ = np.linalg.svd(M, full_matrices=False)
    return U[:, :r]


def communication_subspace(params: LDSParams, latent_dims, obs_sizes, source: int, target: int,
                           rank: int | None = None, *, rel_tol: float = 0.1, means=None) -> CommunicationSubspace:
    """`CommunicationSubspace` of a joint multi-area `LDSParams` (module docstring)."""
    if source == target:
        fail("target", target, "an area different from source")
    ko, po = _offsets(latent_dims), _offsets(obs_sizes)
    A, C = np.asarray(params.A), np.asarray(params.C)
    blk = A[ko[target]:ko[target + 1], ko[source]:ko[source + 1]]
    Cs = C[po[source]:po[source + 1], ko[source]:ko[source + 1]]
    Ct = C[po[target]:po[target + 1], ko[target]:ko[target + 1]]
    M = blk @ np.linalg.pinv(Cs)                        # (k_t x p_s)
    sv = np.linalg.svd(M, compute_uv=False)
    if rank is None:
        rank = int(np.sum(sv > rel_tol * sv[0])) if sv[0] > 0 else 0
    rank = positive_int("rank", rank)
    ks = ko[source + 1] - ko[source]
    if rank > min(ks, ko[target + 1] - ko[target]):
        fail("rank", rank, f"at most min(k_source, k_target) = {min(ks, ko[target + 1] - ko[target])}")
    potent = _orth(M.T, rank)
    colC = _orth(Cs, ks)
    rest = colC - potent @ (potent.T @ colC)
    null = _orth(rest, ks - rank) if ks > rank else np.zeros((Cs.shape[0], 0))
    target_space = _orth(Ct @ blk, rank)
    latent_potent = _orth(blk.T, rank)
    angles = np.zeros(rank)
    pv = nv = None
    if means is not None:
        xs = np.asarray(means)[..., ko[source]:ko[source + 1]].reshape(-1, ks)
        act = xs @ Cs.T
        pca = PCA(n_components=rank, svd_solver="full").fit(act)
        angles = np.sort(np.degrees(scipy.linalg.subspace_angles(potent, pca.components_.T)))
        actc = act - act.mean(0)
        total = float(np.sum(actc ** 2))
        pv = float(np.sum((actc @ potent) ** 2)) / total
        nv = float(np.sum((actc @ null) ** 2)) / total if null.shape[1] else 0.0
    return CommunicationSubspace(source=source, target=target, rank=rank, block=blk, singular_values=sv,
                                 potent=potent, null=null, target_space=target_space, latent_potent=latent_potent,
                                 pc_angles_deg=angles, potent_variance=pv, null_variance=nv)


def _rotation_dynamics(k: int, radius: float, angle: float, rng) -> np.ndarray:
    """``Q D Q^T``: damped rotations (eigenvalues ``radius e^{+-i j angle}``) in a random orthonormal basis."""
    Qm = np.linalg.qr(rng.standard_normal((k, k)))[0]
    D = np.zeros((k, k))
    for i in range(0, k - 1, 2):
        c, s = np.cos(angle * (i + 1)), np.sin(angle * (i + 1))
        D[i:i + 2, i:i + 2] = radius * np.array([[c, -s], [s, c]])
    if k % 2:
        D[-1, -1] = radius
    return Qm @ D @ Qm.T


def random_two_area_params(latent_dims=(4, 4), obs_sizes=(20, 20), *, rank: int = 2,
                           strengths=(0.6, 0.4), feedback: float = 0.1, q: float = 0.1, r: float = 0.2,
                           seed: int = 0) -> LDSParams:
    """A known two-area system (seed 000's coupled LDS) with a rank-``rank`` communication subspace.

    ``A_a``: damped rotations (radius 0.85 and 0.8); ``B_{1->2} = U diag(strengths) V^T`` with random
    orthonormal U, V; ``B_{2->1}``: rank-1 feedback of norm ``feedback``; ``C_a`` standard normal;
    ``Q_a = q I``, ``R = r``.
    """
    rng = np.random.default_rng(seed)
    k1, k2 = (positive_int(f"latent_dims[{i}]", k) for i, k in enumerate(latent_dims))
    p1, p2 = (positive_int(f"obs_sizes[{i}]", p) for i, p in enumerate(obs_sizes))
    rank = positive_int("rank", rank)
    if rank > min(k1, k2):
        fail("rank", rank, f"at most min(latent_dims) = {min(k1, k2)}")
    s = np.broadcast_to(finite_array("strengths", strengths), (rank,))
    A1 = _rotation_dynamics(k1, 0.85, 0.2, rng)
    A2 = _rotation_dynamics(k2, 0.8, 0.3, rng)
    U = np.linalg.qr(rng.standard_normal((k2, rank)))[0]
    V = np.linalg.qr(rng.standard_normal((k1, rank)))[0]
    B12 = U @ np.diag(s) @ V.T
    f1, f2 = rng.standard_normal(k1), rng.standard_normal(k2)
    B21 = feedback * np.outer(f1 / np.linalg.norm(f1), f2 / np.linalg.norm(f2))
    C1, C2 = rng.standard_normal((p1, k1)), rng.standard_normal((p2, k2))
    return multi_area_lds_params([[A1, B21], [B12, A2]], [C1, C2], Q_blocks=[q * np.eye(k1), q * np.eye(k2)],
                                 R=np.full(p1 + p2, float(r)))

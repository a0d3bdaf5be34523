"""Latent LDS with piecewise-constant inputs fit by EM (seed 001 Methods §9, §9.1, §9.2, §12; seed 000).

Model (seed 001 eq. 35, whose image was lost; restored from the prose of §9)::

    x^i_{t+1} = A x^i_t + B u_{c(i), kappa(t)} + w_t,   w_t ~ N(0, Q)
    y^i_t     = C x^i_t + d + v_t,                       v_t ~ N(0, R)  (R diagonal by default)

Condition i (reach direction, delay, ...) is an independent sequence with its own initial state
``x^i_0 ~ N(m0_i, S0)``; ``c(i)`` is the condition's input group (by default each condition is its own
group) and ``kappa(t)`` the epoch: 'hold' for bins before the transition bin, 'go' from it on. The
input ``u`` is one-hot in (group, epoch), so column ``2 g + k`` of ``B`` is the constant input vector
of group g in epoch k. Emissions are trial-averaged rates (conditions x time x neurons).

EM (Shumway & Stoffer 1982; Ghahramani & Hinton 1996): the E-step is the RTS smoother of
`neurodyn.models.lds.inference` (one covariance pass shared by all conditions); the M-step solves the
expected least-squares problems in closed form, with ``E[.]`` the smoothed moments::

    [A B] = (sum_t E[x_t z_t^T]) (sum_t E[z_t z_t^T])^{-1},   z_t = [x_{t-1}; u_t]
    Q     = mean_t E[(x_t - [A B] z_t)(x_t - [A B] z_t)^T]
    [C d] = (sum_t y_t E[s_t]^T) (sum_t E[s_t s_t^T])^{-1},    s_t = [x_t; 1]
    R     = diag( mean_t E[(y_t - [C d] s_t)(y_t - [C d] s_t)^T] )   (full matrix if diagonal_R=False)
    m0_i  = E[x^i_0],   S0 = Cov(x_0 | y)                         (initial="per_condition")
    m0    = mean_i E[x^i_0], S0 = Cov(x_0 | y) + Cov_i(E[x^i_0])  (initial="shared")

Each EM iteration cannot decrease the marginal log-likelihood (``loglik_`` records it).

Held-out conditions (§12): A, B of the training groups, C, d, Q, R, S0 are held fixed; the held-out
condition's initial state and its two input vectors are found by EM on its own data (E-step as above,
M-step ``m0 = E[x_0]``, ``b_k = mean_{t in epoch k} E[x_t - A x_{t-1}]``), then its activity is
predicted forward from ``m0`` without innovation noise: ``x_t = A x_{t-1} + b_{kappa(t)}``,
``yhat_t = C x_t + d``.

Initial condition from firing rates (§9.1; the equation was lost): the generalised least-squares
estimate ``x0 = (C^T R^{-1} C)^{-1} C^T R^{-1} (y0 - d)``, the maximum-likelihood latent for one
observation under ``y = C x + d + v``. Predictions then run forward without noise.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.decomposition import PCA

from neurodyn._validate import fail, finite_array, positive, positive_int
from neurodyn.analysis import henrici, ordered_schur
from neurodyn.models.lds.inference import LDSParams, _smoother_batch
from neurodyn.progress import progress

__all__ = ["LDS", "bootstrap_eigenvalues", "eigenvalue_density", "epoch_inputs", "grid_search_lds",
           "signal_variance_explained"]


def epoch_inputs(groups, n_groups: int, T: int, transition: int | None) -> np.ndarray:
    """One-hot inputs ``(C, T, 2 n_groups)``: column ``2 g + kappa(t)`` is 1 for condition of group g.

    ``kappa(t) = 0`` ('hold') for ``t < transition`` and 1 ('go') otherwise; with ``transition=None``
    only the 'hold' columns are used (one constant input per group).
    """
    groups = np.asarray(groups, dtype=int)
    U = np.zeros((groups.size, T, 2 * n_groups))
    kappa = np.zeros(T, dtype=int) if transition is None else (np.arange(T) >= transition).astype(int)
    for i, g in enumerate(groups):
        U[i, np.arange(T), 2 * g + kappa] = 1.0
    return U


def _sym(P):
    return 0.5 * (P + jnp.swapaxes(P, -1, -2))


@jax.jit
def _regression(Szz, Szx, Sxx, n):
    """W = Szx^T Szz^{-1}; residual covariance (Sxx - W Szx - Szx^T W^T + W Szz W^T) / n."""
    W = jnp.linalg.solve(Szz, Szx).T
    Sig = (Sxx - W @ Szx - Szx.T @ W.T + W @ Szz @ W.T) / n
    return W, _sym(Sig)


@jax.jit
def _data_stats(Y, U, active):
    """Data-only sums reused by every EM iteration: ``sum y y^T`` and ``sum u_t u_t^T`` (t >= 1)."""
    flat = Y.reshape(-1, Y.shape[-1])
    Ua = (U[:, 1:, :] * active).reshape(U.shape[0] * (U.shape[1] - 1), U.shape[-1])
    return flat.T @ flat, Ua.T @ Ua + jnp.diag(1.0 - active)


def _em_step_impl(params: LDSParams, Y, U, active, stats, diagonal_R: bool, initial: str):
    """One EM iteration; returns (new params, log-likelihood of ``params``). ``active`` masks B columns."""
    drive = jnp.einsum("btu,ku->btk", U, params.B)
    sm = _smoother_batch(params, Y, drive)
    nb, T, N = Y.shape
    K = params.A.shape[0]
    m, P, Pc = sm.means, sm.covs, sm.cross_covs
    # dynamics: z_t = [x_{t-1}; u_t], target x_t, t = 1..T-1 (only active input columns)
    Ua = U[:, 1:, :] * active
    mp, mn = m[:, :-1], m[:, 1:]
    Sxx_p = jnp.einsum("bti,btj->ij", mp, mp) + nb * P[:-1].sum(0)
    Sxu = jnp.einsum("bti,btu->iu", mp, Ua)
    Syy, Suu = stats                      # Suu: inactive input columns get identity (B kept as is)
    Szz = jnp.block([[Sxx_p, Sxu], [Sxu.T, Suu]])
    Sz_xn = jnp.concatenate([jnp.einsum("bti,btj->ij", mp, mn) + nb * jnp.swapaxes(Pc, 1, 2).sum(0),
                             jnp.einsum("btu,btj->uj", Ua, mn)], axis=0)
    Sxn = jnp.einsum("bti,btj->ij", mn, mn) + nb * P[1:].sum(0)
    AB, Qn = _regression(Szz, Sz_xn, Sxn, nb * (T - 1))
    A_new = AB[:, :K]
    B_new = jnp.where(active[None, :] > 0, AB[:, K:], params.B)
    # emissions: s_t = [x_t; 1]
    Sxx = jnp.einsum("bti,btj->ij", m, m) + nb * P.sum(0)
    sx = m.sum((0, 1))
    Sss = jnp.block([[Sxx, sx[:, None]], [sx[None, :], jnp.array([[nb * T]], dtype=Y.dtype)]])
    Ssy = jnp.concatenate([jnp.einsum("bti,btn->in", m, Y), Y.sum((0, 1))[None]], axis=0)
    Cd, Rn = _regression(Sss, Ssy, Syy, nb * T)
    C_new, d_new = Cd[:, :K], Cd[:, K]
    R_new = jnp.maximum(jnp.diag(Rn), 1e-8) if diagonal_R else Rn
    # initial state
    x0 = m[:, 0]
    if initial == "shared":
        m0_new = x0.mean(0)
        dx = x0 - m0_new
        S0_new = _sym(P[0] + dx.T @ dx / nb)
    else:
        m0_new = x0
        S0_new = P[0]
    new = LDSParams(A_new, B_new, C_new, d_new, Qn, R_new, m0_new, S0_new)
    return new, sm.loglik.sum()


_em_step_jit = jax.jit(_em_step_impl, static_argnames=("diagonal_R", "initial"))


def _em_step(params: LDSParams, Y, U, active, *, diagonal_R: bool, initial: str, stats=None):
    """One EM iteration (jitted core); ``stats`` from `_data_stats` can be passed to skip recomputing them."""
    if stats is None:
        stats = _data_stats(Y, U, active)
    return _em_step_jit(params, Y, U, active, stats, diagonal_R=diagonal_R, initial=initial)


@jax.jit
def _heldout_step(params: LDSParams, Y, U):
    """EM step for held-out sequences: only m0 (per sequence) and the B columns in use are updated."""
    drive = jnp.einsum("btu,ku->btk", U, params.B)
    sm = _smoother_batch(params, Y, drive)
    m = sm.means
    resid = m[:, 1:] - m[:, :-1] @ params.A.T                       # E[x_t - A x_{t-1}]
    Ua = U[:, 1:]
    Suu = jnp.einsum("btu,btv->uv", Ua, Ua)
    used = jnp.diag(Suu) > 0
    Suu = Suu + jnp.diag(jnp.where(used, 0.0, 1.0))
    Bn = jnp.linalg.solve(Suu, jnp.einsum("btu,btk->uk", Ua, resid)).T
    B_new = jnp.where(used[None, :], Bn, params.B)
    return params._replace(B=B_new, m0=m[:, 0]), sm.loglik.sum()


@jax.jit
def _forward(A, B, C, d, x0, U):
    """Noise-free forward run: ``x_t = A x_{t-1} + B u_t`` from ``x_0``; returns rates ``(b, T, N)``."""
    drive = jnp.einsum("btu,ku->tbk", U, B)

    def step(x, u):
        x = x @ A.T + u
        return x, x

    _, xs = jax.lax.scan(step, x0, drive[1:])
    X = jnp.concatenate([x0[None], xs], axis=0).swapaxes(0, 1)
    return X @ C.T + d, X


def signal_variance_explained(Y, Yhat, noise_var: float = 0.0) -> float:
    """``1 - sum (Y - Yhat)^2 / (sum (Y - mean_Y)^2 - noise_var)`` (seed 001 §12).

    ``mean_Y`` is each neuron's mean over conditions and time; ``noise_var`` is the summed noise variance
    of the trial averages when single trials are known (0 when not, giving the ordinary R^2).
    """
    Y = np.asarray(Y, float)
    Yhat = np.asarray(Yhat, float)
    centred = Y - Y.reshape(-1, Y.shape[-1]).mean(0)
    total = float(np.sum(centred ** 2)) - float(noise_var)
    if total <= 0:
        fail("Y", Y, "activity whose variance exceeds the noise variance")
    return 1.0 - float(np.sum((Y - Yhat) ** 2)) / total


class LDS:
    """Latent linear dynamical system with piecewise-constant inputs, fit by EM (seed 001 §9).

    Parameters:
        n_latents: latent dimension K (<= number of neurons).
        transition: bin index where inputs switch from 'hold' to 'go' (None: one epoch).
        max_iter, tol: EM stops after ``max_iter`` iterations or when the log-likelihood gain per
            iteration falls below ``tol * |loglik|``.
        diagonal_R: diagonal (default) or full emission-noise covariance.
        initial: ``"per_condition"`` (each condition has its own initial mean) or ``"shared"``.
        min_var: floor on emission variances at initialisation.

    Learned attributes: ``params_`` (`LDSParams`), ``A_, B_, C_, d_, Q_, R_, m0_, S0_``,
    ``input_vectors_`` (groups x 2 x K), ``loglik_`` (per iteration), ``n_iter_``, ``n_groups_``,
    ``groups_``.
    """

    def __init__(self, n_latents: int = 10, transition: int | None = None, *, max_iter: int = 200,
                 tol: float = 1e-7, diagonal_R: bool = True, initial: str = "per_condition",
                 min_var: float = 1e-3):
        self.n_latents = n_latents
        self.transition = transition
        self.max_iter = max_iter
        self.tol = tol
        self.diagonal_R = diagonal_R
        self.initial = initial
        self.min_var = min_var

    # ----------------------------------------------------------------- validation
    def _check_X(self, X, name="X") -> np.ndarray:
        if hasattr(X, "rates") and hasattr(X, "t_ms"):
            X = X.rates
        X = finite_array(name, X)
        if X.ndim == 2:
            X = X[None]
        if X.ndim != 3:
            fail(name, X, "trial-averaged rates (conditions, time, neurons)")
        return X

    def _check_params(self, X: np.ndarray):
        positive_int("n_latents", self.n_latents)
        positive_int("max_iter", self.max_iter)
        positive("tol", self.tol)
        if self.n_latents > X.shape[2]:
            fail("n_latents", self.n_latents, f"at most the number of neurons ({X.shape[2]})")
        if self.initial not in ("per_condition", "shared"):
            fail("initial", self.initial, "'per_condition' or 'shared'")
        if self.transition is not None:
            positive_int("transition", self.transition, 2)
            if self.transition > X.shape[1] - 1:
                fail("transition", self.transition,
                     f"a bin index in [2, {X.shape[1] - 1}] so both epochs have time bins (T={X.shape[1]})")
        if X.shape[1] < 3:
            fail("X", X, "at least 3 time bins")

    def _groups(self, groups, n_cond: int):
        if groups is None:
            return np.arange(n_cond), n_cond
        g = np.asarray(groups)
        if g.shape != (n_cond,):
            fail("groups", g, f"one input-group label per condition ({n_cond})")
        _, inv = np.unique(g, return_inverse=True)
        return inv, int(inv.max()) + 1

    # ----------------------------------------------------------------- fitting
    def _init_params(self, X, U):
        nc, T, N = X.shape
        K = self.n_latents
        flat = X.reshape(-1, N)
        pca = PCA(n_components=K, svd_solver="full").fit(flat)   # deterministic start
        C = pca.components_.T
        d = pca.mean_
        Z = (flat - d) @ C
        Xl = Z.reshape(nc, T, K)
        zp = np.concatenate([Xl[:, :-1].reshape(-1, K), U[:, 1:].reshape(-1, U.shape[-1])], axis=1)
        xn = Xl[:, 1:].reshape(-1, K)
        W = np.linalg.lstsq(zp, xn, rcond=None)[0].T
        A, B = W[:, :K], W[:, K:]
        res = xn - zp @ W.T
        Q = np.atleast_2d(np.cov(res.T)) + 1e-6 * np.eye(K) * max(np.trace(np.atleast_2d(np.cov(Z.T))) / K, 1.0)
        Rv = np.maximum((flat - d - Z @ C.T).var(0), self.min_var * max(flat.var(0).mean(), 1e-12))
        R = Rv if self.diagonal_R else np.diag(Rv)
        m0 = Xl[:, 0] if self.initial == "per_condition" else Xl[:, 0].mean(0)
        S0 = Q.copy()
        return LDSParams(*(jnp.asarray(a) for a in (A, B, C, d, Q, R, m0, S0)))

    def fit(self, X, groups=None, init_params: LDSParams | None = None):
        """Fit by EM to trial-averaged rates ``X`` (conditions, time, neurons) or a `PopulationData`."""
        X = self._check_X(X)
        self._check_params(X)
        nc, T, _ = X.shape
        self.groups_, self.n_groups_ = self._groups(groups, nc)
        U = epoch_inputs(self.groups_, self.n_groups_, T, self.transition)
        active = (U[:, 1:].sum((0, 1)) > 0).astype(float)
        params = self._init_params(X, U) if init_params is None else LDSParams(*map(jnp.asarray, init_params))
        Yj, Uj, aj = jnp.asarray(X), jnp.asarray(U), jnp.asarray(active)
        lls = []
        stats = _data_stats(Yj, Uj, aj)
        for _ in progress(range(self.max_iter), self.max_iter, "LDS EM"):
            new, ll = _em_step(params, Yj, Uj, aj, diagonal_R=self.diagonal_R, initial=self.initial, stats=stats)
            ll = float(ll)
            if not np.isfinite(ll):
                raise FloatingPointError("LDS EM: log-likelihood became non-finite; try a smaller n_latents")
            lls.append(ll)
            params = new
            if len(lls) > 1 and lls[-1] - lls[-2] < self.tol * abs(lls[-1]):
                break
        self._set(params)
        self.loglik_ = np.array(lls)
        self.n_iter_ = len(lls)
        self.n_conditions_ = nc
        self.n_times_ = T
        return self

    def _set(self, params: LDSParams):
        p = LDSParams(*(np.asarray(a) for a in params))
        self.params_ = p
        self.A_, self.B_, self.C_, self.d_, self.Q_, self.R_, self.m0_, self.S0_ = p
        self.input_vectors_ = p.B.T.reshape(-1, 2, p.A.shape[0])

    def _fitted(self):
        if not hasattr(self, "params_"):
            raise RuntimeError("LDS: call fit before using the model")

    # ----------------------------------------------------------------- held-out inference and prediction
    def infer_heldout(self, X, n_iter: int = 100, tol: float = 1e-8):
        """Initial states ``(C, K)`` and input vectors ``(C, 2, K)`` of held-out conditions (§12).

        Every other parameter is fixed; each condition gets its own input vectors (hold, go).
        """
        self._fitted()
        X = self._check_X(X)
        if X.shape[2] != self.C_.shape[0]:
            fail("X", X, f"{self.C_.shape[0]} neurons as in the fitted data")
        if self.transition is not None and self.transition > X.shape[1] - 1:
            fail("X", X, f"more than transition={self.transition} + 1 time bins")
        nc, T, _ = X.shape
        U = epoch_inputs(np.arange(nc), nc, T, self.transition)
        K = self.n_latents
        p = self.params_
        x0 = self.latents_from_rates(X[:, 0])
        params = LDSParams(*(jnp.asarray(a) for a in (p.A, np.zeros((K, 2 * nc)), p.C, p.d, p.Q, p.R, x0, p.S0)))
        Yj, Uj = jnp.asarray(X), jnp.asarray(U)
        last = -np.inf
        for _ in range(n_iter):
            params, ll = _heldout_step(params, Yj, Uj)
            ll = float(ll)
            if ll - last < tol * abs(ll):
                break
            last = ll
        return np.asarray(params.m0), np.asarray(params.B).T.reshape(nc, 2, K)

    def predict(self, X=None, n_steps: int | None = None):
        """Noise-free forward predictions of rates ``(C, T, N)``.

        With ``X=None`` the fitted conditions are predicted from their fitted initial states and inputs;
        with data ``X``, its initial states and inputs are inferred with the dynamics held fixed
        (`infer_heldout`) and the prediction runs forward from them (seed 001 §12).
        """
        self._fitted()
        p = self.params_
        if X is None:
            T = self.n_times_ if n_steps is None else positive_int("n_steps", n_steps)
            U = epoch_inputs(self.groups_, self.n_groups_, T, self.transition)
            m0 = np.broadcast_to(p.m0, (self.n_conditions_, self.n_latents))
            Y, _ = _forward(p.A, p.B, p.C, p.d, jnp.asarray(m0), jnp.asarray(U))
            return np.asarray(Y)
        X = self._check_X(X)
        m0, vecs = self.infer_heldout(X)
        nc, T, _ = X.shape
        U = epoch_inputs(np.arange(nc), nc, T, self.transition)
        Bh = vecs.reshape(nc * 2, -1).T
        Y, _ = _forward(p.A, jnp.asarray(Bh), p.C, p.d, jnp.asarray(m0), jnp.asarray(U))
        return np.asarray(Y)

    def score(self, X=None) -> float:
        """Fraction of variance of ``X`` explained by ``predict(X)`` (initial states, inputs inferred)."""
        self._fitted()
        if X is None:
            raise ValueError("X=None: expected the rates to score (conditions, time, neurons)")
        X = self._check_X(X)
        return signal_variance_explained(X, self.predict(X))

    def log_likelihood(self, X) -> float:
        """Marginal log-likelihood of the fitted conditions' rates under the fitted parameters."""
        self._fitted()
        X = self._check_X(X)
        if X.shape != (self.n_conditions_, self.n_times_, self.C_.shape[0]):
            fail("X", X, f"the fitted shape {(self.n_conditions_, self.n_times_, self.C_.shape[0])}")
        U = epoch_inputs(self.groups_, self.n_groups_, X.shape[1], self.transition)
        p = LDSParams(*map(jnp.asarray, self.params_))
        sm = _smoother_batch(p, jnp.asarray(X), jnp.einsum("btu,ku->btk", jnp.asarray(U), p.B))
        return float(sm.loglik.sum())

    def latents_from_rates(self, y0) -> np.ndarray:
        """GLS latent estimate ``x0 = (C^T R^{-1} C)^{-1} C^T R^{-1} (y0 - d)`` (seed 001 §9.1)."""
        self._fitted()
        y0 = finite_array("y0", y0)
        if y0.shape[-1] != self.C_.shape[0]:
            fail("y0", y0, f"last axis of length {self.C_.shape[0]} (neurons)")
        Rinv = np.diag(1.0 / self.R_) if self.R_.ndim == 1 else np.linalg.inv(self.R_)
        G = self.C_.T @ Rinv
        return np.linalg.solve(G @ self.C_, G @ (y0 - self.d_).T).T

    def predict_from_rates(self, y0, n_steps: int, input_vector=None) -> np.ndarray:
        """Forward prediction ``(..., n_steps, N)`` from initial rates ``y0 (..., N)`` (seed 001 §9.1).

        ``x_0`` from `latents_from_rates`; ``x_t = A x_{t-1} + b`` with the constant input vector
        ``b`` (K,) (zero if None); ``yhat_t = C x_t + d``; no innovation noise.
        """
        self._fitted()
        n_steps = positive_int("n_steps", n_steps)
        x0 = np.atleast_2d(self.latents_from_rates(y0))
        K = self.n_latents
        b = np.zeros(K) if input_vector is None else finite_array("input_vector", input_vector)
        if b.shape != (K,):
            fail("input_vector", b, f"a vector of length K={K}")
        U = np.ones((x0.shape[0], n_steps, 1))
        Y, _ = _forward(jnp.asarray(self.A_), jnp.asarray(b[:, None]), jnp.asarray(self.C_),
                        jnp.asarray(self.d_), jnp.asarray(x0), jnp.asarray(U))
        Y = np.asarray(Y)
        return Y[0] if np.ndim(y0) == 1 else Y

    def decay_curve(self, y_perturbed, y_reference, n_steps: int, dt_ms: float = 10.0,
                    diameter: float | None = None):
        """Distance between predictions from perturbed and reference rates, and its evoked energy (§9.1).

        With a shared input the difference evolves as ``C A^t (x0_p - x0_r)``, so
        ``dist_t = ||C A^t (x0_p - x0_r)||``; ``energy = sum_t dist_t * dt_ms`` (divided by
        ``diameter``, the task-space diameter, when given). Returns ``(dist (n_steps,), energy)``.
        """
        positive("dt_ms", dt_ms)
        yp = self.predict_from_rates(y_perturbed, n_steps)
        yr = self.predict_from_rates(y_reference, n_steps)
        dist = np.linalg.norm(yp - yr, axis=-1)
        energy = float(dist.sum(axis=-1).mean() * dt_ms)
        if diameter is not None:
            energy /= positive("diameter", diameter)
        return dist, energy

    def schur(self, score=None):
        """Ordered real Schur form of ``A_`` (lower quasi-triangular, seed 001 §9.2)."""
        self._fitted()
        return ordered_schur(self.A_, score)

    def henrici(self) -> float:
        """Normalised Henrici departure from normality of ``A_`` (seed 001 §9.2)."""
        self._fitted()
        return henrici(self.A_)

    def eigenvalues(self) -> np.ndarray:
        self._fitted()
        return np.linalg.eigvals(self.A_)


def _fold_ids(n: int, n_folds: int) -> np.ndarray:
    return np.arange(n) % n_folds


def grid_search_lds(X, K_grid: Sequence[int], transition_grid: Sequence[int | None], *, n_folds: int = 4,
                    groups=None, max_iter: int = 100, X_val=None):
    """Cross-validated choice of K and transition bin (seed 001 §9), lowest held-out MSE wins.

    Without ``X_val``, conditions are split into ``n_folds`` folds: the model is fit on the others and
    each held-out condition is predicted forward after inferring its initial state and inputs (§12).
    With ``X_val`` (e.g. trial averages of validation trials), the model is fit on ``X`` and
    ``predict(X_val)`` is compared with ``X_val``. Returns a dict with ``mse`` (len(K) x len(transition)),
    ``best_K``, ``best_transition``.
    """
    X = finite_array("X", getattr(X, "rates", X))
    if X.ndim != 3:
        fail("X", X, "rates (conditions, time, neurons)")
    n_folds = positive_int("n_folds", n_folds, 2)
    if X_val is None and X.shape[0] < n_folds:
        fail("n_folds", n_folds, f"at most the number of conditions ({X.shape[0]})")
    mse = np.full((len(K_grid), len(transition_grid)), np.inf)
    cells = [(i, j) for i in range(len(K_grid)) for j in range(len(transition_grid))]
    folds = _fold_ids(X.shape[0], n_folds)
    for i, j in progress(cells, len(cells), "LDS grid search"):
        K, tr = K_grid[i], transition_grid[j]
        err, count = 0.0, 0
        if X_val is not None:
            m = LDS(K, tr, max_iter=max_iter).fit(X, groups)
            err, count = float(np.sum((m.predict(X_val) - X_val) ** 2)), X_val.size
        else:
            for f in range(n_folds):
                tr_idx, te_idx = folds != f, folds == f
                g = None if groups is None else np.asarray(groups)[tr_idx]
                m = LDS(K, tr, max_iter=max_iter).fit(X[tr_idx], g)
                err += float(np.sum((m.predict(X[te_idx]) - X[te_idx]) ** 2))
                count += X[te_idx].size
        mse[i, j] = err / count
    i, j = np.unravel_index(int(np.argmin(mse)), mse.shape)
    return {"mse": mse, "best_K": int(K_grid[i]), "best_transition": transition_grid[j]}


def bootstrap_eigenvalues(trials: Sequence[np.ndarray], n_latents: int, transition: int | None = None, *,
                          n_boot: int = 100, seed: int = 0, max_iter: int = 50, groups=None) -> np.ndarray:
    """Eigenvalues of A over bootstrap refits (seed 001 §9): ``(n_boot, K)`` complex.

    ``trials`` is a list over conditions of single-trial rates ``(n_trials_c, T, N)``. Each replicate
    resamples every condition's trials with replacement, averages them and refits the LDS (warm-started
    from the fit to all trials).
    """
    if len(trials) == 0:
        fail("trials", trials, "a non-empty list of (n_trials, T, N) arrays, one per condition")
    trials = [finite_array(f"trials[{c}]", t, ndim=3) for c, t in enumerate(trials)]
    for c, t in enumerate(trials):
        if t.shape[0] == 0:
            fail(f"trials[{c}]", t, "at least one trial per condition")
    n_boot = positive_int("n_boot", n_boot)
    rng = np.random.default_rng(seed)
    base = LDS(n_latents, transition, max_iter=max_iter * 2).fit(np.stack([t.mean(0) for t in trials]), groups)
    out = np.empty((n_boot, n_latents), dtype=complex)
    for b in progress(range(n_boot), n_boot, "LDS bootstrap"):
        Xb = np.stack([t[rng.integers(0, t.shape[0], t.shape[0])].mean(0) for t in trials])
        m = LDS(n_latents, transition, max_iter=max_iter).fit(Xb, groups, init_params=base.params_)
        lam = np.linalg.eigvals(m.A_)
        out[b] = lam[np.argsort(-np.abs(lam))]
    return out


def eigenvalue_density(eigs, bins: int = 60, extent: float = 1.1):
    """2-d histogram density of eigenvalues on ``[-extent, extent]^2``: ``(density, re_edges, im_edges)``."""
    eigs = np.asarray(eigs).ravel()
    positive_int("bins", bins)
    positive("extent", extent)
    H, xe, ye = np.histogram2d(eigs.real, eigs.imag, bins=bins, range=[[-extent, extent], [-extent, extent]],
                               density=True)
    return H, xe, ye

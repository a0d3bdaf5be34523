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

Each EM iteration cannot decrease the marginal log-likelihood (``loglik_`` records it); EM stops when the
gain falls below ``tol * |loglik|`` (``stop_reason_ = "converged"``), at ``max_iter`` or on a decrease
(numerical trouble; the previous parameters are kept), with a `ConvergenceWarning` in the last two cases.

Held-out scores (§12 and co-smoothing) are in `neurodyn.models.heldout`; `grid_search_lds` chooses K and the
transition by them, `cross_validated_co_smoothing` scores condition folds.

Initial condition from firing rates (§9.1; the equation was lost): the generalised least-squares
estimate ``x0 = (C^T R^{-1} C)^{-1} C^T R^{-1} (y0 - d)``, the maximum-likelihood latent for one
observation under ``y = C x + d + v``. Predictions then run forward without noise.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning

from neurodyn.validation import fail, finite_array, in_range, positive, positive_int
from neurodyn.analysis import henrici, ordered_schur
from neurodyn.analysis.metrics import signal_variance_explained
from neurodyn.models.base import check_rates
from neurodyn.models.heldout import co_smoothing, initial_state_heldout
from neurodyn.models.lds.inference import LDSParams, kalman_smoother_batch
from neurodyn.models.lds.latent import LatentLDSEstimator, epoch_inputs, input_groups
from neurodyn.progress import progress

__all__ = ["LDS", "bootstrap_eigenvalues", "condition_folds", "cross_validated_co_smoothing", "eigenvalue_density",
           "em_stop_reason", "epoch_inputs", "grid_search_lds", "signal_variance_explained", "warn_stop"]


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


def _em_step_impl(params: LDSParams, Y, U, active, stats, r_floor, diagonal_R: bool, initial: str):
    """One EM iteration; returns (new params, log-likelihood of ``params``). ``active`` masks B columns."""
    drive = jnp.einsum("btu,ku->btk", U, params.B)
    sm = kalman_smoother_batch(params._replace(B=jnp.eye(params.A.shape[0], dtype=Y.dtype)), Y, drive)
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
    R_new = jnp.maximum(jnp.diag(Rn), jnp.maximum(r_floor, 1e-8)) if diagonal_R else Rn
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


def _em_step(params: LDSParams, Y, U, active, *, diagonal_R: bool, initial: str, stats=None, r_floor=None):
    """One EM iteration (jitted core); ``stats`` from `_data_stats` can be passed to skip recomputing them."""
    if stats is None:
        stats = _data_stats(Y, U, active)
    r_floor = jnp.zeros(Y.shape[-1], Y.dtype) if r_floor is None else jnp.asarray(r_floor, Y.dtype)
    return _em_step_jit(params, Y, U, active, stats, r_floor, diagonal_R=diagonal_R, initial=initial)


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


def em_stop_reason(values, tol: float) -> str | None:
    """Stopping rule of the EM loops (LDS, E/I subspace network) on the recorded objective ``values``.

    ``"decrease"`` when the last change is a decrease larger than ``tol * |value|`` (EM cannot decrease
    its objective, so this signals numerical trouble or an inexact M-step), ``"converged"`` when the gain is
    below ``tol * |value|``, None to go on.
    """
    if len(values) < 2:
        return None
    gain = values[-1] - values[-2]
    scale = tol * abs(values[-1])
    if gain < -scale:
        return "decrease"
    if gain < scale:
        return "converged"
    return None


def warn_stop(name: str, reason: str, n_iter: int) -> None:
    """`ConvergenceWarning` when an EM loop ended for another reason than convergence."""
    if reason == "max_iter":
        warnings.warn(f"{name}: EM stopped at max_iter={n_iter} before converging; raise max_iter",
                      ConvergenceWarning, stacklevel=3)
    elif reason == "decrease":
        warnings.warn(f"{name}: EM objective decreased at iteration {n_iter}; stopped and kept the previous "
                      "parameters", ConvergenceWarning, stacklevel=3)


class LDS(LatentLDSEstimator):
    """Latent linear dynamical system with piecewise-constant inputs, fit by EM (seed 001 §9).

    Parameters:
        n_latents: latent dimension K (<= number of neurons).
        transition: bin index where inputs switch from 'hold' to 'go' (None: one epoch).
        max_iter, tol: EM stops after ``max_iter`` iterations or when the log-likelihood gain per
            iteration falls below ``tol * |loglik|`` (or the log-likelihood decreases; see ``stop_reason_``).
        diagonal_R: diagonal (default) or full emission-noise covariance.
        initial: ``"per_condition"`` (each condition has its own initial mean) or ``"shared"``.
        min_var: floor on each neuron's emission variance (diagonal R), as a fraction of that neuron's variance
            in the data, at initialisation and in every M-step (the M-step of a bounded variance is the
            clipped one, so EM stays monotone); it keeps a neuron's noise variance from collapsing to zero
            (a Heywood case of factor analysis, where a latent is spent on a single neuron).

    Learned attributes: ``A_, B_, C_, d_, Q_, R_``, ``m0_`` (fitted conditions x K; rows equal with
    ``initial="shared"``), ``S0_``, ``params_`` (`LDSParams` of a *new* condition: the population prior
    of the initial state, `latent_params`), ``input_vectors_`` (groups x 2 x K), ``loglik_`` (log-likelihood
    of the parameters entering each EM iteration), ``n_iter_``, ``stop_reason_`` (``"converged"``,
    ``"max_iter"`` or ``"decrease"``; a `ConvergenceWarning` is raised unless converged), ``groups_``
    (group index per fitted condition), ``group_labels_``, ``n_groups_``, ``n_conditions_``, ``n_times_``.

    ``score(X)`` is the mean marginal log-likelihood per observed bin (higher is better); held-out
    scores are in `neurodyn.models.heldout`.
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
    def _check_params(self, X: np.ndarray):
        positive_int("n_latents", self.n_latents)
        positive_int("max_iter", self.max_iter)
        positive("tol", self.tol)
        in_range("min_var", self.min_var, 0.0, 1.0, hi_open=True)
        if self.n_latents > X.shape[2]:
            fail("n_latents", self.n_latents, f"at most the number of neurons ({X.shape[2]})")
        if self.initial not in ("per_condition", "shared"):
            fail("initial", self.initial, "'per_condition' or 'shared'")
        if self.transition is not None:
            positive_int("transition", self.transition, 2)
            if self.transition > X.shape[1] - 1:
                fail("transition", self.transition,
                     f"a bin index in [2, {X.shape[1] - 1}] so both epochs have time bins (T={X.shape[1]})")

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
        Rv = np.maximum((flat - d - Z @ C.T).var(0), np.maximum(self.min_var * flat.var(0), 1e-12))
        R = Rv if self.diagonal_R else np.diag(Rv)
        m0 = Xl[:, 0] if self.initial == "per_condition" else Xl[:, 0].mean(0)
        S0 = Q.copy()
        return LDSParams(*(jnp.asarray(a) for a in (A, B, C, d, Q, R, m0, S0)))

    def fit(self, X, groups=None, init_params: LDSParams | None = None):
        """Fit by EM to trial-averaged rates ``X`` (conditions, time, neurons) or a `PopulationData`.

        ``groups``: input-group label per condition (conditions of a group share their hold/go input
        vectors; default: each condition its own group). ``init_params``: start EM from these parameters
        instead of the PCA initialisation. Returns self.
        """
        X = check_rates(X, "X", min_times=3)
        self._check_params(X)
        nc, T, _ = X.shape
        self.groups_, self.group_labels_ = input_groups(groups, nc)
        self.n_groups_ = int(len(self.group_labels_))
        U = epoch_inputs(self.groups_, self.n_groups_, T, self.transition)
        active = (U[:, 1:].sum((0, 1)) > 0).astype(float)
        params = self._init_params(X, U) if init_params is None else LDSParams(*map(jnp.asarray, init_params))
        Yj, Uj, aj = jnp.asarray(X), jnp.asarray(U), jnp.asarray(active)
        lls = []
        stats = _data_stats(Yj, Uj, aj)
        r_floor = self.min_var * X.reshape(-1, X.shape[2]).var(0)
        reason, prev = "max_iter", params
        for _ in progress(range(self.max_iter), self.max_iter, "LDS EM"):
            new, ll = _em_step(params, Yj, Uj, aj, diagonal_R=self.diagonal_R, initial=self.initial, stats=stats,
                               r_floor=r_floor)
            ll = float(ll)
            if not np.isfinite(ll):
                raise FloatingPointError("LDS EM: log-likelihood became non-finite; try a smaller n_latents")
            lls.append(ll)
            stop = em_stop_reason(lls, self.tol)
            if stop == "decrease":           # ``params`` is worse than ``prev``: keep ``prev``
                params, reason = prev, stop
                break
            prev, params = params, new
            if stop == "converged":
                reason = stop
                break
        self.n_conditions_ = nc
        self.n_times_ = T
        self._set(params)
        self.loglik_ = np.array(lls)
        self.n_iter_ = len(lls)
        self.stop_reason_ = reason
        warn_stop("LDS", reason, self.n_iter_)
        return self

    def _set(self, params: LDSParams):
        p = LDSParams(*(np.asarray(a) for a in params))
        self.A_, self.B_, self.C_, self.d_, self.Q_, self.R_ = p.A, p.B, p.C, p.d, p.Q, p.R
        self.m0_ = np.array(np.broadcast_to(np.atleast_2d(p.m0), (self.n_conditions_, p.A.shape[0])))
        self.S0_ = p.S0
        self.input_vectors_ = p.B.T.reshape(-1, 2, p.A.shape[0])
        self.params_ = self.latent_params()

    @classmethod
    def from_params(cls, params: LDSParams, transition: int | None = None, *, n_times: int, groups=None,
                    **hyper) -> "LDS":
        """An LDS with known parameters (e.g. a simulation's truth), usable as a fitted model.

        ``params.m0`` is ``(K,)`` (shared) or ``(conditions, K)``; ``params.B`` has one hold/go column pair
        per input group (``2 n_groups`` columns); ``groups`` labels the conditions' groups (default: one
        group per condition).
        """
        p = LDSParams(*(np.asarray(a, float) for a in params))
        K = p.A.shape[0]
        m0 = np.atleast_2d(p.m0)
        nc = m0.shape[0] if groups is None else np.asarray(groups).size
        model = cls(K, transition, **hyper)
        model.groups_, model.group_labels_ = input_groups(groups, nc)
        model.n_groups_ = int(len(model.group_labels_))
        if p.B.shape != (K, 2 * model.n_groups_):
            fail("params.B", p.B, f"shape ({K}, {2 * model.n_groups_}): a hold/go column pair per input group")
        model.n_conditions_, model.n_times_ = nc, positive_int("n_times", n_times, 3)
        model._set(p._replace(m0=np.broadcast_to(m0, (nc, K))))
        model.loglik_, model.n_iter_, model.stop_reason_ = np.zeros(0), 0, "converged"
        return model

    # ----------------------------------------------------------------- §9.1 predictions from rates
    def latents_from_rates(self, y0) -> np.ndarray:
        """GLS latent estimate ``x0 = (C^T R^{-1} C)^{-1} C^T R^{-1} (y0 - d)`` (seed 001 §9.1)."""
        self._check_fitted("A_")
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
        self._check_fitted("A_")
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
        self._check_fitted("A_")
        return ordered_schur(self.A_, score)

    def henrici(self) -> float:
        """Normalised Henrici departure from normality of ``A_`` (seed 001 §9.2)."""
        self._check_fitted("A_")
        return henrici(self.A_)

    def eigenvalues(self) -> np.ndarray:
        self._check_fitted("A_")
        return np.linalg.eigvals(self.A_)


def condition_folds(n: int, n_folds: int) -> np.ndarray:
    """Fold index of each of ``n`` conditions (interleaved, ``i % n_folds``)."""
    return np.arange(n) % n_folds


def cross_validated_co_smoothing(estimator, X, n_folds: int, *, seed: int = 0, n_neuron_folds: int = 5,
                                 baseline: bool = True, groups=None) -> dict:
    """Protocol (b) of `neurodyn.models.heldout` over condition folds and neuron folds: every condition and
    every neuron is held out once.

    For each condition fold, a clone of ``estimator`` is fit on the other conditions (with their ``groups``
    labels). For each of ``n_neuron_folds`` seeded neuron folds (`neuron_folds`; 5 folds = 20% of the
    neurons each), the held-out conditions' held-out neurons are predicted from their held-in neurons
    (`co_smoothing`): a held-out condition whose input group is among the training conditions' keeps that
    group's inputs and only its initial state is inferred (protocol (a)'s rule); one of a new group also
    has its hold/go inputs inferred. With ``baseline``, the same neurons are also predicted by
    `pca_ridge_baseline` with K = the estimator's latent dimension, fitted on the same training
    conditions. Scores are pooled over all conditions and neurons (`r2_score`).

    Returns ``heldout_neuron_r2``, ``heldout_neuron_r2_baseline`` (None without baseline), per neuron fold
    ``fold_r2`` / ``fold_r2_baseline``, ``prediction`` / ``prediction_baseline`` ``(C, T, N)``,
    ``neuron_folds`` and the fitted ``models``.
    """
    from neurodyn.analysis.metrics import r2_score
    from neurodyn.models.heldout import neuron_folds, pca_ridge_baseline

    X = check_rates(X, "X", min_times=3)
    nc, T, N = X.shape
    n_folds = positive_int("n_folds", n_folds, 2)
    if n_folds > nc:
        fail("n_folds", n_folds, f"at most the number of conditions ({nc})")
    nfolds = neuron_folds(N, n_neuron_folds, seed)
    folds = condition_folds(nc, n_folds)
    labels = None if groups is None else np.asarray(groups)
    if labels is not None and labels.shape != (nc,):
        fail("groups", groups, f"one input-group label per condition ({nc})")
    pred = np.empty(X.shape)
    pred_b = np.empty(X.shape)
    models = []
    for f in range(n_folds):
        te = folds == f
        m = clone(estimator).fit(X[~te], None if labels is None else labels[~te])
        models.append(m)
        idx = np.flatnonzero(te)
        known = np.zeros(idx.size, bool) if labels is None else np.isin(labels[idx], labels[~te])
        for out in nfolds:
            heldin = np.setdiff1d(np.arange(N), out)
            for sel, g in ((known, True), (~known, False)):
                if sel.any():
                    c = idx[sel]
                    pred[np.ix_(c, np.arange(T), out)] = co_smoothing(m, X[c], out,
                                                                      labels[c] if g else None).prediction
            if baseline:
                K = int(m.A_.shape[0])
                pred_b[np.ix_(idx, np.arange(T), out)] = pca_ridge_baseline(X[~te], X[te], heldin, out, K)[1]
    return {"heldout_neuron_r2": r2_score(X, pred),
            "heldout_neuron_r2_baseline": r2_score(X, pred_b) if baseline else None,
            "fold_r2": np.array([r2_score(X[:, :, o], pred[:, :, o]) for o in nfolds]),
            "fold_r2_baseline": np.array([r2_score(X[:, :, o], pred_b[:, :, o]) for o in nfolds]) if baseline
            else None,
            "prediction": pred, "prediction_baseline": pred_b if baseline else None,
            "neuron_folds": nfolds, "models": models}


def grid_search_lds(X, K_grid: Sequence[int], transition_grid: Sequence[int | None], *, n_folds: int = 4,
                    groups=None, max_iter: int = 100, X_val=None, seed: int = 0):
    """Cross-validated choice of K and transition bin (seed 001 §9) by held-out scores that never see the
    scored data (`neurodyn.models.heldout`).

    Without ``X_val``: conditions are split into ``n_folds`` folds and each fold is scored by co-smoothing
    (protocol (b), `cross_validated_co_smoothing`, 5 seeded neuron folds of 20%; held-out conditions
    of an input group seen in training keep its inputs, protocol (a)'s rule); the highest pooled
    ``heldout_neuron_r2`` wins. With ``X_val`` (validation trial averages of the same
    conditions, e.g. seed 001's pre-stimulation bins of stimulation trials), the model is fit on ``X`` and
    each validation condition keeps its condition's inputs; only its initial state is inferred and the
    noise-free forward prediction is compared with ``X_val`` (protocol (a), §9's "lowest mean-squared
    prediction error on held out validation data"); the lowest ``val_mse`` wins.

    Returns ``best_K``, ``best_transition`` and the grid (len(K) x len(transition)) ``heldout_neuron_r2``
    or ``val_mse``.
    """
    X = check_rates(X, "X", min_times=3)
    n_folds = positive_int("n_folds", n_folds, 2)
    if X_val is None and X.shape[0] < n_folds:
        fail("n_folds", n_folds, f"at most the number of conditions ({X.shape[0]})")
    if X_val is not None:
        X_val = check_rates(X_val, "X_val", min_times=3)
        if X_val.shape[0] != X.shape[0] or X_val.shape[2] != X.shape[2]:
            fail("X_val", X_val, f"the conditions and neurons of X {(X.shape[0], X.shape[2])}")
    grid = np.full((len(K_grid), len(transition_grid)), np.nan)
    cells = [(i, j) for i in range(len(K_grid)) for j in range(len(transition_grid))]
    for i, j in progress(cells, len(cells), "LDS grid search"):
        K, tr = K_grid[i], transition_grid[j]
        est = LDS(K, tr, max_iter=max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if X_val is not None:
                m = est.fit(X, groups)
                g = m.group_labels_[m.groups_]
                pred = initial_state_heldout(m, X_val, g).prediction
                grid[i, j] = float(np.mean((pred - X_val) ** 2))
            else:
                grid[i, j] = cross_validated_co_smoothing(est, X, n_folds, seed=seed, baseline=False,
                                                          groups=groups)["heldout_neuron_r2"]
    best = np.nanargmin(grid) if X_val is not None else np.nanargmax(grid)
    i, j = np.unravel_index(int(best), grid.shape)
    key = "val_mse" if X_val is not None else "heldout_neuron_r2"
    return {key: grid, "best_K": int(K_grid[i]), "best_transition": transition_grid[j]}


def bootstrap_eigenvalues(trials: Sequence[np.ndarray], n_latents: int, transition: int | None = None, *,
                          n_boot: int = 1000, seed: int = 0, max_iter: int = 200, tol: float = 1e-7,
                          groups=None) -> np.ndarray:
    """Eigenvalues of A over bootstrap refits (seed 001 §9, 1000 resamples): ``(n_boot, K)`` complex.

    ``trials`` is a list over conditions of single-trial rates ``(n_trials_c, T, N)``. Each replicate
    resamples every condition's trials with replacement, averages them and refits the LDS from its own
    PCA initialisation (full refits: a warm start from the fit to all trials would pull every replicate
    toward that fit and can understate the spread), sorted by decreasing modulus.
    """
    if len(trials) == 0:
        fail("trials", trials, "a non-empty list of (n_trials, T, N) arrays, one per condition")
    trials = [finite_array(f"trials[{c}]", t, ndim=3) for c, t in enumerate(trials)]
    for c, t in enumerate(trials):
        if t.shape[0] == 0:
            fail(f"trials[{c}]", t, "at least one trial per condition")
    n_boot = positive_int("n_boot", n_boot)
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, n_latents), dtype=complex)
    for b in progress(range(n_boot), n_boot, "LDS bootstrap"):
        Xb = np.stack([t[rng.integers(0, t.shape[0], t.shape[0])].mean(0) for t in trials])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            m = LDS(n_latents, transition, max_iter=max_iter, tol=tol).fit(Xb, groups)
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

"""Latent LDS with piecewise-constant inputs fit by EM (seed 001 Methods §9, §9.1, §9.2, §12; seed 000).

Model (seed 001 eq. 35, whose image was lost; restored from the prose of §9)::

    x^i_{t+1} = A x^i_t + B u_{c(i), kappa(t)} + w_t,   w_t ~ N(0, Q)
    y^i_t     = C x^i_t + d + v_t,                       v_t ~ N(0, R)  (R diagonal by default)

Condition i (reach direction, delay, ...) is an independent sequence with its own initial state
``x^i_0 ~ N(m0_i, S0)``; ``c(i)`` is the condition's input group (by default each condition is its own
group) and ``kappa(t)`` the epoch: 'hold' for bins before the transition bin, 'go' from it on. The
input ``u`` is one-hot in (group, epoch), so column ``2 g + k`` of ``B`` is the constant input vector
of group g in epoch k. Emissions are trial-averaged rates (conditions x time x neurons).

EM (`neurodyn.models.lds.em`): RTS-smoother E-step and closed-form M-step for ``[A B], Q, [C d], R, m0, S0``.

Each EM iteration cannot decrease the marginal log-likelihood (``loglik_`` records it); EM stops when the
gain falls below ``tol * |loglik|`` (``stop_reason_ = "converged"``), at ``max_iter`` or on a decrease
(numerical trouble; the previous parameters are kept), with a `ConvergenceWarning` in the last two cases.

Held-out scores (§12 and co-smoothing) are in `neurodyn.models.heldout`; `neurodyn.models.lds.selection`
chooses K and the transition by them and bootstraps the eigenvalues of A.

Initial condition from firing rates (§9.1): the generalised least-squares estimate of
`LatentLDSEstimator.latents_from_rates`; predictions then run forward without noise
(`neurodyn.dynamics.linear_rollout`).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Complex, Float
from sklearn.decomposition import PCA

from neurodyn.analysis import OrderedSchur, henrici, ordered_schur
from neurodyn.dynamics import linear_rollout
from neurodyn.models.lds.conditions import check_latent_data, condition_design, input_groups
from neurodyn.models.lds.em import data_stats, em_step, em_stop_reason, warn_stop
from neurodyn.models.lds.inference import LDSParams
from neurodyn.models.lds.latent import LatentLDSEstimator
from neurodyn.progress import progress
from neurodyn.validation import fail, finite_array, in_range, positive, positive_int

__all__ = ["LDS"]


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
    def _check_params(self, X) -> np.ndarray:
        positive_int("n_latents", self.n_latents)
        positive_int("max_iter", self.max_iter)
        positive("tol", self.tol)
        in_range("min_var", self.min_var, 0.0, 1.0, hi_open=True)
        X = check_latent_data(X, self.n_latents, self.transition)
        if self.initial not in ("per_condition", "shared"):
            fail("initial", self.initial, "'per_condition' or 'shared'")
        return X

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

    def fit(self, X: Float[np.ndarray, "conditions time neurons"], groups=None,
            init_params: LDSParams | None = None) -> "LDS":
        """Fit by EM to trial-averaged rates ``X`` (conditions, time, neurons) or a `PopulationData`.

        ``groups``: input-group label per condition (conditions of a group share their hold/go input
        vectors; default: each condition its own group). ``init_params``: start EM from these parameters
        instead of the PCA initialisation. Returns self.
        """
        X = self._check_params(X)
        nc, T, _ = X.shape
        design = condition_design(groups, nc, T, self.transition)
        self.groups_, self.group_labels_, self.n_groups_ = design.groups, design.labels, design.n_groups
        U, active = design.inputs, design.active
        params = self._init_params(X, U) if init_params is None else LDSParams(*map(jnp.asarray, init_params))
        Yj, Uj, aj = jnp.asarray(X), jnp.asarray(U), jnp.asarray(active)
        lls = []
        stats = data_stats(Yj, Uj, aj)
        r_floor = self.min_var * X.reshape(-1, X.shape[2]).var(0)
        reason, prev = "max_iter", params
        for _ in progress(range(self.max_iter), self.max_iter, "LDS EM"):
            new, ll = em_step(params, Yj, Uj, aj, diagonal_R=self.diagonal_R, initial=self.initial, stats=stats,
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
    def predict_from_rates(self, y0: Float[np.ndarray, "*batch neurons"], n_steps: int,
                           input_vector: Float[np.ndarray, "latents"] | None = None
                           ) -> Float[np.ndarray, "*batch time neurons"]:
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
        drive = np.broadcast_to(b, (x0.shape[0], n_steps, K))
        x = linear_rollout(jnp.asarray(self.A_), jnp.asarray(x0), jnp.asarray(drive))
        Y = np.asarray(x @ jnp.asarray(self.C_).T + jnp.asarray(self.d_))
        return Y[0] if np.ndim(y0) == 1 else Y

    def decay_curve(self, y_perturbed: Float[np.ndarray, "*batch neurons"],
                    y_reference: Float[np.ndarray, "*batch neurons"], n_steps: int, dt_ms: float = 10.0,
                    diameter: float | None = None
                    ) -> tuple[Float[np.ndarray, "*batch time"], float]:
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

    def schur(self, score=None) -> OrderedSchur:
        """Ordered real Schur form of ``A_`` (lower quasi-triangular, seed 001 §9.2)."""
        self._check_fitted("A_")
        return ordered_schur(self.A_, score)

    def henrici(self) -> float:
        """Normalised Henrici departure from normality of ``A_`` (seed 001 §9.2)."""
        self._check_fitted("A_")
        return henrici(self.A_)

    def eigenvalues(self) -> Complex[np.ndarray, "latents"]:
        self._check_fitted("A_")
        return np.linalg.eigvals(self.A_)

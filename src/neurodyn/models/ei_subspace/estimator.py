"""The E/I subspace network estimator: penalised EM on the x-space LDS (seed 001 Methods §10.2-10.5, §11, §12).

`EISubspaceNetwork.fit` initialises from an LDS (below), then alternates the E-step and the M-step of
`neurodyn.models.ei_subspace.em` (`smoothed_moments`, `m_step`) while the penalty weights grow.

Initialisation (§10.2): a random E/I matrix on the mask with exact row balance, scaled to spectral
radius 0.85; an LDS (`neurodyn.models.LDS`) is fit to the same data, its B, C, d, Q, R, m0, S0 are
taken over (the x-space basis is the LDS's latent basis, reflected so that its least important
real mode lies along ``J 1``, `align_reflection`), and W is then matched to the LDS's A under
the penalties: minimise ``1/2 ||J W J^+ - A_LDS||_F^2`` plus the penalty terms of ``F*`` (same bounded
solver, with ``Q = I``, ``P = I``, ``M = A_LDS``).

Stopping: the penalised objective ``F*`` (log-likelihood minus the two penalties, in log-likelihood units,
``objective_``) is recorded every iteration. While the penalty weights still grow, ``F*`` changes
definition between iterations, so convergence (relative change below ``tol``) and decrease (the previous
parameters are restored) are judged only once both weights have reached ``penalty_max``;
``stop_reason_`` says which rule ended the fit and a `ConvergenceWarning` is raised unless it converged.

Cost in fit quality of the stability bound (`neurodyn.models.ei_subspace.stability`; fraction of signal
variance of noise-free forward predictions, bundled M1 data,
`ei-subspace-fit` split, measured when held-out conditions had their initial state and inputs fitted to
their own data): at the quick
scale (N = 300, K = 4, 6 EM iterations) train 0.561 -> 0.581 and held-out 0.447 -> 0.455 with the bound
(no cost: the bounded fit forward-predicts better because nothing drifts); at N = 1000, K = 10,
30 EM iterations, -400..400 ms, the unconstrained fit reaches ``rho(A) = 1.056`` and its noise-free
forward prediction of the training conditions diverges (train -3.34, held-out 0.496), while the bounded
fit gives train 0.760, held-out 0.600 with ``rho(A) = 0.99``, for about 16% more fitting time (the
clipped-target solve runs only in the W updates where the bound is exceeded; the shrink acted in 14
of 31 there, all in the first half of the fit). The
bound costs likelihood only where the data really favour an expanding mode; raise it (or pass None)
to trade stability for in-sample fit.

Held-out scores (§12 and co-smoothing) are those of `neurodyn.models.heldout`, applied to the x-space LDS.
"""

from __future__ import annotations

import time
import warnings

import jax.numpy as jnp
import numpy as np
from jaxtyping import Bool, Complex, Float
from sklearn.exceptions import ConvergenceWarning

from neurodyn.dynamics import linear_rollout
from neurodyn.models.ei_subspace.constraints import (
    balance_residual,
    dale_violations,
    excitatory_units,
    random_balanced_ei,
    self_containment_residual,
    sparsity_mask,
    subspace_projection,
)
from neurodyn.models.ei_subspace.em import (
    SubspaceParams,
    SubspaceStructure,
    data_curvature,
    m_step,
    penalty,
    smoothed_moments,
    sufficient_stats,
)
from neurodyn.models.ei_subspace.stability import clip_spectral_radius, shrink_to_radius
from neurodyn.models.ei_subspace.w_solver import fit_w
from neurodyn.models.lds import (
    LDS,
    LatentLDSEstimator,
    check_latent_data,
    condition_design,
    data_stats,
    em_stop_reason,
    warn_stop,
)
from neurodyn.progress import progress
from neurodyn.validation import fail, finite_array, in_range, positive, positive_int

__all__ = ["EISubspaceNetwork", "align_reflection"]


def align_reflection(A: Float[np.ndarray, "latents latents"], j1: Float[np.ndarray, "latents"]
                     ) -> Float[np.ndarray, "latents latents"]:
    """Orthogonal K x K map taking the least important real mode of A onto ``J 1`` (initialisation, §10.2).

    Balance and self-containment force ``A (J 1) = 0`` (module docstring). Any LDS fit is defined up to a
    change of latent basis; the orthogonal Householder reflection ``R`` with ``R v = J 1 / ||J 1||``, where
    ``v`` is the unit eigenvector of ``A_LDS`` whose eigenvalue is smallest in modulus among the real ones
    (the real part of the overall smallest one if none is real), re-expresses the LDS
    (``A' = R A R^T``, ``B' = R B``, ``C' = C R^T``, ``Q' = R Q R^T``, ``m0' = R m0``) so that the mode that
    the constraints remove is the one that matters least.
    """
    lam, V = np.linalg.eig(A)
    real = np.abs(lam.imag) < 1e-12
    idx = np.flatnonzero(real)[np.argmin(np.abs(lam[real]))] if real.any() else int(np.argmin(np.abs(lam)))
    v = np.real(V[:, idx])
    v = v / np.linalg.norm(v)
    t = j1 / np.linalg.norm(j1)
    if v @ t < 0:
        v = -v
    w = v - t
    nw = np.linalg.norm(w)
    if nw < 1e-12:
        return np.eye(A.shape[0])
    w = w / nw
    return np.eye(A.shape[0]) - 2.0 * np.outer(w, w)


class EISubspaceNetwork(LatentLDSEstimator):
    """Balanced E/I network with a self-contained K-dimensional subspace, fit by penalised EM (seed 001 §10).

    Parameters:
        n_units: network size N (the text uses 1500-2500).
        n_latents: task-dynamics dimension K (default ``max(1, N // 100)``).
        transition: bin index where inputs switch from 'hold' to 'go' (None: one epoch).
        frac_excitatory: share of E units (E first, then I); 0.5 as in §13.
        density: share of free (non-zero) entries of W, 0.25 (§10.1); the diagonal is always free.
        spectral_radius: of the random E/I initial W (0.85, §10.2).
        max_iter: EM iterations; ``w_iter``: projected-gradient steps per W update.
        eps0, beta0, penalty_growth, penalty_max: self-containment and balance penalty weights (relative
            to the data term's curvature), multiplied by ``penalty_growth`` each EM iteration up to
            ``penalty_max``.
        lds_iter: EM iterations of the LDS used for initialisation.
        max_spectral_radius: bound r on the spectral radius of the task dynamics ``A = J W J^+`` per time
            step (default 0.99; None: unconstrained). Enforced after every W update by a clipped-eigenvalue
            target and an exact shrink ``W <- c W`` that keep Dale's law, sparsity, balance and
            self-containment (`neurodyn.models.ei_subspace.stability`).
        seed: seeds J, the sparsity mask and the initial W.

        dt_ms: the time step of the network, the bin width of the data (10 ms in §10.1); used by consumers
            of the fit (perturbation design) to express times in ms.
        tol: EM stops when, with the penalty weights at ``penalty_max``, the penalised objective changes by
            less than ``tol * |objective|`` (``stop_reason_``).

    Learned attributes: ``W_`` (N x N), ``J_`` (K x N), ``J_pinv_``, ``mask_``, ``is_excitatory_``,
    ``A_`` (= J W J^+), ``B_`` (K x 2 n_groups), ``C_``, ``d_``, ``Q_``, ``R_``, ``m0_`` (conditions x K),
    ``S0_``, ``loglik_`` (marginal log-likelihood per EM iteration, without penalties), ``objective_`` (the
    penalised objective ``F*`` of §10.2 per iteration, in log-likelihood units:
    ``loglik - n (eps' / 2 ||J W (I - J^+ J)||^2 + beta' / 2 ||W 1||^2)`` with the iteration's relative
    weights, the quantity the M-step maximises), ``penalty_weights_`` (iterations x 2: eps, beta),
    ``stop_reason_`` (``"converged"``, ``"max_iter"`` or ``"decrease"``: the objective fell with the weights
    at their maximum, the previous parameters are kept; a `ConvergenceWarning` unless converged),
    ``n_iter_``, ``estep_seconds_``, ``wstep_seconds_`` (per iteration), ``lds_A_`` (dynamics of the
    initialising LDS), ``stability_shrink_`` and ``stability_active_`` (per W update, the initial match
    first: last shrink factor c, and whether the bound was exceeded; empty when ``max_spectral_radius``
    is None), ``groups_``, ``group_labels_``, ``n_groups_``, ``n_conditions_``, ``n_times_``.

    ``transform``, ``predict``, ``score`` (mean marginal log-likelihood per observed bin of the x-space LDS,
    higher is better) and ``sample`` act on the x-space model (`neurodyn.models.lds.LatentLDSEstimator`);
    held-out scores are in `neurodyn.models.heldout`.
    """

    def __init__(self, n_units: int = 2000, n_latents: int | None = None, transition: int | None = None, *,
                 frac_excitatory: float = 0.5, density: float = 0.25, spectral_radius: float = 0.85,
                 max_iter: int = 30, w_iter: int = 200, eps0: float = 1.0, beta0: float = 1.0,
                 penalty_growth: float = 2.0, penalty_max: float = 1e5, lds_iter: int = 100,
                 max_spectral_radius: float | None = 0.99, tol: float = 1e-6, dt_ms: float = 10.0, seed: int = 0):
        self.n_units = n_units
        self.n_latents = n_latents
        self.transition = transition
        self.frac_excitatory = frac_excitatory
        self.density = density
        self.spectral_radius = spectral_radius
        self.max_iter = max_iter
        self.w_iter = w_iter
        self.eps0 = eps0
        self.beta0 = beta0
        self.penalty_growth = penalty_growth
        self.penalty_max = penalty_max
        self.lds_iter = lds_iter
        self.max_spectral_radius = max_spectral_radius
        self.tol = tol
        self.dt_ms = dt_ms
        self.seed = seed

    # ----------------------------------------------------------------- validation
    def _check_params(self, X) -> tuple[np.ndarray, int, int]:
        N = positive_int("n_units", self.n_units, 4)
        K = max(1, N // 100) if self.n_latents is None else positive_int("n_latents", self.n_latents)
        if K >= N:
            fail("n_latents", K, f"fewer latents than units ({N})")
        X = check_latent_data(X, K, self.transition)
        in_range("frac_excitatory", self.frac_excitatory, 0.0, 1.0, lo_open=True, hi_open=True)
        in_range("density", self.density, 0.0, 1.0, lo_open=True)
        positive("spectral_radius", self.spectral_radius)
        positive_int("max_iter", self.max_iter)
        positive_int("w_iter", self.w_iter)
        positive("eps0", self.eps0)
        positive("beta0", self.beta0)
        in_range("penalty_growth", self.penalty_growth, 1.0, np.inf)
        positive("penalty_max", self.penalty_max)
        positive_int("lds_iter", self.lds_iter)
        if self.max_spectral_radius is not None:
            positive("max_spectral_radius", self.max_spectral_radius)
        positive("tol", self.tol)
        positive("dt_ms", self.dt_ms)
        return X, N, K

    def _fitted(self):
        self._check_fitted("W_")

    #: weight mu of the eigenvalue-clipped target in the stabilised W update (`stabilised_w`)
    stability_weight = 10.0

    _STATE = ("W_", "A_", "B_", "C_", "d_", "Q_", "R_", "m0_", "S0_")

    def _state(self) -> SubspaceParams:
        return SubspaceParams(*(np.array(getattr(self, k)) for k in self._STATE))

    def _set_state(self, params: SubspaceParams) -> None:
        for k, v in zip(self._STATE, params):
            setattr(self, k, v)

    # ----------------------------------------------------------------- fitting
    def _initialise(self, X, structure: SubspaceStructure, W) -> tuple[SubspaceParams, list, list]:
        """LDS fit, reflection onto ``J 1`` and the penalised match of W to its A (§10.2, module docstring).

        Returns the initial parameters and the safeguard's shrink factor and bound flag (empty lists without
        a bound)."""
        K = structure.J.shape[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            lds = LDS(K, self.transition, max_iter=self.lds_iter).fit(X, self.groups_)
        self.lds_A_ = lds.A_.copy()
        Rf = align_reflection(lds.A_, structure.J.sum(1))
        A0 = Rf @ lds.A_ @ Rf.T
        r_max = self.max_spectral_radius
        init_on = False
        if r_max is not None:
            init_on = bool(np.max(np.abs(np.linalg.eigvals(A0))) > r_max)
            A0 = clip_spectral_radius(A0, r_max)
        eps, beta = self.eps0, self.beta0
        for _ in range(3):
            W = fit_w(W, structure.mask, structure.is_excitatory, structure.J, np.eye(K), A0, np.eye(K), eps, beta,
                      max_iter=self.w_iter)
            eps, beta = min(eps * 10, self.penalty_max), min(beta * 10, self.penalty_max)
        shrinks, bound_on = [], []
        if r_max is not None:
            W, c = shrink_to_radius(W, structure.J, r_max, structure.J_pinv)
            shrinks.append(c)
            bound_on.append(init_on or c < 1.0)
        params = SubspaceParams(W, structure.dynamics(W), Rf @ lds.B_, lds.C_ @ Rf.T, lds.d_.copy(),
                                Rf @ lds.Q_ @ Rf.T, lds.R_.copy(), np.asarray(lds.m0_) @ Rf.T, Rf @ lds.S0_ @ Rf.T)
        return params, shrinks, bound_on

    def fit(self, X: Float[np.ndarray, "conditions time readouts"], groups=None) -> "EISubspaceNetwork":
        """Fit by penalised EM to trial-averaged rates ``X`` (conditions, time, neurons) or `PopulationData`.

        ``groups`` labels conditions that share input vectors (default: each condition its own). Returns self.
        """
        X, N, K = self._check_params(X)
        nc, T, _ = X.shape
        design = condition_design(groups, nc, T, self.transition)
        self.groups_, self.group_labels_, self.n_groups_ = design.groups, design.labels, design.n_groups
        self.n_conditions_, self.n_times_ = nc, T
        U, active = design.inputs, design.active
        s_j, s_m, s_w = (int(s) for s in np.random.default_rng(self.seed).integers(0, 2**31 - 1, 3))
        self.is_excitatory_ = excitatory_units(N, self.frac_excitatory)
        self.J_ = subspace_projection(K, N, s_j)
        self.J_pinv_ = np.linalg.pinv(self.J_)
        self.mask_ = sparsity_mask(N, self.density, s_m)
        structure = SubspaceStructure(self.J_, self.J_pinv_, self.mask_, self.is_excitatory_)
        n_row = max(float(self.mask_.sum()) / N, 1.0)     # fit_w's scaling of the balance weight
        W = random_balanced_ei(self.mask_, self.is_excitatory_, self.spectral_radius, s_w)
        params, shrinks, bound_on = self._initialise(X, structure, W)
        self._set_state(params)
        eps, beta = self.eps0, self.beta0
        Yj, Uj = jnp.asarray(X), jnp.asarray(U)
        Syy = data_stats(Yj, Uj, jnp.asarray(active))[0]
        lls, objs, weights, t_e, t_w = [], [], [], [], []
        reason = "max_iter"
        for _ in progress(range(self.max_iter), self.max_iter, "E/I subspace EM"):
            t0 = time.perf_counter()
            m, P, Pc, ll = smoothed_moments(params.lds(), Yj, Uj)
            t_e.append(time.perf_counter() - t0)
            if not np.isfinite(ll):
                raise FloatingPointError("EISubspaceNetwork EM: log-likelihood became non-finite")
            st = sufficient_stats(m, P, Pc, U, active)
            s = data_curvature(st, params.Q)[2]
            # penalised objective F* of the current parameters with this iteration's weights (§10.2)
            lls.append(ll)
            objs.append(ll - penalty(params.W, params.A, self.J_, st.n, eps, beta, s, n_row))
            weights.append((eps, beta))
            at_max = len(weights) > 1 and weights[-2] == weights[-1]
            stop = em_stop_reason(objs, self.tol) if at_max else None
            if stop in ("decrease", "converged"):
                reason = stop                  # on a decrease the previous parameters are kept
                break
            step = m_step(params, structure, st, m, P, Yj, Syy, active, eps, beta, w_iter=self.w_iter,
                          max_spectral_radius=self.max_spectral_radius, stability_weight=self.stability_weight)
            if step.shrink is not None:
                shrinks.append(step.shrink)
                bound_on.append(step.bound_active)
            t_w.append(step.w_seconds)
            prev, params = params, step.params
            eps = min(eps * self.penalty_growth, self.penalty_max)
            beta = min(beta * self.penalty_growth, self.penalty_max)
        self._set_state(prev if reason == "decrease" else params)
        self.loglik_ = np.asarray(lls)
        self.objective_ = np.asarray(objs)
        self.penalty_weights_ = np.asarray(weights, float)
        self.stop_reason_ = reason
        self.stability_shrink_ = np.asarray(shrinks, float)
        self.stability_active_ = np.asarray(bound_on, bool)
        self.n_iter_ = len(lls)
        self.estep_seconds_ = np.asarray(t_e)
        self.wstep_seconds_ = np.asarray(t_w)
        self.input_vectors_ = self.B_.T.reshape(-1, 2, K)
        warn_stop("EISubspaceNetwork", reason, self.n_iter_)
        return self

    # ----------------------------------------------------------------- diagnostics
    def self_containment_residual(self) -> float:
        self._fitted()
        return self_containment_residual(self.W_, self.J_)

    def balance_residual(self) -> float:
        self._fitted()
        return balance_residual(self.W_)

    def dale_violations(self) -> int:
        self._fitted()
        return dale_violations(self.W_, self.is_excitatory_, self.mask_)

    def eigenvalues(self) -> Complex[np.ndarray, "latents"]:
        """Eigenvalues of the task-dynamics matrix ``A = J W J^+``."""
        self._fitted()
        return np.linalg.eigvals(self.A_)

    # ----------------------------------------------------------------- network runs
    def simulate_network(self, nu0: Float[np.ndarray, "*batch neurons"], inputs: Float[np.ndarray, "batch time inputs"],
                         stim: Float[np.ndarray, "*batch neurons"] | None = None,
                         stim_mask: Bool[np.ndarray, "time"] | None = None) -> Float[np.ndarray, "batch time neurons"]:
        """Noise-free network run ``nu_{t+1} = W nu_t + J^+ B u_{t+1} + s delta_{t+1 in stim}`` (§10.1, §11).

        Args:
            nu0: ``(batch, N)`` initial network states (e.g. ``J^+ m0``, the least-norm lift of x_0).
            inputs: one-hot inputs ``(batch, T, 2 n_groups)`` (see `condition_inputs`).
            stim: ``(batch, N)`` or ``(N,)`` stimulation vectors (None: no stimulation).
            stim_mask: ``(T,)`` booleans, True on the steps the stimulation is on.

        The run is `neurodyn.dynamics.linear_rollout` with the drive ``J^+ B u_t + s``. Returns ``nu`` of
        shape ``(batch, T, N)``.
        """
        self._fitted()
        nu0 = np.atleast_2d(finite_array("nu0", nu0))
        inputs = finite_array("inputs", inputs)
        if inputs.ndim != 3 or inputs.shape[0] != nu0.shape[0] or inputs.shape[2] != self.B_.shape[1]:
            fail("inputs", inputs, f"({nu0.shape[0]}, T, {self.B_.shape[1]}) one-hot inputs")
        T = inputs.shape[1]
        drive = np.einsum("btu,ku,nk->btn", inputs, self.B_, self.J_pinv_)
        if stim is not None:
            stim = np.broadcast_to(finite_array("stim", stim), nu0.shape)
            sm = np.ones(T, bool) if stim_mask is None else np.asarray(stim_mask, bool)
            if sm.shape != (T,):
                fail("stim_mask", sm, f"{T} booleans (one per time step)")
            drive = drive + sm[None, :, None] * stim[:, None, :]
        return np.asarray(linear_rollout(jnp.asarray(self.W_), jnp.asarray(nu0), jnp.asarray(drive)))

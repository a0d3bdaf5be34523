"""`MultiAreaLDS`: the coupled multi-area LDS fitted by block-structured EM (seed 000).

The model and its parameters are in `params` (and the package docstring), the EM steps in `em`, the
communication subspace in `subspace`; this module wraps them in the estimator contract of
`neurodyn.models.base`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from jaxtyping import Float

from neurodyn.validation import fail, finite_array, in_range, positive_int
from neurodyn.models.base import NeurodynEstimator, check_rates
from neurodyn.models.lds.inference import LDSParams, kalman_smoother_batch
from neurodyn.models.multi_area_lds.em import initial_params, m_step
from neurodyn.models.multi_area_lds.params import block_offsets, simulate_multi_area_lds
from neurodyn.models.multi_area_lds.subspace import CommunicationSubspace, communication_subspace
from neurodyn.progress import progress

__all__ = ["MultiAreaLDS"]


class MultiAreaLDS(NeurodynEstimator):
    """Coupled multi-area LDS fitted by block-structured EM (seed 000; equations in the module docstring).

    Parameters
    ----------
    latent_dims : sequence of int
        Latent dimension k_a per area.
    max_iter, tol : EM iterations and relative log-likelihood tolerance.
    min_variance : float
        Floor added to the noise variances (Q, R, S0) to keep them positive definite.

    Initialisation (deterministic, `em.initial_params`): PCA of each area's activity gives C_a and latent
    estimates, then the block least squares of the M-step on those estimates gives A, B and Q.

    Contract (`neurodyn.models.base`): ``fit(X, obs_sizes)`` returns self; ``transform(X)`` is the
    smoothed posterior mean ``E[x_t | y_1..T]`` (trials, time, sum k_a); ``predict(X)`` the denoised
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

    def fit(self, X: Float[np.ndarray, "trials time neurons"], obs_sizes: Sequence[int] | None = None,
            inputs: Float[np.ndarray, "*trials time inputs"] | None = None, input_sizes: Sequence[int] | None = None,
            init_params: LDSParams | None = None, y=None) -> "MultiAreaLDS":
        """Fit by EM. ``X``: (trials, T, neurons) with areas' neurons in order, ``obs_sizes`` per area;
        ``inputs`` (trials, T, U) split among areas by ``input_sizes`` (default: all to area 0)."""
        self._validate_params()
        Y, obs_sizes, U, input_sizes = self._check_data(X, obs_sizes, inputs, input_sizes)
        po, ko, mo = block_offsets(obs_sizes), block_offsets(self._dims), block_offsets(input_sizes)
        if init_params is None:
            params = initial_params(Y, U, po, ko, mo, self.min_variance)
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
            params = m_step(Y, U, sm, po, ko, mo, self.min_variance)
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

    def transform(self, X: Float[np.ndarray, "trials time neurons"],
                  inputs: Float[np.ndarray, "*trials time inputs"] | None = None) -> Float[np.ndarray, "trials time latents"]:
        """Posterior-mean latents ``E[x_t | y_1..T]`` (trials, time, sum k_a) by the Kalman/RTS smoother."""
        return np.asarray(self._smooth(X, inputs)[1].means)

    def predict(self, X: Float[np.ndarray, "trials time neurons"],
                inputs: Float[np.ndarray, "*trials time inputs"] | None = None) -> Float[np.ndarray, "trials time neurons"]:
        """Denoised observations ``C E[x_t | y_1..T] + d`` (trials, T, neurons)."""
        m = self.transform(X, inputs)
        return m @ np.asarray(self.params_.C).T + np.asarray(self.params_.d)

    def score(self, X: Float[np.ndarray, "trials time neurons"],
              inputs: Float[np.ndarray, "*trials time inputs"] | None = None) -> float:
        """Mean log-likelihood per observed bin: ``sum_trials log p(y_1..T) / (trials * T)`` under the fitted
        model (the Kalman filter's prediction-error decomposition; higher is better)."""
        Y, sm = self._smooth(X, inputs)
        return float(np.sum(np.asarray(sm.loglik))) / (Y.shape[0] * Y.shape[1])

    def sample(self, n: int, seed: int = 0, *, n_steps: int | None = None,
               inputs: Float[np.ndarray, "*trials time inputs"] | None = None) -> tuple[
                   Float[np.ndarray, "trials time latents"], Float[np.ndarray, "trials time neurons"]]:
        """``(x, y)``: latents (n, T, K) and observations (n, T, N) of ``n`` trials drawn from the fitted
        model (`simulate_multi_area_lds`); ``n_steps`` defaults to the training trials' length."""
        self._fitted()
        T = self.n_steps_ if n_steps is None else positive_int("n_steps", n_steps, 2)
        return simulate_multi_area_lds(self.params_, n, T, inputs=inputs, seed=seed)

    def block(self, source: int, target: int) -> Float[np.ndarray, "target_latents source_latents"]:
        """Fitted ``B_{source->target}`` (k_target x k_source); ``block(a, a)`` is A_a."""
        self._fitted()
        ko = block_offsets(self._dims)
        for name, v in (("source", source), ("target", target)):
            if not 0 <= v < len(self._dims):
                fail(name, v, f"an area index in [0, {len(self._dims) - 1}]")
        return self.params_.A[ko[target]:ko[target + 1], ko[source]:ko[source + 1]]

    def communication_subspace(self, source: int, target: int, rank: int | None = None, *,
                               rel_tol: float = 0.1, means: Float[np.ndarray, "*trials time latents"] | None = None
                               ) -> CommunicationSubspace:
        """Potent/null spaces of ``source -> target`` and their alignment with the source's top PCs."""
        self._fitted()
        return communication_subspace(self.params_, self._dims, self.obs_sizes_, source, target, rank,
                                      rel_tol=rel_tol, means=self.means_ if means is None else means)

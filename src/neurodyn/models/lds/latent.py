"""The estimator methods shared by models whose latent part is the LDS with epoch inputs (seed 001 §9-§10).

`LatentLDSEstimator` gives `neurodyn.models.LDS` and `neurodyn.models.EISubspaceNetwork` one
implementation of ``transform``, ``predict``, ``score``, ``sample`` and ``latents_from_rates`` on the model

    x^i_0 ~ N(m0_i, S0),   x^i_t = A x^i_{t-1} + B u_{c(i), kappa(t)} + w_t,   y^i_t = C x^i_t + d + v_t

(``w ~ N(0, Q)``, ``v ~ N(0, R)``; ``u`` one-hot in input group c(i) and epoch kappa(t), column
``2 c + kappa``, `neurodyn.models.lds.conditions`). A subclass sets the learned attributes
``A_, B_, C_, d_, Q_, R_, m0_`` (per fitted condition, ``(conditions, K)``), ``S0_``, ``groups_`` (group
index per fitted condition), ``group_labels_``,
``n_conditions_``, ``n_times_`` and has the hyper-parameter ``transition``.

Conditions are resolved in this order: data with ``groups`` given are conditions of those (fitted) input
groups with an unknown initial state drawn from the population prior (``latent_params``); data with the
fitted number of conditions and no ``groups`` are the fitted conditions (their own ``m0_i``, ``S0``
and inputs); any other data are new conditions, whose initial states and hold/go input vectors are the
maximum-likelihood ones (`neurodyn.models.heldout.infer_initial_and_inputs`).

Population prior of a new condition's initial state (derived; the maximum-likelihood Gaussian over the
fitted conditions' initial states, the ``initial="shared"`` M-step of `LDS`)::

    m0 = mean_i m0_i,    S0_prior = S0 + Cov_i(m0_i)

Initial state from firing rates (seed 001 §9.1; the equation was lost): the generalised least-squares
estimate ``x0 = (C^T R^{-1} C)^{-1} C^T R^{-1} (y0 - d)``, the maximum-likelihood latent for one
observation under ``y = C x + d + v`` (`LatentLDSEstimator.latents_from_rates`).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Float, Int

from neurodyn.dynamics import linear_rollout
from neurodyn.models.base import NeurodynEstimator, check_rates
from neurodyn.models.heldout import infer_initial_and_inputs
from neurodyn.models.lds.conditions import epoch_inputs, epochs
from neurodyn.models.lds.inference import LDSParams, kalman_smoother_batch
from neurodyn.validation import fail, finite_array, positive_int

__all__ = ["LatentLDSEstimator"]


def _rng(seed):
    """A NumPy generator from an int seed, a Generator or a JAX PRNG key."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    if hasattr(seed, "dtype") and hasattr(seed, "shape"):
        import jax

        data = np.asarray(jax.random.key_data(seed) if jax.dtypes.issubdtype(seed.dtype, jax.dtypes.prng_key)
                          else seed).ravel()
        return np.random.default_rng([int(v) for v in data.astype(np.uint64)])
    fail("seed", seed, "an int, a numpy Generator or a JAX PRNG key", TypeError)


class LatentLDSEstimator(NeurodynEstimator):
    """Shared ``transform`` / ``predict`` / ``score`` / ``sample`` of latent-LDS estimators (module docstring)."""

    def _check_fitted_latent(self):
        self._check_fitted("A_")

    # ----------------------------------------------------------------- model pieces
    def latent_params(self) -> LDSParams:
        """`LDSParams` of a new condition: fitted ``A, B, C, d, Q, R`` and the population prior of the initial
        state (``m0 = mean_i m0_i``, ``S0 + Cov_i(m0_i)``; module docstring)."""
        self._check_fitted_latent()
        m0 = np.atleast_2d(self.m0_)
        mu = m0.mean(0)
        dm = m0 - mu
        S0 = 0.5 * (self.S0_ + self.S0_.T) + dm.T @ dm / m0.shape[0]
        return LDSParams(*(np.asarray(a, float) for a in (self.A_, self.B_, self.C_, self.d_, self.Q_, self.R_,
                                                         mu, S0)))

    def group_index(self, groups) -> Int[np.ndarray, "conditions"]:
        """Fitted group indices of the input-group labels ``groups`` (labels as passed to ``fit``)."""
        self._check_fitted_latent()
        labels = np.asarray(self.group_labels_)
        g = np.atleast_1d(np.asarray(groups))
        idx = np.empty(g.size, int)
        for i, v in enumerate(g):
            hit = np.flatnonzero(labels == v)
            if hit.size == 0:
                fail("groups", groups, f"input-group labels seen in fit ({labels.tolist()[:10]}...)"
                     if labels.size > 10 else f"input-group labels seen in fit {labels.tolist()}")
            idx[i] = hit[0]
        return idx

    def condition_inputs(self, groups=None, n_times: int | None = None) -> Float[np.ndarray, "conditions time inputs"]:
        """One-hot inputs ``(conditions, T, 2 n_groups)``: of the fitted conditions (``groups=None``) or of conditions
        with input-group labels ``groups``; ``T`` = ``n_times`` (default: the fitted length)."""
        self._check_fitted_latent()
        T = self.n_times_ if n_times is None else positive_int("n_times", n_times, 1)
        g = self.groups_ if groups is None else self.group_index(groups)
        return epoch_inputs(g, len(self.group_labels_), T, self.transition)

    def _data(self, X) -> np.ndarray:
        X = check_rates(X, "X")
        if X.shape[2] != self.C_.shape[0]:
            fail("X", X, f"{self.C_.shape[0]} neurons (last axis), as in the fitted data")
        if self.transition is not None and self.transition > X.shape[1] - 1:
            fail("X", X, f"more than transition={self.transition} + 1 time bins")
        return X

    def _resolve(self, X, groups):
        """(params with per-sequence m0, drive (conditions, T, K)) of known conditions, or None for new ones."""
        nc, T, _ = X.shape
        if groups is not None:
            g = np.atleast_1d(np.asarray(groups))
            if g.shape != (nc,):
                fail("groups", groups, f"one input-group label per condition ({nc})")
            p = self.latent_params()
            U = self.condition_inputs(g, T)
            return p, np.einsum("btu,ku->btk", U, p.B)
        if nc == self.n_conditions_:
            p = self.latent_params()
            m0 = np.broadcast_to(np.atleast_2d(self.m0_), (nc, p.A.shape[0]))
            p = p._replace(m0=np.asarray(m0), S0=0.5 * (self.S0_ + self.S0_.T))
            return p, np.einsum("btu,ku->btk", self.condition_inputs(None, T), p.B)
        return None

    def _posterior(self, X, groups):
        """Posterior means ``(conditions, T, K)`` and log-likelihoods ``(conditions,)`` of ``X`` (conditions
        resolved as in the module docstring)."""
        known = self._resolve(X, groups)
        if known is None:
            inf = infer_initial_and_inputs(self.latent_params(), X, None, epochs(X.shape[1], self.transition))
            return inf.means, inf.loglik
        p, drive = known
        K = p.A.shape[0]
        sm = kalman_smoother_batch(p._replace(B=np.eye(K)), X, drive)
        return np.asarray(sm.means), np.asarray(sm.loglik)

    def latents_from_rates(self, y0: Float[np.ndarray, "*batch neurons"]) -> Float[np.ndarray, "*batch latents"]:
        """GLS latent estimate ``x0 = (C^T R^{-1} C)^{-1} C^T R^{-1} (y0 - d)`` (seed 001 §9.1)."""
        self._check_fitted_latent()
        y0 = finite_array("y0", y0)
        if y0.shape[-1] != self.C_.shape[0]:
            fail("y0", y0, f"last axis of length {self.C_.shape[0]} (neurons)")
        Rinv = np.diag(1.0 / self.R_) if self.R_.ndim == 1 else np.linalg.inv(self.R_)
        G = self.C_.T @ Rinv
        return np.linalg.solve(G @ self.C_, G @ (y0 - self.d_).T).T

    # ----------------------------------------------------------------- contract
    def transform(self, X: Float[np.ndarray, "conditions time neurons"], groups=None
                  ) -> Float[np.ndarray, "conditions time latents"]:
        """Posterior-mean latents ``E[x_t | y]`` ``(conditions, T, K)`` from the Kalman (RTS) smoother.

        ``groups``: input-group labels of the conditions of ``X`` (see the module docstring for how
        conditions are resolved without them).
        """
        self._check_fitted_latent()
        return self._posterior(self._data(X), groups)[0]

    def predict(self, X: Float[np.ndarray, "conditions time neurons"] | None = None, groups=None,
                n_steps: int | None = None) -> Float[np.ndarray, "conditions time neurons"]:
        """Rates ``(conditions, T, N)``.

        ``X=None``: noise-free forward prediction of the fitted conditions from their initial states,
        ``x_t = A x_{t-1} + B u_t``, ``yhat = C x_t + d`` (``n_steps`` bins, default the fitted length).
        With data ``X``: the posterior-mean reconstruction ``C E[x_t | X] + d`` (it has seen ``X``: for
        held-out scores use `neurodyn.models.heldout`).
        """
        self._check_fitted_latent()
        if X is None:
            T = self.n_times_ if n_steps is None else positive_int("n_steps", n_steps, 1)
            drive = np.einsum("btu,ku->btk", self.condition_inputs(None, T), self.B_)
            x0 = np.broadcast_to(np.atleast_2d(self.m0_), (self.n_conditions_, self.A_.shape[0]))
            x = np.asarray(linear_rollout(jnp.asarray(self.A_), jnp.asarray(x0), jnp.asarray(drive)))
            return x @ self.C_.T + self.d_
        return self.transform(X, groups) @ self.C_.T + self.d_

    def log_likelihood(self, X: Float[np.ndarray, "conditions time neurons"], groups=None) -> float:
        """Total marginal log-likelihood ``sum_i log p(y^i)`` of ``X`` (new conditions: at their ML inputs)."""
        self._check_fitted_latent()
        return float(np.sum(self._posterior(self._data(X), groups)[1]))

    def score(self, X: Float[np.ndarray, "conditions time neurons"], y=None, groups=None) -> float:
        """Mean marginal log-likelihood per observed bin, ``sum_i log p(y^i_0..T-1) / (n_conditions T)``
        (higher is better).

        Each bin is the vector of all neurons at one time of one condition (nats per bin). Known conditions
        (fitted ones, or ``groups`` given) use the model's initial-state distribution and inputs; new
        conditions are scored at their maximum-likelihood initial state and inputs (a profile
        likelihood). ``y`` is ignored (scikit-learn's signature).
        """
        self._check_fitted_latent()
        X = self._data(X)
        return float(np.sum(self._posterior(X, groups)[1])) / (X.shape[0] * X.shape[1])

    def sample(self, n: int, seed=0, *, return_latents: bool = False
               ) -> Float[np.ndarray, "batch time neurons"] | tuple[Float[np.ndarray, "batch time latents"],
                                                                    Float[np.ndarray, "batch time neurons"]]:
        """``n`` draws ``(n, T, N)`` of the fitted conditions (draw i is condition ``i % n_conditions``) from the
        generative model: ``x_0 ~ N(m0_i, S0)``, ``x_t = A x_{t-1} + B u_t + w_t``, ``y_t = C x_t + d + v_t``.

        ``seed``: int, NumPy Generator or JAX PRNG key. With ``return_latents`` returns ``(x, y)``.
        """
        self._check_fitted_latent()
        n = positive_int("n", n)
        rng = _rng(seed)
        K, N, T = self.A_.shape[0], self.C_.shape[0], self.n_times_
        cond = np.arange(n) % self.n_conditions_
        m0 = np.broadcast_to(np.atleast_2d(self.m0_), (self.n_conditions_, K))[cond]
        drive = np.einsum("btu,ku->btk", self.condition_inputs(None, T)[cond], self.B_)

        def chol(S):
            S = 0.5 * (S + S.T)
            w, V = np.linalg.eigh(S)
            return V * np.sqrt(np.clip(w, 0.0, None))

        x = np.empty((n, T, K))
        x[:, 0] = m0 + rng.standard_normal((n, K)) @ chol(self.S0_).T
        LQ = chol(self.Q_)
        for t in range(1, T):
            x[:, t] = x[:, t - 1] @ self.A_.T + drive[:, t] + rng.standard_normal((n, K)) @ LQ.T
        R = np.asarray(self.R_)
        noise = rng.standard_normal((n, T, N))
        noise = noise * np.sqrt(R) if R.ndim == 1 else noise @ chol(R).T
        y = x @ self.C_.T + self.d_ + noise
        return (x, y) if return_latents else y

"""Laplace posterior of a fitted `StimLVM` (seed 001 Methods §8.5).

A Laplace approximation: the posterior of all fitted parameters theta (v, v~ or w, z^cent, R, d and
Delta's factors) is ``N(theta_hat, H^{-1})`` with H the FULL observed Fisher information, the Hessian
of the objective (`objective.objective`) at the optimum. Bands of reported parameters use their
marginal covariance, the corresponding block of ``H^{-1}`` (equivalently the inverse of the Schur
complement of H onto them), so the uncertainty of d, Delta and the other latents is integrated out
rather than held fixed (holding it fixed, i.e. inverting per-condition blocks, understates the
marginal variances). The contraction factors ``b = exp(sigma_b L~ w)`` get their covariance by the
delta method (derived here), ``Cov(vec b) = J Cov(vec w) J^T``, ``J = diag(vec b) sigma_b (L~ kron I)``.

`LaplacePosterior` adds these methods to `StimLVM`; it reads the fitted ``params_``, ``_data``,
``_Ls`` and ``_static`` of the estimator.
"""

from __future__ import annotations

import warnings

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from jaxtyping import Float

from neurodyn.validation import fail, positive_int
from neurodyn.models.stim_lvm.objective import model_latents, objective

__all__ = ["LaplacePosterior"]


class LaplacePosterior:
    """The Laplace posterior methods of `StimLVM` (module docstring)."""

    def observed_information(self, block: int = 256) -> tuple[Float[np.ndarray, "params params"], dict]:
        """The full observed Fisher information (§8.5): the Hessian H of the fitted objective (negative
        shaped log-likelihood plus priors) over ALL parameters at the optimum, and the layout.

        Returns ``(H, layout)``; ``layout[name] = (slice, shape)`` locates each parameter in the vector
        (``jax.flatten_util.ravel_pytree`` order). H is assembled column block by column block from
        Hessian-vector products (forward-over-reverse, ``block`` columns at a time).
        """
        self._check_fitted("params_")
        params = {k: jnp.asarray(v) for k, v in self.params_.items()}
        flat, unravel = jax.flatten_util.ravel_pytree(params)
        data, st = self._data, self._static(self.bin_ms_ / 1000.0)

        def f(x):
            return objective(unravel(x), data, st)

        g = jax.grad(f)

        @jax.jit
        def hvp_block(V):
            return jax.vmap(lambda v: jax.jvp(g, (flat,), (v,))[1])(V)

        n = flat.size
        H = np.empty((n, n))
        eye = np.eye(n)
        for i in range(0, n, block):
            cols = eye[i:i + block]
            if cols.shape[0] < block:
                cols = np.vstack([cols, np.zeros((block - cols.shape[0], n))])
            H[i:i + block] = np.asarray(hvp_block(jnp.asarray(cols)))[:min(block, n - i)]
        H = 0.5 * (H + H.T)
        layout, i = {}, 0
        for k in sorted(params):
            size = int(np.prod(params[k].shape))
            layout[k] = (slice(i, i + size), tuple(params[k].shape))
            i += size
        return H, layout

    def _posterior(self):
        """Cached ``(flat mean, Cholesky factor L of H (H = L L^T), layout, unravel)``."""
        if getattr(self, "_post_cache", None) is None:
            H, layout = self.observed_information()
            ev, EV = np.linalg.eigh(H)
            floor = 1e-10 * max(float(ev.max()), 1e-300)
            if ev.min() <= floor:
                warnings.warn(f"StimLVM: the observed information has {int(np.sum(ev <= floor))} non-positive "
                              "eigenvalues (not at a strict optimum); they are floored for the Laplace posterior",
                              RuntimeWarning, stacklevel=3)
                H = (EV * np.maximum(ev, floor)) @ EV.T
            Lh = np.linalg.cholesky(0.5 * (H + H.T))
            params = {k: jnp.asarray(v) for k, v in self.params_.items()}
            flat, unravel = jax.flatten_util.ravel_pytree(params)
            self._post_cache = (np.asarray(flat), Lh, layout, unravel)
        return self._post_cache

    def posterior_covariance(self, names: list[str] | None = None) -> Float[np.ndarray, "subset subset"]:
        """Marginal Laplace covariance of the parameters ``names`` (default all): the ``names`` block of
        ``H^{-1}`` of the full observed information, i.e. the inverse of the Schur complement of H onto
        those parameters (the others integrated out, not held fixed)."""
        flat, Lh, layout, _ = self._posterior()
        names = sorted(layout) if names is None else list(names)
        idx = np.concatenate([np.arange(flat.size)[layout[k][0]] for k in names])
        E = np.zeros((flat.size, idx.size))
        E[idx, np.arange(idx.size)] = 1.0
        W = scipy.linalg.solve_triangular(Lh, E, lower=True)            # L^{-1} E
        return W.T @ W                                                   # E^T H^{-1} E

    def posterior_parameter_samples(self, n_samples: int = 200,
                                    seed: int = 0) -> Float[np.ndarray, "samples params"]:
        """Flat parameter vectors (n_samples, n_params) from the joint Laplace posterior N(theta, H^{-1})."""
        flat, Lh, _, _ = self._posterior()
        rng = np.random.default_rng(seed)
        xi = rng.standard_normal((flat.size, positive_int("n_samples", n_samples)))
        return flat + scipy.linalg.solve_triangular(Lh, xi, lower=True, trans="T").T

    def latent_posterior_samples(self, n_samples: int = 200,
                                 seed: int = 0) -> tuple[Float[np.ndarray, "samples conditions time latents"],
                                                         Float[np.ndarray, "samples conditions time latents"]]:
        """Samples of (z, z~), each (n_samples, conditions, T, K), from the joint Laplace posterior of all the
        parameters (full observed information, §8.5), mapped through L (and L~, or the contraction map)."""
        self._check_fitted("params_")
        _, _, _, unravel = self._posterior()
        S = self.posterior_parameter_samples(n_samples, seed)
        st = self._static(self.bin_ms_ / 1000.0)
        lat = jax.jit(jax.vmap(lambda x: model_latents(unravel(x), self._data, st)))
        z, zs = lat(jnp.asarray(S))
        return np.asarray(z), np.asarray(zs)

    def contraction_posterior(self) -> tuple[Float[np.ndarray, "time latents"],
                                             Float[np.ndarray, "time_latents time_latents"]]:
        """Laplace posterior of the contraction factors b (contraction variant): mean (T, K) and the
        covariance (T K x T K) of vec(b) (row-major, time then latent), from the marginal covariance of
        w in the full observed information (the other parameters integrated out)."""
        self._check_fitted("params_")
        if self.variant != "contraction":
            fail("variant", self.variant, "'contraction' for the posterior of B_t")
        T, K = self.b_.shape
        cov_w = self.posterior_covariance(["w"])
        # delta method: vec(b) = exp(sigma_b (L~ kron I) vec(w)), row-major (time, latent)
        J = self.b_.ravel()[:, None] * (self.sigma_b * np.kron(self._Ls, np.eye(K)))
        cov_b = J @ cov_w @ J.T
        return self.b_, 0.5 * (cov_b + cov_b.T)

    def contraction_posterior_samples(self, n_samples: int = 200,
                                      seed: int = 0) -> Float[np.ndarray, "samples time latents"]:
        """Samples of the contraction factors b from the Gaussian of `contraction_posterior`."""
        mean, cov = self.contraction_posterior()
        rng = np.random.default_rng(seed)
        T, K = mean.shape
        s = rng.multivariate_normal(mean.ravel(), cov, size=n_samples, method="eigh")
        return s.reshape(n_samples, T, K)

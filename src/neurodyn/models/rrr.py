"""`ReducedRankRegression`: the communication-subspace estimator of Semedo et al. 2019 (seed 000 refs. 11-12).

The maths (closed form ``B_RRR = B_OLS V_m V_m^T``, predictive dimensions, cross-validation) is in
`neurodyn.analysis.communication`; this module wraps it in the estimator contract of
`neurodyn.models.base` (fit / transform / predict / score / sample / save).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

from neurodyn.validation import fail, finite_array, in_range, positive_int
from neurodyn.analysis.communication import check_pair, one_minus_nse, rrr_fit_coefficients
from neurodyn.models.base import NeurodynEstimator

__all__ = ["ReducedRankRegression", "one_minus_nse"]


def _lead_2d(name, X, p=None):
    """``(..., neurons)`` -> ``(samples, neurons)`` and the leading shape."""
    X = finite_array(name, X)
    if X.ndim < 2:
        fail(name, X, "an array (samples, neurons) or (trials, time, neurons)")
    if p is not None and X.shape[-1] != p:
        fail(name, X, f"{p} neurons on the last axis")
    return X.reshape(-1, X.shape[-1]), X.shape[:-1]


class ReducedRankRegression(NeurodynEstimator):
    """Rank-m linear map from source to target activity (Semedo et al. 2019; see module docstring).

    Parameters: ``rank`` m (an integer >= 1), ``ridge`` lambda >= 0 of the OLS step (0: plain RRR).

    Contract (`neurodyn.models.base`): ``fit(X, y)`` with source X and target y, ``(samples, neurons)`` or
    ``(trials, time, neurons)``; ``transform(X)``: the projections ``(X - mean) Q`` of the source onto the
    orthonormal predictive dimensions Q (p x m), shape ``(..., m)`` (RRR has no latent state; these are
    the m source signals the target is predicted from); ``predict(X) = X B_RRR + b``; ``score(X, y)``: the
    mean Gaussian log-likelihood per observed bin (sample) of the target under the noise model fitted
    in ``fit``, ``y ~ N(X B_RRR + b, diag(s^2))`` with ``s^2`` the per-neuron mean squared training
    residual (its maximum-likelihood estimate)::

        score = 1/n sum_i sum_j [ -1/2 log(2 pi s_j^2) - (y_ij - yhat_ij)^2 / (2 s_j^2) ]

    (higher is better); Semedo et al.'s ``1 - NSE`` is `one_minus_nse`. ``sample(X, seed)`` draws targets
    from that conditional model (RRR is a regression: it generates a target given a source).

    Attributes after `fit`: ``coef_`` (p x q, ``B_RRR``), ``intercept_`` (q,), ``predictive_dimensions_``
    (p x m, orthonormal columns spanning the source patterns that predict the target),
    ``target_dimensions_`` (q x m, the target patterns predicted), ``noise_variance_`` (q,).
    """

    def __init__(self, rank: int = 1, ridge: float = 0.0):
        self.rank = rank
        self.ridge = ridge

    def fit(self, X: Float[np.ndarray, "*batch neurons"],
            y: Float[np.ndarray, "*batch readouts"] | None = None) -> "ReducedRankRegression":
        """Fit ``B_RRR`` (rank ``rank``, ridge ``ridge``) from source ``X`` to target ``y`` (module docstring)."""
        rank = positive_int("rank", self.rank)
        ridge = in_range("ridge", self.ridge, 0.0, np.inf)
        if y is None:
            fail("y", y, "the target activity (samples, neurons) paired with the source X")
        X, _ = _lead_2d("source", X)
        Y, _ = _lead_2d("target", y)
        X, Y = check_pair(X, Y)
        if rank > min(X.shape[1], Y.shape[1]):
            fail("rank", rank, f"at most min(source, target neurons) = {min(X.shape[1], Y.shape[1])}")
        self.x_mean_ = X.mean(0)
        self.y_mean_ = Y.mean(0)
        Xc, Yc = X - self.x_mean_, Y - self.y_mean_
        B, V = rrr_fit_coefficients(Xc, Yc, rank, ridge)
        Vm = V[:, :rank]
        self.coef_ = B @ Vm @ Vm.T
        self.intercept_ = self.y_mean_ - self.x_mean_ @ self.coef_
        self.predictive_dimensions_ = np.linalg.qr(B @ Vm)[0]
        self.target_dimensions_ = Vm
        resid = Yc - Xc @ self.coef_
        self.noise_variance_ = np.maximum(np.mean(resid ** 2, 0), 1e-12 * max(float(np.var(Y)), 1e-300))
        return self

    def transform(self, X: Float[np.ndarray, "*batch neurons"]) -> Float[np.ndarray, "*batch latents"]:
        """Projections onto the predictive dimensions, ``(X - mean_train X) Q``, shape ``(..., m)``."""
        self._check_fitted("coef_")
        X2, lead = _lead_2d("source", X, self.coef_.shape[0])
        return ((X2 - self.x_mean_) @ self.predictive_dimensions_).reshape(lead + (-1,))

    def predict(self, X: Float[np.ndarray, "*batch neurons"]) -> Float[np.ndarray, "*batch readouts"]:
        """``X B_RRR + b``, shape ``(..., q)``."""
        self._check_fitted("coef_")
        X2, lead = _lead_2d("source", X, self.coef_.shape[0])
        return (X2 @ self.coef_ + self.intercept_).reshape(lead + (-1,))

    def score(self, X: Float[np.ndarray, "*batch neurons"], y: Float[np.ndarray, "*batch readouts"]) -> float:
        """Mean Gaussian log-likelihood per observed bin (class docstring; higher is better)."""
        pred = self.predict(X).reshape(-1, self.coef_.shape[1])
        Y, _ = _lead_2d("target", y, self.coef_.shape[1])
        if Y.shape[0] != pred.shape[0]:
            fail("target", Y, f"as many samples as the source ({pred.shape[0]})")
        s2 = self.noise_variance_
        ll = -0.5 * np.log(2 * np.pi * s2) - 0.5 * (Y - pred) ** 2 / s2
        return float(np.sum(ll) / Y.shape[0])

    def sample(self, X: Float[np.ndarray, "*batch neurons"], seed: int = 0) -> Float[np.ndarray, "*batch readouts"]:
        """Targets drawn from ``N(X B_RRR + b, diag(noise_variance_))`` for the source ``X``."""
        pred = self.predict(X)
        rng = np.random.default_rng(seed)
        return pred + rng.standard_normal(pred.shape) * np.sqrt(self.noise_variance_)

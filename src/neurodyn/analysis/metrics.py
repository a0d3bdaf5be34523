"""Measures of fit other than the log-likelihood, one named function each.

Every experiment that reports one of these quantities calls the function here, so that a name in a
``metrics.json`` always means the same computation.

* `signal_variance_explained` (seed 001 §12): ``1 - sum (Y - Yhat)^2 / (sum (Y - mean_Y)^2 - noise_var)``;
* `r2_score`: the same with ``noise_var = 0``, i.e. the coefficient of determination pooled over
  outputs (scikit-learn's ``r2_score(..., multioutput="variance_weighted")`` on the flattened bins);
* `gaussian_deviance`: ``sum (Y - Yhat)^2 / sigma^2``, twice the Gaussian negative log-likelihood ratio
  against the saturated model; `poisson_deviance`: ``2 sum (y log(y / mu) - (y - mu))``.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

from neurodyn.validation import fail

__all__ = ["gaussian_deviance", "poisson_deviance", "r2_difference", "r2_score", "signal_variance_explained"]


def _pair(Y, Yhat):
    Y = np.asarray(Y, float)
    Yhat = np.asarray(Yhat, float)
    if Y.shape != Yhat.shape:
        fail("Yhat", Yhat, f"the shape of Y {Y.shape}")
    if Y.size == 0 or Y.ndim < 1:
        fail("Y", Y, "a non-empty array (..., neurons)")
    if not (np.all(np.isfinite(Y)) and np.all(np.isfinite(Yhat))):
        fail("Y", Y, "finite values in Y and Yhat")
    return Y, Yhat


def signal_variance_explained(Y: Float[np.ndarray, "*batch neurons"], Yhat: Float[np.ndarray, "*batch neurons"],
                              noise_var: float = 0.0) -> float:
    """``1 - sum (Y - Yhat)^2 / (sum (Y - mean_Y)^2 - noise_var)`` (seed 001 §12).

    ``Y``, ``Yhat``: ``(..., neurons)``; ``mean_Y`` is each neuron's mean over all other axes (conditions
    and time); ``noise_var`` is the summed noise variance of the trial averages when single trials are
    known (0 when not, giving the ordinary pooled R^2, `r2_score`).
    """
    Y, Yhat = _pair(Y, Yhat)
    centred = Y - Y.reshape(-1, Y.shape[-1]).mean(0)
    total = float(np.sum(centred ** 2)) - float(noise_var)
    if total <= 0:
        fail("Y", Y, "activity whose variance exceeds the noise variance")
    return 1.0 - float(np.sum((Y - Yhat) ** 2)) / total


def r2_score(Y: Float[np.ndarray, "*batch neurons"], Yhat: Float[np.ndarray, "*batch neurons"]) -> float:
    """Coefficient of determination pooled over outputs: ``1 - sum (Y - Yhat)^2 / sum (Y - mean_Y)^2``.

    ``mean_Y`` is each output's (last axis) mean over all other axes, so outputs weigh by their variance
    (scikit-learn's ``multioutput="variance_weighted"``). 1 is a perfect prediction, 0 is predicting each
    output's mean, and any prediction that is independent of the data's fluctuations scores <= 0 in
    expectation.
    """
    return signal_variance_explained(Y, Yhat, 0.0)


def r2_difference(Y: Float[np.ndarray, "*batch neurons"], Yhat_a: Float[np.ndarray, "*batch neurons"],
                  Yhat_b: Float[np.ndarray, "*batch neurons"]) -> tuple[float, float]:
    """``r2_score(Y, Yhat_a) - r2_score(Y, Yhat_b)`` and its jackknife standard error over the outputs.

    Two predictions of the same outputs are compared paired: output i is left out in turn, the pooled
    difference ``d_(i)`` is recomputed from the per-output sums (both R^2 are ratios of sums over
    outputs), and ``se = sqrt((n - 1) / n * sum_i (d_(i) - mean d)^2)`` (Efron's jackknife). It says
    whether one model predicts held-out neurons better than another beyond the spread between neurons.
    """
    Y, Ya = _pair(Y, Yhat_a)
    _, Yb = _pair(Y, Yhat_b)
    n = Y.shape[-1]
    if n < 2:
        fail("Y", Y, "at least two outputs (neurons) for a jackknife over outputs")
    Z, A, B = (v.reshape(-1, n) for v in (Y, Ya, Yb))
    sst = np.sum((Z - Z.mean(0)) ** 2, axis=0)
    sa, sb = np.sum((Z - A) ** 2, axis=0), np.sum((Z - B) ** 2, axis=0)
    if np.sum(sst) <= 0:
        fail("Y", Y, "outputs with some variance")
    d = (np.sum(sb) - np.sum(sa)) / np.sum(sst)
    tot = np.sum(sst) - sst
    d_i = np.where(tot > 0, ((np.sum(sb) - sb) - (np.sum(sa) - sa)) / np.where(tot > 0, tot, 1.0), d)
    se = float(np.sqrt((n - 1) / n * np.sum((d_i - d_i.mean()) ** 2)))
    return float(d), se


def gaussian_deviance(Y: Float[np.ndarray, "*batch neurons"], Yhat: Float[np.ndarray, "*batch neurons"],
                      noise_var: Float[np.ndarray, " neurons"] | float) -> float:
    """``sum (Y - Yhat)^2 / sigma^2`` with ``noise_var`` sigma^2 per output (broadcast over the last axis):
    twice the Gaussian negative log-likelihood of ``Y`` around ``Yhat`` minus that of the saturated model."""
    Y, Yhat = _pair(Y, Yhat)
    v = np.asarray(noise_var, float)
    if np.any(v <= 0) or not np.all(np.isfinite(v)):
        fail("noise_var", v, "finite positive variances")
    return float(np.sum((Y - Yhat) ** 2 / v))


def poisson_deviance(counts: Float[np.ndarray, "*batch neurons"], mu: Float[np.ndarray, "*batch neurons"]) -> float:
    """``2 sum (y log(y / mu) - (y - mu))`` (``y log y = 0`` at ``y = 0``) of counts ``y`` under means ``mu``."""
    y, mu = _pair(counts, mu)
    if np.any(y < 0):
        fail("counts", y, "non-negative counts")
    if np.any(mu <= 0):
        fail("mu", mu, "positive Poisson means")
    term = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
    return float(2.0 * np.sum(term - (y - mu)))

"""Task activity space: PCA of trial averages with noise-corrected signal variance (seed 001 Methods §6).

PCA (scikit-learn) of the trial-averaged rates arranged as ``X`` (CT x N, conditions and times by
neurons, centred per neuron). Following Machens (2010) and Kobak et al. (2016), the variance along
PC k contains residual noise of the averages; it is estimated from the matrix ``X_noise`` (RT x N) of
scaled single-trial residuals. The scalings were lost from the text of §6; they are derived here so
that the total variance of ``X_noise`` equals the expected noise variance of the trial averages:
the trial average of condition c over ``R_c`` trials has noise variance ``sigma^2_{c,t,n} / R_c`` per
entry, and the residuals ``e_r = x_r - mean_c`` satisfy ``E[sum_r e_r^2] = (R_c - 1) sigma^2``, so

    X_noise rows = e_r / sqrt(R_c (R_c - 1))   =>   E ||X_noise||_F^2 = sum_{c,t,n} sigma^2_{c,t,n} / R_c.

(``R_c`` is the trial count of condition c; for sequential recordings the minimum count over neurons,
as §6 specifies.) With ``s`` and ``s^noise`` the singular values of ``X`` and ``X_noise`` (descending),
the signal variance captured by the leading K PCs is

    V_signal(K) = sum_{k<=K} (s_k^2 - (s_k^noise)^2),

its fraction ``V_signal(K) / V_signal(total)``, and the dimensionality is the smallest K with fraction
>= 0.95 (§6; the text notes this captures >= 90% of the total variance).

The total runs over every singular value of both matrices,

    V_signal(total) = sum_k s_k^2 - sum_k (s_k^noise)^2 = ||X||_F^2 - ||X_noise||_F^2,

``X_noise`` having up to min(RT, N) non-zero singular values where ``X`` has at most min(CT, N): when
n_cond * T < N the noise singular values beyond the CT-th are still noise in the averages (spread over the
directions the few CT points cannot resolve) and must be subtracted, or the total signal variance is
overestimated and the dimensionality with it. Per PC, ``(s_k^noise)^2`` is reported for k <= min(CT, N).

Derived centring factor: PCA centres ``X`` over its CT rows, ``X_c = P X`` with
``P = I - 1 1^T / (CT)``. For independent noise rows ``E`` of any covariances ``Sigma_i``,
``E ||P E||_F^2 = sum_i P_ii tr(Sigma_i) = (1 - 1/(CT)) E ||E||_F^2``, so the noise variances are
multiplied by ``(1 - 1/(CT))`` to match the centred averages (an exact correction, largest when CT is
small).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from sklearn.decomposition import PCA
from jaxtyping import Float

from neurodyn.validation import fail, finite_array, in_range

__all__ = ["TaskSpace", "noise_residual_matrix", "task_space"]


@dataclass(frozen=True)
class TaskSpace:
    """Result of `task_space`."""

    components: Float[np.ndarray, "neurons latents"]  # PCs as columns
    mean: Float[np.ndarray, " neurons"]  # mean removed before projection
    variance: Float[np.ndarray, " latents"]  # s_k^2 (total variance along PC k, summed over CT points)
    noise_variance: Float[np.ndarray, " latents"]  # (s_k^noise)^2 (zeros when no trials were given)
    signal_fraction: Float[np.ndarray, " latents"]  # cumulative noise-corrected signal-variance fraction
    total_fraction: Float[np.ndarray, " latents"]  # cumulative fraction of total variance
    dimensionality: int              # smallest K with signal_fraction >= threshold
    threshold: float
    total_noise_variance: float = 0.0   # ||X_noise||_F^2 over ALL its singular values (centring-corrected)
    total_signal_variance: float = 0.0  # ||X||_F^2 - total_noise_variance

    @property
    def W(self) -> Float[np.ndarray, "neurons dimensionality"]:
        """Projection matrix ``(N, dimensionality)`` onto the task activity space."""
        return self.components[:, :self.dimensionality]

    def project(self, rates: Float[np.ndarray, "*batch neurons"]) -> Float[np.ndarray, "*batch dimensionality"]:
        """Coordinates ``(..., dimensionality)`` of rates ``(..., N)`` in the task activity space."""
        return (np.asarray(rates, float) - self.mean) @ self.W


def noise_residual_matrix(trials: Sequence[Float[np.ndarray, "trials time neurons"]],
                          n_trials: Sequence[int] | None = None) -> Float[np.ndarray, "residuals neurons"]:
    """``X_noise`` (sum_c R_c T x N): residuals of each trial from its condition mean, / sqrt(R_c (R_c-1))."""
    rows = []
    for c, tr in enumerate(trials):
        x = finite_array(f"trials[{c}]", tr)
        if x.ndim != 3:
            fail(f"trials[{c}]", x, "single trials (n_trials, T, N)")
        R = x.shape[0] if n_trials is None else int(n_trials[c])
        if x.shape[0] < 2 or R < 2:
            fail(f"trials[{c}]", x, "at least 2 trials per condition to estimate noise")
        e = (x - x.mean(0)) / np.sqrt(R * (R - 1))
        rows.append(e.reshape(-1, x.shape[-1]))
    return np.concatenate(rows, axis=0)


def task_space(rates: Float[np.ndarray, "conditions time neurons"],
               trials: Sequence[Float[np.ndarray, "trials time neurons"]] | None = None, *, threshold: float = 0.95,
               n_trials: Sequence[int] | None = None) -> TaskSpace:
    """Task activity space of trial-averaged ``rates (conditions, time, neurons)`` (seed 001 §6).

    ``trials`` (optional) is a list over conditions of single trials ``(n_c, T, N)`` for the noise
    correction; without it the signal fraction is the plain variance fraction. ``n_trials`` overrides
    ``R_c`` (e.g. the minimum count over sequentially recorded neurons).
    """
    X = finite_array("rates", getattr(rates, "rates", rates))
    if X.ndim != 3:
        fail("rates", X, "trial averages (conditions, time, neurons)")
    threshold = in_range("threshold", threshold, 0.0, 1.0, lo_open=True)
    n_cond, T, N = X.shape
    flat = X.reshape(-1, N)
    n_pc = min(flat.shape[0], N)
    pca = PCA(n_components=n_pc, svd_solver="full").fit(flat)
    var = pca.singular_values_ ** 2
    noise = np.zeros(n_pc)
    if trials is not None:
        if len(trials) != n_cond:
            fail("trials", len(trials), f"one trial array per condition ({n_cond})")
        for c, tr in enumerate(trials):
            if np.shape(tr)[1:] != (T, N):
                fail(f"trials[{c}]", np.asarray(tr), f"(n_trials, {T}, {N})")
        Xn = noise_residual_matrix(trials, n_trials)
        s_noise2 = np.linalg.svd(Xn, compute_uv=False) ** 2 * (1.0 - 1.0 / flat.shape[0])
        k = min(n_pc, s_noise2.size)
        noise[:k] = s_noise2[:k]
        total_noise = float(s_noise2.sum())         # every noise singular value, not only the first n_pc
    else:
        total_noise = 0.0
    signal = var - noise
    total_var = float(np.sum((flat - pca.mean_) ** 2))
    total_signal = total_var - total_noise
    if total_signal <= 0:
        fail("rates", X, "trial averages whose variance exceeds the estimated noise variance")
    frac = np.cumsum(signal) / total_signal
    dim = int(np.argmax(frac >= threshold)) + 1 if np.any(frac >= threshold) else n_pc
    return TaskSpace(pca.components_.T, pca.mean_, var, noise, frac, np.cumsum(var) / total_var, dim,
                     threshold, total_noise, total_signal)

"""Fitting the readout of eq. (3.4) on noisy trials (thesis, seed 003, §3.2.3 and §2.6).

The output is a weighted sum of the excitatory rates, ``z(t) = m^T f(x_E(t); g_E) + b``. With all
gains 1 the weights ``m`` and offset ``b`` are fit by least squares,

    min_{m, b} sum_{trials r} sum_t (m^T f(x_E^r(t); 1) + b - y(t))^2,

over 100 trials whose initial condition is x0 plus Gaussian white noise at a signal-to-noise ratio of
30 dB (Hennequin et al. 2014), which guards against over-fitting. The noise standard deviation for an
SNR of s dB is ``sd = sqrt(mean(x0^2) / 10^(s/10))`` (signal power over noise power). Several
readouts (targets ``(T, readouts)``) are fit at once: they share the design matrix, one column each.
The least-squares solve uses scikit-learn's `LinearRegression` (intercept = b).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float
from sklearn.linear_model import LinearRegression

from neurodyn.validation import fail, finite_array, positive_int
from neurodyn.learning.task import Readout, TrialDynamics

__all__ = ["fit_readout", "fit_readout_on_trials", "noisy_initial_conditions", "snr_noise_sd"]


def snr_noise_sd(x0: Float[np.ndarray, "*batch neurons"], snr_db: float) -> float:
    """White-noise sd giving signal-to-noise ratio ``snr_db``: ``sqrt(mean(x0^2) / 10^(snr_db/10))``."""
    x0 = finite_array("x0", x0)
    if not isinstance(snr_db, (int, float, np.integer, np.floating)) or isinstance(snr_db, bool):
        fail("snr_db", snr_db, "a number (dB)", TypeError)
    if not np.isfinite(snr_db) or snr_db <= 0:
        fail("snr_db", snr_db, "a signal-to-noise ratio > 0 dB")
    return float(np.sqrt(np.mean(x0**2) / 10.0 ** (snr_db / 10.0)))


def noisy_initial_conditions(x0: Float[np.ndarray, "neurons"], n_trials: int = 100, snr_db: float = 30.0,
                             seed: int = 0) -> Float[np.ndarray, "trials neurons"]:
    """``(n_trials, N)`` copies of x0 with white noise at ``snr_db`` (thesis §3.2.3)."""
    sd = snr_noise_sd(x0, snr_db)
    n_trials = positive_int("n_trials", n_trials)
    rng = np.random.default_rng(seed)
    x0 = np.asarray(x0, dtype=float)
    return x0[None, :] + sd * rng.standard_normal((n_trials, x0.size))


def fit_readout(rates_e: Float[np.ndarray, "*trials time neurons"],
                targets: Float[np.ndarray, "time *readouts"]) -> Readout:
    """Least-squares readout from rates ``(trials, T, N_E)`` (or ``(T, N_E)``) to targets ``(T, readouts)``
    or ``(T,)``.

    Every trial is regressed onto the same target. Returns ``Readout(m (readouts, N_E), b (readouts,))``.
    """
    X = finite_array("rates_e", rates_e)
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3:
        fail("rates_e", X, "an array (trials, T, N_E) or (T, N_E)")
    Y = finite_array("targets", targets)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or Y.shape[0] != X.shape[1]:
        fail("targets", Y, f"shape ({X.shape[1]}, readouts) matching the T={X.shape[1]} time samples of rates_e")
    n_trials, T, n_e = X.shape
    design = X.reshape(n_trials * T, n_e)
    response = np.tile(Y, (n_trials, 1))  # (trials*T, readouts)
    reg = LinearRegression(fit_intercept=True).fit(design, response)
    return Readout(m=np.atleast_2d(reg.coef_).reshape(Y.shape[1], n_e), b=np.atleast_1d(reg.intercept_))


def fit_readout_on_trials(dynamics: TrialDynamics, targets: Float[np.ndarray, "time *readouts"], *,
                          gains: Float[np.ndarray, "neurons"] | None = None, n_trials: int = 100,
                          snr_db: float = 30.0, seed: int = 0) -> Readout:
    """Simulate ``n_trials`` noisy-x0 trials (gains 1 unless given) and fit the readout (thesis §3.2.3)."""
    if not isinstance(dynamics, TrialDynamics):
        fail("dynamics", dynamics, "a TrialDynamics", TypeError)
    Y = finite_array("targets", targets)
    T = dynamics.t_ms.size
    if Y.ndim not in (1, 2) or Y.shape[0] != T:
        fail("targets", Y, f"shape ({T}, readouts) or ({T},): one value per sample time")
    X0 = noisy_initial_conditions(dynamics.x0, n_trials, snr_db, seed)
    rates = np.asarray(dynamics.rates_e(gains, X0))
    if not np.all(np.isfinite(rates)):
        fail("network", "rates", "finite activity on the readout-fitting trials (the network diverged)")
    return fit_readout(rates, Y)

"""EMG-like target outputs drawn from a Gaussian process (thesis, seed 003, §2.6, §3.2.2, §6.2.2).

The covariance function is the product of a squared-exponential kernel (temporal smoothness) and a
non-stationary envelope that resembles the EMG of a reach (thesis eq. 3.3, identical to eqs. 2.7, 6.3)::

    Sigma(t, t') = exp(-(t - t')^2 / (2 l^2)) * E(t / sigma) * E(t' / sigma),    E(t) = t exp(-t^2 / 4).

``sigma`` sets the duration of the activity and ``l`` its autocorrelation (small ``l``: more variable
targets). A target is ``y = L u`` with ``L L^T = Sigma`` and ``u ~ N(0, I)``; ``L`` is the Cholesky factor
of ``Sigma`` (a tiny diagonal jitter is added because ``E(0) = 0`` makes ``Sigma`` singular), and the draw is
multiplied by a constant so that it has the magnitude of the neuronal rates (§3.2.2): here each target
is scaled to peak absolute value ``amplitude``.

Defaults follow §3.2.2: 500 ms at 400 Hz (200 samples at t = 0, 2.5, ..., 497.5 ms), sigma = 110 ms,
l = 50 ms. `slow_fast_targets` gives the §6.2.2 form: 2.5 s at 200 Hz (500 samples), sigma = 550 ms,
l = 250 ms, and the 5x faster variant of the same movement (``y_fast(t) = y_slow(5 t)``: every fifth
slow sample, i.e. 100 samples over 0.5 s) followed by 400 zeros so both have the same length.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from jaxtyping import Float

from neurodyn.validation import fail, finite_array, positive, positive_int

__all__ = ["emg_envelope", "emg_kernel", "emg_targets", "sample_times", "scale_targets", "slow_fast_targets"]


def emg_envelope(t: Float[np.ndarray, "*batch"]) -> Float[np.ndarray, "*batch"]:
    """``E(t) = t exp(-t^2 / 4)`` (thesis eq. 3.3)."""
    t = np.asarray(t, dtype=float)
    return t * np.exp(-(t**2) / 4.0)


def emg_kernel(t_ms: Float[np.ndarray, "time"], sigma_ms: float = 110.0,
               length_ms: float = 50.0) -> Float[np.ndarray, "time time"]:
    """Covariance matrix ``Sigma[i, j] = exp(-(t_i - t_j)^2 / (2 l^2)) E(t_i / sigma) E(t_j / sigma)`` (eq. 3.3)."""
    t = finite_array("t_ms", t_ms, ndim=1)
    sigma = positive("sigma_ms", sigma_ms)
    ell = positive("length_ms", length_ms)
    d = t[:, None] - t[None, :]
    env = emg_envelope(t / sigma)
    return np.exp(-(d**2) / (2.0 * ell**2)) * env[:, None] * env[None, :]


def sample_times(duration_ms: float = 500.0, rate_hz: float = 400.0) -> Float[np.ndarray, "time"]:
    """Sample times ``k / rate`` (ms), k = 0 .. duration * rate - 1 (500 ms at 400 Hz: 200 samples)."""
    duration_ms = positive("duration_ms", duration_ms)
    rate_hz = positive("rate_hz", rate_hz)
    n = int(round(duration_ms * rate_hz / 1000.0))
    if n < 2:
        fail("rate_hz", rate_hz, f"at least 2 samples in duration_ms={duration_ms}")
    return np.arange(n) * (1000.0 / rate_hz)


def scale_targets(targets: Float[np.ndarray, "*batch time"], amplitude: float) -> Float[np.ndarray, "*batch time"]:
    """Scale each target (last axis = time) so that its peak absolute value is ``amplitude``."""
    y = finite_array("targets", targets)
    amplitude = positive("amplitude", amplitude)
    peak = np.max(np.abs(y), axis=-1, keepdims=True)
    if np.any(peak == 0):
        fail("targets", y, "targets that are not identically zero")
    return y * (amplitude / peak)


def _cholesky(cov: np.ndarray) -> np.ndarray:
    jitter = 1e-10 * float(np.max(np.diag(cov)))
    for _ in range(8):
        try:
            return sla.cholesky(cov + jitter * np.eye(cov.shape[0]), lower=True)
        except np.linalg.LinAlgError:
            jitter *= 10.0
    raise ValueError("cov: expected a positive semi-definite covariance (Cholesky failed with jitter)")


def emg_targets(n_targets: int = 1, seed: int = 0, *, duration_ms: float = 500.0, rate_hz: float = 400.0,
                sigma_ms: float = 110.0, length_ms: float | Float[np.ndarray, "patterns"] = 50.0,
                amplitude: float | None = 1.0) -> tuple[Float[np.ndarray, "time"], Float[np.ndarray, "patterns time"]]:
    """Draw ``n_targets`` EMG-like targets ``y = L u`` (thesis §3.2.2, eq. 3.3).

    ``length_ms`` may be a scalar or one value per target (thesis §2.6 uses 20 values from 35 to 80 ms).
    Returns ``(t_ms, Y)`` with ``Y`` of shape ``(n_targets, T)``; each row scaled to peak ``amplitude``
    (None keeps the raw draw).
    """
    n_targets = positive_int("n_targets", n_targets)
    t = sample_times(duration_ms, rate_hz)
    lengths = np.broadcast_to(np.asarray(length_ms, dtype=float), (n_targets,)) if np.ndim(length_ms) == 0 \
        else finite_array("length_ms", length_ms, ndim=1)
    if lengths.shape != (n_targets,):
        fail("length_ms", lengths, f"a scalar or {n_targets} values (one per target)")
    rng = np.random.default_rng(seed)
    Y = np.empty((n_targets, t.size))
    for k in range(n_targets):
        L = _cholesky(emg_kernel(t, sigma_ms, float(lengths[k])))
        Y[k] = L @ rng.standard_normal(t.size)
    if amplitude is not None:
        Y = scale_targets(Y, amplitude)
    return t, Y


def slow_fast_targets(n_targets: int = 1, seed: int = 0, *, sigma_ms: float = 550.0, length_ms: float = 250.0,
                      amplitude: float | None = 1.0, speedup: int = 5
                      ) -> tuple[Float[np.ndarray, "time"], Float[np.ndarray, "patterns time"], Float[np.ndarray, "patterns time"]]:
    """Slow (2.5 s, 200 Hz) targets and their ``speedup``-times faster zero-padded variants (thesis §6.2.2).

    Returns ``(t_ms, slow, fast)``, both ``(n_targets, 500)``: ``fast[:, k] = slow[:, speedup k]`` for
    ``k < 500 / speedup`` and 0 afterwards (the same movement executed ``speedup`` times faster without
    rescaling its amplitude, as the thesis does).
    """
    speedup = positive_int("speedup", speedup, 1)
    t, slow = emg_targets(n_targets, seed, duration_ms=2500.0, rate_hz=200.0, sigma_ms=sigma_ms,
                          length_ms=length_ms, amplitude=amplitude)
    n_fast = t.size // speedup
    fast = np.zeros_like(slow)
    fast[:, :n_fast] = slow[:, ::speedup][:, :n_fast]
    return t, slow, fast

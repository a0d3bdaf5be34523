"""Reach kinematics (seed 001 Methods §5).

* Hand position: zero-phase low-pass, 4th-order Butterworth, 25 Hz corner (`scipy.signal.butter` in
  second-order sections, applied forward and backward with `sosfiltfilt`; the forward-backward pass
  squares the magnitude response, so the gain at the corner is ``(1/sqrt 2)^2 = 1/2``).
* Velocity: Savitzky-Golay smoothing differentiator, 2nd-order polynomial over a 21 ms window
  (`scipy.signal.savgol_filter(deriv=1)`, window = nearest odd number of samples to 21 ms).
* Reach endpoints: first sample after peak speed where speed falls below 50 mm/s; the 95% covariance
  ellipse of endpoints has semi-axes ``sqrt(chi2_{2, 0.95} * eig(Sigma))`` along the eigenvectors.
* Reaction time: time from the go cue to the first crossing of 5% of the trial's peak speed that
  leads to the reach. A trial is a *false start* (discarded, RT = NaN) if speed rose above 15% of peak
  and fell back below 5% before the actual reaching movement.
* Velocity distance between stimulated and non-stimulated trials: the unbiased cross-validated
  estimator of Willett et al. (`neurodyn.analysis.distances.cv_distance_sq`), square-rooted after
  clipping at 0.
* RT effect: difference of mean RTs, two-sided Mann-Whitney U test (`scipy.stats.mannwhitneyu`).

Positions in mm, time in ms, arrays ``(..., time, dims)``.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, savgol_filter, sosfiltfilt
from scipy.stats import chi2, mannwhitneyu
from jaxtyping import Float

from neurodyn.validation import fail, finite_array, in_range, positive

__all__ = ["lowpass_position", "velocity", "speed", "reach_endpoints", "covariance_ellipse", "reaction_times",
           "rt_effect", "velocity_distance"]


def lowpass_position(pos: Float[np.ndarray, "*batch time dims"], fs_hz: float, cutoff_hz: float = 25.0, order: int = 4) -> Float[np.ndarray, "*batch time dims"]:
    """Zero-phase Butterworth low-pass of ``pos (..., time, dims)`` along time."""
    x = finite_array("pos", pos)
    positive("fs_hz", fs_hz)
    in_range("cutoff_hz", cutoff_hz, 0.0, fs_hz / 2, lo_open=True, hi_open=True)
    if x.ndim < 2:
        fail("pos", x, "a (..., time, dims) array")
    sos = butter(order, cutoff_hz, btype="low", fs=fs_hz, output="sos")
    return sosfiltfilt(sos, x, axis=-2)


def _window(fs_hz: float, window_ms: float) -> int:
    n = int(round(window_ms * 1e-3 * fs_hz))
    return max(3, n if n % 2 == 1 else n + 1)


def velocity(pos: Float[np.ndarray, "*batch time dims"], fs_hz: float, window_ms: float = 21.0, polyorder: int = 2) -> Float[np.ndarray, "*batch time dims"]:
    """Savitzky-Golay derivative of ``pos (..., time, dims)`` in units per second."""
    x = finite_array("pos", pos)
    positive("fs_hz", fs_hz)
    w = _window(fs_hz, window_ms)
    if x.shape[-2] < w:
        fail("pos", x, f"at least {w} time samples for a {window_ms} ms window")
    return savgol_filter(x, w, polyorder, deriv=1, delta=1.0 / fs_hz, axis=-2)


def speed(vel: Float[np.ndarray, "*batch time dims"]) -> Float[np.ndarray, "*batch time"]:
    return np.linalg.norm(np.asarray(vel, float), axis=-1)


def reach_endpoints(pos: Float[np.ndarray, "trials time dims"], spd: Float[np.ndarray, "trials time"],
                    threshold: float = 50.0) -> Float[np.ndarray, "trials dims"]:
    """Per trial, the position where speed first drops below ``threshold`` after its peak.

    ``pos (trials, time, dims)``, ``spd (trials, time)``; trials that never slow down give their last
    sample.
    """
    p = finite_array("pos", pos, ndim=3)
    s = finite_array("spd", spd, ndim=2)
    out = np.empty((p.shape[0], p.shape[2]))
    for i in range(p.shape[0]):
        k = int(np.argmax(s[i]))
        below = np.flatnonzero(s[i, k:] < threshold)
        out[i] = p[i, k + below[0] if below.size else -1]
    return out


def covariance_ellipse(points: Float[np.ndarray, "points 2"], level: float = 0.95
                       ) -> tuple[Float[np.ndarray, " 2"], Float[np.ndarray, " 2"], Float[np.ndarray, "2 2"]]:
    """``(centre, semi_axes, axes)`` of the ``level`` covariance ellipse of 2-d ``points``."""
    x = finite_array("points", points, ndim=2)
    if x.shape[1] != 2 or x.shape[0] < 3:
        fail("points", x, "an (n >= 3, 2) array")
    w, v = np.linalg.eigh(np.cov(x.T))
    return x.mean(0), np.sqrt(chi2.ppf(level, 2) * np.maximum(w, 0.0)), v


def reaction_times(spd: Float[np.ndarray, "trials time"], t_ms: Float[np.ndarray, " time"], go_ms: float = 0.0,
                   onset_frac: float = 0.05, false_start_frac: float = 0.15) -> Float[np.ndarray, " trials"]:
    """Reaction time per trial (ms after ``go_ms``), NaN for false starts (§5).

    The reach onset is the last upward crossing of ``onset_frac * peak`` before the peak speed. A
    false start is an earlier excursion above ``false_start_frac * peak`` (after the go cue) that fell
    back below ``onset_frac * peak`` before that onset.
    """
    s = finite_array("spd", spd, ndim=2)
    t = finite_array("t_ms", t_ms, ndim=1)
    if t.size != s.shape[1]:
        fail("t_ms", t, f"{s.shape[1]} sample times")
    rts = np.full(s.shape[0], np.nan)
    start = int(np.searchsorted(t, go_ms))
    for i in range(s.shape[0]):
        x = s[i, start:]
        k = int(np.argmax(x))
        lo, hi = onset_frac * x[k], false_start_frac * x[k]
        below = np.flatnonzero(x[:k + 1] < lo)
        if below.size == 0:
            continue
        onset = below[-1] + 1
        if np.any(x[:below[-1] + 1] > hi):
            continue
        rts[i] = t[start + onset] - go_ms
    return rts


def rt_effect(rt_stim: Float[np.ndarray, " trials"], rt_nostim: Float[np.ndarray, " trials"]) -> dict[str, float]:
    """Mean RT difference (stim - no stim) and two-sided Mann-Whitney U test, NaNs dropped."""
    a = np.asarray(rt_stim, float)
    b = np.asarray(rt_nostim, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 1 or b.size < 1:
        fail("rt_stim", a, "at least one valid RT in each group")
    res = mannwhitneyu(a, b, alternative="two-sided")
    return {"delta_ms": float(a.mean() - b.mean()), "u": float(res.statistic), "p": float(res.pvalue)}


def velocity_distance(vel_stim: Float[np.ndarray, "trials time dims"], vel_nostim: Float[np.ndarray, "trials time dims"]
                      ) -> Float[np.ndarray, " time"]:
    """Unbiased (cross-validated) norm of the difference of mean velocities at each time (§5)."""
    from neurodyn.analysis.distances import cv_distance_sq

    return np.sqrt(np.maximum(cv_distance_sq(vel_stim, vel_nostim), 0.0))

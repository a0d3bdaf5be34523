"""Stimulation-site localisation from artifact amplitude (seed 001 Methods §3.3).

Per session s: the peak-to-peak artifact amplitude on each channel, outliers removed by a moving
median (points more than ``n_mad`` scaled MADs from the median of a ``window``-channel neighbourhood
are replaced by that median), then resampled to a vertical column at the probe's centre with
``delta_y = 50 um`` spacing. SciPy has no natural-neighbour interpolation; on a column sampled from a
two-dimensional site layout we use Delaunay-linear interpolation (`scipy.interpolate.griddata`),
which, like natural neighbour, is exact on linear fields and local. The model (equations lost from
the text, reconstructed from the prose: resample location e of session s lies at depth
``y_{e,s} = y_s + e delta_y`` and lateral offset ``x_s`` from a source at the origin; the field falls
off with distance and ``v0`` has units of V mm / uA, so amplitude is inversely proportional to
distance and proportional to current):

    r_{e,s} = sqrt(x_s^2 + y_{e,s}^2),     amp_{e,s} = v0 * I_s / r_{e,s}.

All sessions are fitted together by bounded nonlinear least squares (`scipy.optimize.least_squares`,
trust-region reflective; x_s > 0, v0 > 0). Passing ``v0`` fixes it (the second stage of §3.3, fitting
saturated sessions with v0 from the non-saturated ones).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.interpolate import griddata
from scipy.ndimage import median_filter
from scipy.optimize import least_squares
from jaxtyping import Bool, Float, Int, Shaped

from neurodyn.validation import fail, positive

__all__ = ["clipped_channels", "peak_to_peak", "remove_outliers", "resample_to_column", "fit_artifact_source"]


def clipped_channels(traces: Shaped[np.ndarray, "*trials time channels"], min_run: int = 2
                     ) -> Bool[np.ndarray, " channels"]:
    """Channels whose recording sits at its extreme value on ``>= min_run`` samples (a clipping
    plateau); their artifact amplitude is censored and is left out of the localisation fit (§3.3)."""
    x = np.asarray(traces)
    x = x.reshape(-1, x.shape[-1])
    return ((x == x.max(0)).sum(0) >= min_run) | ((x == x.min(0)).sum(0) >= min_run)


def peak_to_peak(artifact: Float[np.ndarray, "time channels"], pulses: Int[np.ndarray, " pulses"],
                 length: int) -> Float[np.ndarray, " channels"]:
    """Per-channel peak-to-peak of the pulse-averaged artifact; ``artifact`` (time, channels)."""
    a = np.asarray(artifact, dtype=float)
    p = np.asarray(pulses, int)
    p = p[p + length <= a.shape[0]]
    if p.size == 0:
        fail("pulses", pulses, f"pulse onsets with {length} samples inside the artifact")
    mean = a[p[:, None] + np.arange(length)[None, :]].mean(0)
    return mean.max(0) - mean.min(0)


def remove_outliers(values: Float[np.ndarray, " channels"], window: int = 9, n_mad: float = 3.0) -> Float[np.ndarray,
                    " channels"]:
    """Moving-median outlier replacement along channels ordered by depth."""
    v = np.asarray(values, dtype=float)
    med = median_filter(v, size=window, mode="nearest")
    dev = np.abs(v - med)
    mad = 1.4826 * median_filter(dev, size=window, mode="nearest")
    out = v.copy()
    bad = dev > n_mad * np.maximum(mad, 1e-12 * np.abs(med).max())
    out[bad] = med[bad]
    return out


def resample_to_column(positions_um: Float[np.ndarray, "channels 2"], values: Float[np.ndarray, " channels"],
                       delta_y_um: float = 50.0
                       ) -> tuple[Float[np.ndarray, " sites"], Float[np.ndarray, " sites"]]:
    """Resample ``values`` at ``positions_um`` (n_ch, 2) to the probe's centre column every ``delta_y_um``.

    Returns ``(y_um, values)`` with y measured from the first (shallowest-indexed) site.
    """
    pos = np.asarray(positions_um, float)
    positive("delta_y_um", delta_y_um)
    xc = 0.5 * (pos[:, 0].min() + pos[:, 0].max())
    y0, y1 = pos[:, 1].min(), pos[:, 1].max()
    ys = np.arange(y0, y1 + 1e-9, delta_y_um)
    vals = griddata(pos, np.asarray(values, float), np.stack([np.full_like(ys, xc), ys], 1), method="linear")
    keep = np.isfinite(vals)
    return ys[keep] - y0, vals[keep]


def fit_artifact_source(depths_mm: Sequence[Float[np.ndarray, " sites"]],
                        amplitudes: Sequence[Float[np.ndarray, " sites"]],
                        currents_ua: Float[np.ndarray, " sessions"], *, v0: float | None = None,
                        x0_mm: float = 1.0) -> dict:
    """Fit ``amp = v0 I_s / sqrt(x_s^2 + (d - y_s)^2)`` to every session together.

    ``depths_mm``/``amplitudes``: lists (one per session) of sample depths along the probe and
    amplitudes; ``currents_ua``: per-session current. Source depth y_s here is the source's position on
    the depth axis of the samples, so ``y_{e,s}`` of §3.3 equals ``d_e - y_s``. Returns ``{"x_mm",
    "y_mm", "v0", "cost"}`` (arrays per session).
    """
    ds = [np.asarray(d, float) for d in depths_mm]
    amps = [np.asarray(a, float) for a in amplitudes]
    cur = np.asarray(currents_ua, float)
    if not (len(ds) == len(amps) == cur.size) or cur.size == 0:
        fail("amplitudes", len(amps), f"one amplitude array per session ({len(ds)} depths, {cur.size} currents)")
    n = cur.size
    fix = v0 is not None
    scale = np.concatenate(amps).max()
    v_guess = scale * x0_mm / cur.mean()

    def unpack(p):
        xs, ys = p[:n], p[n:2 * n]
        v = v0 if fix else p[2 * n]
        return xs, ys, v

    def resid(p):
        xs, ys, v = unpack(p)
        return np.concatenate([(v * cur[s] / np.sqrt(xs[s] ** 2 + (ds[s] - ys[s]) ** 2) - amps[s]) / scale
                               for s in range(n)])

    y_guess = [d[np.argmax(a)] for d, a in zip(ds, amps)]
    p0 = np.concatenate([np.full(n, x0_mm), y_guess] + ([] if fix else [[v_guess]]))
    lo = np.concatenate([np.full(n, 1e-3), np.full(n, -np.inf)] + ([] if fix else [[1e-9]]))
    hi = np.full(p0.size, np.inf)
    sol = least_squares(resid, p0, bounds=(lo, hi), method="trf", x_scale="jac")
    xs, ys, v = unpack(sol.x)
    return {"x_mm": xs, "y_mm": ys, "v0": float(v), "cost": float(sol.cost)}

"""Binning, trial averaging, smoothing and soft normalisation of spiking data (seed 001 Methods §6, §7, §9).

* Causal binning (§7, §9: "causal 10 ms binning", "causal, non-overlapping bins"): bin k covers
  ``(t0 + k*bin, t0 + (k+1)*bin]`` and is labelled by its *end* time, so the value at time t uses only
  spikes up to t. Rates are ``count / bin_ms * 1000`` spikes/s.
* Trial averaging per condition (`PopulationData.from_trials`).
* Gaussian smoothing along time (scipy.ndimage), e.g. the 20 ms kernel of §6 for display.
* Soft normalisation ``r / (range(r) + soft)`` per neuron (range over conditions and time), the usual
  preprocessing before PCA so that high-rate neurons do not dominate.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d
from jaxtyping import Float, Shaped

from neurodyn.validation import fail, finite_array, positive, positive_int

__all__ = ["bin_spike_raster", "bin_spike_times", "gaussian_smooth", "soft_normalize"]


def bin_spike_raster(raster: Shaped[np.ndarray, "*batch time_ms neurons"], bin_ms: int = 10, *, t0_ms: float = 0.0,
                     axis: int = -2) -> tuple[Float[np.ndarray, "*batch time neurons"], Float[np.ndarray, " time"]]:
    """Causal bins of a 1-ms spike raster: returns ``(rates, t_ms)``.

    ``raster`` holds spike counts per 1-ms step along ``axis`` (default: time is the second-to-last
    axis, ``(..., T_ms, N)``); trailing steps that do not fill a whole bin are dropped. ``t_ms`` are the
    bin end times ``t0_ms + (k + 1) * bin_ms``.
    """
    x = np.asarray(raster)
    if not np.issubdtype(x.dtype, np.number):
        fail("raster", x, "a numeric spike-count array", TypeError)
    x = finite_array("raster", x) if np.issubdtype(x.dtype, np.floating) else x
    if np.any(x < 0):
        fail("raster", x, "non-negative spike counts")
    bin_ms = positive_int("bin_ms", bin_ms)
    x = np.moveaxis(x, axis, -1)
    n_bins = x.shape[-1] // bin_ms
    if n_bins == 0:
        fail("bin_ms", bin_ms, f"at most the raster length ({x.shape[-1]} ms)")
    counts = x[..., :n_bins * bin_ms].reshape(x.shape[:-1] + (n_bins, bin_ms)).sum(-1, dtype=np.float64)
    rates = np.moveaxis(counts * (1000.0 / bin_ms), -1, axis)
    t = t0_ms + bin_ms * (np.arange(n_bins) + 1.0)
    return rates, t


def bin_spike_times(spike_times_ms: Sequence[Float[np.ndarray, " spikes"]], t_start_ms: float, t_stop_ms: float,
                    bin_ms: float = 10.0) -> tuple[Float[np.ndarray, "time neurons"], Float[np.ndarray, " time"]]:
    """Causal bins of spike times (one array per neuron, ms): returns ``(rates (T, N), t_ms (T,))``.

    Bins are ``(t_start + k*bin, t_start + (k+1)*bin]``; a spike exactly at a bin end belongs to that
    bin, one at ``t_start`` to none.
    """
    bin_ms = positive("bin_ms", bin_ms)
    if not t_stop_ms > t_start_ms:
        fail("t_stop_ms", t_stop_ms, f"a time after t_start_ms={t_start_ms}")
    n_bins = int(np.floor((t_stop_ms - t_start_ms) / bin_ms + 1e-9))
    if n_bins == 0:
        fail("bin_ms", bin_ms, f"at most the window length {t_stop_ms - t_start_ms} ms")
    out = np.zeros((n_bins, len(spike_times_ms)))
    for n, st in enumerate(spike_times_ms):
        st = finite_array(f"spike_times_ms[{n}]", np.atleast_1d(st))
        k = np.ceil((st - t_start_ms) / bin_ms - 1e-9).astype(int) - 1   # (a, b] -> index
        k = k[(k >= 0) & (k < n_bins)]
        out[:, n] = np.bincount(k, minlength=n_bins)
    return out * (1000.0 / bin_ms), t_start_ms + bin_ms * (np.arange(n_bins) + 1.0)


def gaussian_smooth(x: Float[np.ndarray, "*batch time neurons"], sd_ms: float, bin_ms: float, axis: int = -2
                    ) -> Float[np.ndarray, "*batch time neurons"]:
    """Gaussian smoothing along time (``axis``) with standard deviation ``sd_ms`` (edges: 'nearest')."""
    x = finite_array("x", x)
    sd = positive("sd_ms", sd_ms) / positive("bin_ms", bin_ms)
    return gaussian_filter1d(x, sd, axis=axis, mode="nearest")


def soft_normalize(rates: Float[np.ndarray, "*batch neurons"], soft: float = 5.0) -> Float[np.ndarray,
                   "*batch neurons"]:
    """``rates / (range + soft)`` per neuron (last axis), the range over all other axes (spikes/s)."""
    x = finite_array("rates", rates)
    if soft < 0:
        fail("soft", soft, "a non-negative soft-normalisation constant (spikes/s)")
    flat = x.reshape(-1, x.shape[-1])
    rng = flat.max(0) - flat.min(0)
    denom = rng + soft
    if np.any(denom <= 0):
        fail("soft", soft, "> 0 when some neurons have zero range")
    return x / denom

"""Re-binning, windowing and smoothing of binned `PopulationData` (the causal-bin convention: a bin is
labelled by its end time; ``docs/data_format.md``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from neurodyn.validation import fail, positive
from neurodyn.data.binning import gaussian_smooth
from neurodyn.data.population import PopulationData

__all__ = ["rebin", "reshape_bins", "smooth", "window", "window_pair"]


def window(data: PopulationData, window_ms: tuple[float, float]) -> PopulationData:
    """Bins whose end time lies in ``(window_ms[0], window_ms[1]]`` (the causal-bin convention)."""
    lo, hi = window_pair(window_ms)
    keep = (data.t_ms > lo + 1e-9) & (data.t_ms <= hi + 1e-9)
    if not keep.any():
        fail("window_ms", list(window_ms), f"a window overlapping the recording's bins "
             f"({data.t_ms[0]:g} to {data.t_ms[-1]:g} ms)")
    return replace(data, rates=data.rates[:, keep], t_ms=data.t_ms[keep],
                   counts=None if data.counts is None else data.counts[:, keep],
                   trials=None if data.trials is None else data.trials[:, :, keep])


def rebin(data: PopulationData, bin_ms: float) -> PopulationData:
    """Merge every ``bin_ms / data.bin_ms`` consecutive bins (an integer factor): rates and trials are
    averaged, counts take the minimum, the new bin is labelled by its last bin's end time."""
    bin_ms = positive("bin_ms", bin_ms)
    f = bin_ms / data.bin_ms
    k = int(round(f))
    if k < 1 or abs(f - k) > 1e-6:
        fail("bin_ms", bin_ms, f"a whole multiple of the file's {data.bin_ms:g}-ms bins (binned data are "
             "merged, not re-cut)")
    if k == 1:
        return data
    T = data.shape[1]
    m = T // k
    if m == 0:
        fail("bin_ms", bin_ms, f"at most the recording length ({T} bins of {data.bin_ms:g} ms)")

    def merge(x, axis, how):
        x = np.take(x, np.arange(m * k), axis=axis)
        shp = x.shape[:axis] + (m, k) + x.shape[axis + 1:]
        return getattr(x.reshape(shp), how)(axis + 1)

    return replace(data, rates=merge(data.rates, 1, "mean"), t_ms=data.t_ms[k - 1:m * k:k], bin_ms=bin_ms,
                   counts=None if data.counts is None else merge(data.counts, 1, "min"),
                   trials=None if data.trials is None else merge(data.trials, 2, "mean"))


def smooth(data: PopulationData, smooth_ms: float) -> PopulationData:
    """Gaussian smoothing along time with standard deviation ``smooth_ms`` (rates and single trials)."""
    positive("smooth_ms", smooth_ms)
    return replace(data, rates=gaussian_smooth(data.rates, smooth_ms, data.bin_ms, axis=1),
                   trials=None if data.trials is None else gaussian_smooth(data.trials, smooth_ms, data.bin_ms,
                                                                           axis=2))


def reshape_bins(data: PopulationData, *, bin_ms: float | None = None, window_ms: tuple[float, float] | None = None,
                 smooth_ms: float | None = None) -> PopulationData:
    """Re-bin to ``bin_ms``, cut to ``window_ms`` and smooth with a Gaussian of ``smooth_ms`` (each skipped
    when None), in that order: the binned-array path of every loader and of the bundled dataset."""
    if bin_ms is not None:
        data = rebin(data, bin_ms)
    if window_ms is not None:
        data = window(data, window_ms)
    if smooth_ms is not None:
        data = smooth(data, smooth_ms)
    return data


def window_pair(window_ms: tuple[float, float]) -> tuple[float, float]:
    """``(start, stop)`` in ms, finite with ``stop > start``, from a two-element window."""
    try:
        lo, hi = (float(v) for v in window_ms)
    except (TypeError, ValueError):
        fail("window_ms", window_ms, "[start, stop] in ms around the alignment event")
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        fail("window_ms", list(window_ms), "[start, stop] with stop > start (ms)")
    return lo, hi

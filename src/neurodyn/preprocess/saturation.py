"""Possibly-saturated samples (seed 001 Methods §3.2, ERAASR2 step 0): conservative per-channel signal
ranges from the data, and statistics that merge exactly over chunks of a long recording.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Bool, Float, Int, Shaped

from neurodyn.validation import fail, in_range

__all__ = ["ExtremeStats", "possibly_saturated", "saturation_limits"]


def saturation_limits(traces: Shaped[np.ndarray, "*trials time channels"],
                      adc_group: Int[np.ndarray, " channels"] | None = None, margin: float = 0.02,
                      min_run: int = 2) -> tuple[Float[np.ndarray, " channels"], Float[np.ndarray, " channels"]]:
    """Conservative per-channel signal ranges (seed 001 §3.2) from the data.

    ``traces`` (time, channels) or (trials, time, channels). The baseline of each ADC group is the
    median of its samples; the range relative to baseline is the extreme observed over the group's
    channels. Where a channel of the group sits at its extreme on ``>= min_run`` samples (a clipping
    plateau) the group has reached its limit, and samples within ``margin`` (relative) of the range are
    possibly saturated; otherwise the limit was never reached and nothing is marked.
    Returns ``(lo, hi)`` per channel: a sample is possibly saturated if ``x <= lo`` or ``x >= hi``.
    """
    x = np.asarray(traces)
    x = x.reshape(-1, x.shape[-1])
    stats = ExtremeStats(x.shape[1])
    stats.update(x, x[::7])
    return stats.limits(adc_group, margin, min_run)


class ExtremeStats:
    """Per-channel minimum, maximum and how often each is reached, plus a strided sample for the group
    baselines: statistics that merge exactly over chunks of a recording (`saturation_limits`)."""

    def __init__(self, c: int):
        self.cmin = np.full(c, np.inf)
        self.cmax = np.full(c, -np.inf)
        self.n_min = np.zeros(c, np.int64)
        self.n_max = np.zeros(c, np.int64)
        self.samples = []

    def update(self, x: Shaped[np.ndarray, "time channels"], sample: Float[np.ndarray, "samples channels"]) -> None:
        x = np.asarray(x)
        lo, hi = x.min(0).astype(float), x.max(0).astype(float)
        n_lo, n_hi = (x == lo.astype(x.dtype)).sum(0), (x == hi.astype(x.dtype)).sum(0)
        self.n_min = np.where(lo < self.cmin, n_lo, self.n_min + np.where(lo == self.cmin, n_lo, 0))
        self.n_max = np.where(hi > self.cmax, n_hi, self.n_max + np.where(hi == self.cmax, n_hi, 0))
        self.cmin, self.cmax = np.minimum(self.cmin, lo), np.maximum(self.cmax, hi)
        self.samples.append(np.asarray(sample))

    def limits(self, adc_group: Int[np.ndarray, " channels"] | None = None, margin: float = 0.02,
               min_run: int = 2) -> tuple[Float[np.ndarray, " channels"], Float[np.ndarray, " channels"]]:
        c = self.cmin.size
        groups = np.zeros(c, int) if adc_group is None else np.asarray(adc_group, int)
        if groups.shape != (c,):
            fail("adc_group", groups, f"one group label per channel ({c})")
        in_range("margin", margin, 0.0, 0.5)
        base_x = np.concatenate(self.samples, axis=0)
        lo, hi = np.empty(c), np.empty(c)
        top, bottom = self.n_max >= min_run, self.n_min >= min_run
        for g in np.unique(groups):
            ch = groups == g
            base = float(np.median(base_x[:, ch]))
            up = (self.cmax[ch] - base).max()
            down = (base - self.cmin[ch]).max()
            # a group whose channels plateau at their extreme has reached its limit; otherwise the limit
            # lies beyond anything recorded and no sample is marked
            hi[ch] = base + ((1 - margin) if top[ch].any() else (1 + margin)) * up
            lo[ch] = base - ((1 - margin) if bottom[ch].any() else (1 + margin)) * down
        return lo, hi


def possibly_saturated(x: Float[np.ndarray, "*batch channels"], lo: Float[np.ndarray, " channels"],
                       hi: Float[np.ndarray, " channels"]
                       ) -> Bool[np.ndarray, "*batch channels"]:
    """Boolean mask of samples at or beyond the per-channel conservative limits."""
    return (x <= lo) | (x >= hi)

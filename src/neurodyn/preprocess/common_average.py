"""Median common average reference per ADC group (Siegle et al.; seed 001 Methods §3.2, ERAASR2 step 6)."""

from __future__ import annotations

import numpy as np
from jaxtyping import Bool, Float, Int

from neurodyn.validation import fail, positive_int

__all__ = ["common_average_reference"]


def common_average_reference(x: Float[np.ndarray, "time channels"], adc_group: Int[np.ndarray, " channels"],
                             saturated: Bool[np.ndarray, "time channels"] | None = None,
                             min_channels: int = 16) -> Float[np.ndarray, "time channels"]:
    """Median common average reference per ADC group (Siegle et al.; seed 001 §3.2; module
    docstring, step 6).

    ``x`` (time, channels). At each sample the median over the group's unsaturated channels is
    subtracted from them; where fewer than ``min_channels`` of the group's channels are unsaturated,
    the median over all unsaturated channels is used. Saturated samples stay 0.
    """
    x = np.array(x, dtype=float)
    if x.ndim != 2:
        fail("x", x, "a (time, channels) array")
    groups = np.asarray(adc_group, int)
    if groups.shape != (x.shape[-1],):
        fail("adc_group", groups, f"one group label per channel ({x.shape[-1]})")
    min_channels = positive_int("min_channels", min_channels)
    sat = np.zeros(x.shape, bool) if saturated is None else np.asarray(saturated, bool)
    if sat.shape != x.shape:
        fail("saturated", sat, f"a mask shaped like x {x.shape}")
    any_sat = sat.any(1)

    def median_rows(rows, ch):
        """Median over the unsaturated channels ``ch`` at each of ``rows`` (NaN where none is)."""
        sub = x[np.ix_(rows, ch)]
        partial = any_sat[rows]
        med = np.empty(rows.size)
        med[~partial] = np.median(sub[~partial], axis=1)
        if partial.any():
            s_ = sat[np.ix_(rows[partial], ch)]
            vals = np.where(s_, np.nan, sub[partial])
            some = ~s_.all(1)
            m = np.full(s_.shape[0], np.nan)
            m[some] = np.nanmedian(vals[some], axis=1)
            med[partial] = m
        return med

    ref = np.zeros(x.shape[0])
    out = np.empty_like(x)
    need_global = np.zeros(x.shape[0], bool)
    group_ref = {}
    for g in np.unique(groups):
        ch = np.flatnonzero(groups == g)
        if ch.size < min_channels:
            need_global[:] = True
            group_ref[g] = None
            continue
        count = ch.size - sat[:, ch].sum(1)
        few = count < min_channels
        need_global |= few
        med = median_rows(np.arange(x.shape[0]), ch)
        group_ref[g] = (med, few)
    glob = np.zeros(x.shape[0])
    rows = np.flatnonzero(need_global)
    if rows.size:
        gm = median_rows(rows, np.arange(x.shape[1]))
        glob[rows] = np.where(np.isnan(gm), 0.0, gm)
    for g, item in group_ref.items():
        ch = np.flatnonzero(groups == g)
        if item is None:
            ref = glob
        else:
            med, few = item
            ref = np.where(few, glob, med)
        out[:, ch] = x[:, ch] - ref[:, None]
    out[sat] = 0.0
    return out

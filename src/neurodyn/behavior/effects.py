"""Per-unit stimulation effect sizes (seed 001 Methods §7).

For each unit, the change in mean firing rate during the stimulation window (stimulated minus
matched non-stimulated trials), a two-sided Wilcoxon rank-sum test on the per-trial rates
(`scipy.stats.ranksums`), and Benjamini-Hochberg control of the false discovery rate at q = 0.05
(`scipy.stats.false_discovery_control`): with sorted p-values ``p_(1) <= ... <= p_(m)``, the adjusted
value is ``min_{j >= i} m p_(j) / j``, and unit i is significant when its adjusted value is <= q.
Stim deltas over time (causal 10 ms bins, trial-averaged stim - no-stim per condition) and their PCA
over neurons (scikit-learn).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import false_discovery_control, ranksums
from sklearn.decomposition import PCA
from jaxtyping import Bool, Float

from neurodyn.validation import fail, finite_array, in_range, positive_int

__all__ = ["unit_effects", "stim_delta_pca"]


def unit_effects(rates_stim: Float[np.ndarray, "trials neurons"], rates_nostim: Float[np.ndarray, "trials neurons"],
                 q: float = 0.05) -> dict[str, Float[np.ndarray, " neurons"] | Bool[np.ndarray, " neurons"]]:
    """``rates_* (trials, units)``: mean rate per trial in the window. Returns delta, p, p_adj, significant."""
    a = finite_array("rates_stim", rates_stim, ndim=2)
    b = finite_array("rates_nostim", rates_nostim, ndim=2)
    if a.shape[1] != b.shape[1]:
        fail("rates_nostim", b, f"{a.shape[1]} units like rates_stim")
    in_range("q", q, 0.0, 1.0, lo_open=True)
    p = np.array([ranksums(a[:, u], b[:, u]).pvalue for u in range(a.shape[1])])
    p_adj = false_discovery_control(p, method="bh")
    return {"delta": a.mean(0) - b.mean(0), "p": p, "p_adj": p_adj, "significant": p_adj <= q}


def stim_delta_pca(delta: Float[np.ndarray, "conditions time neurons"], n_components: int = 3
                   ) -> tuple[Float[np.ndarray, "conditions time latents"], PCA]:
    """PCA over neurons of stim deltas ``(conditions, time, neurons)``; returns (scores, PCA)."""
    d = finite_array("delta", delta, ndim=3)
    n_components = positive_int("n_components", n_components)
    X = d.reshape(-1, d.shape[2])
    pca = PCA(n_components=min(n_components, *X.shape)).fit(X)
    return pca.transform(X).reshape(d.shape[0], d.shape[1], -1), pca

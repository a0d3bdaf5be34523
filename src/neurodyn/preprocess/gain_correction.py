"""Firing-rate gain correction for spikes lost to saturation and cleaning (seed 001 Methods §3.7).

With ``Y`` (time bins x neurons) the ground-truth rates of matched non-stimulated trials and ``Ŷ``
the rates recovered from their synthetic-stimulation versions (§3.6), the recovery gain is the
element-wise ratio (equations lost from the text, written from the prose)

    G_{t,d} = Ŷ_{t,d} / Y_{t,d},

denoised by a rank-one approximation around unity, ``G̃ = 1 + u v^T`` with ``u s v^T`` the leading
singular triplet of ``G - 1`` (Eckart-Young), and applied identically to stimulated and
non-stimulated rates: ``R_corrected = R / G̃``.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

from neurodyn.validation import fail

__all__ = ["recovery_gain", "denoise_gain", "correct_rates"]


def recovery_gain(recovered: Float[np.ndarray, "time neurons"], truth: Float[np.ndarray, "time neurons"],
                  min_rate: float = 1e-9) -> Float[np.ndarray, "time neurons"]:
    """``G = recovered / truth`` element-wise; bins with ``truth <= min_rate`` get gain 1."""
    r = np.asarray(recovered, float)
    y = np.asarray(truth, float)
    if r.shape != y.shape or r.ndim != 2:
        fail("recovered", r, f"a (time, neurons) array shaped like truth {y.shape}")
    g = np.ones_like(y)
    ok = y > min_rate
    g[ok] = r[ok] / y[ok]
    return g


def denoise_gain(gain: Float[np.ndarray, "time neurons"], floor: float = 0.05) -> Float[np.ndarray, "time neurons"]:
    """Rank-one approximation of ``gain`` around unity: ``1 + s1 u1 v1^T`` of ``gain - 1``, floored."""
    g = np.asarray(gain, float)
    if g.ndim != 2:
        fail("gain", g, "a (time, neurons) matrix")
    u, s, vt = np.linalg.svd(g - 1.0, full_matrices=False)
    return np.maximum(1.0 + s[0] * np.outer(u[:, 0], vt[0]), floor)


def correct_rates(rates: Float[np.ndarray, "*batch time neurons"], gain: Float[np.ndarray, "time neurons"]
                  ) -> Float[np.ndarray, "*batch time neurons"]:
    """Divide ``rates`` (..., time, neurons) by the denoised gain (time, neurons)."""
    return np.asarray(rates, float) / np.asarray(gain, float)

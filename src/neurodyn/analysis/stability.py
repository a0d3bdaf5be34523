"""Stability of rate networks (thesis, seed 003, §1.2.1.2 and §2.3).

* spectral abscissa ``alpha(W) = max{Re lambda : lambda eigenvalue of W}`` (eq. 1.11);
* critical gain: with a gain function of slope g at 0 (linear or the tanh of eq. 2.2), x = 0 is
  locally asymptotically stable iff ``g alpha(W) < 1``, i.e. ``g < 1 / alpha(W)`` (eq. 2.3, proved in
  the thesis' Appendix 2.B). For ``alpha(W) <= 0`` every positive gain is stable (returned as inf).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Complex, Float

from neurodyn.network import Network, weight_matrix

__all__ = ["critical_gain", "spectral_abscissa", "eigenvalues"]


def eigenvalues(W: Float[np.ndarray, "neurons neurons"] | Network) -> Complex[np.ndarray, " neurons"]:
    """Eigenvalues of ``W`` (a matrix or a `Network`)."""
    return np.linalg.eigvals(weight_matrix(W))


def spectral_abscissa(W: Float[np.ndarray, "neurons neurons"] | Network) -> float:
    """``alpha(W) = max Re lambda(W)`` (thesis eq. 1.11)."""
    return float(np.max(eigenvalues(W).real))


def critical_gain(W: Float[np.ndarray, "neurons neurons"] | Network) -> float:
    """``g_c = 1 / alpha(W)`` (thesis eq. 2.3); ``inf`` when ``alpha(W) <= 0``."""
    a = spectral_abscissa(W)
    return float(np.inf) if a <= 0 else 1.0 / a

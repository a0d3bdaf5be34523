"""Gaussian random connectivity (the chaotic-regime network of Sompolinsky et al. 1988).

Thesis (seed 003) §1.2.2: entries i.i.d. normal with mean 0 and standard deviation ``g / sqrt(N)``
(variance ``g^2 / N``); for large N the eigenvalues fill a disc of radius g (Girko 1983), so the
linear network is stable for g < 1 and the tanh network is chaotic for g > 1. Dale's law does not hold.
"""

from __future__ import annotations

import numpy as np

from neurodyn.validation import in_range, positive_int
from neurodyn.network import Network

__all__ = ["gaussian"]


def gaussian(n: int, g: float = 1.5, seed: int = 0, *, tau: float = 200.0) -> Network:
    """N x N matrix with entries ``~ Normal(0, g^2 / N)``; spectrum ~ disc of radius g."""
    n = positive_int("n", n, 1)
    g = in_range("g", g, 0.0, np.inf)
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, g / np.sqrt(n), size=(n, n))
    return Network(W=W, tau=tau)

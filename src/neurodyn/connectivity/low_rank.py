"""Low-rank connectivity ``W = m n^T / N`` (Mastrogiuseppe & Ostojic 2018), optionally plus a random part.

A rank-R structure ``W = (1/N) sum_r m_r n_r^T`` confines the recurrent drive to span{m_r}. Seed 001
(Extended Data Fig. 5d) notes that a low-rank W automatically satisfies the self-containment
constraint of its subspace models. The nonzero eigenvalues of ``M N^T / N`` equal those of the R x R
matrix ``N^T M / N``.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

from neurodyn.validation import fail, finite_array, in_range
from neurodyn.network import Network

__all__ = ["low_rank"]


def low_rank(m: Float[np.ndarray, "neurons *rank"], n_vectors: Float[np.ndarray, "neurons *rank"], *, g: float = 0.0,
             seed: int = 0, tau: float = 200.0) -> Network:
    """``W = M N^T / N + g X / sqrt(N)``, X standard normal (g = 0: purely low rank).

    Parameters
    ----------
    m, n_vectors : (N,) or (N, R) arrays
        Left (output) and right (input-selection) connectivity vectors.
    g : float
        Scale of an added Gaussian random part (0 for none).
    """
    left = finite_array("m", m)
    right = finite_array("n_vectors", n_vectors)
    if left.ndim == 1:
        left = left[:, None]
    if right.ndim == 1:
        right = right[:, None]
    if left.ndim != 2 or left.shape != right.shape:
        fail("n_vectors", right, f"the same shape as m {left.shape} (N x R)")
    size = left.shape[0]
    g = in_range("g", g, 0.0, np.inf)
    W = left @ right.T / size
    if g > 0:
        W = W + g * np.random.default_rng(seed).standard_normal((size, size)) / np.sqrt(size)
    return Network(W=W, tau=tau)

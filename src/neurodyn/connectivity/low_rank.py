"""Low-rank connectivity ``W = m n^T / N`` (Mastrogiuseppe & Ostojic 2018), optionally plus a random part.

A rank-R structure ``W = (1/N) sum_r m_r n_r^T`` confines the recurrent drive to span{m_r}. Seed 001
(Extended Data Fig. 5d) notes that a low-rank W automatically satisfies the self-containment
constraint of its subspace models. The nonzero eigenvalues of ``M N^T / N`` equal those of the R x R
matrix ``N^T M / N``.
"""

from __future__ import annotations

import numpy as np

from neurodyn.validation import fail, finite_array, in_range
from neurodyn.network import Network

__all__ = ["low_rank"]


def low_rank(m, n_vectors, *, g: float = 0.0, seed: int = 0, tau: float = 200.0) -> Network:
    """``W = M N^T / N + g X / sqrt(N)``, X standard normal (g = 0: purely low rank).

    Parameters
    ----------
    m, n_vectors : (N,) or (N, R) arrays
        Left (output) and right (input-selection) connectivity vectors.
    g : float
        Scale of an added Gaussian random part (0 for none).
    """
    M = finite_array("m", m)
    Nv = finite_array("n_vectors", n_vectors)
    if M.ndim == 1:
        M = M[:, None]
    if Nv.ndim == 1:
        Nv = Nv[:, None]
    if M.ndim != 2 or M.shape != Nv.shape:
        fail("n_vectors", Nv, f"the same shape as m {M.shape} (N x R)")
    size = M.shape[0]
    g = in_range("g", g, 0.0, np.inf)
    W = M @ Nv.T / size
    if g > 0:
        W = W + g * np.random.default_rng(seed).standard_normal((size, size)) / np.sqrt(size)
    return Network(W=W, tau=tau)

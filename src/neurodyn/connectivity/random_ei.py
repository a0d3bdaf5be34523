"""Random excitatory/inhibitory weight matrices obeying Dale's law.

Thesis (seed 003) §2.2, eq. (1.15) and Appendix C.1: N = 2M neurons, M excitatory then M inhibitory;
each connection exists independently with probability p; nonzero excitatory weights are
``w0 / sqrt(N)`` and nonzero inhibitory weights ``-gamma w0 / sqrt(N)`` with

    w0^2 = 2 rho^2 / (p (1 - p) (1 + gamma^2)),

which gives an approximately circular bulk spectrum of radius rho (Girko's circular law applied to the
variance of the entries, Hennequin et al. 2014). Derivation of the radius: an entry has variance
``p (1 - p) w0^2 / N`` in E columns and ``p (1 - p) gamma^2 w0^2 / N`` in I columns, so the average
variance is ``p (1 - p) w0^2 (1 + gamma^2) / (2N) = rho^2 / N`` and the circular law gives radius rho.
For gamma != 1 the mean column structure adds one outlier eigenvalue at ``sqrt(N) p w0 (1 - gamma)/2``
(negative for gamma > 1), the well-known E/I mean mode.
"""

from __future__ import annotations

import numpy as np

from neurodyn.validation import fail, in_range, positive, positive_int
from neurodyn.network import Network, cell_types_ei

__all__ = ["random_ei", "random_ei_w0"]


def random_ei_w0(p: float, rho: float, gamma: float) -> float:
    """``w0 = sqrt(2 rho^2 / (p (1 - p) (1 + gamma^2)))`` (thesis §2.2)."""
    return float(np.sqrt(2.0 * rho**2 / (p * (1.0 - p) * (1.0 + gamma**2))))


def random_ei(n: int, p: float = 0.1, rho: float = 10.0, gamma: float = 3.0, seed: int = 0, *,
              tau: float = 200.0, w0: float | None = None, self_loops: bool = False) -> Network:
    """Random Dale's-law network of thesis eq. (1.15) / §2.2.

    Parameters
    ----------
    n : int
        Number of neurons N = 2M (even).
    p : float in (0, 1]
        Connection probability.
    rho : float >= 0
        Approximate spectral radius of the bulk (ignored when ``w0`` is given).
    gamma : float > 0
        Inhibition/excitation ratio: inhibitory weights are ``-gamma w0 / sqrt(N)``.
    seed : int
        Seed of the NumPy generator (same seed, same matrix).
    tau : float
        Time constant (ms) stored on the returned network.
    w0 : float, optional
        Use this weight scale directly (the thesis' Fig. 1.5 uses entries ``3/sqrt(N)``, i.e. w0 = 3).
        At p = 1 the rho formula is undefined, so w0 must be given.
    self_loops : bool
        Keep diagonal entries (default False: the thesis' SOCs have none; the plain random matrix of
        eq. 1.15 may, so pass True to reproduce it exactly).

    Returns
    -------
    Network
        Neurons ``0..M-1`` excitatory and ``M..N-1`` inhibitory (M = N/2): the layout of eq. (1.15), a
        construction rule of this connectivity; the labels are stored as ``cell_types``
        (``network.is_excitatory``), so code downstream reads them rather than assuming the split.
    """
    n = positive_int("n", n, 2)
    if n % 2:
        fail("n", n, "an even number N = 2M (M excitatory and M inhibitory neurons)")
    p = in_range("p", p, 0.0, 1.0, lo_open=True)
    gamma = positive("gamma", gamma)
    if w0 is None:
        rho = in_range("rho", rho, 0.0, np.inf)
        if p == 1.0:
            fail("p", p, "p < 1 when w0 is derived from rho (w0^2 = 2 rho^2 / (p (1-p) (1+gamma^2)))")
        w0 = random_ei_w0(p, rho, gamma)
    else:
        w0 = in_range("w0", w0, 0.0, np.inf)
    rng = np.random.default_rng(seed)
    m = n // 2
    mask = rng.random((n, n)) < p
    W = np.zeros((n, n))
    W[:, :m] = w0 / np.sqrt(n)
    W[:, m:] = -gamma * w0 / np.sqrt(n)
    W *= mask
    if not self_loops:
        np.fill_diagonal(W, 0.0)
    return Network(W=W, cell_types=cell_types_ei(m, m), tau=tau)

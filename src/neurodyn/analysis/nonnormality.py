"""Non-normality measures (seed 001, Methods §9.2; thesis seed 003 §1.2.3).

Normalised Henrici departure from normality (Henrici 1962; the normalised form used in seed 001 §9.2,
whose formula was lost from the text and is restored here from its reference 108)::

    d_F(A) = sqrt(||A||_F^2 - sum_i |lambda_i|^2) / ||A||_F

It is 0 exactly for normal matrices (A^T A = A A^T, whose Frobenius norm equals the root-sum-square
of the eigenvalues) and tends to 1 for maximally non-normal ones (nilpotent matrices: all eigenvalues
0, e.g. a purely feedforward chain). By Schur, ``||A||_F^2 = sum |lambda|^2 + ||N||_F^2`` with N the
strictly triangular part of the complex Schur form, so d_F is the share of the norm carried by the
feedforward part.

`max_transient_gain` is ``max_t ||exp(A t)||_2``, the largest amplification of any initial condition
(thesis Fig. 1.5 discussion); it exceeds 1 only for non-normal A.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from jaxtyping import Float

from neurodyn.validation import square_matrix

__all__ = ["henrici", "max_transient_gain", "transient_gain_curve"]


def henrici(A: Float[np.ndarray, "neurons neurons"]) -> float:
    """Normalised Henrici departure from normality, in [0, 1]."""
    A = square_matrix("A", A)
    fro2 = float(np.sum(A * A))
    if fro2 == 0.0:
        return 0.0
    lam = np.linalg.eigvals(A)
    dep2 = max(fro2 - float(np.sum(np.abs(lam) ** 2)), 0.0)
    return float(np.sqrt(dep2 / fro2))


def transient_gain_curve(A: Float[np.ndarray, "neurons neurons"], t: Float[np.ndarray, " time"]) -> Float[np.ndarray,
                         " time"]:
    """``||exp(A t_k)||_2`` for each time in ``t`` (same time units as A's inverse)."""
    A = square_matrix("A", A)
    t = np.asarray(t, dtype=float)
    steps = np.diff(t)
    if t.size > 2 and np.allclose(steps, steps[0], rtol=1e-12, atol=0.0):
        E_step = sla.expm(A * steps[0])
        E = sla.expm(A * t[0])
        out = [np.linalg.norm(E, 2)]
        for _ in range(t.size - 1):
            E = E @ E_step
            out.append(np.linalg.norm(E, 2))
        return np.array(out)
    return np.array([np.linalg.norm(sla.expm(A * tk), 2) for tk in t])


def max_transient_gain(A: Float[np.ndarray, "neurons neurons"], t_max: float, n_times: int = 200) -> tuple[float,
                       float]:
    """``(max_t ||exp(A t)||_2, argmax t)`` over a grid on [0, t_max], refined around the peak."""
    t = np.linspace(0.0, t_max, n_times)
    g = transient_gain_curve(A, t)
    k = int(np.argmax(g))
    lo, hi = t[max(k - 1, 0)], t[min(k + 1, t.size - 1)]
    tf = np.linspace(lo, hi, 41)
    gf = transient_gain_curve(A, tf)
    kf = int(np.argmax(gf))
    return float(max(gf[kf], g[k])), float(tf[kf] if gf[kf] >= g[k] else t[k])

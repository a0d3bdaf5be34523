"""Singular-value structure of Dale's-law matrices (seed 001, Methods §14).

For W obeying Dale's law (E columns >= 0, I columns <= 0), ``W W^T`` has only non-negative entries,
and ``W^T W`` has non-negative diagonal blocks (EE, II) and non-positive off-diagonal blocks (EI, IE).
Hence (Perron-Frobenius) the leading left singular vector u_1 can be chosen with all entries >= 0, an
E/I *co-activation* pattern, and the leading right singular vector v_1 with E entries >= 0 and I
entries <= 0, a *differential* pattern. With entries of size O(1/sqrt(N)), ``||W^T u_1||^2`` sums N
positive O(1) terms, so ``sigma_1 = O(sqrt(N))``: inputs along the differential pattern are amplified
by sqrt(N) along the co-activation pattern.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Bool, Float, Int

from neurodyn.validation import fail, square_matrix
from neurodyn.network import Network

__all__ = ["DaleModes", "dale_svd_modes", "sigma1_scaling_exponent"]


@dataclass(frozen=True)
class DaleModes:
    sigma1: float
    u1: Float[np.ndarray, " neurons"]  # leading left singular vector, sign chosen with sum >= 0
    v1: Float[np.ndarray, " neurons"]  # leading right singular vector, sign chosen with E part >= 0
    u1_coactivation: bool          # all entries of u1 share one sign (up to tol)
    v1_differential: bool          # E entries and I entries of v1 have opposite signs (up to tol)
    u1_same_sign_fraction: float   # share of u1's squared norm on its majority sign
    v1_differential_fraction: float  # share of v1's squared norm agreeing with the E+/I- pattern


def dale_svd_modes(W: Float[np.ndarray, "neurons neurons"] | Network,
                   is_excitatory: Bool[np.ndarray, " neurons"] | None = None,
                   tol: float = 1e-10) -> DaleModes:
    """Leading singular triplet of W and whether it has the co-activation / differential form."""
    if isinstance(W, Network):
        if is_excitatory is None:
            if W.cell_types is None:
                fail("W", W, "a Network with cell types, or is_excitatory given")
            is_excitatory = W.is_excitatory
        W = W.W
    W = square_matrix("W", W)
    if is_excitatory is None:
        fail("is_excitatory", None, "a boolean mask of excitatory neurons")
    e = np.asarray(is_excitatory, dtype=bool)
    if e.shape != (W.shape[0],):
        fail("is_excitatory", e, f"a boolean vector of length {W.shape[0]}")
    U, s, Vt = np.linalg.svd(W)
    u, v = U[:, 0], Vt[0]
    if u.sum() < 0:  # the pair (u, v) may flip sign together
        u, v = -u, -v
    scale = tol * max(1.0, float(np.max(np.abs(u))))
    u_co = bool(np.all(u >= -scale) or np.all(u <= scale))
    pattern = np.where(e, 1.0, -1.0)
    if np.dot(v, pattern) < 0:
        diff_sign = -1.0
    else:
        diff_sign = 1.0
    vs = diff_sign * v * pattern
    v_diff = bool(np.all(vs >= -tol * max(1.0, float(np.max(np.abs(v))))))
    u2 = u**2
    v2 = v**2
    return DaleModes(
        sigma1=float(s[0]), u1=u, v1=v, u1_coactivation=u_co, v1_differential=v_diff,
        u1_same_sign_fraction=float(max(u2[u > 0].sum(), u2[u < 0].sum()) / u2.sum()),
        v1_differential_fraction=float(v2[vs > 0].sum() / v2.sum()),
    )


def sigma1_scaling_exponent(sizes: Int[np.ndarray, " sizes"], sigma1: Float[np.ndarray, " sizes"]) -> float:
    """Least-squares slope of log sigma_1 against log N (seed 001 §14 predicts 1/2)."""
    sizes = np.asarray(sizes, dtype=float)
    sigma1 = np.asarray(sigma1, dtype=float)
    if sizes.shape != sigma1.shape or sizes.size < 2:
        fail("sizes", sizes, "at least two sizes matching sigma1")
    return float(np.polyfit(np.log(sizes), np.log(sigma1), 1)[0])

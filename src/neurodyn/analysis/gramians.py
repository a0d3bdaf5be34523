"""Gramians, evoked energy and preferred initial conditions (thesis, seed 003, Appendix C).

For the linear network ``tau dx/dt = A x`` with ``A = g W - I`` (eq. C.2), the observability and
controllability Gramians with the thesis' ``2/tau`` normalisation are (eqs. C.3-C.4)

    Q = (2/tau) int_0^inf e^{t A^T / tau} e^{t A / tau} dt,
    P = (2/tau) int_0^inf e^{t A / tau} e^{t A^T / tau} dt,

which solve the Lyapunov equations (eqs. C.11-C.12)

    A^T Q + Q A = -2 I,        A P + P A^T = -2 I.

(Substituting s = t / tau shows tau cancels.) The evoked energy of an initial condition is
``eps(x0) = (2/tau) int ||x(t)||^2 dt = x0^T Q x0`` (eq. C.21); it is 1 for every unit x0 when W = 0.
The preferred initial conditions a_1, a_2, ... are the eigenvectors of Q by decreasing eigenvalue
(Appendix C.2): a_k maximises eps on the unit sphere orthogonal to a_1..a_{k-1}, with eps(a_k) = the
k-th eigenvalue. For the shifted matrices of the SOC algorithm, Q(s) and P(s) solve eqs. (C.15)-(C.16)
with ``A = W - s I``; pass ``shift=s``.

Orthogonal initial conditions of equal evoked energy (used for multi-movement speed control, thesis
Appendix 6.A.1): the thesis randomly rotates the top-m eigenvectors, which makes energies only
approximately equal. `equal_energy_initial_conditions` starts from that random rotation and then
applies the Givens-rotation step of the Schur-Horn construction (Chan & Li 1983) until every diagonal
entry of ``R^T diag(lambda) R`` equals their mean exactly, so the m conditions stay orthonormal, span
the same top-m subspace, and each evokes energy ``mean(lambda_1..lambda_m)``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from jaxtyping import Float

from neurodyn.validation import fail, positive_int
from neurodyn.analysis.stability import spectral_abscissa
from neurodyn.network import Network, weight_matrix

__all__ = [
    "controllability_gramian",
    "equal_energy_initial_conditions",
    "evoked_energy",
    "observability_gramian",
    "preferred_initial_conditions",
]


def _shifted(W, gain: float, shift: float) -> np.ndarray:
    W = weight_matrix(W)
    A = gain * W - shift * np.eye(W.shape[0])
    if spectral_abscissa(A) >= 0:
        fail("W", W, f"g W - {shift:g} I to be stable (alpha(gW) = {spectral_abscissa(gain * W):.4g} "
             f">= {shift:g}); the Gramian integral diverges")
    return A


def observability_gramian(W: Float[np.ndarray, "neurons neurons"] | Network, gain: float = 1.0,
                          shift: float = 1.0) -> Float[np.ndarray, "neurons neurons"]:
    """Q solving ``A^T Q + Q A = -2 I`` with ``A = gain W - shift I`` (eqs. C.11, C.15)."""
    A = _shifted(W, gain, shift)
    Q = sla.solve_continuous_lyapunov(A.T, -2.0 * np.eye(A.shape[0]))
    return 0.5 * (Q + Q.T)


def controllability_gramian(W: Float[np.ndarray, "neurons neurons"] | Network, gain: float = 1.0,
                            shift: float = 1.0) -> Float[np.ndarray, "neurons neurons"]:
    """P solving ``A P + P A^T = -2 I`` with ``A = gain W - shift I`` (eqs. C.12, C.16)."""
    A = _shifted(W, gain, shift)
    P = sla.solve_continuous_lyapunov(A, -2.0 * np.eye(A.shape[0]))
    return 0.5 * (P + P.T)


def evoked_energy(Q: Float[np.ndarray, "neurons neurons"],
                  x0: Float[np.ndarray, "*batch neurons"]) -> Float[np.ndarray, "*batch"]:
    """``eps(x0) = x0^T Q x0`` for ``x0`` of shape ``(..., N)`` (eq. C.21)."""
    x0 = np.asarray(x0, dtype=float)
    return np.einsum("...i,ij,...j->...", x0, np.asarray(Q), x0)


def preferred_initial_conditions(W: Float[np.ndarray, "neurons neurons"] | Network, gain: float = 1.0
                                 ) -> tuple[Float[np.ndarray, " neurons"], Float[np.ndarray, "neurons neurons"]]:
    """Eigenvalues of Q (decreasing) and the unit eigenvectors ``a_k`` as columns (Appendix C.2).

    The sign of each a_k is fixed so that its largest-magnitude entry is positive (eps(a) = eps(-a)).
    """
    Q = observability_gramian(W, gain)
    lam, V = np.linalg.eigh(Q)
    lam, V = lam[::-1], V[:, ::-1]
    idx = np.argmax(np.abs(V), axis=0)
    V = V * np.sign(V[idx, np.arange(V.shape[1])])
    return lam, V


def equal_energy_initial_conditions(W: Float[np.ndarray, "neurons neurons"] | Network, m: int, seed: int = 0,
                                    gain: float = 1.0
                                    ) -> tuple[Float[np.ndarray, "neurons m"], float]:
    """``m`` orthonormal initial conditions in the top-m preferred subspace with equal evoked energy.

    Returns ``(X, energy)`` with X of shape (N, m) (columns unit norm, mutually orthogonal) and the
    common energy ``mean(lambda_1..lambda_m)``.
    """
    lam, V = preferred_initial_conditions(W, gain)
    m = positive_int("m", m, 1)
    if m > lam.size:
        fail("m", m, f"at most N={lam.size} initial conditions")
    rng = np.random.default_rng(seed)
    # thesis Appendix 6.A.1: random rotation from the QR decomposition of a N(1, 1) matrix
    R, _ = np.linalg.qr(rng.normal(1.0, 1.0, size=(m, m)))
    L = np.diag(lam[:m])
    target = float(np.mean(lam[:m]))
    for _ in range(m):  # each Givens step fixes one diagonal entry exactly
        d = np.diag(R.T @ L @ R)
        hi, lo = int(np.argmax(d)), int(np.argmin(d))
        if d[hi] - d[lo] <= 1e-12 * max(1.0, abs(target)):
            break
        M = R.T @ L @ R
        a, b, c = d[hi], d[lo], M[hi, lo]
        i, j = (hi, lo) if abs(a - target) <= abs(b - target) else (lo, hi)
        # rotate columns i, j by theta so the new d_i equals target:
        # d_i(theta) = cos^2 M_ii + sin^2 M_jj + 2 sin cos M_ij
        ai, aj, cij = M[i, i], M[j, j], c
        # solve (ai - target) cos^2 + (aj - target) sin^2 + 2 cij sin cos = 0 for t = tan(theta)
        qa, qb, qc = aj - target, 2.0 * cij, ai - target
        roots = np.roots([qa, qb, qc]) if abs(qa) > 1e-15 else np.array([-qc / qb])
        t = float(np.real(roots[np.argmin(np.abs(np.imag(roots)))]))
        cth, sth = 1.0 / np.sqrt(1 + t * t), t / np.sqrt(1 + t * t)
        Ri, Rj = R[:, i].copy(), R[:, j].copy()
        R[:, i] = cth * Ri + sth * Rj
        R[:, j] = -sth * Ri + cth * Rj
    return V[:, :m] @ R, target

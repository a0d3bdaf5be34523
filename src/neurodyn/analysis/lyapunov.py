"""Lyapunov solvers for shifted Gramians and the smoothed spectral abscissa (thesis, seed 003, App. C.1).

The stability optimisation of Appendix C.1 needs, at every iteration, the observability and
controllability Gramians of the shifted matrix ``A = W - s I`` (eqs. C.15-C.16)

    (W - s I)^T Q(s) + Q(s) (W - s I) = -2 I,        (W - s I) P(s) + P(s) (W - s I)^T = -2 I,

and the gradient of the epsilon-smoothed spectral abscissa (eqs. C.17-C.18, Vanbiervliet et al. 2009)

    d alpha~_eps / dW = Q(s) P(s) / tr[Q(s) P(s)],     evaluated at s = alpha~_eps(W),

where ``alpha~_eps(W)`` is the unique s with ``tr Q(s) = 1/eps`` (tr Q(s) decreases monotonically in s).
Derivation of (C.17), which the text states without proof: differentiating (C.15) in W gives
``dW^T Q + A^T dQ + dQ A + Q dW = 0``; multiplying by P and using (C.16),
``tr dQ = -1/2 tr(dQ (A P + P A^T)) = 1/2 tr(P (dW^T Q + Q dW)) = tr(Q P dW^T)``, so
``d tr Q / dW = Q P``; a shift ``dW = -ds I`` gives ``d tr Q / ds = -tr(Q P)``, and the implicit
function theorem on ``tr Q(W, s) = 1/eps`` yields ``d s / dW = Q P / tr(Q P)``.

Two solvers are provided.

* Shared real Schur form (SciPy / LAPACK, float64). ``W = U T U^T`` with U orthogonal and T upper
  quasi-triangular (LAPACK standard form: 2x2 blocks have equal diagonal entries, so the real parts of
  the eigenvalues are exactly ``diag(T)`` and ``alpha(W) = max diag T``). ``W - s I = U (T - s I) U^T``
  has the same Schur vectors for every shift s, so with ``Q~ = U^T Q U`` and ``P~ = U^T P U`` the two
  equations become triangular Sylvester equations (right-hand side ``U^T (-2 I) U = -2 I``)

      (T - s I)^T Q~ + Q~ (T - s I) = -2 I,      (T - s I) P~ + P~ (T - s I)^T = -2 I,

  solved by the recursive blocked Bartels-Stewart method (`solve_triangular_sylvester`: level-3 BLAS
  updates around LAPACK ``dtrsyl`` on small diagonal blocks) in O(N^3) without any N^2 x N^2 Kronecker
  system; one Schur decomposition serves the spectral abscissa, both Gramians and
  any number of shifts. ``tr(Q P) = tr(Q~ P~)`` and ``Q P = U Q~ P~ U^T``.

* Matrix-sign Newton iteration (JAX, runs on GPUs). For Hurwitz A, the sign function of the block
  matrix ``Z = [[A^T, C], [0, -A]]`` is ``[[-I, 2X], [0, I]]`` where ``A^T X + X A = -C`` (Roberts 1980;
  from ``Z sign(Z) = sign(Z) Z``, top-right block: ``A^T Y + C = -C - Y A`` with ``Y = 2X``). The
  scaled Newton iteration ``Z <- (mu Z + Z^{-1} / mu) / 2`` keeps the block form; using
  ``[[a, c], [0, -b]]^{-1} = [[a^{-1}, a^{-1} c b^{-1}], [0, -b^{-1}]]`` it reads

      A_{k+1} = (mu_k A_k + A_k^{-1} / mu_k) / 2,
      C_{k+1} = (mu_k C_k + A_k^{-T} C_k A_k^{-1} / mu_k) / 2,      X = lim C_k / 2,

  with Frobenius-norm scaling ``mu_k = sqrt(||A_k^{-1}||_F / ||A_k||_F)``. The controllability
  equation ``A P + P A^T = -C`` is the same with A^T in place of A, whose iterates are the transposes
  of A_k, so one inverse per step serves both Gramians. Stops when ``||A_k + I||_F / sqrt(N) < tol``.
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack
from scipy.optimize import brentq
from jaxtyping import Array, Float, Int

from neurodyn.validation import fail, positive, positive_int
from neurodyn.network import Network, weight_matrix

__all__ = [
    "RealSchur",
    "abscissa_from_schur",
    "gramians_from_schur",
    "real_schur",
    "shifted_gramians",
    "shifted_gramians_sign",
    "sign_gramians",
    "smoothed_spectral_abscissa",
    "smoothed_spectral_abscissa_gradient",
    "solve_triangular_sylvester",
]


class RealSchur(NamedTuple):
    """``(T, U)`` with ``W = U T U^T``: T upper quasi-triangular (LAPACK standard form), U orthogonal."""

    T: Float[np.ndarray, "neurons neurons"]
    U: Float[np.ndarray, "neurons neurons"]


def real_schur(W: Float[np.ndarray, "neurons neurons"] | Network) -> RealSchur:
    """Real Schur decomposition ``W = U T U^T`` (LAPACK ``dgees`` through SciPy)."""
    T, U = sla.schur(weight_matrix(W), output="real")
    return RealSchur(T, U)


def abscissa_from_schur(T: Float[np.ndarray, "neurons neurons"]) -> float:
    """``alpha(W) = max Re lambda = max diag T`` for a real Schur factor in LAPACK standard form."""
    return float(np.max(np.diag(np.asarray(T))))


#: Block size below which `solve_triangular_sylvester` hands a sub-problem to LAPACK ``dtrsyl``.
SYLVESTER_BLOCK = 64


def _split_point(A: np.ndarray) -> int:
    """Split index near n/2 of an upper quasi-triangular matrix that does not cut a 2x2 block."""
    n = A.shape[0]
    k = n // 2
    if A[k, k - 1] != 0.0:          # A[k-1:k+1, k-1:k+1] is a 2x2 block: keep it whole
        k = k + 1 if k + 1 < n else k - 1
    return k


def _dtrsyl(A, B, C, trans: str) -> np.ndarray:
    x, scale, info = lapack.dtrsyl(A, B, C, trana=trans[0], tranb=trans[1], isgn=1)
    if info < 0:
        raise ValueError(f"dtrsyl: argument {-info} had an illegal value")
    if info == 1:
        warnings.warn("dtrsyl: op(A) and -op(B) have close eigenvalues; Sylvester solution perturbed",
                      RuntimeWarning, stacklevel=4)
    return x / scale


def _rec_sylvester(A, B, C, trans: str, nb: int) -> np.ndarray:
    m, n = C.shape
    if (m <= nb and n <= nb) or (m < 3 and n < 3):
        return _dtrsyl(A, B, C, trans)
    if m >= n:                              # split the rows of X along A's diagonal blocks
        k = _split_point(A)
        A11, A12, A22 = A[:k, :k], A[:k, k:], A[k:, k:]
        if trans == "TN":                   # A^T lower: solve the first row block first
            X1 = _rec_sylvester(A11, B, C[:k], trans, nb)
            X2 = _rec_sylvester(A22, B, C[k:] - A12.T @ X1, trans, nb)
        else:                               # A upper: solve the last row block first
            X2 = _rec_sylvester(A22, B, C[k:], trans, nb)
            X1 = _rec_sylvester(A11, B, C[:k] - A12 @ X2, trans, nb)
        return np.vstack([X1, X2])
    k = _split_point(B)                     # split the columns of X along B's diagonal blocks
    B11, B12, B22 = B[:k, :k], B[:k, k:], B[k:, k:]
    if trans == "TN":
        X1 = _rec_sylvester(A, B11, C[:, :k], trans, nb)
        X2 = _rec_sylvester(A, B22, C[:, k:] - X1 @ B12, trans, nb)
    else:
        X2 = _rec_sylvester(A, B22, C[:, k:], trans, nb)
        X1 = _rec_sylvester(A, B11, C[:, :k] - X2 @ B12.T, trans, nb)
    return np.hstack([X1, X2])


def solve_triangular_sylvester(A: Float[np.ndarray, "m m"], B: Float[np.ndarray, "n n"], C: Float[np.ndarray, "m n"],
                               trans: str = "TN", *, block: int = SYLVESTER_BLOCK) -> Float[np.ndarray, "m n"]:
    """Solve ``A^T X + X B = C`` (``trans="TN"``) or ``A X + X B^T = C`` (``trans="NT"``).

    A (m x m) and B (n x n) are upper quasi-triangular real Schur factors (LAPACK standard form). This is
    the recursive blocked Bartels-Stewart method (Jonsson & Kagstrom 2002, RECSY): split the larger of
    the two dimensions at a point that does not cut a 2x2 diagonal block, e.g. for ``"TN"`` and
    ``A = [[A11, A12], [0, A22]]``, ``X = [X1; X2]``,

        A11^T X1 + X1 B = C1,                 A22^T X2 + X2 B = C2 - A12^T X1,

    and for ``B = [[B11, B12], [0, B22]]``, ``X = [X1, X2]``,

        A^T X1 + X1 B11 = C1,                 A^T X2 + X2 B22 = C2 - X1 B12

    (for ``"NT"`` the second blocks are solved first: ``A22 X2 + X2 B^T = C2``,
    ``A11 X1 + X1 B^T = C1 - A12 X2``; ``A X2 + X2 B22^T = C2``, ``A X1 + X1 B11^T = C1 - X2 B12^T``).
    Sub-problems of at most ``block`` rows and columns go to LAPACK ``dtrsyl``. The flop count is the
    same O(m^2 n + m n^2) as ``dtrsyl`` alone, but almost all of it is matrix-matrix products (level-3
    BLAS) instead of ``dtrsyl``'s vector operations: about 4x faster at N = 1000 on one core (see
    ``benchmarks/bench_soc.py``). Used for the shifted Gramians of thesis Appendix C.1 (C.15-C.16).
    """
    if trans not in ("TN", "NT"):
        fail("trans", trans, "'TN' (A^T X + X B = C) or 'NT' (A X + X B^T = C)")
    block = positive_int("block", block, 2)
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    C = np.asarray(C, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or B.ndim != 2 or B.shape[0] != B.shape[1]:
        fail("A", A.shape, "square quasi-triangular A and B")
    if C.shape != (A.shape[0], B.shape[0]):
        fail("C", C.shape, f"shape {(A.shape[0], B.shape[0])} (rows of A by rows of B)")
    return _rec_sylvester(A, B, C, trans, block)


def _trsyl(a: np.ndarray, trana: str, tranb: str, rhs: np.ndarray) -> np.ndarray:
    return _rec_sylvester(a, a, rhs, trana + tranb, SYLVESTER_BLOCK)


def gramians_from_schur(T: Float[np.ndarray, "neurons neurons"],
                        s: float) -> tuple[Float[np.ndarray, "neurons neurons"], Float[np.ndarray, "neurons neurons"]]:
    """``(Q~, P~)`` in the Schur basis for the shift s: ``Q = U Q~ U^T``, ``P = U P~ U^T`` (eqs. C.15-C.16).

    ``T`` is the quasi-triangular factor of ``W = U T U^T``; needs ``s > alpha(W)`` (= max diag T).
    """
    T = np.asarray(T, dtype=float)
    alpha = abscissa_from_schur(T)
    if not s > alpha:
        fail("s", s, f"a shift above the spectral abscissa alpha(W)={alpha:.6g} (W - sI must be stable)")
    Ts = np.array(T - s * np.eye(T.shape[0]), order="F")
    rhs = -2.0 * np.eye(T.shape[0])
    Qt = _trsyl(Ts, "T", "N", rhs)  # (T - sI)^T Q~ + Q~ (T - sI) = -2 I
    Pt = _trsyl(Ts, "N", "T", rhs)  # (T - sI) P~ + P~ (T - sI)^T = -2 I
    return 0.5 * (Qt + Qt.T), 0.5 * (Pt + Pt.T)


def shifted_gramians(W: Float[np.ndarray, "neurons neurons"] | Network, s: float, *, schur: RealSchur | None = None
                     ) -> tuple[Float[np.ndarray, "neurons neurons"], Float[np.ndarray, "neurons neurons"]]:
    """Observability Q(s) and controllability P(s) Gramians of ``W - s I`` (thesis eqs. C.15-C.16).

    One real Schur decomposition of W (pass ``schur=real_schur(W)`` to reuse it across shifts) and two
    triangular Sylvester solves; see the module docstring.
    """
    T, U = real_schur(W) if schur is None else schur
    Qt, Pt = gramians_from_schur(T, float(s))
    return U @ Qt @ U.T, U @ Pt @ U.T


def _trace_q(T: np.ndarray, s: float) -> float:
    Ts = np.array(T - s * np.eye(T.shape[0]), order="F")
    return float(np.trace(_trsyl(Ts, "T", "N", -2.0 * np.eye(T.shape[0]))))


def smoothed_spectral_abscissa(W: Float[np.ndarray, "neurons neurons"] | Network, eps: float, *,
                               schur: RealSchur | None = None,
                               xtol: float = 1e-14) -> float:
    """The eps-smoothed spectral abscissa: the unique s > alpha(W) with ``tr Q(s) = 1/eps`` (App. C.1).

    With the thesis' normalisation (C.15, right-hand side -2I), ``tr Q(s) -> inf`` as s -> alpha(W)+
    and ``tr Q(s) ~ N / (s - c)`` for large s, so the root is bracketed and found by Brent's method;
    every evaluation reuses one Schur decomposition.
    """
    eps = positive("eps", eps)
    T, _ = real_schur(W) if schur is None else schur
    alpha = abscissa_from_schur(T)
    target = 1.0 / eps

    def f(s):
        return _trace_q(T, s) - target

    scale = max(1.0, float(np.max(np.abs(np.diag(T)))))
    lo = alpha + 1e-9 * scale
    while f(lo) < 0:
        lo = alpha + (lo - alpha) * 1e-3
        if lo - alpha < 1e-15 * scale:
            fail("eps", eps, "a value for which tr Q(s) = 1/eps has a root above alpha(W)")
    hi = alpha + scale
    while f(hi) > 0:
        hi = alpha + 2.0 * (hi - alpha)
    return float(brentq(f, lo, hi, xtol=xtol, rtol=4 * np.finfo(float).eps, maxiter=500))


def smoothed_spectral_abscissa_gradient(W: Float[np.ndarray, "neurons neurons"] | Network, s: float, *,
                                        schur: RealSchur | None = None
                                        ) -> Float[np.ndarray, "neurons neurons"]:
    """``Q(s) P(s) / tr[Q(s) P(s)]`` (thesis eqs. C.17-C.18): the gradient of alpha~_eps at s = alpha~_eps."""
    T, U = real_schur(W) if schur is None else schur
    Qt, Pt = gramians_from_schur(T, float(s))
    QP = Qt @ Pt
    return (U @ QP @ U.T) / np.trace(QP)


# ---- JAX: matrix-sign Newton iteration ----------------------------------------------------------

@partial(jax.jit, static_argnames=("max_iter",))
def sign_gramians(A: Float[Array, "neurons neurons"], tol: float, max_iter: int
                  ) -> tuple[Float[Array, "neurons neurons"], Float[Array, "neurons neurons"], Int[Array, ""],
                             Float[Array, ""]]:
    """Both Gramians of a stable ``A`` by the scaled matrix-sign Newton iteration (Roberts 1980; Benner,
    Quintana-Orti & Quintana-Orti 1999), in JAX (jit-compiled; ``max_iter`` is static).

    With ``A_0 = A``, ``C_0 = 2 I`` for both equations and ``mu_k = sqrt(||A_k^{-1}||_F / ||A_k||_F)``:

        A_{k+1} = (mu_k A_k + A_k^{-1} / mu_k) / 2                  -> sign(A) = -I,
        CQ_{k+1} = (mu_k CQ_k + A_k^{-T} CQ_k A_k^{-1} / mu_k) / 2    -> 2 Q,  A^T Q + Q A = -2 I  (C.15),
        CP_{k+1} = (mu_k CP_k + A_k^{-1} CP_k A_k^{-T} / mu_k) / 2    -> 2 P,  A P + P A^T = -2 I  (C.16),

    stopped one step after ``||A_k + I||_F / sqrt(N) <= tol`` (quadratic convergence then reaches
    machine precision) or at ``max_iter``. Returns ``(Q, P, k, err)``: the symmetrised Gramians, the
    steps taken and the last error (`shifted_gramians_sign` checks it).
    """
    n = A.shape[0]
    eye = jnp.eye(n, dtype=A.dtype)

    def cond(state):  # one more step after reaching tol (quadratic convergence -> machine precision)
        k, _, _, _, _, err_prev = state
        return (k < max_iter) & (err_prev > tol)

    def body(state):
        k, Ak, CQ, CP, err_prev, _ = state
        Ainv = jnp.linalg.inv(Ak)
        mu = jnp.sqrt(jnp.linalg.norm(Ainv) / jnp.linalg.norm(Ak))
        CQ = 0.5 * (mu * CQ + (Ainv.T @ CQ @ Ainv) / mu)  # A^T Q + Q A = -C
        CP = 0.5 * (mu * CP + (Ainv @ CP @ Ainv.T) / mu)  # A P + P A^T = -C
        Ak = 0.5 * (mu * Ak + Ainv / mu)
        err = jnp.linalg.norm(Ak + eye) / jnp.sqrt(n)
        return k + 1, Ak, CQ, CP, err, err_prev

    rhs = 2.0 * eye
    inf = jnp.asarray(jnp.inf, dtype=A.dtype)
    state = (jnp.asarray(0), A, rhs, rhs, inf, inf)
    k, _, CQ, CP, err, _ = jax.lax.while_loop(cond, body, state)
    Q, P = 0.5 * CQ, 0.5 * CP
    return 0.5 * (Q + Q.T), 0.5 * (P + P.T), k, err


def shifted_gramians_sign(W: Float[Array, "neurons neurons"] | Network, s: float, *, tol: float = 1e-12,
                          max_iter: int = 100) -> tuple[Float[Array, "neurons neurons"],
                          Float[Array, "neurons neurons"]]:
    """Q(s), P(s) of ``W - s I`` (eqs. C.15-C.16) by the matrix-sign Newton iteration in JAX.

    Runs on JAX's default device (GPU when available). Returns ``(Q, P)`` as JAX arrays; raises if the
    iteration does not converge (``W - s I`` not stable, or ``max_iter`` too small).
    """
    W = jnp.asarray(W.W if isinstance(W, Network) else W)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        fail("W", W, "a square (N x N) matrix")
    positive("tol", tol)
    max_iter = positive_int("max_iter", max_iter)
    A = W - s * jnp.eye(W.shape[0], dtype=W.dtype)
    Q, P, k, err = sign_gramians(A, tol, max_iter)
    if not bool(jnp.isfinite(err)) or float(err) > tol:
        fail("s", s, f"a shift with W - sI stable: the sign iteration did not converge in {int(k)} steps "
                     f"(||A_k + I||/sqrt(N) = {float(err):.3g})")
    return Q, P

"""ERAASR2 steps 3-4 (seed 001 Methods §3.2; the equations are in `neurodyn.preprocess.eraasr`): the
artifact subspace as the exact trace-ratio optimum on the Stiefel manifold,

    U_art = argmax_{U in V_K}  tr(U^T A U) / tr(U^T B U),   B = (1 - lambda) I + lambda S / s̄,

solved by the Newton / Krylov iteration of Ngo, Bellalij & Saad (2012), and the completion of
possibly-saturated samples under a rank-K PCA model of the window (missing-data PCA by EM, Roweis 1998).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from jaxtyping import Bool, Float

from neurodyn.validation import fail, in_range, positive_int

__all__ = ["artifact_subspace", "complete_window", "masked_lstsq", "top_eigenvectors", "trace_ratio"]


def trace_ratio(U: Float[np.ndarray, "channels k"], A: Float[np.ndarray, "channels channels"],
                B: Float[np.ndarray, "channels channels"]) -> float:
    """``tr(U^T A U) / tr(U^T B U)``."""
    return float(np.trace(U.T @ A @ U) / np.trace(U.T @ B @ U))


def top_eigenvectors(M: Float[np.ndarray, "n n"], k: int) -> Float[np.ndarray, "n k"]:
    """Eigenvectors of the ``k`` largest eigenvalues of the symmetric ``M`` (ascending order, LAPACK)."""
    c = M.shape[0]
    return scipy.linalg.eigh(M, subset_by_index=[c - k, c - 1])[1]


def artifact_subspace(sigma_art: Float[np.ndarray, "channels channels"],
                      sigma_spont: Float[np.ndarray, "channels channels"], k: int, lam: float = 0.05, *,
                      tol: float = 1e-12, max_iter: int = 200) -> tuple[Float[np.ndarray, "channels k"], float]:
    """Orthonormal ``U_art`` (n_ch x K) maximising the ERAASR2 trace ratio (module docstring, step 3).

    Returns ``(U, rho)`` with rho the optimal ratio ``tr(U^T A U) / tr(U^T B U)``.
    """
    A = np.asarray(sigma_art, dtype=float)
    S = np.asarray(sigma_spont, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        fail("sigma_art", A, "a square (channels x channels) covariance")
    if S.shape != A.shape:
        fail("sigma_spont", S, f"a {A.shape} covariance like sigma_art")
    c = A.shape[0]
    k = positive_int("k", k)
    if k >= c:
        fail("k", k, f"an integer < number of channels {c}")
    lam = in_range("lam", lam, 0.0, 1.0, hi_open=True)
    A = 0.5 * (A + A.T)
    sbar = np.trace(S) / c
    if not sbar > 0:
        fail("sigma_spont", S, "a covariance with positive trace")
    B = (1.0 - lam) * np.eye(c) + lam * 0.5 * (S + S.T) / sbar
    U = top_eigenvectors(A, k)
    rho = trace_ratio(U, A, B)
    for _ in range(max_iter):
        U = top_eigenvectors(A - rho * B, k)
        new = trace_ratio(U, A, B)
        if abs(new - rho) <= tol * max(abs(rho), 1.0):
            rho = new
            break
        rho = new
    return U, rho


def masked_lstsq(M: Float[np.ndarray, "n k"], Y: Float[np.ndarray, "n j"], W: Float[np.ndarray, "n j"]
                 ) -> Float[np.ndarray, "j k"]:
    """Per column j of ``Y`` (n x J): ``argmin_b sum_i W_ij (Y_ij - M_i b)^2`` for ``M`` (n x K) and
    0/1 weights ``W`` (n x J), all columns at once from the K x K normal equations. Returns (J, K)."""
    n, k = M.shape
    outer = (M[:, :, None] * M[:, None, :]).reshape(n, k * k)
    G = (W.T @ outer).reshape(-1, k, k)
    r = (W * Y).T @ M
    # a relative ridge of 1e-12 keeps columns with too few samples solvable; callers discard them
    ridge = 1e-12 * np.maximum(np.trace(G, axis1=1, axis2=2), 1e-300) / k
    G[:, np.arange(k), np.arange(k)] += ridge[:, None]
    return np.linalg.solve(G, r[:, :, None])[:, :, 0]


def complete_window(x: Float[np.ndarray, "time channels"], marked: Bool[np.ndarray, "time channels"], k: int,
                    n_impute: int = 2,
                    usable: Bool[np.ndarray, " time"] | None = None) -> Float[np.ndarray, "time channels"]:
    """Replace marked entries of ``x`` (T x n_ch) by their values under a rank-``k`` PCA model fitted
    with the marked entries missing (EM, Roweis 1998; module docstring, step 4).

    The principal axes are estimated on the ``usable`` rows (default: all); every row with marked
    entries and at least ``2 k`` unmarked channels is completed (rows with fewer are left as they are).
    """
    x = np.asarray(x, dtype=float)
    marked = np.asarray(marked, bool)
    k = positive_int("k", k)
    n_impute = positive_int("n_impute", n_impute, 0)
    usable = np.ones(x.shape[0], bool) if usable is None else np.asarray(usable, bool)
    full = ~marked.any(1)
    rows = np.flatnonzero(marked.any(1) & ((~marked).sum(1) >= 2 * k))
    xi = x.copy()
    if rows.size == 0 or n_impute == 0:
        return xi
    # start from the unmarked time points (or, if there are too few, from the usable rows with the
    # marked entries at the baseline)
    fit_rows = usable & ((~marked).sum(1) >= 2 * k)
    base = x[full] if full.sum() > 2 * k else np.where(marked, 0.0, x)[fit_rows]
    V = top_eigenvectors(base.T @ base, k)
    ok = (~marked[rows]).astype(float)
    for _ in range(n_impute):
        w = masked_lstsq(V, x[rows].T, ok.T)  # (rows, k)
        xi[rows] = np.where(marked[rows], w @ V.T, x[rows])
        xu = xi[fit_rows]
        V = top_eigenvectors(xu.T @ xu, k)
    return xi


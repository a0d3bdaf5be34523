"""Stability safeguard of the E/I subspace network's W update (seed 001 Methods §10.4, §11; derived here).

The bound ``max_spectral_radius`` of `EISubspaceNetwork` (default 0.99 per step; None disables it). §11 tests the
fitted network by letting it "evolve forward in time without noise" and finds fast decay after
stimulation, which presumes stable dynamics; unconstrained maximum likelihood on short trial-averaged
PSTHs can instead return a slightly expanding task mode (the bundled M1 data give ``rho(A) ~ 1.015`` per
10-ms bin), so that forward predictions and stimulation responses drift. The text states no such bound;
it is added here, derived from the constraints so that none of them is given up:

* Eigenvalues of A are eigenvalues of W. If ``y^T A = lambda y^T`` then, with ``J W = A J``
  (self-containment), ``(J^T y)^T W = y^T A J = lambda (J^T y)^T``: ``J^T y`` is a left eigenvector of W.
  Bounding ``rho(A)`` bounds the task-space part of W's spectrum (the rest is the random E/I bulk,
  ``~0.85`` from the initialisation).
* After each W update, if ``rho(A) > r``, the target ``A_c`` = A with its offending eigenvalues moved
  radially onto the circle of radius r (`clip_spectral_radius`; eigenvectors kept, only those modes
  change) is added to the data term as a proximity penalty in the data metric,
  ``mu/2 tr(Q^{-1} (A - A_c) P (A - A_c)^T)`` (``stability_weight`` mu = 10). Expanding (P, Q symmetric,
  trace cyclic), data term plus penalty is, up to a constant, ``1/2 tr(Q^{-1}(A P' A^T - 2 M' A^T))`` with
  ``P' = (1 + mu) P`` and ``M' = M + mu A_c P``: the data term of `fit_w` with new P and M. One more call
  of the same bounded solver with these and the penalty weights multiplied by ``1 + mu`` (to keep their
  weight relative to the data term) performs it, keeping Dale's signs, the mask and the penalties.
* Then the exact shrink ``W <- c W``, ``c = min(1, r / rho(J W J^+))`` (`shrink_to_radius`) guarantees the
  bound: ``A(cW) = c A``, Dale signs and the mask are kept (c > 0), balance is kept (``cW 1 = c W 1``) and the
  relative self-containment residual is unchanged.
* The initial match to the LDS uses ``A_c`` of the LDS's A as its target, followed by the same shrink.

`stabilised_w` performs the two steps after a W update.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Bool, Float

from neurodyn.models.ei_subspace.w_solver import fit_w
from neurodyn.validation import finite_array, positive

__all__ = ["clip_spectral_radius", "shrink_to_radius", "stabilised_w"]


def clip_spectral_radius(A: Float[np.ndarray, "latents latents"], max_radius: float
                         ) -> Float[np.ndarray, "latents latents"]:
    """Real matrix with A's eigenvectors whose eigenvalues of modulus above ``max_radius`` are moved
    radially onto the circle of that radius: ``A_c = V diag(lambda_k min(1, r / |lambda_k|)) V^{-1}``.

    Conjugate pairs move together, so ``A_c`` is real; eigenvalues inside the disc and all eigenvectors are
    kept, hence ``A_c - A = sum_k (lambda'_k - lambda_k) v_k w_k^T`` only touches the offending modes
    (``w_k``: left eigenvectors, ``W^T V = I``). Used as the target of the stabilised W update of
    `EISubspaceNetwork` (seed 001 §10.4, §11).
    """
    A = finite_array("A", A, ndim=2)
    r = positive("max_radius", max_radius)
    lam, V = np.linalg.eig(A)
    a = np.abs(lam)
    if np.all(a <= r):
        return A.copy()
    lam_c = np.where(a > r, lam * (r / np.maximum(a, 1e-300)), lam)
    Ac = V @ np.diag(lam_c) @ np.linalg.inv(V)
    return np.real(Ac)


def shrink_to_radius(W: Float[np.ndarray, "neurons neurons"], J: Float[np.ndarray, "latents neurons"],
                     max_radius: float, J_pinv: Float[np.ndarray, "neurons latents"] | None = None
                     ) -> tuple[Float[np.ndarray, "neurons neurons"], float]:
    """``(c W, c)`` with ``c = min(1, r / rho(J W J^+))``: the task dynamics ``A = J W J^+`` scaled into the
    disc of radius ``r`` (seed 001 §10.1 constraints kept exactly).

    Scaling by ``c > 0`` keeps every constraint of §10.1: Dale signs and the sparsity mask (entrywise
    positive factor), balance (``(cW) 1 = c W 1``: a zero row sum stays zero), and self-containment
    (``J (cW)(I - J^+ J) = c J W (I - J^+ J)``, so the relative residual is unchanged), while
    ``A(cW) = c A(W)`` has spectral radius ``c rho(A)``.
    """
    W = np.asarray(W, float)
    J = np.asarray(J, float)
    r = positive("max_radius", max_radius)
    Jp = np.linalg.pinv(J) if J_pinv is None else np.asarray(J_pinv, float)
    rho = float(np.max(np.abs(np.linalg.eigvals(J @ W @ Jp))))
    c = min(1.0, r / rho) if rho > 0 else 1.0
    return (W * c if c < 1.0 else W), c


def stabilised_w(W: Float[np.ndarray, "neurons neurons"], mask: Bool[np.ndarray, "neurons neurons"],
                 is_excitatory: Bool[np.ndarray, "neurons"], J: Float[np.ndarray, "latents neurons"],
                 J_pinv: Float[np.ndarray, "neurons latents"], P: Float[np.ndarray, "latents latents"],
                 M: Float[np.ndarray, "latents latents"], Qinv: Float[np.ndarray, "latents latents"], eps: float,
                 beta: float, max_radius: float, *, weight: float = 10.0, max_iter: int = 200
                 ) -> tuple[Float[np.ndarray, "neurons neurons"], float, bool]:
    """The safeguard after a W update (module docstring): clipped-eigenvalue target, then the exact shrink.

    If ``rho(J W J^+) <= max_radius`` W is returned unchanged. Otherwise `fit_w` is called again from W with
    ``P' = (1 + mu) P``, ``M' = M + mu A_c P`` (``A_c`` = `clip_spectral_radius` of ``A = J W J^+``,
    ``mu = weight``) and the penalty weights ``eps, beta`` times ``1 + mu``, and the result is scaled by
    `shrink_to_radius`. Returns ``(W, c, active)``: the stabilised W, the shrink factor applied last and
    whether the bound was exceeded by the update.
    """
    A = J @ W @ J_pinv
    if np.max(np.abs(np.linalg.eigvals(A))) <= max_radius:
        return W, 1.0, False
    mu = float(weight)
    Ac = clip_spectral_radius(A, max_radius)
    W = fit_w(W, mask, is_excitatory, J, (1.0 + mu) * P, M + mu * Ac @ P, Qinv, (1.0 + mu) * eps,
              (1.0 + mu) * beta, max_iter=max_iter)
    W, c = shrink_to_radius(W, J, max_radius, J_pinv)
    return W, c, True

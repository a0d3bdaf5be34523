"""Spatiotemporal stimulation designs through the input-restricted controllability Gramian (seed 000).

Seed 000 asks for "spatiotemporal patterns that activate the circuit 'within-manifold'": time-varying
inputs ``u_t = B v_t`` during the window, designed by standard minimum-energy control (Kalman) on the
`LinearResponseModel` restricted to the actuator's input directions (`spatiotemporal_design`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

from neurodyn.perturb.design.feasible import FeasibleSet
from neurodyn.perturb.design.response import LinearResponseModel
from neurodyn.validation import fail, finite_array, positive_int

__all__ = ["SpatiotemporalDesign", "spatiotemporal_design"]


@dataclass(frozen=True)
class SpatiotemporalDesign:
    """Input-restricted Gramian design: ``gramian`` (K x K), its eigenvalues (descending) and the
    spatiotemporal input ``inputs`` (n_on, N) of unit energy ``sum_t ||u_t||^2 = 1`` along the top one, or
    the least-energy input reaching ``x_target`` (then ``energy`` is its energy)."""

    gramian: Float[np.ndarray, "latents latents"]
    eigenvalues: Float[np.ndarray, "latents"]
    inputs: Float[np.ndarray, "time neurons"]
    energy: float


def spatiotemporal_design(model: LinearResponseModel, n_on: int, feasible: FeasibleSet | None = None, *,
                          target: Float[np.ndarray, "latents neurons"] | None = None,
                          x_target: Float[np.ndarray, "latents"] | None = None) -> SpatiotemporalDesign:
    """Time-varying inputs ``u_t = B v_t`` (t = 0..n_on-1) through the input-restricted controllability Gramian.

    The displacement of ``x = R nu`` (``R`` = ``target``, default Q^T) at the end of the window is
    ``x(n_on) = sum_t R F^{n_on-1-t} Gamma B v_t``, so the finite-horizon Gramian restricted to the
    actuator's input directions and projected on the target space is

        W_R = sum_{k=0}^{n_on-1} (R F^k Gamma B)(R F^k Gamma B)^T            (K x K).

    Standard minimum-energy control (Kalman): the largest displacement per unit input energy
    ``sum_t ||v_t||^2`` is ``sqrt(lambda_max(W_R))``, attained by ``v_t = (R F^{n_on-1-t} Gamma B)^T e /
    sqrt(lambda_max)`` (e: top eigenvector), and the least energy reaching ``x*`` is ``x*^T W_R^{-1} x*``
    with ``v_t = (R F^{n_on-1-t} Gamma B)^T W_R^{-1} x*``. Bounds and signs are not imposed here (the
    static designers handle them); the feasible set only restricts the input directions (B).
    """
    n_on = positive_int("n_on", n_on)
    R = model.basis.T if target is None else finite_array("target", target, ndim=2)
    Bm = np.eye(model.n) if feasible is None else feasible.B
    blocks = []
    cur = R
    for _ in range(n_on):
        op = cur if model.Gamma is None else cur @ model.Gamma
        blocks.append(op @ Bm)
        cur = cur @ model.F
    blocks = blocks[::-1]                       # blocks[t] = R F^{n_on-1-t} Gamma B
    Wg = sum(b @ b.T for b in blocks)
    Wg = 0.5 * (Wg + Wg.T)
    lam, V = np.linalg.eigh(Wg)
    lam, V = lam[::-1], V[:, ::-1]
    if x_target is None:
        e = V[:, 0]
        V_t = np.stack([b.T @ e for b in blocks]) / np.sqrt(max(lam[0], 1e-300))
        energy = 1.0
    else:
        x = finite_array("x_target", x_target, ndim=1)
        if x.size != Wg.shape[0]:
            fail("x_target", x, f"{Wg.shape[0]} target coordinates")
        y = np.linalg.solve(Wg, x)
        V_t = np.stack([b.T @ y for b in blocks])
        energy = float(x @ y)
    return SpatiotemporalDesign(Wg, lam, V_t @ Bm.T, energy)

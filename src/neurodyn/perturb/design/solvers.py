"""The two convex solvers behind the static designs (derivations in each docstring).

* `maximize_linear`: ``argmax c^T v`` over a feasible set and a norm ball, a second-order-cone programme
  with a closed form for selection sets (the inner step of `maximize_subspace_effect`);
* `bounded_least_squares`: ``min ||P v - p||^2`` s.t. ``E v = e``, ``lo <= v <= hi``, a convex QP solved by
  the method of multipliers over bounded least squares (`minimize_subspace_effect`, `reach_state`).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float
from scipy.optimize import lsq_linear, minimize

from neurodyn.perturb.design.feasible import FeasibleSet

__all__ = ["bounded_least_squares", "maximize_linear"]


def maximize_linear(c: Float[np.ndarray, "inputs"], fs: FeasibleSet, norm: float) -> Float[np.ndarray, "inputs"]:
    """``argmax c^T v`` s.t. ``lo <= v <= hi``, ``||B v|| <= norm``, at most ``max_active`` non-zeros.

    Selection sets (``||B v|| = ||v||``), derivation: the Lagrangian ``-c^T v + mu/2 (||v||^2 - norm^2)``
    separates over controls, and the minimiser of ``-c_i v_i + mu/2 v_i^2`` on ``[lo_i, hi_i]`` is
    ``v_i = clip(c_i / mu, lo_i, hi_i)``; with ``t = 1/mu``, ``||v(t)||^2`` is increasing and piecewise
    quadratic between the saturation points ``t_i = bound_i / c_i``, so sorting them and solving
    ``t^2 sum_unsat c_i^2 + sum_sat bound_i^2 = norm^2`` on the right piece gives t exactly in
    O(m log m) (``mu = 0`` when the saturated pattern already has norm <= ``norm``). This is the exact
    solution of the SOCP. Cardinality: with equal bounds, an exchange argument shows that the
    optimal support is the ``max_active`` controls of largest usable coefficient
    ``max(c_i [hi_i > 0], -c_i [lo_i < 0])`` (exact); with unequal bounds the same rule is a greedy choice.
    Other input maps (electrode kernels): SLSQP on the same SOCP (smooth, m small).
    """
    m = c.size
    lo, hi = fs.lo.copy(), fs.hi.copy()
    if fs.max_active is not None and fs.max_active < m:
        score = np.maximum(np.where(hi > 0, c, -np.inf), np.where(lo < 0, -c, -np.inf))
        keep = np.argsort(-score)[:fs.max_active]
        drop = np.ones(m, bool)
        drop[keep] = False
        lo[drop], hi[drop] = 0.0, 0.0
    if fs.is_selection:
        sat = np.where(c > 0, hi, np.where(c < 0, lo, 0.0))
        if np.all(np.isfinite(sat)) and np.linalg.norm(sat) <= norm:
            return sat
        # breakpoints t_i = bound_i / c_i where control i saturates; between breakpoints
        # ||v(t)||^2 = t^2 sum_{unsaturated} c_i^2 + sum_{saturated} bound_i^2: walk them in order
        live = (c != 0) & (sat != 0)
        if not live.any():
            return np.zeros(m)
        idx = np.flatnonzero(live)
        tb = sat[idx] / c[idx]
        order = np.argsort(tb)
        tb, idx = tb[order], idx[order]
        S_u = float(np.sum(c[idx] ** 2))
        S_s = 0.0
        t_lo = 0.0
        t = None
        for j in range(idx.size + 1):
            t_hi = tb[j] if j < idx.size else np.inf
            if S_u > 0:
                cand = np.sqrt(max(norm ** 2 - S_s, 0.0) / S_u)
                if t_lo <= cand <= t_hi:
                    t = cand
                    break
            if j < idx.size:
                S_u -= c[idx[j]] ** 2
                S_s += sat[idx[j]] ** 2
                t_lo = t_hi
        if t is None:                       # every live control saturated below the norm
            return sat
        v = np.clip(c * t, lo, hi)
        nv = np.linalg.norm(v)
        return v * (norm / nv) if nv > norm else v
    # general input map: SLSQP on the (convex) SOCP
    Mb = fs.B.T @ fs.B
    x0 = np.clip(np.linalg.lstsq(Mb + 1e-12 * np.trace(Mb) * np.eye(m), c, rcond=None)[0], lo, hi)
    nx = np.sqrt(max(x0 @ Mb @ x0, 1e-300))
    x0 = x0 * (0.5 * norm / nx) if nx > 0 else x0
    res = minimize(lambda v: -c @ v, x0, jac=lambda v: -c, method="SLSQP",
                   bounds=list(zip(np.where(np.isinf(lo), None, lo), np.where(np.isinf(hi), None, hi))),
                   constraints=[{"type": "ineq", "fun": lambda v: norm ** 2 - v @ Mb @ v,
                                 "jac": lambda v: -2.0 * Mb @ v}],
                   options={"maxiter": 500, "ftol": 1e-12})
    return np.clip(res.x, lo, hi)


def bounded_least_squares(P: Float[np.ndarray, "_ inputs"], p: Float[np.ndarray, "_"],
                          E: Float[np.ndarray, "latents inputs"], e: Float[np.ndarray, "latents"],
                          lo: Float[np.ndarray, "inputs"], hi: Float[np.ndarray, "inputs"], *,
                          rho: float | None = None, max_outer: int = 60,
                          tol: float = 1e-10) -> tuple[Float[np.ndarray, "inputs"], float]:
    """``min ||P v - p||^2`` s.t. ``E v = e``, ``lo <= v <= hi`` (convex QP) by the method of multipliers.

    Each inner problem ``min ||P v - p||^2 + rho ||E v - e + lambda / rho||^2`` over the box is a bounded
    least-squares problem (`scipy.optimize.lsq_linear`, bounded-variable least squares, an active-set
    method); the multipliers are updated by ``lambda <- lambda + rho (E v - e)`` (Hestenes-Powell), which
    converges to the KKT point of the QP for any fixed rho > 0 when the constraints are feasible. Controls
    pinned by ``lo == hi`` are eliminated first. Returns ``(v, residual ||E v - e||)``.
    """
    lo = np.asarray(lo, float)
    hi = np.asarray(hi, float)
    fixed = lo >= hi                     # controls pinned to a value (e.g. outside the allowed support)
    if fixed.any():
        vf = np.where(fixed, lo, 0.0)
        v_free, res = bounded_least_squares(P[:, ~fixed], p - P @ vf, E[:, ~fixed], e - E @ vf, lo[~fixed],
                                            hi[~fixed], rho=rho, max_outer=max_outer, tol=tol)
        out = vf.copy()
        out[~fixed] = v_free
        return out, res
    # equivalent constraint with orthonormal rows, E = U S V^T  ->  V^T v = S^{-1} U^T e: the multiplier
    # iteration then converges at the same rate in every constrained direction (E is often ill-conditioned:
    # slow and fast task modes are amplified very differently by the window operator)
    Uu, S, Vt = np.linalg.svd(E, full_matrices=False)
    keep = S > 1e-12 * S[0]
    e_full = e
    E, e = Vt[keep], (Uu[:, keep].T @ e) / S[keep]
    E_orig = Uu[:, keep] * S[keep] @ Vt[keep]
    if rho is None:
        rho = 10.0 * max(np.linalg.norm(P, 2) ** 2, 1e-12)
    lam = np.zeros(E.shape[0])
    sr = np.sqrt(rho)
    v = np.clip(np.zeros(P.shape[1]), lo, hi)
    # residual scale: the target norm, or ||E|| times the size of the unconstrained solution
    scale = max(np.linalg.norm(e_full), S[0] * np.linalg.norm(p) / max(np.linalg.norm(P, 2), 1e-300))
    res_norm = np.inf
    for _ in range(max_outer):
        A = np.vstack([P, sr * E])
        b = np.concatenate([p, sr * (e - lam / rho)])
        v = lsq_linear(A, b, bounds=(lo, hi), method="bvls", tol=1e-13, max_iter=5000).x
        r = E @ v - e
        lam = lam + rho * r
        res_norm = float(np.linalg.norm(E_orig @ v - e_full))
        if res_norm <= tol * max(scale, 1e-300):
            break
    return v, res_norm

"""Static (held) stimulation designs: within-manifold, outside-manifold and state-reaching patterns.

Seed 000 asks for patterns that perturb the circuit "within-manifold" and contrasts them with
"outside-manifold" ones; seed 001 (§10.1, §11, §14) makes the target space the task-dynamics space row(J)
of the self-contained-subspace E/I network. ``L`` (K x N) maps a held unit input to the target coordinates
at the end of the window (e.g. `LinearResponseModel.window_operator`, ``L = Q^T G``), and ``M = L B`` maps
the actuator's controls (``u = B v``, a `FeasibleSet`):

(a) `maximize_subspace_effect`: ``max ||M v|| / ||B v||`` (displacement in the target space per unit input
    norm): a generalised eigenproblem unconstrained, alternating SOCP ascent (`maximize_linear`) otherwise;
(b) `minimize_subspace_effect`: the feasible pattern closest to a reference with ``M v = 0``, a convex QP;
(c) `reach_state`: ``M v = x*`` with the least response outside the space, a convex QP.

The derivations are in each function's docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
from jaxtyping import Float

from neurodyn.perturb.design.feasible import FeasibleSet
from neurodyn.perturb.design.solvers import bounded_least_squares, maximize_linear
from neurodyn.validation import fail, finite_array, in_range, positive, positive_int

__all__ = ["Design", "maximize_subspace_effect", "minimize_subspace_effect", "reach_state"]


@dataclass(frozen=True)
class Design:
    """A designed pattern: ``controls`` (m,), unit ``inputs`` (N,) = B controls, the objective value
    and solver information (``info``)."""

    controls: Float[np.ndarray, "inputs"]
    inputs: Float[np.ndarray, "neurons"]
    objective: float
    kind: str
    info: dict = field(default_factory=dict)


def _op(L, fs: FeasibleSet) -> np.ndarray:
    """``M = L B``: the operator ``L`` (rows x N) on the controls of ``fs``."""
    L = finite_array("L", L, ndim=2)
    if L.shape[1] != fs.n_units:
        fail("L", L, f"an operator with {fs.n_units} columns (one per unit)")
    return L[:, fs.units] if fs.is_selection else L @ fs.B


def maximize_subspace_effect(L: Float[np.ndarray, "latents neurons"], feasible: FeasibleSet, *, norm: float = 1.0,
                             direction: Float[np.ndarray, "latents"] | None = None, n_restarts: int = 16,
                             max_iter: int = 500, tol: float = 1e-12, seed: int = 0) -> Design:
    """Pattern of input norm ``norm`` maximising the displacement ``||L u||`` in the target space.

    ``L`` (K x N) maps a held unit input to the target coordinates at the end of the window, e.g.
    ``model.window_operator(n_on)`` (= Q^T G, eq. 1; seed 001 §10.1: the task-dynamics space), or a chosen
    readout ``C J G``. With ``M = L B`` (``u = B v``):

    * unconstrained (``feasible.unconstrained``): ``max ||M v||^2 / ||B v||^2`` is the Rayleigh quotient of
      the pencil ``(M^T M, B^T B)``; its maximiser is the top generalised eigenvector (`scipy.linalg.eigh`
      with ``b = B^T B``); for a chosen direction d in the space, ``max d^T M v / ||B v||`` is attained at
      ``v ∝ (B^T B)^{-1} M^T d`` (Cauchy-Schwarz in the ``B^T B`` metric).
    * constrained (signs, bounds, expression mask through B, cardinality): the displacement norm is convex
      in v, and maximising it over a convex set is not a convex problem. Writing
      ``||M v|| = max_{||d||=1} d^T M v``,
      ``max_v ||M v|| = max_{||d||=1} h(d)``, ``h(d) = max {d^T M v : lo <= v <= hi, ||B v|| <= norm}``;
      for each d the inner problem is a convex SOCP solved exactly by `maximize_linear` (closed form for
      selection sets). With a chosen ``direction`` the answer is that single SOCP. Otherwise the outer
      maximisation over the K-sphere is done by alternating ascent (the generalised power method,
      Journee et al. 2010): ``v <- argmax_v d^T M v``, ``d <- M v / ||M v||``; each step cannot decrease
      ``||M v||`` (``||M v_new|| >= d^T M v_new >= d^T M v_old = ||M v_old||``). Restarts: the top left
      singular vector of M, then ``n_restarts - 1`` random directions (``seed``); the best is kept. Each
      restart reaches a stationary point; K is small (K = N/100 in seed 001), so restarts cover the sphere.
    """
    fs = feasible
    norm = positive("norm", norm)
    M = _op(L, fs)
    K, m = M.shape
    positive_int("n_restarts", n_restarts)
    d_given = None
    if direction is not None:
        d_given = finite_array("direction", direction, ndim=1)
        if d_given.size != K or np.linalg.norm(d_given) == 0:
            fail("direction", d_given, f"a non-zero vector of length {K} (target coordinates)")
        d_given = d_given / np.linalg.norm(d_given)
    if fs.unconstrained:
        Bm = np.eye(m) if fs.is_selection else fs.B.T @ fs.B
        Bm = Bm + 1e-12 * np.trace(Bm) / m * np.eye(m)
        if d_given is None:
            lam, w = sla.eigh(M.T @ M, Bm, subset_by_index=[m - 1, m - 1])
            v = w[:, 0]
        else:
            v = np.linalg.solve(Bm, M.T @ d_given)
        v = v * (norm / float(fs.input_norm(v)))
        if d_given is None and (M @ v).sum() < 0:
            v = -v
        obj = float(np.linalg.norm(M @ v)) if d_given is None else float(d_given @ M @ v)
        return Design(v, fs.inputs(v), obj, "max-unconstrained", {"solver": "scipy.linalg.eigh (pencil)"})
    if d_given is not None:
        v = maximize_linear(M.T @ d_given, fs, norm)
        return Design(v, fs.inputs(v), float(d_given @ M @ v), "max-direction", {"solver": "SOCP closed form"})
    rng = np.random.default_rng(seed)
    U, _, _ = np.linalg.svd(M, full_matrices=False)
    starts = [U[:, 0], -U[:, 0]] + [d / np.linalg.norm(d) for d in rng.standard_normal((n_restarts - 1, K))]
    best, best_val, iters = None, -np.inf, []
    for d in starts:
        val, v = -np.inf, None
        for it in range(max_iter):
            vn = maximize_linear(M.T @ d, fs, norm)
            y = M @ vn
            ny = float(np.linalg.norm(y))
            if ny == 0:
                break
            v, d = vn, y / ny
            if ny - val <= tol * max(ny, 1e-300):
                val = ny
                break
            val = ny
        iters.append(it + 1)
        if v is not None and val > best_val:
            best, best_val = v, val
    if best is None:
        fail("feasible", fs, "controls that can move the target space (M = L B is zero on the feasible set)")
    return Design(best, fs.inputs(best), best_val, "max-constrained",
                  {"solver": "alternating SOCP (generalised power method)", "restarts": len(starts),
                   "iterations": iters})


def minimize_subspace_effect(L: Float[np.ndarray, "latents neurons"], feasible: FeasibleSet, *,
                             reference: Float[np.ndarray, "inputs"] | None = None, norm: float = 1.0,
                             seed: int = 0, noise_sd: float = 0.3) -> Design:
    """Outside-manifold pattern: the feasible pattern closest to ``reference`` that leaves the target space
    unmoved at the end of the window (seed 000 Fig. 1d "outside-manifold"; seed 001 §14).

    ``min ||v - r||^2  s.t.  L B v = 0,  lo <= v <= hi`` — a convex QP (projection of r onto a polytope).
    ``r`` defaults to a random feasible pattern of norm ``norm`` (`FeasibleSet.random`, ``seed``), so the
    design reads "the nearest stimulation to a random one that avoids the task-dynamics space". The result
    is scaled uniformly to the norm (scaling preserves ``L B v = 0`` and the signs; if a bound stops the
    scaling first, ``info['norm']`` is the norm reached and ``info['norm_reached']`` is False). Unconstrained
    sets: the closed
    form ``v = r - M^T (M M^T)^+ M r``; otherwise the method of multipliers over bounded least squares
    (`bounded_least_squares`). A cardinality limit keeps the reference's support.

    When is zero leak feasible for a non-negative pattern? By Gordan's alternative, a non-zero ``v >= 0``
    with ``M v = 0`` exists unless some y has ``M^T y > 0`` entrywise, i.e. unless all m columns of M lie in
    an open half-space. For m columns in general position with a symmetric distribution in R^K (random J,
    seed 001 §10.1), Wendel's theorem gives that probability as ``2^{1-m} sum_{k<K} C(m-1, k)``, which is
    negligible for m >> K (e.g. 1e-4 for m = 25, K = 4): outside designs with zero leak exist.
    """
    fs = feasible
    norm = positive("norm", norm)
    M = _op(L, fs)
    m = M.shape[1]
    r = fs.random(1, norm, seed, noise_sd)[0] if reference is None else finite_array("reference", reference,
                                                                                       ndim=1)
    if r.size != m:
        fail("reference", r, f"{m} controls")
    lo, hi = fs.lo.copy(), fs.hi.copy()
    if fs.max_active is not None:
        off = np.abs(r) == 0
        lo[off], hi[off] = 0.0, 0.0
    if fs.unconstrained:
        v = r - M.T @ np.linalg.lstsq(M @ M.T, M @ r, rcond=None)[0]
        resid = float(np.linalg.norm(M @ v))
        solver = "closed form (projection on null(M))"
    else:
        v, resid = bounded_least_squares(np.eye(m), r, M, np.zeros(M.shape[0]), lo, hi)
        solver = "method of multipliers + bounded least squares"
    if not np.any(v):
        fail("feasible", fs, "a non-zero feasible pattern with no displacement in the target space")
    qp_distance = float(np.linalg.norm(v - r))
    # uniform scaling keeps L B v = 0 (clipping would not); bounds may cap it below the requested norm
    s = norm / float(fs.input_norm(v))
    with np.errstate(divide="ignore", invalid="ignore"):
        cap = np.min(np.where(v > 0, fs.hi / v, np.where(v < 0, fs.lo / v, np.inf)))
    v = v * min(s, float(cap))
    leak = float(np.linalg.norm(M @ v) / max(np.linalg.norm(M, 2) * norm, 1e-300))
    return Design(v, fs.inputs(v), float(np.linalg.norm(M @ v)), "min-leak",
                  {"solver": solver, "relative_leak": leak, "reference": r, "norm": float(fs.input_norm(v)),
                   "norm_reached": bool(s <= cap), "residual": float(resid), "qp_distance": qp_distance,
                   "distance_to_reference": float(np.linalg.norm(v - r) / norm)})


def reach_state(L_in: Float[np.ndarray, "latents neurons"], L_out: Float[np.ndarray, "_ neurons"],
                feasible: FeasibleSet, x_target: Float[np.ndarray, "latents"], *,
                energy_weight: float = 1e-6) -> Design:
    """Reach ``L_in u = x_target`` (a within-manifold state at the end of the window) with the least
    response outside the space (seed 000: within-manifold perturbations; seed 001 §10.1, §14).

    With ``M_in = L_in B`` (e.g. ``Q^T G``) and ``M_out = L_out B`` (e.g. ``(I - Q Q^T) G``)::

        min ||M_out v||^2 + eps ||v||^2   s.t.  M_in v = x*,  lo <= v <= hi

    (eps = ``energy_weight`` times ``||M_out||^2``: a small input-energy term that makes the QP strictly
    convex). Unconstrained: the KKT system ``H v = M_in^T lambda``, ``M_in v = x*`` with
    ``H = M_out^T M_out + eps I`` gives ``v = H^{-1} M_in^T (M_in H^{-1} M_in^T)^{-1} x*``. Constrained:
    the method of multipliers over bounded least squares (`bounded_least_squares`); a target outside the
    reachable cone is met in the least-squares sense (``info['residual']`` says how closely).
    """
    fs = feasible
    Mi, Mo = _op(L_in, fs), _op(L_out, fs)
    x = finite_array("x_target", x_target, ndim=1)
    if x.size != Mi.shape[0]:
        fail("x_target", x, f"{Mi.shape[0]} target coordinates")
    in_range("energy_weight", energy_weight, 0.0, np.inf, lo_open=True)
    m = Mi.shape[1]
    eps = energy_weight * max(np.linalg.norm(Mo, 2) ** 2, 1e-300)
    if fs.unconstrained:
        H = Mo.T @ Mo + eps * np.eye(m)
        cf = sla.cho_factor(H)
        HiMt = sla.cho_solve(cf, Mi.T)
        v = HiMt @ np.linalg.solve(Mi @ HiMt, x)
        solver = "KKT closed form"
    else:
        P = np.vstack([Mo, np.sqrt(eps) * np.eye(m)])
        v, _ = bounded_least_squares(P, np.zeros(P.shape[0]), Mi, x, fs.lo, fs.hi)
        solver = "method of multipliers + bounded least squares"
    resid = float(np.linalg.norm(Mi @ v - x) / max(np.linalg.norm(x), 1e-300))
    return Design(v, fs.inputs(v), float(np.linalg.norm(Mo @ v) ** 2), "reach",
                  {"solver": solver, "residual": resid, "off_energy": float(np.linalg.norm(Mo @ v) ** 2)})

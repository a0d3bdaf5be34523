"""Movement libraries: new movements from convex combinations of learned gain patterns (seed 003, ch. 5).

Thesis §5.1.1 / Fig. 5.1: a library holds l learned gain patterns g_1..g_l and their outputs F(g_j)
(``F`` = run eq. 3.1 from x0 and read out by eq. 3.4). A novel target y is fit by least squares on the
library's outputs with convex coefficients,

    c* = argmin_c || y - sum_j c_j F(g_j) ||^2    subject to  c_j >= 0,  sum_j c_j = 1,

and the network is then run with the same combination of gain patterns, ``g* = sum_j c_j g_j``. Three
errors (1 - R^2, Appendix D): the fit error eps(sum_j c_j F(g_j), y), the output error eps(F(g*), y)
and the fit-to-output error eps(F(g*), sum_j c_j F(g_j)) (§5.3: F is close to linear over a convex hull
of nearby gain patterns, so the output follows the fit).

Two solvers of this quadratic programme:

* `convex_coefficients` (one problem): SciPy's SLSQP (`scipy.optimize.minimize(method="SLSQP")`) with
  the analytic gradient ``2 (H c - f)``, ``H = F F^T``, ``f = F y``, after scaling y and F by the
  target's norm, started from the best single library element (a vertex of the simplex);
* `convex_coefficients_batch` (many problems, used by `combine_library`): a support is found either by
  SciPy's Lawson-Hanson NNLS on the system augmented with a heavily weighted sum-to-one row
  ``w 1^T c = w`` (``method="nnls"``, default; fast on CPU) or by accelerated projected gradient (FISTA,
  Beck & Teboulle 2009) on the simplex, ``c <- P(v - (H v - f) / L)`` with L the largest eigenvalue of H
  and P the Euclidean projection onto {c >= 0, sum c = 1} (sort-based, Duchi et al. 2008), `jax.vmap`-ed
  over problems (``method="fista"``, for accelerators); then the KKT system of the equality-constrained
  problem on that support, ``[[H_SS, 1], [1^T, 0]] [c_S; mu] = [f_S; 1]``, is solved (batched) and its
  solution kept when it is feasible and not worse, so sum c = 1 holds exactly. The tests check all
  routes against brute-force active-set enumeration.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float
from scipy.optimize import minimize, nnls

from neurodyn.validation import fail, finite_array, positive, positive_int
from neurodyn.learning.error import output_error
from neurodyn.learning.task import GainTask

__all__ = ["LibraryFit", "combine_library", "convex_coefficients", "convex_coefficients_batch", "project_simplex"]


def convex_coefficients(outputs: Float[np.ndarray, "library ..."], target: Float[np.ndarray, "..."], *,
                        tol: float = 1e-12, max_iterations: int = 500) -> Float[np.ndarray, "library"]:
    """Convex least-squares coefficients ``c`` (l,) of ``outputs`` (l, ...) for ``target`` (...)."""
    F = finite_array("outputs", outputs)
    y = finite_array("target", target)
    if F.ndim < 2 or F.shape[1:] != y.shape:
        fail("outputs", F, f"an array (l, {', '.join(map(str, y.shape))}) of l library outputs shaped like target")
    l = F.shape[0]
    scale = float(np.linalg.norm(y)) or 1.0
    A = F.reshape(l, -1) / scale
    b = y.ravel() / scale
    if l == 1:
        return np.ones(1)
    H = A @ A.T
    f = A @ b

    def cost(c):
        return c @ H @ c - 2.0 * f @ c + b @ b

    def grad(c):
        return 2.0 * (H @ c - f)

    c0 = np.zeros(l)
    c0[np.argmin(np.diag(H) - 2.0 * f)] = 1.0
    res = minimize(cost, c0, jac=grad, method="SLSQP", bounds=[(0.0, 1.0)] * l,
                   constraints=[{"type": "eq", "fun": lambda c: c.sum() - 1.0, "jac": lambda c: np.ones(l)}],
                   options={"ftol": tol, "maxiter": positive_int("max_iterations", max_iterations)})
    c = np.clip(res.x, 0.0, None)
    c = c / c.sum()
    return c if cost(c) <= cost(c0) else c0


def project_simplex(v: Float[Array, "*batch library"]) -> Float[Array, "*batch library"]:
    """Euclidean projection of ``v`` (..., l) onto the simplex {c >= 0, sum c = 1} (Duchi et al. 2008)."""
    v = jnp.asarray(v)
    l = v.shape[-1]
    u = -jnp.sort(-v, axis=-1)
    css = jnp.cumsum(u, axis=-1) - 1.0
    k = jnp.arange(1, l + 1, dtype=v.dtype)
    rho = jnp.sum(u - css / k > 0, axis=-1, keepdims=True)
    theta = jnp.take_along_axis(css, rho - 1, axis=-1) / rho
    return jnp.maximum(v - theta, 0.0)


@partial(jax.jit, static_argnames=("iterations",))
def _fista(H, f, c0, iterations):
    L = jnp.linalg.eigvalsh(H)[..., -1:]  # (B, 1)
    L = jnp.maximum(L, 1e-300)

    def body(carry, _):
        c, v, t = carry
        grad = jnp.einsum("bij,bj->bi", H, v) - f
        c_new = project_simplex(v - grad / L)
        t_new = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
        v_new = c_new + ((t - 1.0) / t_new) * (c_new - c)
        return (c_new, v_new, t_new), None

    (c, _, _), _ = jax.lax.scan(body, (c0, c0, jnp.ones(())), None, length=iterations)
    return c


def convex_coefficients_batch(outputs: Float[np.ndarray, "batch library ..."], targets: Float[np.ndarray, "batch ..."],
                              *, method: str = "nnls", iterations: int = 2000,
                              weight: float = 1e4) -> Float[np.ndarray, "batch library"]:
    """Convex least-squares coefficients ``(B, l)`` for ``outputs`` (B, l, ...) and ``targets`` (B, ...):
    support by weighted NNLS (``method="nnls"``) or FISTA on the simplex (``"fista"``, ``iterations``
    steps), then a KKT polish on the support (module docstring)."""
    if method not in ("nnls", "fista"):
        fail("method", method, "'nnls' or 'fista'")
    F = finite_array("outputs", outputs)
    Y = finite_array("targets", targets)
    if F.ndim < 3 or F.shape[0] != Y.shape[0] or F.shape[2:] != Y.shape[1:]:
        fail("outputs", F, f"an array (B, l, ...) of library outputs matching targets {Y.shape}")
    B, l = F.shape[:2]
    scale = np.linalg.norm(Y.reshape(B, -1), axis=1)
    scale[scale == 0] = 1.0
    A = F.reshape(B, l, -1) / scale[:, None, None]
    b = Y.reshape(B, -1) / scale[:, None]
    H = np.einsum("bld,bmd->blm", A, A)
    f = np.einsum("bld,bd->bl", A, b)
    if l == 1:
        return np.ones((B, 1))
    c0 = np.zeros((B, l))
    c0[np.arange(B), np.argmin(np.einsum("bll->bl", H) - 2 * f, axis=1)] = 1.0
    if method == "fista":
        c = np.asarray(_fista(jnp.asarray(H), jnp.asarray(f), jnp.asarray(c0),
                              positive_int("iterations", iterations)))
    else:
        w = positive("weight", weight)
        c = np.stack([nnls(np.vstack([A[i].T, np.full((1, l), w)]), np.append(b[i], w))[0] for i in range(B)])
        c = np.clip(c, 0.0, None)
        c = c / np.where(c.sum(1, keepdims=True) > 0, c.sum(1, keepdims=True), 1.0)
    # KKT polish on the support: rows outside it become identity rows fixing c_j = 0
    sup = c > 1e-10
    kkt = np.zeros((B, l + 1, l + 1))
    kkt[:, :l, :l] = np.where(sup[:, :, None] & sup[:, None, :], H, 0.0) + np.eye(l) * (~sup)[:, :, None]
    kkt[:, :l, l] = sup
    kkt[:, l, :l] = sup
    rhs = np.concatenate([np.where(sup, f, 0.0), np.ones((B, 1))], axis=1)
    with np.errstate(all="ignore"):
        try:
            sol = np.linalg.solve(kkt, rhs[..., None])[..., 0]
        except np.linalg.LinAlgError:  # a singular H_SS (e.g. repeated library outputs): least squares
            sol = np.stack([np.linalg.lstsq(kkt[i], rhs[i], rcond=None)[0] for i in range(B)])
    cp = sol[:, :l]

    def cost(x):
        return np.einsum("bi,bij,bj->b", x, H, x) - 2 * np.einsum("bi,bi->b", f, x)

    ok = np.all(np.isfinite(cp), axis=1) & np.all(cp >= -1e-12, axis=1)
    cp = np.clip(np.where(ok[:, None], cp, c), 0.0, None)
    cp = cp / cp.sum(1, keepdims=True)
    better = ok & (cost(cp) <= cost(c) + 1e-14)
    return np.where(better[:, None], cp, c)


class LibraryFit(NamedTuple):
    """``coefficients`` (B, l); per combination: ``fit_error``, ``output_error``, ``fit_output_error`` (B,);
    ``fit`` and ``output`` (B, T, readouts)."""

    coefficients: Float[np.ndarray, "batch library"]
    fit_error: Float[np.ndarray, "batch"]
    output_error: Float[np.ndarray, "batch"]
    fit_output_error: Float[np.ndarray, "batch"]
    fit: Float[np.ndarray, "batch time readouts"]
    output: Float[np.ndarray, "batch time readouts"]


def combine_library(task: GainTask, library_gains: Float[np.ndarray, "*batch library neurons"],
                    library_outputs: Float[np.ndarray, "*batch library time readouts"],
                    targets: Float[np.ndarray, "*batch time readouts"], *, batch: int = 256) -> LibraryFit:
    """Fit each target (B, T, readouts) by a convex combination of ``library_outputs`` (B, l, T, readouts)
    or (l, T, readouts) and run the network with the combined gains of ``library_gains`` (B, l, N) or (l, N)
    (thesis §5.1.1)."""
    if not isinstance(task, GainTask):
        fail("task", task, "a GainTask", TypeError)
    Y = finite_array("targets", targets)
    if Y.ndim == 2:
        Y = Y[None]
    if np.any(np.ptp(Y, axis=-2) == 0):
        fail("targets", Y, "targets that vary in time (1 - R^2 divides by their variance)")
    B = Y.shape[0]
    G = finite_array("library_gains", library_gains)
    F = finite_array("library_outputs", library_outputs)
    G = np.broadcast_to(G, (B,) + G.shape[-2:]) if G.ndim == 2 else G
    F = np.broadcast_to(F, (B,) + F.shape[-3:]) if F.ndim == 3 else F
    if G.shape[0] != B or F.shape[:2] != G.shape[:2] or F.shape[2:] != Y.shape[1:] or G.shape[2] != task.dynamics.n:
        fail("library_outputs", F.shape, f"library gains (B, l, N={task.dynamics.n}) and outputs (B, l, T, readouts) "
             f"matching targets {Y.shape}")
    coef = convex_coefficients_batch(F, Y)
    fit = np.einsum("bl,bltk->btk", coef, F)
    g = np.einsum("bl,bln->bn", coef, G)
    run = task.output_jit
    out = np.concatenate([np.asarray(run(jnp.asarray(g[i:i + batch]))) for i in range(0, B, batch)])
    err = lambda z, y: np.asarray(output_error(jnp.asarray(z), jnp.asarray(y)))  # noqa: E731
    return LibraryFit(coef, err(fit, Y), err(out, Y), err(out, fit), fit, out)

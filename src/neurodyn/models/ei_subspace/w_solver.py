"""The bounded W update of the E/I subspace network (seed 001 Methods §10.4; the equations were lost, derived here).

W is updated by bounded gradient steps on ``-F*`` (projected accelerated gradient, `fit_w`; bounds ``[0, inf)``
on E columns and ``(-inf, 0]`` on I columns, only the unmasked entries are free). With
``P = (1/n) sum E[x_{t-1} x_{t-1}^T]`` and ``M = (1/n) sum E[(x_t - B u_t) x_{t-1}^T]``, the per-step data term is
``f(A) = 1/2 tr(Q^{-1} (A P A^T - 2 M A^T)) + const`` and the gradient (§10.4, eq. lost) is

    d(-F*/n)/dW = J^T Q^{-1} (A P - M) J^{+T} + eps' J^T Z + beta' (W 1) 1^T,
    Z = J W (I - J^+ J) = J W - A J,

restricted to the free entries. ``eps' = eps * s`` and ``beta' = beta * s / n_row`` are the penalty
weights (``n_row``: average number of free entries per row, which sets the curvature of the balance term)
relative to the curvature ``s = tr(Q^{-1} P) / K`` of the data term, so the schedule does not depend
on the units of the data; eps and beta grow geometrically across EM iterations (``penalty_growth``)
up to ``penalty_max``.

`fit_w` runs projected accelerated gradient steps (FISTA with gradient restart) on this quadratic
objective; Dale's law is the box constraint of the projection.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

__all__ = ["fit_w", "w_objective_grad"]


def w_objective_grad(W: Float[Array, "neurons neurons"], J: Float[Array, "latents neurons"],
                     Jp: Float[Array, "neurons latents"], P: Float[Array, "latents latents"],
                     M: Float[Array, "latents latents"], Qi: Float[Array, "latents latents"], eps, beta,
                     mask: Float[Array, "neurons neurons"], Wref: Float[Array, "neurons neurons"] | None, mu
                     ) -> tuple[Float[Array, "neurons neurons"], Float[Array, ""]]:
    """Gradient of ``-F*/n`` (+ ``mu/2 ||W - Wref||^2``) w.r.t. W on the free entries (§10.4), and the value.

    With ``A = J W J^+`` and ``Z = J W - A J`` the gradient is (derived in the module docstring)

        mask * (J^T R + beta (W 1) 1^T + mu (W - Wref)),    R = Q^{-1} (A P - M) J^{+T} + eps Z,

    i.e. one K x N matrix R and a single N x K by K x N product (the two N x N terms of the textbook form
    ``J^T Q^{-1}(A P - M) J^{+T} + eps J^T Z`` share the left factor J^T). ``Wref=None`` drops the anchor
    term. Under `jax.jit` the value is dead code when only the gradient is used.
    """
    JW = J @ W
    A = JW @ Jp
    Z = JW - A @ J
    b = W.sum(1)
    R = (Qi @ (A @ P - M)) @ Jp.T + eps * Z
    G = J.T @ R + beta * b[:, None]
    val = 0.5 * jnp.trace(Qi @ (A @ P @ A.T - 2.0 * M @ A.T)) + 0.5 * eps * jnp.sum(Z * Z) + 0.5 * beta * jnp.sum(b * b)
    if Wref is not None:
        G = G + mu * (W - Wref)
        val = val + 0.5 * mu * jnp.sum((W - Wref) ** 2)
    return G * mask, val


@partial(jax.jit, static_argnames=("n_steps", "anchored"))
def _fista(W0, J, Jp, P, M, Qi, eps, beta, mask, lo, hi, Wref, mu, n_steps: int, anchored: bool = True):
    """Projected accelerated gradient (FISTA with gradient restart) on the box ``lo <= W <= hi``."""
    Wref = Wref if anchored else None

    def grad(V):
        return w_objective_grad(V, J, Jp, P, M, Qi, eps, beta, mask, Wref, mu)[0]

    # Lipschitz constant of the gradient (the objective is quadratic): power iteration on the Hessian,
    # H V = grad(V) - grad(0) with grad(0) computed once
    g0 = grad(jnp.zeros_like(W0))

    def hess(V):
        return grad(V) - g0

    def power(_, V):
        H = hess(V)
        return H / jnp.linalg.norm(H)

    V = jax.lax.fori_loop(0, 30, power, mask * jax.random.normal(jax.random.PRNGKey(0), W0.shape, W0.dtype))
    L = 1.05 * jnp.sum(V * hess(V)) + 1e-12
    proj = lambda X: jnp.clip(X, lo, hi)  # noqa: E731

    def step(_, carry):
        W, Wp, tk = carry
        tn = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * tk * tk))
        Yv = W + ((tk - 1.0) / tn) * (W - Wp)
        G = grad(Yv)
        Wn = proj(Yv - G / L)
        restart = jnp.sum(G * (Wn - W)) > 0
        return Wn, W, jnp.where(restart, 1.0, tn)

    W, _, _ = jax.lax.fori_loop(0, n_steps, step, (proj(W0), proj(W0), jnp.asarray(1.0, W0.dtype)))
    return W


def fit_w(W0: Float[np.ndarray, "neurons neurons"], mask: Bool[np.ndarray, "neurons neurons"],
          is_excitatory: Bool[np.ndarray, "neurons"], J: Float[np.ndarray, "latents neurons"],
          P: Float[np.ndarray, "latents latents"], M: Float[np.ndarray, "latents latents"],
          Qinv: Float[np.ndarray, "latents latents"], eps: float, beta: float, *, max_iter: int = 200,
          anchor: Float[np.ndarray, "neurons neurons"] | None = None,
          anchor_weight: float = 0.0) -> Float[np.ndarray, "neurons neurons"]:
    """One bounded W update (seed 001 §10.4): projected gradient steps on ``-F*/n`` with Dale sign bounds.

    Minimises ``1/2 tr(Q^{-1}(A P A^T - 2 M A^T)) + eps/2 ||J W (I - J^+ J)||^2 + beta/2 ||W 1||^2``
    with ``A = J W J^+`` over the entries of W where ``mask`` is True, from ``W0``, by ``max_iter``
    accelerated projected-gradient steps (FISTA with restart, step 1/L with L the Hessian's largest
    eigenvalue from power iteration; the objective is quadratic). E columns are bounded to ``[0, inf)``
    and I columns to ``(-inf, 0]``, so Dale's law holds exactly; masked entries stay exactly 0.
    The balance weight is divided by the average number of free entries per row (the curvature of
    ``||W 1||^2`` along a row grows with it), so eps and beta act on the same scale.
    ``anchor_weight > 0`` adds ``anchor_weight/2 ||W - anchor||_F^2`` (the ground-truth generator uses it
    to stay close to a stable random E/I matrix; the EM fit does not).
    """
    mask = np.asarray(mask, bool)
    e = np.asarray(is_excitatory, bool)
    N = mask.shape[0]
    lo = np.where(mask & e[None, :], 0.0, np.where(mask, -np.inf, 0.0))
    hi = np.where(mask & ~e[None, :], 0.0, np.where(mask, np.inf, 0.0))
    J = np.asarray(J, float)
    beta = float(beta) / max(float(mask.sum()) / N, 1.0)
    W = _fista(jnp.asarray(W0, float), jnp.asarray(J), jnp.asarray(np.linalg.pinv(J)), jnp.asarray(P, float),
               jnp.asarray(M, float), jnp.asarray(Qinv, float), float(eps), float(beta),
               jnp.asarray(mask, float), jnp.asarray(lo), jnp.asarray(hi),
               jnp.asarray(W0 if anchor is None else anchor, float), float(anchor_weight), n_steps=int(max_iter),
               anchored=bool(anchor is not None and anchor_weight > 0))
    W = np.asarray(W)
    if W.shape != (N, N) or not np.all(np.isfinite(W)):
        raise FloatingPointError("fit_w: the W update produced non-finite values")
    return W

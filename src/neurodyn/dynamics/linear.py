"""Exact solution of the linear rate network (thesis, seed 003, eq. 1.10 and Appendix A).

With the linear gain ``f_l(x; g) = g x`` and a constant input h, eq. (2.1) is the linear ODE
``dx/dt = A x + h / tau`` with ``A = (g W - I) / tau`` (per-neuron g and tau allowed:
``A = diag(1/tau) (W diag(g) - I)``), whose solution is

    x(t) = e^{A t} x0 + A^{-1} (e^{A t} - I) h / tau.                (eq. 1.10, plus the input term)

Two routes are provided and cross-checked in the tests:

* ``method="expm"``: scaling-and-squaring matrix exponential (SciPy), the route the thesis recommends
  for accuracy (Higham 2005);
* ``method="eig"``: the eigen-decomposition route of Appendix A, ``x(t) = sum_i c_i e^{lambda_i t} v_i``
  with coefficients ``c = V^{-1} x0``. Taking the real part of the complex sum is exactly the real
  combination of eq. (A.4) (conjugate pairs contribute ``2 Re(c_i e^{lambda_i t} v_i)``).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from jaxtyping import Float

from neurodyn.validation import fail, finite_array
from neurodyn.network import Network

__all__ = ["linear_dynamics_matrix", "linear_solution"]


def linear_dynamics_matrix(network: Network, gains: Float[np.ndarray, " neurons"] | None = None) -> Float[np.ndarray,
                           "neurons neurons"]:
    """``A = diag(1/tau) (W diag(g) - I)`` (per ms): the Jacobian of eq. (2.1) at x = 0 for f_l."""
    W = np.asarray(network.W, dtype=float)
    g = np.asarray(network.gains if gains is None else gains, dtype=float)
    tau = np.broadcast_to(np.asarray(network.tau, dtype=float), (network.n,))
    return (W * g[None, :] - np.eye(network.n)) / tau[:, None]


def linear_solution(network: Network, x0: Float[np.ndarray, "*batch neurons"], t_eval: Float[np.ndarray, " time"], *,
                    gains: Float[np.ndarray, " neurons"] | None = None, h: Float[np.ndarray, " neurons"] | None = None,
                    method: str = "expm") -> Float[np.ndarray, "*batch time neurons"]:
    """Exact states of the linear network at times ``t_eval`` (ms): shape ``(..., T, N)``.

    ``x0`` is ``(..., N)``; ``h`` a constant input ``(N,)`` or None.
    """
    A = linear_dynamics_matrix(network, gains)
    n = network.n
    x0 = finite_array("x0", x0)
    if x0.ndim < 1 or x0.shape[-1] != n:
        fail("x0", x0, f"shape (..., {n})")
    t = finite_array("t_eval", t_eval, ndim=1)
    tau = np.broadcast_to(np.asarray(network.tau, dtype=float), (n,))
    b = None
    if h is not None:
        hv = finite_array("h", h)
        if hv.shape != (n,):
            fail("h", hv, f"a constant input of shape ({n},)")
        b = hv / tau
    if method == "expm":
        out = np.empty(x0.shape[:-1] + (t.size, n))
        steps = np.diff(t)
        uniform = t.size > 2 and np.allclose(steps, steps[0], rtol=1e-12, atol=0.0)
        if uniform:
            # exp(A t_k) = exp(A t_0) exp(A dt)^k: one propagator, then exact stepping
            E_step = sla.expm(A * steps[0])
        for k, tk in enumerate(t):
            if uniform and k > 0:
                xt = xprev @ E_step.T
                if b is not None:
                    xt = xt + bstep
            else:
                E = sla.expm(A * tk)
                xt = x0 @ E.T
                if b is not None:
                    xt = xt + np.linalg.solve(A, (E - np.eye(n)) @ b)
                if uniform and b is not None:
                    bstep = np.linalg.solve(A, (E_step - np.eye(n)) @ b)
            out[..., k, :] = xt
            xprev = xt
        return out
    if method == "eig":
        lam, V = np.linalg.eig(A)
        c = np.linalg.solve(V, np.moveaxis(x0.astype(complex), -1, 0))  # (N, ...)
        expo = np.exp(np.outer(t, lam))  # (T, N)
        # x(t) = V (e^{lam t} * c)
        coeffs = expo.reshape((t.size, n) + (1,) * (c.ndim - 1)) * c[None]  # (T, N, ...)
        xt = np.einsum("ij,tj...->t...i", V, coeffs)
        if b is not None:
            d = np.linalg.solve(V, b.astype(complex))
            part = (V @ (((expo - 1.0) / lam) * d).T).T  # (T, N)
            xt = xt + part.reshape((t.size,) + (1,) * (xt.ndim - 2) + (n,))
        return np.moveaxis(xt.real, 0, -2)
    fail("method", method, "'expm' or 'eig'")

"""One SOC iteration (thesis, seed 003, Appendix C.1, steps 1-8; the equations are in
`neurodyn.connectivity.soc`), on the CPU from a shared real Schur form and in JAX from the matrix-sign
Gramians.

Layout. An SOC is built on the thesis's Dale matrix of N = 2M neurons, M excitatory followed by M
inhibitory (eq. 1.15, `random_ei`): the construction rule of this connectivity, not a guess about
unlabelled neurons. Steps 5-8 act on the inhibitory columns ``W[:, M:]``; `ei_split` returns M and
checks the layout (the labels when a `Network` is given).
"""

from __future__ import annotations

import math
from types import ModuleType
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from neurodyn.analysis.lyapunov import (RealSchur, abscissa_from_schur, gramians_from_schur, real_schur,
                                       sign_gramians)
from neurodyn.network import Network
from neurodyn.validation import fail

__all__ = ["INHIBITORY_DENSITY", "capped_eta", "constrain_inhibition", "ei_split", "inhibitory_gradient",
           "n_keep", "soc_step", "soc_step_jax"]

#: Maximal density of inhibitory connections kept by step 8 (thesis Appendix C.1).
INHIBITORY_DENSITY = 0.4


def ei_split(W: Float[np.ndarray, "neurons neurons"] | Network) -> int:
    """M, the number of excitatory neurons of an SOC's E-then-I layout (N = 2M; module docstring).

    A `Network` must carry the labels ``("E",) * M + ("I",) * M``; an array is read in that layout
    (its columns M.. are the inhibitory ones), so N must be even.
    """
    if isinstance(W, Network):
        n = W.n
        m = n // 2
        if W.cell_types != ("E",) * m + ("I",) * (n - m) or n % 2:
            fail("W", W, "a Network with M excitatory then M inhibitory neurons (the SOC layout)")
        return m
    n = np.shape(W)[0]
    if n % 2 or n < 2:
        fail("n", n, "an even number N = 2M (M excitatory then M inhibitory neurons)")
    return n // 2


def n_keep(n: int, m: int) -> int:
    """``floor(0.4 N M)``: the inhibitory weights step 8 keeps (`INHIBITORY_DENSITY` of the N x M block)."""
    return int(math.floor(INHIBITORY_DENSITY * n * m + 1e-9))


def constrain_inhibition(W: Float[np.ndarray, "neurons neurons"], grad_inh: Float[np.ndarray, "neurons inhibitory"],
                         m: int, eta: float, gamma: float
                         ) -> Float[np.ndarray, "neurons neurons"]:
    """Steps 5-8 of Appendix C.1 on a copy of W (``grad_inh``: the gradient's inhibitory columns)."""
    n = W.shape[0]
    W = W.copy()
    WI = W[:, m:] - eta * grad_inh                                  # step 5 (C.19)
    np.minimum(WI, 0.0, out=WI)                                     # step 6
    mean_ee, mean_ie_block = W[:m, :m].mean(), W[m:, :m].mean()     # W_EE and W_IE (E -> I)
    for rows, mean_exc in ((slice(0, m), mean_ee), (slice(m, n), mean_ie_block)):   # step 7
        mean_inh = WI[rows].mean()
        if mean_inh < 0:
            WI[rows] *= -gamma * mean_exc / mean_inh
    flat = WI.ravel()                                               # step 8
    k = n_keep(n, m)
    if k < flat.size:
        drop = np.argpartition(np.abs(flat), flat.size - k)[: flat.size - k]
        flat[drop] = 0.0
    W[:, m:] = WI
    np.fill_diagonal(W, 0.0)
    return W


def inhibitory_gradient(W: Float[np.ndarray, "neurons neurons"], schur: RealSchur,
                        m: int) -> tuple[Float[np.ndarray, "neurons inhibitory"], float, float]:
    """Steps 1-4: ``(G[:, I], alpha, s)`` from the real Schur form of W (shared-Schur path)."""
    T, U = schur
    alpha = abscissa_from_schur(T)                                  # step 1
    s = max(1.5 * alpha, alpha + 0.2)                               # step 2
    Qt, Pt = gramians_from_schur(T, s)                              # step 3 (shared Schur basis)
    QP = Qt @ Pt                                                    # step 4: U QP U^T / tr QP
    return (U @ QP) @ U[m:, :].T / np.trace(QP), alpha, s


def capped_eta(eta: float, eta_floor: float, max_step: float, W_inh: Float[np.ndarray, "neurons inhibitory"],
               grad_inh: Float[np.ndarray, "neurons inhibitory"], xp: ModuleType = np) -> Float[np.ndarray, ""]:
    """``max(eta_floor, min(eta, max_step (||W_I||_F / sqrt N) / ||G_I||_F))``: the schedule's step cap.

    ``||W_I||_F / sqrt N`` is the root-mean-square norm of a row of the inhibitory block, so the cap bounds
    ``||eta G_I||_F`` by ``max_step`` times the inhibitory input of a typical neuron.
    """
    scale = xp.linalg.norm(W_inh) / math.sqrt(W_inh.shape[0])
    cap = max_step * scale / xp.maximum(xp.linalg.norm(grad_inh), 1e-300)
    return xp.maximum(eta_floor, xp.minimum(eta, cap))


def soc_step(W: Float[np.ndarray, "neurons neurons"] | Network, eta: float = 10.0, gamma: float = 3.0, *,
             schur: RealSchur | None = None
             ) -> tuple[Float[np.ndarray, "neurons neurons"], float, float]:
    """One iteration (steps 1-8 of Appendix C.1) on a Dale matrix with E first then I (N = 2M).

    Returns ``(W_new, alpha, s)`` where alpha and s are the spectral abscissa and shift used.
    """
    m = ei_split(W)
    W = np.asarray(W.W if isinstance(W, Network) else W, dtype=float)
    grad_inh, alpha, s = inhibitory_gradient(W, real_schur(W) if schur is None else schur, m)
    return constrain_inhibition(W, grad_inh, m, eta, gamma), alpha, s


@partial(jax.jit, static_argnames=("m", "k_keep", "max_iter"))
def soc_step_jax(W: Float[Array, "neurons neurons"], alpha: float, eta: float, eta_floor: float, max_step: float,
                 gamma: float, tol: float, *, m: int, k_keep: int, max_iter: int
                 ) -> tuple[Float[Array, "neurons neurons"], Int[Array, ""], Float[Array, ""], Float[Array, ""]]:
    """Steps 2-8 of Appendix C.1 in JAX, alpha (step 1) given: the Gramians of ``W - sI`` by `sign_gramians`,
    the capped step (`capped_eta`) and the constraints on the device. Returns ``(W_new, sign steps, sign
    error, eta used)``."""
    n = W.shape[0]
    s = jnp.maximum(1.5 * alpha, alpha + 0.2)                       # step 2
    Q, P, k, err = sign_gramians(W - s * jnp.eye(n, dtype=W.dtype), tol, max_iter)   # step 3
    QP_inh = Q @ P[:, m:]
    grad_inh = QP_inh / jnp.trace(Q @ P)                            # step 4
    eta = capped_eta(eta, eta_floor, max_step, W[:, m:], grad_inh, jnp)
    WI = jnp.minimum(W[:, m:] - eta * grad_inh, 0.0)                # steps 5-6
    top = WI[:m].mean()
    bot = WI[m:].mean()
    WI = WI.at[:m].multiply(jnp.where(top < 0, -gamma * W[:m, :m].mean() / top, 1.0))   # step 7
    WI = WI.at[m:].multiply(jnp.where(bot < 0, -gamma * W[m:, :m].mean() / bot, 1.0))
    flat = WI.ravel()                                               # step 8
    keep = jax.lax.top_k(jnp.abs(flat), k_keep)[1]
    mask = jnp.zeros(flat.shape, dtype=bool).at[keep].set(True)
    WI = jnp.where(mask, flat, 0.0).reshape(WI.shape)
    W = W.at[:, m:].set(WI)
    W = W * (1.0 - jnp.eye(n, dtype=W.dtype))
    return W, k, err, eta

"""Parameters and simulation of the coupled multi-area LDS (seed 000).

For areas a = 1..n_areas with latent dimensions k_a, neurons p_a and inputs m_a (the model of the
package docstring)::

    x_a(t) = A_a x_a(t-1) + sum_{b != a} B_{b->a} x_b(t-1) + B_a u_a(t) + w_a(t),  w_a ~ N(0, Q_a)
    y_a(t) = C_a x_a(t) + d_a + v_a(t),                                          v_a ~ N(0, diag R_a)

is one joint LDS ``x(t) = A x(t-1) + B u(t) + w(t)``, ``y(t) = C x(t) + d + v(t)`` with the block
matrix ``A`` (``A[a, a] = A_a``, ``A[a, b] = B_{b->a}``), ``B = diag(B_a)``, ``Q = diag(Q_a)``,
``C = diag(C_a)`` and diagonal R (`multi_area_lds_params`). `simulate_multi_area_lds` samples it with
the package's discrete linear rollout (`neurodyn.dynamics.linear_rollout`) driven by ``B u(t) + w(t)``;
`random_two_area_params` builds a known two-area system with a low-rank communication subspace.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Float, Int

from neurodyn.validation import fail, finite_array, positive_int
from neurodyn.dynamics.rollout import linear_rollout
from neurodyn.models.lds.inference import LDSParams

__all__ = ["block_offsets", "multi_area_lds_params", "random_two_area_params", "simulate_multi_area_lds"]


def block_offsets(sizes: Sequence[int]) -> Int[np.ndarray, "areas_plus_one"]:
    """``[0, s_1, s_1 + s_2, ...]``: where each area's block starts in the joint vector (and the end)."""
    return np.concatenate([[0], np.cumsum(sizes)]).astype(int)


def multi_area_lds_params(A_blocks: Sequence[Sequence[Float[np.ndarray, "latents latents"] | None]],
                          C_blocks: Sequence[Float[np.ndarray, "neurons latents"]], *,
                          B_blocks: Sequence[Float[np.ndarray, "latents inputs"] | None] | None = None,
                          Q_blocks: Sequence[Float[np.ndarray, "latents latents"]] | None = None,
                          R: Float[np.ndarray, "neurons"] | None = None,
                          d: Float[np.ndarray, "neurons"] | None = None,
                          m0: Float[np.ndarray, "latents"] | None = None,
                          S0: Float[np.ndarray, "latents latents"] | None = None) -> LDSParams:
    """Assemble the joint `LDSParams` from per-area blocks.

    ``A_blocks[a][b]`` is the (k_a x k_b) block: ``A_a`` on the diagonal and ``B_{b->a}`` off it (None for
    zero). ``C_blocks[a]`` (p_a x k_a); ``B_blocks[a]`` (k_a x m_a) or None; ``Q_blocks[a]`` (k_a x k_a,
    default identity); ``R`` (sum p_a,) diagonal noise (default 0.1); ``d`` offsets (default 0).
    """
    n_areas = len(C_blocks)
    k = [np.asarray(A_blocks[a][a]).shape[0] for a in range(n_areas)]
    p = [np.asarray(C_blocks[a]).shape[0] for a in range(n_areas)]
    ko, po = block_offsets(k), block_offsets(p)
    K, N = ko[-1], po[-1]
    A = np.zeros((K, K))
    C = np.zeros((N, K))
    Q = np.zeros((K, K))
    for a in range(n_areas):
        for b in range(n_areas):
            blk = A_blocks[a][b]
            if blk is not None:
                blk = finite_array(f"A_blocks[{a}][{b}]", blk, ndim=2)
                if blk.shape != (k[a], k[b]):
                    fail(f"A_blocks[{a}][{b}]", blk, f"shape ({k[a]}, {k[b]})")
                A[ko[a]:ko[a + 1], ko[b]:ko[b + 1]] = blk
        Cb = finite_array(f"C_blocks[{a}]", C_blocks[a], ndim=2)
        if Cb.shape[1] != k[a]:
            fail(f"C_blocks[{a}]", Cb, f"{k[a]} columns (latents of area {a})")
        C[po[a]:po[a + 1], ko[a]:ko[a + 1]] = Cb
        Q[ko[a]:ko[a + 1], ko[a]:ko[a + 1]] = (np.eye(k[a]) if Q_blocks is None
                                               else finite_array(f"Q_blocks[{a}]", Q_blocks[a], ndim=2))
    if B_blocks is None:
        B = np.zeros((K, 0))
    else:
        m = [0 if B_blocks[a] is None else np.asarray(B_blocks[a]).shape[1] for a in range(n_areas)]
        mo = block_offsets(m)
        B = np.zeros((K, mo[-1]))
        for a in range(n_areas):
            if B_blocks[a] is not None:
                B[ko[a]:ko[a + 1], mo[a]:mo[a + 1]] = finite_array(f"B_blocks[{a}]", B_blocks[a], ndim=2)
    R = np.full(N, 0.1) if R is None else finite_array("R", R, ndim=1)
    d = np.zeros(N) if d is None else finite_array("d", d, ndim=1)
    m0 = np.zeros(K) if m0 is None else finite_array("m0", m0, ndim=1)
    S0 = np.eye(K) if S0 is None else finite_array("S0", S0, ndim=2)
    return LDSParams(A, B, C, d, Q, R, m0, S0)


def simulate_multi_area_lds(params: LDSParams, n_trials: int, n_steps: int, *,
                            inputs: Float[np.ndarray, "*trials time inputs"] | None = None,
                            seed: int = 0) -> tuple[Float[np.ndarray, "trials time latents"],
                                                    Float[np.ndarray, "trials time neurons"]]:
    """Sample ``(x, y)`` of shapes (trials, time, latents) and (trials, time, neurons) from the joint LDS.

    ``x(0) ~ N(m0, S0)``; ``x(t) = A x(t-1) + B u(t) + w(t)`` (`neurodyn.dynamics.linear_rollout` with the
    drive ``B u(t) + w(t)``); ``y(t) = C x(t) + d + v(t)`` with R a vector (diagonal). ``inputs``:
    (trials, time, inputs) or (time, inputs) or None.
    """
    n_trials = positive_int("n_trials", n_trials)
    n_steps = positive_int("n_steps", n_steps, 2)
    P = LDSParams(*(jnp.asarray(x) for x in params))
    K, N, U = P.A.shape[0], P.C.shape[0], P.B.shape[1]
    if inputs is None:
        drive = jnp.zeros((n_trials, n_steps, K))
    else:
        u = jnp.asarray(finite_array("inputs", inputs))
        u = jnp.broadcast_to(u, (n_trials, n_steps, U)) if u.ndim in (2, 3) else u
        if u.shape != (n_trials, n_steps, U):
            fail("inputs", u, f"shape ({n_trials}, {n_steps}, {U})")
        drive = u @ P.B.T
    key = jax.random.PRNGKey(seed)
    k0, kw, kv = jax.random.split(key, 3)
    Lq = jnp.linalg.cholesky(P.Q + 1e-12 * jnp.eye(K))
    L0 = jnp.linalg.cholesky(P.S0 + 1e-12 * jnp.eye(K))
    x0 = P.m0 + jax.random.normal(k0, (n_trials, K)) @ L0.T
    W = jax.random.normal(kw, (n_steps - 1, n_trials, K)) @ Lq.T
    x = linear_rollout(P.A, x0, drive.at[:, 1:].add(jnp.swapaxes(W, 0, 1)))
    y = x @ P.C.T + P.d + jax.random.normal(kv, (n_trials, n_steps, N)) * jnp.sqrt(P.R)
    return np.asarray(x), np.asarray(y)


def _rotation_dynamics(k: int, radius: float, angle: float, rng) -> np.ndarray:
    """``Q D Q^T``: damped rotations (eigenvalues ``radius e^{+-i j angle}``) in a random orthonormal basis."""
    Qm = np.linalg.qr(rng.standard_normal((k, k)))[0]
    D = np.zeros((k, k))
    for i in range(0, k - 1, 2):
        c, s = np.cos(angle * (i + 1)), np.sin(angle * (i + 1))
        D[i:i + 2, i:i + 2] = radius * np.array([[c, -s], [s, c]])
    if k % 2:
        D[-1, -1] = radius
    return Qm @ D @ Qm.T


def random_two_area_params(latent_dims: Sequence[int] = (4, 4), obs_sizes: Sequence[int] = (20, 20), *,
                           rank: int = 2, strengths: Float[np.ndarray, "rank"] | Sequence[float] | float = (0.6, 0.4), feedback: float = 0.1, q: float = 0.1, r: float = 0.2,
                           seed: int = 0) -> LDSParams:
    """A known two-area system (seed 000's coupled LDS) with a rank-``rank`` communication subspace.

    ``A_a``: damped rotations (radius 0.85 and 0.8); ``B_{1->2} = U diag(strengths) V^T`` with random
    orthonormal U, V; ``B_{2->1}``: rank-1 feedback of norm ``feedback``; ``C_a`` standard normal;
    ``Q_a = q I``, ``R = r``.
    """
    rng = np.random.default_rng(seed)
    k1, k2 = (positive_int(f"latent_dims[{i}]", k) for i, k in enumerate(latent_dims))
    p1, p2 = (positive_int(f"obs_sizes[{i}]", p) for i, p in enumerate(obs_sizes))
    rank = positive_int("rank", rank)
    if rank > min(k1, k2):
        fail("rank", rank, f"at most min(latent_dims) = {min(k1, k2)}")
    s = np.broadcast_to(finite_array("strengths", strengths), (rank,))
    A1 = _rotation_dynamics(k1, 0.85, 0.2, rng)
    A2 = _rotation_dynamics(k2, 0.8, 0.3, rng)
    U = np.linalg.qr(rng.standard_normal((k2, rank)))[0]
    V = np.linalg.qr(rng.standard_normal((k1, rank)))[0]
    B12 = U @ np.diag(s) @ V.T
    f1, f2 = rng.standard_normal(k1), rng.standard_normal(k2)
    B21 = feedback * np.outer(f1 / np.linalg.norm(f1), f2 / np.linalg.norm(f2))
    C1, C2 = rng.standard_normal((p1, k1)), rng.standard_normal((p2, k2))
    return multi_area_lds_params([[A1, B21], [B12, A2]], [C1, C2], Q_blocks=[q * np.eye(k1), q * np.eye(k2)],
                                 R=np.full(p1 + p2, float(r)))

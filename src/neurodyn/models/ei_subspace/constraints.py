"""Structure and constraints of the self-contained-subspace E/I network (seed 001 Methods §10.1-10.2, §11).

The network's N x N weights ``W`` obey Dale's law (column j >= 0 if unit j is excitatory, <= 0 if
inhibitory; eq. 41: ``W = [[W^EE, -W^EI], [W^IE, -W^II]]`` with non-negative blocks), E/I balance (every row
sums to zero, ``W 1 = 0``) and a random sparsity mask (75% of the entries fixed at zero, the diagonal
free); the task-dynamics space is the row space of a fixed random K x N projection ``J`` and
self-containment is eq. 43, ``J W (I - J^+ J) = 0``. This module builds the fixed pieces (`subspace_projection`,
`sparsity_mask`, `excitatory_units`, the initial `random_balanced_ei`), measures how far a W is from
each constraint (`self_containment_residual`, `balance_residual`, `dale_violations`) and how much of a
vector lies in the task-dynamics space (`projection_fraction`, its chance level `chance_projection`, §11).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Bool, Float

from neurodyn.validation import fail, in_range, positive, positive_int

__all__ = ["balance_residual", "chance_projection", "dale_violations", "excitatory_units", "projection_fraction",
           "random_balanced_ei", "self_containment_residual", "sparsity_mask", "subspace_projection"]


def subspace_projection(n_latents: int, n_units: int, seed: int = 0) -> Float[np.ndarray, "latents neurons"]:
    """Random task-dynamics projection J (K x N), entries ``N(0, 1/N)`` (seed 001 §10.1-10.2)."""
    K = positive_int("n_latents", n_latents)
    N = positive_int("n_units", n_units, 2)
    if K >= N:
        fail("n_latents", K, f"fewer latents than units ({N})")
    return np.random.default_rng(seed).normal(0.0, 1.0 / np.sqrt(N), (K, N))


def sparsity_mask(n_units: int, density: float = 0.25, seed: int = 0) -> Bool[np.ndarray, "neurons neurons"]:
    """Boolean N x N mask of free entries: a fraction ``density`` at random, diagonal always free (§10.4)."""
    N = positive_int("n_units", n_units, 2)
    density = in_range("density", density, 0.0, 1.0, lo_open=True)
    mask = np.random.default_rng(seed).random((N, N)) < density
    np.fill_diagonal(mask, True)
    return mask


def excitatory_units(n_units: int, frac_excitatory: float) -> Bool[np.ndarray, "neurons"]:
    """Cell types ``(N,)``: the first ``round(frac_excitatory * N)`` units excitatory, the rest inhibitory (§10.1)."""
    n_e = int(round(n_units * frac_excitatory))
    if n_e < 1 or n_e > n_units - 1:
        fail("frac_excitatory", frac_excitatory, f"a fraction leaving at least one E and one I unit of {n_units}")
    return np.arange(n_units) < n_e


def random_balanced_ei(mask: Bool[np.ndarray, "neurons neurons"], is_excitatory: Bool[np.ndarray, "neurons"],
                       spectral_radius: float = 0.85, seed: int = 0,
                       distribution: str = "hennequin") -> Float[np.ndarray, "neurons neurons"]:
    """Random Dale matrix on ``mask`` with exact row balance ``W 1 = 0``, scaled to a spectral radius (§10.2).

    §10.2 initialises W "according to the weight distribution used in Hennequin, Vogels, and Gerstner"
    (2014), the distribution of thesis eq. (1.15) (`neurodyn.connectivity.random_ei`): each connection is
    present independently (here: the sparsity mask) and every present connection has the same magnitude,
    ``w0`` for excitatory and ``gamma w0`` for inhibitory presynaptic units. ``distribution="hennequin"``
    (default) draws exactly that, with gamma set per row to balance it: in row i with ``n_E,i`` excitatory
    and ``n_I,i`` inhibitory free entries, ``W_ij = w0`` (E) and ``W_ij = -w0 n_E,i / n_I,i`` (I), so
    ``sum_j W_ij = 0``. ``distribution="uniform"`` draws magnitudes uniform on (0, 1] instead and rescales
    each row's I entries so that their sum equals the sum of its E entries. Rows lacking E or I inputs are
    set to zero. Finally W is scaled so that ``max |lambda(W)| = spectral_radius`` (w0 follows from it). The
    randomness of the Hennequin matrix is the mask alone, so ``seed`` only matters for ``"uniform"``.
    """
    mask = np.asarray(mask, bool)
    e = np.asarray(is_excitatory, bool)
    positive("spectral_radius", spectral_radius)
    if distribution not in ("hennequin", "uniform"):
        fail("distribution", distribution, "'hennequin' (constant magnitudes, §10.2) or 'uniform'")
    if distribution == "hennequin":
        mag = mask.astype(float)
    else:
        mag = np.random.default_rng(seed).uniform(0.0, 1.0, mask.shape) * mask
    Wp = mag * e[None, :]
    Wn = mag * (~e)[None, :]
    se, si = Wp.sum(1), Wn.sum(1)
    ok = (se > 0) & (si > 0)
    scale = np.where(ok, se / np.where(si > 0, si, 1.0), 0.0)
    W = np.where(ok[:, None], Wp - Wn * scale[:, None], 0.0)
    rho = float(np.max(np.abs(np.linalg.eigvals(W))))
    if rho <= 0:
        fail("mask", mask, "enough free entries for a non-nilpotent E/I matrix")
    return W * (spectral_radius / rho)


def self_containment_residual(W: Float[np.ndarray, "neurons neurons"],
                              J: Float[np.ndarray, "latents neurons"]) -> float:
    """``||J W (I - J^+ J)||_F / ||J W||_F`` (seed 001 §10.1, eq. 43; 0 when self-contained)."""
    W = np.asarray(W, float)
    J = np.asarray(J, float)
    JW = J @ W
    Z = JW - (JW @ np.linalg.pinv(J)) @ J
    return float(np.linalg.norm(Z) / max(np.linalg.norm(JW), 1e-300))


def balance_residual(W: Float[np.ndarray, "neurons neurons"]) -> float:
    """``||W 1|| / || |W| 1 ||``: net input relative to total input magnitude per unit (§10.1, eq. 41)."""
    W = np.asarray(W, float)
    return float(np.linalg.norm(W.sum(1)) / max(np.linalg.norm(np.abs(W).sum(1)), 1e-300))


def dale_violations(W: Float[np.ndarray, "neurons neurons"], is_excitatory: Bool[np.ndarray, "neurons"],
                    mask: Bool[np.ndarray, "neurons neurons"] | None = None) -> int:
    """Entries with the wrong sign for their presynaptic type, plus nonzeros outside ``mask``."""
    W = np.asarray(W, float)
    e = np.asarray(is_excitatory, bool)
    bad = int(np.sum(W[:, e] < 0)) + int(np.sum(W[:, ~e] > 0))
    if mask is not None:
        bad += int(np.sum(W[~np.asarray(mask, bool)] != 0))
    return bad


def projection_fraction(v: Float[np.ndarray, "*batch neurons"], J: Float[np.ndarray, "latents neurons"]
                        ) -> Float[np.ndarray, "*batch"]:
    """``||J^+ J v|| / ||v||``: share of the norm of ``v (..., N)`` in the row space of J (seed 001 §11, §14)."""
    v = np.asarray(v, float)
    J = np.asarray(J, float)
    Qr = np.linalg.qr(J.T)[0]                  # orthonormal basis of the row space
    return np.linalg.norm(v @ Qr, axis=-1) / np.maximum(np.linalg.norm(v, axis=-1), 1e-300)


def chance_projection(n_latents: int, n_units: int) -> float:
    """Expected ``||P v|| / ||v||`` for a fixed v and a uniformly random K-dim subspace of R^N.

    ``||P v||^2 / ||v||^2 ~ Beta(K/2, (N-K)/2)``, so the expectation of its square root is
    ``Gamma((K+1)/2) Gamma(N/2) / (Gamma(K/2) Gamma((N+1)/2))``, which tends to ``sqrt(K/N)`` (the chance
    level quoted in seed 001 §11) for large N.
    """
    from scipy.special import gammaln

    K = positive_int("n_latents", n_latents)
    N = positive_int("n_units", n_units, K + 1)
    return float(np.exp(gammaln((K + 1) / 2) + gammaln(N / 2) - gammaln(K / 2) - gammaln((N + 1) / 2)))

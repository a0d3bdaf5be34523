"""Multi-area E/I networks whose areas talk through low-rank, excitatory projections.

Seed 000 (Perspective on brain-wide population dynamics, section "Models of large scale, brain-wide
neural population dynamics") asks for multi-area models "at a resolution that enables incorporation of
anatomical constraints, including E-I cell types, proportion of connectivity between areas, and Dale's
law", in which "interactions [are] defined by connections that implement communication subspaces" and
``B_{1->2}`` "selectively extracts features of x1 to propagate to x2".

Construction (the text gives no equations; this is the construction it describes):

* Area ``a`` (``n_a`` neurons, E first then I) has the local weights of thesis eq. (1.15) / §2.2
  (`neurodyn.connectivity.random_ei`): connection probability p, E weights ``w0/sqrt(n_a)``, I weights
  ``-gamma w0/sqrt(n_a)`` with ``w0^2 = 2 rho^2 / (p (1-p) (1+gamma^2))``.
* The projection from area s to area t uses the E units of s only (long-range cortical projections are
  excitatory) and has rank r::

      W[t, E(s)] = B_{s->t} = U V^T,   U >= 0 (n_t x r),  V >= 0 (n_E(s) x r)

  Non-negative factors keep every E column >= 0 (Dale's law) for any rank. Each factor entry is nonzero
  independently with probability ``a``; an entry of ``U V^T`` is nonzero when at least one of the r
  products is, so the share of nonzero connections (the *connection proportion* q) is
  ``q = 1 - (1 - a^2)^r``, solved as ``a = sqrt(1 - (1 - q)^(1/r))``. Nonzero factor entries are
  drawn from Uniform(0.5, 1.5); B is then scaled so that its largest singular value equals
  ``strength``. The row space of V (embedded in area s's coordinates) is the communication subspace
  of area s (its potent space); its orthogonal complement is the output-null space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int

from neurodyn.validation import fail, finite_array, in_range, positive, positive_int
from neurodyn.connectivity.random_ei import random_ei
from neurodyn.network import Network

__all__ = ["MultiAreaNetwork", "multi_area", "projection_factors"]


@dataclass(frozen=True, eq=False)
class MultiAreaNetwork:
    """A multi-area `Network` with the factors of its inter-area projections.

    ``factors[(s, t)] = (U, V)`` with ``W[idx(t)][:, E(s)] = U @ V.T``; ``potent[(s, t)]`` is an
    orthonormal basis (n_s x r) of area s's potent space for that projection, in area-s coordinates.
    """

    network: Network
    area_names: tuple[str, ...]
    factors: dict[tuple[int, int], tuple[Float[np.ndarray, "target_neurons rank"],
                                         Float[np.ndarray, "source_excitatory rank"]]]
    potent: dict[tuple[int, int], Float[np.ndarray, "source_neurons rank"]]

    def indices(self, area: int) -> Int[np.ndarray, " area_neurons"]:
        return self.network.area_indices(self.area_names[area])


def projection_factors(n_target: int, n_source_e: int, rank: int, proportion: float, strength: float,
                       rng: np.random.Generator
                       ) -> tuple[Float[np.ndarray, "target_neurons rank"],
                       Float[np.ndarray, "source_excitatory rank"]]:
    """Non-negative factors ``U (n_target x r)``, ``V (n_source_e x r)`` with ``||U V^T||_2 = strength``.

    Sparsity ``a = sqrt(1 - (1 - q)^(1/r))`` per factor entry gives connection proportion ``q`` (module
    docstring). A factor column left empty by chance gets one nonzero entry so the rank is exactly r.
    """
    a = np.sqrt(1.0 - (1.0 - proportion) ** (1.0 / rank))
    U = rng.uniform(0.5, 1.5, (n_target, rank)) * (rng.random((n_target, rank)) < a)
    V = rng.uniform(0.5, 1.5, (n_source_e, rank)) * (rng.random((n_source_e, rank)) < a)
    for factor in (U, V):
        for k in np.where(~np.any(factor > 0, axis=0))[0]:
            factor[rng.integers(factor.shape[0]), k] = 1.0
    s1 = np.linalg.norm(U @ V.T, 2)
    scale = np.sqrt(strength / s1)
    return U * scale, V * scale


def multi_area(sizes: tuple[int, ...] = (200, 200), *, p: float = 0.1, rho: float = 0.8, gamma: float = 3.0,
               proportions: Float[np.ndarray, "areas areas"] | None = None,
               ranks: int | Int[np.ndarray, "areas areas"] | None = None,
               strengths: float | Float[np.ndarray, "areas areas"] | None = None,
               taus: float | Float[np.ndarray, " areas"] = 200.0, names: tuple[str, ...] | None = None,
               seed: int = 0) -> MultiAreaNetwork:
    """Build a multi-area Dale network (seed 000; see module docstring for the construction).

    Parameters
    ----------
    sizes : sequence of int
        Neurons per area (each even: half E, half I, thesis eq. 1.15).
    p, rho, gamma : float
        Local connection probability, bulk spectral radius and I/E ratio of each area (`random_ei`).
    proportions : (A, A) array, optional
        ``proportions[t, s]``: share of nonzero connections from the E units of area s onto area t
        (0 means no projection; the diagonal is ignored). Default: 0.1 feedforward (s -> s+1) and
        0.05 feedback (s+1 -> s), the proportions of multi-area RNN models of seed 000 ref. 37.
    ranks : (A, A) int array or int, optional
        Rank of each projection (default 2).
    strengths : (A, A) array or float, optional
        Largest singular value of each projection block (default 0.5).
    taus : float or sequence
        Time constant (ms) per area.
    names : sequence of str, optional
        Area labels (default "A1", "A2", ...).
    seed : int
        Seed; area a uses ``seed + a`` for its local weights.
    """
    sizes = [positive_int(f"sizes[{i}]", s, 2) for i, s in enumerate(sizes)]
    n_areas = len(sizes)
    if n_areas < 1:
        fail("sizes", sizes, "at least one area size")
    for i, s in enumerate(sizes):
        if s % 2:
            fail(f"sizes[{i}]", s, "an even number (half E, half I)")
    names = tuple(f"A{i + 1}" for i in range(n_areas)) if names is None else tuple(str(x) for x in names)
    if len(names) != n_areas or len(set(names)) != n_areas:
        fail("names", names, f"{n_areas} distinct area labels")
    if proportions is None:
        P = np.zeros((n_areas, n_areas))
        for s in range(n_areas - 1):
            P[s + 1, s] = 0.1
            P[s, s + 1] = 0.05
    else:
        P = finite_array("proportions", proportions)
        if P.shape != (n_areas, n_areas):
            fail("proportions", P, f"an ({n_areas}, {n_areas}) matrix [target, source]")
        if np.any(P < 0) or np.any(P > 1):
            fail("proportions", P, "values in [0, 1]")
    R = np.broadcast_to(np.asarray(2 if ranks is None else ranks), (n_areas, n_areas))
    if not np.issubdtype(R.dtype, np.integer):
        fail("ranks", ranks, "integers", TypeError)
    S = np.broadcast_to(finite_array("strengths", 0.5 if strengths is None else strengths), (n_areas, n_areas))
    tau_a = np.broadcast_to(finite_array("taus", taus), (n_areas,))
    for a, t in enumerate(tau_a):
        positive(f"taus[{a}]", float(t))
    in_range("p", p, 0.0, 1.0, lo_open=True, hi_open=True)

    n = sum(sizes)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    W = np.zeros((n, n))
    cell_types: list[str] = []
    areas: list[str] = []
    tau = np.zeros(n)
    n_exc = []                          # E units per area, from the local networks' labels (E first)
    for a, size in enumerate(sizes):
        local = random_ei(size, p, rho, gamma, seed=seed + a, tau=float(tau_a[a]))
        n_exc.append(local.n_excitatory)
        sl = slice(offsets[a], offsets[a + 1])
        W[sl, sl] = np.asarray(local.W)
        cell_types += list(local.cell_types)
        areas += [names[a]] * size
        tau[sl] = tau_a[a]
    rng = np.random.default_rng([seed, 7919])
    factors, potent = {}, {}
    for t in range(n_areas):
        for s in range(n_areas):
            if s == t or P[t, s] == 0:
                continue
            r = int(R[t, s])
            n_e = n_exc[s]
            if not 1 <= r <= min(sizes[t], n_e):
                fail(f"ranks[{t}, {s}]", r, f"an integer in [1, {min(sizes[t], n_e)}]")
            strength = positive(f"strengths[{t}, {s}]", float(S[t, s]))
            U, V = projection_factors(sizes[t], n_e, r, float(P[t, s]), strength, rng)
            W[offsets[t]:offsets[t + 1], offsets[s]:offsets[s] + n_e] = U @ V.T
            factors[(s, t)] = (U, V)
            Vfull = np.zeros((sizes[s], r))
            Vfull[:n_e] = V
            potent[(s, t)] = np.linalg.qr(Vfull)[0]
    net = Network(W=W, cell_types=tuple(cell_types), tau=tau, areas=tuple(areas))
    return MultiAreaNetwork(network=net, area_names=names, factors=factors, potent=potent)

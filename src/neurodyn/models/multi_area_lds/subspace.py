"""Communication subspace of a fitted multi-area LDS (seed 000: the CS and "output-null" spaces).

Latent coordinates are identified only up to an invertible map per area (x_a -> T_a x_a), so the
subspaces are reported in neuron space, where they are invariant: for the projection a -> b with fitted
block ``B_{a->b} = A[b, a]``,

* potent space of area a: the row space of ``B_{a->b} C_a^+`` (``C_a^+`` the pseudo-inverse; under
  ``C_a -> C_a T_a^{-1}``, ``B -> T_b B T_a^{-1}`` it maps to ``T_b B C_a^+``, same row space);
* output-null space: the part of span(C_a) orthogonal to it (activity there does not reach area b);
* target space in area b: the column space of ``C_b B_{a->b}``;
* their rank: the number of singular values of ``B_{a->b} C_a^+`` above ``rel_tol`` x the largest, or
  given (e.g. by reduced-rank regression, `neurodyn.analysis.communication`);
* alignment: principal angles between the potent space and the top principal components of area a's
  denoised activity ``C_a E[x_a | y]``, and the share of that activity's variance in the potent and in
  the null space.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from jaxtyping import Float
from sklearn.decomposition import PCA

from neurodyn.validation import fail, positive_int
from neurodyn.models.lds.inference import LDSParams
from neurodyn.models.multi_area_lds.params import block_offsets

__all__ = ["CommunicationSubspace", "communication_subspace"]


@dataclass(frozen=True, eq=False)
class CommunicationSubspace:
    """Communication subspace of the projection ``source -> target`` (see module docstring).

    ``singular_values``: of ``B C_source^+``; ``potent`` (p_s x r) and ``null`` (p_s x (k_s - r)):
    orthonormal bases in the source area's neuron space; ``target`` (p_t x r): in the target's neuron
    space; ``latent_potent`` (k_s x r): row space of the fitted block in latent coordinates;
    ``pc_angles_deg``: principal angles between ``potent`` and the top-r PCs of the source's denoised
    activity; ``potent_variance``, ``null_variance``: shares of that activity's variance.
    """

    source: int
    target: int
    rank: int
    block: Float[np.ndarray, "target_latents source_latents"]
    singular_values: Float[np.ndarray, "singular"]
    potent: Float[np.ndarray, "source_neurons rank"]
    null: Float[np.ndarray, "source_neurons null_rank"]
    target_space: Float[np.ndarray, "target_neurons rank"]
    latent_potent: Float[np.ndarray, "source_latents rank"]
    pc_angles_deg: Float[np.ndarray, "rank"]
    potent_variance: float | None  # None when no latent means were given
    null_variance: float | None


def _orth(X, r):
    U, _, _ = np.linalg.svd(X, full_matrices=False)
    return U[:, :r]


def communication_subspace(params: LDSParams, latent_dims: Sequence[int], obs_sizes: Sequence[int], source: int, target: int,
                           rank: int | None = None, *, rel_tol: float = 0.1,
                           means: Float[np.ndarray, "*trials time latents"] | None = None) -> CommunicationSubspace:
    """`CommunicationSubspace` of a joint multi-area `LDSParams` (module docstring)."""
    if source == target:
        fail("target", target, "an area different from source")
    ko, po = block_offsets(latent_dims), block_offsets(obs_sizes)
    A, C = np.asarray(params.A), np.asarray(params.C)
    blk = A[ko[target]:ko[target + 1], ko[source]:ko[source + 1]]
    Cs = C[po[source]:po[source + 1], ko[source]:ko[source + 1]]
    Ct = C[po[target]:po[target + 1], ko[target]:ko[target + 1]]
    coupling = blk @ np.linalg.pinv(Cs)                 # (k_t x p_s)
    sv = np.linalg.svd(coupling, compute_uv=False)
    if rank is None:
        rank = int(np.sum(sv > rel_tol * sv[0])) if sv[0] > 0 else 0
    rank = positive_int("rank", rank)
    ks = ko[source + 1] - ko[source]
    if rank > min(ks, ko[target + 1] - ko[target]):
        fail("rank", rank, f"at most min(k_source, k_target) = {min(ks, ko[target + 1] - ko[target])}")
    potent = _orth(coupling.T, rank)
    colC = _orth(Cs, ks)
    rest = colC - potent @ (potent.T @ colC)
    null = _orth(rest, ks - rank) if ks > rank else np.zeros((Cs.shape[0], 0))
    target_space = _orth(Ct @ blk, rank)
    latent_potent = _orth(blk.T, rank)
    angles = np.zeros(rank)
    pv = nv = None
    if means is not None:
        xs = np.asarray(means)[..., ko[source]:ko[source + 1]].reshape(-1, ks)
        act = xs @ Cs.T
        pca = PCA(n_components=rank, svd_solver="full").fit(act)
        angles = np.sort(np.degrees(scipy.linalg.subspace_angles(potent, pca.components_.T)))
        actc = act - act.mean(0)
        total = float(np.sum(actc ** 2))
        pv = float(np.sum((actc @ potent) ** 2)) / total
        nv = float(np.sum((actc @ null) ** 2)) / total if null.shape[1] else 0.0
    return CommunicationSubspace(source=source, target=target, rank=rank, block=blk, singular_values=sv,
                                 potent=potent, null=null, target_space=target_space, latent_potent=latent_potent,
                                 pc_angles_deg=angles, potent_variance=pv, null_variance=nv)

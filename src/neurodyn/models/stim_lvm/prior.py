"""GP priors over time and the rotation parametrisation of the stimulation latent model (seed 001 §8.1-§8.2).

Latents have squared-exponential GP priors over time, ``k(t, t') = exp(-(t - t')^2 / (2 tau^2))``,
unit variance, independent across latents and conditions (§8.1). The prior of the stimulated latents
is broken at stimulation onset and offset: the kernel is block-diagonal over the three segments
``t < on``, ``on <= t < off``, ``t >= off`` (`segment_labels`). Latents are whitened through the
Cholesky factor of the kernel (`gp_cholesky`), ``z = L v`` with ``L L^T = k``.

The rotation of the contraction-only model (§8.2) is parametrised exactly on SO(K) as
``R = expm(S - S^T)`` with S strictly upper triangular (`rotation_from_params`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

__all__ = ["gp_cholesky", "rotation_from_params", "segment_labels"]


def segment_labels(t_ms: Float[np.ndarray, "time"], stim_on_ms: float,
                   stim_off_ms: float) -> Int[np.ndarray, "time"]:
    """0 before onset, 1 during ``[on, off)``, 2 after offset (bins labelled by their time)."""
    t = np.asarray(t_ms, float)
    return np.where(t < stim_on_ms, 0, np.where(t < stim_off_ms, 1, 2))


def gp_cholesky(t_ms: Float[np.ndarray, "time"], tau_ms: float = 100.0,
                segments: Int[np.ndarray, "time"] | None = None,
                jitter: float = 1e-6) -> Float[np.ndarray, "time time"]:
    """Cholesky factor L of the squared-exponential kernel ``exp(-(t-t')^2 / (2 tau^2))`` (§8.1).

    With ``segments`` (labels per bin) the kernel is zero across segments: the prior is broken at
    stimulation onset and offset. A jitter ``jitter * I`` keeps the factorisation stable.
    """
    t = np.asarray(t_ms, float)
    kernel = np.exp(-0.5 * (t[:, None] - t[None, :]) ** 2 / tau_ms ** 2)
    if segments is not None:
        seg = np.asarray(segments)
        kernel = kernel * (seg[:, None] == seg[None, :])
    return np.linalg.cholesky(kernel + jitter * np.eye(t.size))


def rotation_from_params(p: Float[Array, "latent_pairs"], k: int) -> Float[Array, "latents latents"]:
    """``R = expm(S - S^T)`` (§8.2), S strictly upper triangular holding the k(k-1)/2 entries of ``p``."""
    iu = np.triu_indices(k, 1)
    S = jnp.zeros((k, k), dtype=p.dtype).at[iu].set(p)
    return jax.scipy.linalg.expm(S - S.T)

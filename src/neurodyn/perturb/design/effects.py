"""Predicted effects of stimulation patterns on a linear response model (seed 001 §6, §10.1, §11, §14).

For each held pattern: the response trajectory, its projections on the task-dynamics and task-activity
spaces, its decay time after offset (`decay_time`, the seed 001 §11 analysis) and the change of the linear
readout ``C J nu`` (`predict_effects`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

from neurodyn.perturb.design.response import LinearResponseModel
from neurodyn.validation import fail, finite_array, positive_int

__all__ = ["PatternEffects", "decay_time", "predict_effects", "subspace_trajectory_operators"]


def decay_time(dist: Float[np.ndarray, "time"], dt_ms: float) -> float:
    """Time for ``dist`` (from the offset sample on) to fall to ``dist[0]/e``, linearly interpolated;
    the window length if it never does (the convention of the seed 001 §11 analysis of stimulation decay).

    With k the first sample at or below ``dist[0]/e`` (derived: linear interpolation between samples
    k - 1 and k of step ``dt_ms``)::

        tau = (k - 1 + (dist[k-1] - dist[0]/e) / (dist[k-1] - dist[k])) dt_ms

    0 for an empty or non-positive start, ``(len(dist) - 1) dt_ms`` (censored) if it never falls so far.
    """
    dist = np.asarray(dist, float)
    if dist.size == 0 or dist[0] <= 0:
        return 0.0
    target = dist[0] / np.e
    below = np.flatnonzero(dist <= target)
    if below.size == 0:
        return float((dist.size - 1) * dt_ms)
    k = int(below[0])
    frac = (dist[k - 1] - target) / max(dist[k - 1] - dist[k], 1e-300)
    return float((k - 1 + frac) * dt_ms)


@dataclass(frozen=True)
class PatternEffects:
    """Predicted effects of P patterns (arrays of shape (P,); trajectories (P, T) of norms).

    ``dynamics_projection``: ``||Q^T Delta nu||`` at the end of the window (absolute displacement in the
    task-dynamics space); ``dynamics_decay_time_ms``: 1/e decay time of ``||Q^T Delta nu_t||`` after offset;
    ``readout_change``: mean over the post-offset steps of ``||C J Delta nu_t||`` (the effect on the
    readout, i.e. on behaviour); ``readout_change_end``: at the end of the window; ``dynamics_norm``,
    ``readout_norm``: trajectories (P, T). Computed for every pattern from the K-dimensional operators.

    With ``full=True`` (simulation of the N-dimensional response) also: ``dynamics_fraction`` =
    ``dynamics_projection / ||Delta nu||`` (seed 001 §11, §14), ``activity_fraction`` (the same for the
    task activity space, if a basis was given), ``decay_time_ms`` (1/e decay of ``||Delta nu||`` after
    offset) and ``response_norm`` (P, T); otherwise these are None.
    """

    dynamics_projection: Float[np.ndarray, "patterns"]
    dynamics_decay_time_ms: Float[np.ndarray, "patterns"]
    readout_change: Float[np.ndarray, "patterns"]
    readout_change_end: Float[np.ndarray, "patterns"]
    dynamics_norm: Float[np.ndarray, "patterns time"]
    readout_norm: Float[np.ndarray, "patterns time"]
    dynamics_fraction: Float[np.ndarray, "patterns"] | None = None
    activity_fraction: Float[np.ndarray, "patterns"] | None = None
    decay_time_ms: Float[np.ndarray, "patterns"] | None = None
    response_norm: Float[np.ndarray, "patterns time"] | None = None


def subspace_trajectory_operators(model: LinearResponseModel, n_on: int,
                                  n_post: int) -> Float[np.ndarray, "time latents neurons"]:
    """Operators ``O_t`` (T+1, K, N) with ``Q^T Delta nu_t = O_t u`` for a held input u (t = 0..n_on+n_post).

    With ``R_k = Q^T F^k Gamma`` and prefix sums ``S_t = sum_{k<t} R_k``: during the window
    ``Q^T Delta nu_t = S_t u`` (t <= n_on) and after it ``Q^T Delta nu_t = sum_{k<n_on} Q^T F^{t-n_on+k}
    Gamma u = (S_t - S_{t-n_on}) u``. Cost O((n_on + n_post) K N^2), against O(P (n_on + n_post) N^2)
    for simulating P patterns in full.
    """
    n_on = positive_int("n_on", n_on)
    n_post = positive_int("n_post", n_post, 0)
    T = n_on + n_post
    R = model.basis.T
    S = np.zeros((T + 1,) + R.shape)
    cur = R
    for k in range(T):
        S[k + 1] = S[k] + (cur if model.Gamma is None else cur @ model.Gamma)
        cur = cur @ model.F
    ops = S.copy()
    ops[n_on + 1:] = S[n_on + 1:] - S[1:T - n_on + 1]
    return ops


def predict_effects(model: LinearResponseModel, inputs: Float[np.ndarray, "patterns neurons"], n_on: int,
                    n_post: int, *, activity_basis: Float[np.ndarray, "neurons _"] | None = None,
                    full: bool = True, chunk: int = 64) -> PatternEffects:
    """Predicted effects of held input patterns ``inputs`` (P, N) on ``model`` (see `PatternEffects`).

    The deviation from the unstimulated trajectory (held for ``n_on`` steps, then ``n_post`` free steps;
    seed 001 §11: 200 ms of stimulation) does not depend on the condition in a linear model. Its
    task-dynamics coordinates come from `subspace_trajectory_operators`, the readout from them through
    ``C J nu = C (J Q) (Q^T nu)`` (J's rows lie in span Q); with ``full`` the N-dimensional response is
    simulated (`LinearResponseModel.responses`, lax.scan) for the full-space quantities.
    ``activity_basis`` (N x k, orthonormal columns) spans the task activity space (PCA, seed 001 §6).
    """
    U = finite_array("inputs", inputs)
    U = U[None] if U.ndim == 1 else U
    if U.ndim != 2 or U.shape[1] != model.n:
        fail("inputs", U, f"(P, {model.n}) held input patterns")
    Q = model.basis
    ops = subspace_trajectory_operators(model, n_on, n_post)
    X = np.einsum("tkn,pn->ptk", ops, U)                        # (P, T+1, K) task-dynamics coordinates
    dn = np.linalg.norm(X, axis=-1)
    if model.C is not None:
        ron = np.linalg.norm(X @ (model.C @ model.J @ Q).T, axis=-1)
    else:
        ron = np.zeros_like(dn)
    end = n_on
    dp = dn[:, end]
    taud = np.array([decay_time(r[end:], model.dt_ms) for r in dn])
    rc = ron[:, end + 1:].mean(1) if n_post > 0 else ron[:, end]
    extra = {}
    if full:
        Va = None if activity_basis is None else finite_array("activity_basis", activity_basis, ndim=2)
        if Va is not None and Va.shape[0] != model.n:
            fail("activity_basis", Va, f"{model.n} rows (one per unit)")
        rn, af = [], []
        for s in range(0, U.shape[0], chunk):
            d = model.responses(U[s:s + chunk], n_on, n_post)   # (p, T+1, N)
            rn.append(np.linalg.norm(d, axis=-1))
            if Va is not None:
                af.append(np.linalg.norm(d[:, end] @ Va, axis=-1) / np.maximum(rn[-1][:, end], 1e-300))
        rn = np.concatenate(rn)
        extra = {"dynamics_fraction": dp / np.maximum(rn[:, end], 1e-300),
                 "activity_fraction": np.concatenate(af) if Va is not None else None,
                 "decay_time_ms": np.array([decay_time(r[end:], model.dt_ms) for r in rn]),
                 "response_norm": rn}
    return PatternEffects(dp, taud, rc, ron[:, end], dn, ron, **extra)

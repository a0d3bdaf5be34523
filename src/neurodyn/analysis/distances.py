"""Unbiased cross-validated distance estimators (seed 001 Methods §7, §7.1, §7.2; after Willett et al.).

The naive squared distance between two trial averages, ``||mean(a) - mean(b)||^2``, is biased upward
by the noise of the averages (``sum_d var_a,d / n_a + var_b,d / n_b``). The cross-validated estimator
splits the trials of both conditions into ``F = min(n_a, n_b)`` folds; for fold i let ``L_i`` be the
difference of the trial averages over all *other* folds ("large fold") and ``S_i`` the difference over
fold i ("small fold"). Because L_i and S_i use disjoint trials, ``E[L_i . S_i] = ||mu_a - mu_b||^2``:

    simultaneous recordings (§7.2):   D^2 = 1/F sum_i L_i^T S_i
    projected into W (D x K):          D_W^2 = 1/F sum_i (W^T L_i)^T (W^T S_i)

Sequential recordings (§7.1): neuron d has its own trials and its own ``F_d = min(M_d, N_d)`` folds;
the full-space estimate sums per-neuron estimates, ``D^2 = sum_d 1/F_d sum_i L_{i,d} S_{i,d}``. The
projection mixes neurons, so §7.1 averages over all combinations of folds ``(f_1, ..., f_D)`` (one
per neuron) of ``(w_k . L_f)(w_k . S_f)``. The expressions were lost from the text; expanding the
product, the average over independent fold choices gives the matrix

    Abar_{dd'} = Lbar_d Sbar_d'                 (d != d', Lbar_d = mean_i L_{i,d}, Sbar_d likewise)
    Abar_{dd}  = 1/F_d sum_i L_{i,d} S_{i,d}

and ``D_W^2 = sum_k w_k^T Abar w_k = trace(W^T Abar W)``. Off-diagonal terms pair different neurons,
recorded on different trials, so ``E[Lbar_d Sbar_d'] = delta_d delta_d'``; the diagonal is the
per-neuron unbiased estimate: the whole estimate is unbiased.

Task-space diameter (§7.2): the largest projected unbiased distance between any two points (condition,
time) of the reference trajectories, ``max_{p,q} sqrt(max(D_W^2(p, q), 0))``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from jaxtyping import Float

from neurodyn.validation import fail, finite_array, positive_int

__all__ = ["cv_distance_sq", "cv_distance_sq_sequential", "naive_distance_sq", "task_space_diameter"]


def _trials(name, x, min_trials=2):
    x = finite_array(name, x)
    if x.ndim < 2:
        fail(name, x, "trials along the first axis and neurons along the last (n_trials, ..., N)")
    if x.shape[0] < min_trials:
        fail(name, x, f"at least {min_trials} trials")
    return x


def _projector(W, N):
    if W is None:
        return None
    W = finite_array("W", W)
    if W.ndim == 1:
        W = W[:, None]
    if W.ndim != 2 or W.shape[0] != N:
        fail("W", W, f"a projection matrix of shape ({N}, K)")
    return W


def _fold_means(x, n_folds):
    """Per-fold means ``(F, ...)`` and the complementary ("large fold") means ``(F, ...)``."""
    n = x.shape[0]
    ids = np.arange(n) % n_folds
    sums = np.stack([x[ids == i].sum(0) for i in range(n_folds)])
    counts = np.bincount(ids, minlength=n_folds).reshape((n_folds,) + (1,) * (x.ndim - 1))
    total = x.sum(0)
    return sums / counts, (total - sums) / (n - counts)


def naive_distance_sq(trials_a: Float[np.ndarray, "trials *batch neurons"],
                      trials_b: Float[np.ndarray, "trials *batch neurons"],
                      W: Float[np.ndarray, "neurons latents"] | None = None) -> Float[np.ndarray, "*batch"]:
    """Plug-in squared distance ``||W^T (mean_a - mean_b)||^2`` (biased upward by the noise)."""
    a = _trials("trials_a", trials_a, 1)
    b = _trials("trials_b", trials_b, 1)
    if a.shape[1:] != b.shape[1:]:
        fail("trials_b", b, f"the same shape as trials_a after the trial axis {a.shape[1:]}")
    delta = a.mean(0) - b.mean(0)
    W = _projector(W, a.shape[-1])
    if W is not None:
        delta = delta @ W
    return np.sum(delta ** 2, axis=-1)


def cv_distance_sq(trials_a: Float[np.ndarray, "trials *batch neurons"],
                   trials_b: Float[np.ndarray, "trials *batch neurons"],
                   W: Float[np.ndarray, "neurons latents"] | None = None, n_folds: int | None = None
                   ) -> Float[np.ndarray, "*batch"]:
    """Unbiased squared distance between trial averages of simultaneously recorded neurons (§7.2).

    ``trials_a (n_a, ..., N)``, ``trials_b (n_b, ..., N)`` (extra axes, e.g. time, are kept);
    ``W (N, K)`` projects into a subspace; ``n_folds`` defaults to ``min(n_a, n_b)``. Returns
    ``1/F sum_i (W^T L_i) . (W^T S_i)`` over the leading extra axes (can be negative when the true
    distance is small: it is unbiased, not clipped).
    """
    a = _trials("trials_a", trials_a)
    b = _trials("trials_b", trials_b)
    if a.shape[1:] != b.shape[1:]:
        fail("trials_b", b, f"the same shape as trials_a after the trial axis {a.shape[1:]}")
    F = min(a.shape[0], b.shape[0]) if n_folds is None else positive_int("n_folds", n_folds, 2)
    if F > min(a.shape[0], b.shape[0]):
        fail("n_folds", n_folds, f"at most min(n_a, n_b) = {min(a.shape[0], b.shape[0])}")
    sa, la = _fold_means(a, F)
    sb, lb = _fold_means(b, F)
    S, L = sa - sb, la - lb
    W = _projector(W, a.shape[-1])
    if W is not None:
        S, L = S @ W, L @ W
    return np.mean(np.sum(L * S, axis=-1), axis=0)


def cv_distance_sq_sequential(trials_a: Sequence[Float[np.ndarray, "trials *batch"]],
                              trials_b: Sequence[Float[np.ndarray, "trials *batch"]],
                              W: Float[np.ndarray, "neurons latents"] | None = None) -> Float[np.ndarray, "*batch"]:
    """Unbiased squared distance for sequentially recorded neurons (§7.1), full space or projected.

    ``trials_a[d]`` is neuron d's ``(M_d, ...)`` trials in condition a (``trials_b[d]``: ``(N_d, ...)``),
    each neuron with its own trial count. With ``W (D, K)`` the fold-combination estimate
    ``trace(W^T Abar W)`` is returned (module docstring), otherwise the sum of per-neuron estimates.
    """
    if len(trials_a) != len(trials_b) or len(trials_a) == 0:
        fail("trials_b", len(trials_b), f"one trial array per neuron, as trials_a ({len(trials_a)})")
    diag, Lbar, Sbar = [], [], []
    for dd, (ta, tb) in enumerate(zip(trials_a, trials_b)):
        a = _trials(f"trials_a[{dd}]", np.asarray(ta, float)[..., None], 2)
        b = _trials(f"trials_b[{dd}]", np.asarray(tb, float)[..., None], 2)
        if a.shape[1:] != b.shape[1:]:
            fail(f"trials_b[{dd}]", b[..., 0], f"the shape of trials_a[{dd}] after the trial axis")
        F = min(a.shape[0], b.shape[0])
        sa, la = _fold_means(a[..., 0], F)
        sb, lb = _fold_means(b[..., 0], F)
        S, L = sa - sb, la - lb
        diag.append(np.mean(L * S, axis=0))
        Lbar.append(L.mean(0))
        Sbar.append(S.mean(0))
    diag, Lbar, Sbar = (np.stack(v, axis=-1) for v in (diag, Lbar, Sbar))   # (..., D)
    if W is None:
        return diag.sum(-1)
    W = _projector(W, diag.shape[-1])
    # trace(W^T Abar W) with Abar = Lbar Sbar^T off the diagonal, diag on it
    pl, ps = Lbar @ W, Sbar @ W
    off = np.sum(pl * ps, axis=-1) - np.sum((Lbar * Sbar)[..., :, None] * W ** 2, axis=(-2, -1))
    on = np.sum(diag[..., :, None] * W ** 2, axis=(-2, -1))
    return off + on


def task_space_diameter(trials_by_condition: Sequence[Float[np.ndarray, "trials time neurons"]],
                        W: Float[np.ndarray, "neurons latents"] | None = None, n_folds: int | None = None
                        ) -> tuple[float, tuple[int, int], tuple[int, int]]:
    """Largest projected unbiased distance between any two (condition, time) points (§7.2).

    ``trials_by_condition[c]`` is ``(n_c, T, N)`` single trials of reference (e.g. non-stimulated)
    condition c; all conditions are split into ``F = min_c n_c`` folds. Returns
    ``(diameter, (c_p, t_p), (c_q, t_q))``.
    """
    if len(trials_by_condition) == 0:
        fail("trials_by_condition", trials_by_condition, "a non-empty list of (n_trials, T, N) arrays")
    xs = [_trials(f"trials_by_condition[{c}]", t) for c, t in enumerate(trials_by_condition)]
    for c, x in enumerate(xs):
        if x.ndim != 3 or x.shape[1:] != xs[0].shape[1:]:
            fail(f"trials_by_condition[{c}]", x, f"(n_trials, T, N) with (T, N) = {xs[0].shape[1:]}")
    F = min(x.shape[0] for x in xs) if n_folds is None else positive_int("n_folds", n_folds, 2)
    W = _projector(W, xs[0].shape[-1])
    small, large = zip(*(_fold_means(x, F) for x in xs))
    S = np.concatenate([s.reshape(F, -1, s.shape[-1]) for s in small], axis=1)   # (F, P, N), P = n_cond * T
    L = np.concatenate([l.reshape(F, -1, l.shape[-1]) for l in large], axis=1)
    if W is not None:
        S, L = S @ W, L @ W
    # D2[p, q] = mean_i (L_p - L_q) . (S_p - S_q)
    G = np.einsum("fpk,fqk->pq", L, S) / F
    dg = np.diag(G)
    D2 = dg[:, None] + dg[None, :] - G - G.T
    k = int(np.argmax(D2))
    p, q = np.unravel_index(k, D2.shape)
    T = xs[0].shape[1]
    return float(np.sqrt(max(D2[p, q], 0.0))), (int(p // T), int(p % T)), (int(q // T), int(q % T))

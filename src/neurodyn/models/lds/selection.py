"""Model selection and uncertainty of the latent LDS (seed 001 Methods §9, §12).

`grid_search_lds` chooses the latent dimension K and the transition bin by held-out scores that never see
the scored data (`neurodyn.models.heldout`); `cross_validated_co_smoothing` scores condition folds by
co-smoothing; `bootstrap_eigenvalues` refits the LDS to trial-resampled averages (seed 001 §9: 1000
resamples) and `eigenvalue_density` histograms the eigenvalues it returns.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
from jaxtyping import Complex, Float, Int
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from neurodyn.analysis.metrics import r2_difference, r2_score
from neurodyn.models.base import check_rates
from neurodyn.models.heldout import co_smoothing, initial_state_heldout, neuron_folds, pca_ridge_baseline
from neurodyn.models.lds.model import LDS
from neurodyn.progress import progress
from neurodyn.validation import fail, finite_array, positive, positive_int

__all__ = ["bootstrap_eigenvalues", "condition_folds", "cross_validated_co_smoothing", "eigenvalue_density",
           "grid_search_lds", "latent_grid", "select_latent_dimension"]

_K_CANDIDATES = (1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32)


def latent_grid(n_neurons: int, *, max_K: int = 32) -> list[int]:
    """Default candidates for the latent dimension K of a recording of ``n_neurons`` neurons.

    The grid is roughly geometric (1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32: finer where the
    co-smoothing score changes fastest) and capped at ``min(max_K, n_neurons // 4)``: co-smoothing infers
    the K latents from the 80% of neurons held in, and a K near the number of neurons leaves the emission
    matrix unidentifiable from them. The texts fix K for their data (seed 001 §10: K = N/100 of a
    2000-unit network); a user's recording chooses its own from this grid by `grid_search_lds`.
    """
    n = positive_int("n_neurons", n_neurons, 2)
    cap = max(1, min(positive_int("max_K", max_K), n // 4))
    return [k for k in _K_CANDIDATES if k <= cap] or [1]


def condition_folds(n: int, n_folds: int) -> Int[np.ndarray, "conditions"]:
    """Fold index of each of ``n`` conditions (interleaved, ``i % n_folds``)."""
    return np.arange(n) % n_folds


def cross_validated_co_smoothing(estimator, X: Float[np.ndarray, "conditions time neurons"], n_folds: int, *,
                                 seed: int = 0, n_neuron_folds: int = 5,
                                 baseline: bool = True, groups=None, select_K: Sequence[int] | None = None,
                                 select_transition: Sequence[int | None] | None = None,
                                 select_folds: int = 4) -> dict:
    """Protocol (b) of `neurodyn.models.heldout` over condition folds and neuron folds: every condition and
    every neuron is held out once.

    For each condition fold, a clone of ``estimator`` is fit on the other conditions (with their ``groups``
    labels). For each of ``n_neuron_folds`` seeded neuron folds (`neuron_folds`; 5 folds = 20% of the
    neurons each), the held-out conditions' held-out neurons are predicted from their held-in neurons
    (`co_smoothing`): a held-out condition whose input group is among the training conditions' keeps that
    group's inputs and only its initial state is inferred (protocol (a)'s rule); one of a new group also
    has its hold/go inputs inferred. With ``baseline``, the same neurons are also predicted by
    `pca_ridge_baseline` with K = the estimator's latent dimension, fitted on the same training
    conditions. Scores are pooled over all conditions and neurons (`r2_score`).

    Nested selection: with ``select_K`` (and/or ``select_transition``), each condition fold first chooses
    the LDS's K (and transition bin) by `grid_search_lds` on its own training conditions only
    (``select_folds`` inner condition folds) and fits ``clone(estimator).set_params(n_latents=K,
    transition=...)``, so that the hyper-parameters of a score never saw the conditions it scores
    (a K chosen on all conditions and then cross-validated on the same ones is optimistically biased).
    The chosen values are returned per fold as ``fold_K`` / ``fold_transition``.

    Returns ``heldout_neuron_r2``, ``heldout_neuron_r2_baseline`` (None without baseline),
    ``heldout_neuron_r2_minus_baseline`` and its jackknife standard error over neurons
    ``heldout_neuron_r2_minus_baseline_se`` (`neurodyn.analysis.metrics.r2_difference`), per neuron fold
    ``fold_r2`` / ``fold_r2_baseline``, ``prediction`` / ``prediction_baseline`` ``(conditions, T, N)``,
    ``neuron_folds`` and the fitted ``models``.
    """
    X = check_rates(X, "X", min_times=3)
    nc, T, N = X.shape
    n_folds = positive_int("n_folds", n_folds, 2)
    if n_folds > nc:
        fail("n_folds", n_folds, f"at most the number of conditions ({nc})")
    nfolds = neuron_folds(N, n_neuron_folds, seed)
    folds = condition_folds(nc, n_folds)
    labels = None if groups is None else np.asarray(groups)
    if labels is not None and labels.shape != (nc,):
        fail("groups", groups, f"one input-group label per condition ({nc})")
    pred = np.empty(X.shape)
    pred_b = np.empty(X.shape)
    models, fold_K, fold_tr = [], [], []
    nested = bool(select_K) or bool(select_transition)
    for f in range(n_folds):
        te = folds == f
        est = clone(estimator)
        if nested:
            if (~te).sum() < 2:
                fail("select_K", select_K, f"at least 2 training conditions per fold for nested selection "
                     f"({nc} conditions in {n_folds} folds leave {int((~te).sum())})")
            par = est.get_params()
            tr_grid = list(select_transition) if select_transition else [par["transition"]]
            res = grid_search_lds(X[~te], list(select_K) if select_K else [par["n_latents"]], tr_grid,
                                  n_folds=min(positive_int("select_folds", select_folds, 2), int((~te).sum())),
                                  groups=None if labels is None else labels[~te],
                                  max_iter=min(int(par.get("max_iter", 100)), 100), seed=seed)
            est.set_params(n_latents=res["best_K"], transition=res["best_transition"])
            fold_K.append(res["best_K"])
            fold_tr.append(res["best_transition"])
        m = est.fit(X[~te], None if labels is None else labels[~te])
        models.append(m)
        idx = np.flatnonzero(te)
        known = np.zeros(idx.size, bool) if labels is None else np.isin(labels[idx], labels[~te])
        for out in nfolds:
            heldin = np.setdiff1d(np.arange(N), out)
            for sel, g in ((known, True), (~known, False)):
                if sel.any():
                    c = idx[sel]
                    pred[np.ix_(c, np.arange(T), out)] = co_smoothing(m, X[c], out,
                                                                      labels[c] if g else None).prediction
            if baseline:
                K = int(m.A_.shape[0])
                pred_b[np.ix_(idx, np.arange(T), out)] = pca_ridge_baseline(X[~te], X[te], heldin, out, K)[1]
    diff, diff_se = r2_difference(X, pred, pred_b) if baseline else (None, None)
    return {"heldout_neuron_r2": r2_score(X, pred),
            "heldout_neuron_r2_baseline": r2_score(X, pred_b) if baseline else None,
            "heldout_neuron_r2_minus_baseline": diff, "heldout_neuron_r2_minus_baseline_se": diff_se,
            "fold_r2": np.array([r2_score(X[:, :, o], pred[:, :, o]) for o in nfolds]),
            "fold_r2_baseline": np.array([r2_score(X[:, :, o], pred_b[:, :, o]) for o in nfolds]) if baseline
            else None,
            "prediction": pred, "prediction_baseline": pred_b if baseline else None,
            "neuron_folds": nfolds, "models": models,
            "fold_K": fold_K if nested else None, "fold_transition": fold_tr if nested else None}


def grid_search_lds(X: Float[np.ndarray, "conditions time neurons"], K_grid: Sequence[int],
                    transition_grid: Sequence[int | None], *, n_folds: int = 4,
                    groups=None, max_iter: int = 100, X_val: Float[np.ndarray, "conditions time neurons"] | None = None,
                    seed: int = 0) -> dict:
    """Cross-validated choice of K and transition bin (seed 001 §9) by held-out scores that never see the
    scored data (`neurodyn.models.heldout`).

    Without ``X_val``: conditions are split into ``n_folds`` folds and each fold is scored by co-smoothing
    (protocol (b), `cross_validated_co_smoothing`, 5 seeded neuron folds of 20%; held-out conditions
    of an input group seen in training keep its inputs, protocol (a)'s rule); the highest pooled
    ``heldout_neuron_r2`` wins. With ``X_val`` (validation trial averages of the same
    conditions, e.g. seed 001's pre-stimulation bins of stimulation trials), the model is fit on ``X`` and
    each validation condition keeps its condition's inputs; only its initial state is inferred and the
    noise-free forward prediction is compared with ``X_val`` (protocol (a), §9's "lowest mean-squared
    prediction error on held out validation data"); the lowest ``val_mse`` wins.

    Returns ``best_K``, ``best_transition`` and the grid (len(K) x len(transition)) ``heldout_neuron_r2``
    or ``val_mse``.
    """
    X = check_rates(X, "X", min_times=3)
    n_folds = positive_int("n_folds", n_folds, 2)
    if X_val is None and X.shape[0] < n_folds:
        fail("n_folds", n_folds, f"at most the number of conditions ({X.shape[0]})")
    if X_val is not None:
        X_val = check_rates(X_val, "X_val", min_times=3)
        if X_val.shape[0] != X.shape[0] or X_val.shape[2] != X.shape[2]:
            fail("X_val", X_val, f"the conditions and neurons of X {(X.shape[0], X.shape[2])}")
    grid = np.full((len(K_grid), len(transition_grid)), np.nan)
    cells = [(i, j) for i in range(len(K_grid)) for j in range(len(transition_grid))]
    for i, j in progress(cells, len(cells), "LDS grid search"):
        K, tr = K_grid[i], transition_grid[j]
        est = LDS(K, tr, max_iter=max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if X_val is not None:
                m = est.fit(X, groups)
                g = m.group_labels_[m.groups_]
                pred = initial_state_heldout(m, X_val, g).prediction
                grid[i, j] = float(np.mean((pred - X_val) ** 2))
            else:
                grid[i, j] = cross_validated_co_smoothing(est, X, n_folds, seed=seed, baseline=False,
                                                          groups=groups)["heldout_neuron_r2"]
    best = np.nanargmin(grid) if X_val is not None else np.nanargmax(grid)
    i, j = np.unravel_index(int(best), grid.shape)
    key = "val_mse" if X_val is not None else "heldout_neuron_r2"
    return {key: grid, "best_K": int(K_grid[i]), "best_transition": transition_grid[j]}


def select_latent_dimension(X: Float[np.ndarray, "conditions time neurons"], transition: int | None = None, *,
                            K_grid: Sequence[int] | None = None, n_folds: int = 4, groups=None,
                            max_iter: int = 100, seed: int = 0) -> dict:
    """K for a model of the conditions ``X`` (give it training conditions only), seed 001 §9's cross-validated
    choice of the latent dimension applied to a user's recording: `grid_search_lds` over
    ``K_grid`` (default `latent_grid` of the number of neurons) with the transition bin fixed, over
    ``min(n_folds, conditions)`` condition folds. Returns ``best_K``, ``K_grid`` and its co-smoothing
    ``heldout_neuron_r2`` per K (1-D)."""
    X = check_rates(X, "X", min_times=3)
    if X.shape[0] < 2:
        fail("X", X, "at least 2 conditions to choose K over condition folds (or fix K)")
    Ks = latent_grid(X.shape[2]) if K_grid is None else [positive_int("K_grid", k) for k in K_grid]
    if not Ks:
        fail("K_grid", K_grid, "at least one latent dimension to search")
    res = grid_search_lds(X, Ks, [transition], n_folds=min(positive_int("n_folds", n_folds, 2), X.shape[0]),
                          groups=groups, max_iter=max_iter, seed=seed)
    return {"best_K": int(res["best_K"]), "K_grid": list(Ks), "heldout_neuron_r2": res["heldout_neuron_r2"][:, 0]}


def bootstrap_eigenvalues(trials: Sequence[Float[np.ndarray, "trials time neurons"]], n_latents: int,
                          transition: int | None = None, *, n_boot: int = 1000, seed: int = 0, max_iter: int = 200,
                          tol: float = 1e-7, groups=None) -> Complex[np.ndarray, "batch latents"]:
    """Eigenvalues of A over bootstrap refits (seed 001 §9, 1000 resamples): ``(n_boot, K)`` complex.

    ``trials`` is a list over conditions of single-trial rates ``(n_trials_c, T, N)``. Each replicate
    resamples every condition's trials with replacement, averages them and refits the LDS from its own
    PCA initialisation (full refits: a warm start from the fit to all trials would pull every replicate
    toward that fit and can understate the spread), sorted by decreasing modulus.
    """
    if len(trials) == 0:
        fail("trials", trials, "a non-empty list of (n_trials, T, N) arrays, one per condition")
    trials = [finite_array(f"trials[{c}]", t, ndim=3) for c, t in enumerate(trials)]
    for c, t in enumerate(trials):
        if t.shape[0] == 0:
            fail(f"trials[{c}]", t, "at least one trial per condition")
    n_boot = positive_int("n_boot", n_boot)
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, n_latents), dtype=complex)
    for b in progress(range(n_boot), n_boot, "LDS bootstrap"):
        Xb = np.stack([t[rng.integers(0, t.shape[0], t.shape[0])].mean(0) for t in trials])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            m = LDS(n_latents, transition, max_iter=max_iter, tol=tol).fit(Xb, groups)
        lam = np.linalg.eigvals(m.A_)
        out[b] = lam[np.argsort(-np.abs(lam))]
    return out


def eigenvalue_density(eigs: Complex[np.ndarray, "..."], bins: int = 60, extent: float = 1.1
                       ) -> tuple[Float[np.ndarray, "bins bins"], Float[np.ndarray, "edges"],
                                  Float[np.ndarray, "edges"]]:
    """2-d histogram density of eigenvalues on ``[-extent, extent]^2``: ``(density, re_edges, im_edges)``."""
    eigs = np.asarray(eigs).ravel()
    positive_int("bins", bins)
    positive("extent", extent)
    H, xe, ye = np.histogram2d(eigs.real, eigs.imag, bins=bins, range=[[-extent, extent], [-extent, extent]],
                               density=True)
    return H, xe, ye

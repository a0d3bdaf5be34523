"""Experiment `lds-fit` (also ``neurodyn fit lds --data FILE``): latent LDS by EM (seed 001 §9, §12).

Fits ``x_{t+1} = A x_t + B u_{c, kappa(t)} + w``, ``y_t = C x_t + d + v`` to trial-averaged rates
(`neurodyn.models.LDS`): one input vector per condition and epoch ('hold' before the transition time,
'go' after it). K and the transition time are chosen by cross-validated grid search over held-out
conditions when grids are given (§9). Reported:

* ``K``, ``transition_ms``, ``loglik`` (final EM log-likelihood of the training data), ``loglik_per_bin``
  (`LDS.score`: mean log-likelihood per condition-time bin), ``n_iter``, ``em_converged`` (``stop_reason_``
  of the fit is "converged"; the report notes the reason otherwise);
* ``signal_var_explained_train``: fraction of variance of each condition predicted forward, without
  noise, from its fitted initial state and inputs (§12);
* ``heldout_neuron_r2``: co-smoothing (protocol (b) of `neurodyn.models.heldout`): leave one condition
  out; a seeded 20% of the neurons is held out, in 5 disjoint folds (``seed``) so that every neuron is
  held out once; the held-out condition's initial state and hold/go inputs are inferred from its held-in
  neurons only, with every parameter fit on the other conditions, and its held-out neurons are predicted
  from the posterior-mean latents; R^2 pooled over all neurons and conditions (per neuron fold:
  ``heldout_neuron_r2_folds``). ``heldout_neuron_r2_baseline``: the same split scored by ridge
  regression of the held-out neurons on the top-K PCs of the held-in neurons, fitted on the training
  conditions. No score sees the bins it predicts. (Protocol (a), only the initial state inferred, needs
  held-out conditions that share an input group with training conditions; here each condition is its own
  group, so it does not apply.)
* ``eig_max_abs`` (largest |eigenvalue| of A, per 10-ms step of the data's bins) and ``henrici``
  (normalised departure from normality of A, §9.2);
* with single trials and ``n_boot > 0``: a bootstrap density of A's eigenvalues (§9, full refits).

The run folder holds ``model.npz`` (`LDS.save`; read it with `neurodyn.models.load_model`).

Measured on the bundled M1 data (seed 0, 141 neurons in 5 folds): ``--quick`` (K = 4, -200..300 ms)
``heldout_neuron_r2`` 0.350 against the PCA-ridge baseline's 0.339 (per neuron fold 0.305/0.313,
0.274/0.280, 0.390/0.380, 0.435/0.419, 0.324/0.286: a single 20% split, 28 neurons, can land on either
side). The default run (-400..400 ms; K from `latent_grid` = 1..32, chosen on all 8 conditions: 12, and
inside each left-out fold on the other 7: 12 or 16; 2.9 min on 2 idle cores) 0.565 against 0.553,
+0.013 +- 0.007. Before nested selection, K was chosen from 3, 5, 8 on all conditions (8, the grid's edge)
and the same score was 0.482 against 0.481. Its A has an eigenvalue of modulus 1.06 per bin, so the
noise-free forward prediction of the training conditions diverges (``signal_var_explained_train`` -6.2;
the report says so); co-smoothing is unaffected.

K is chosen from ``grid_K`` over condition folds by the co-smoothing R^2 of held-out neurons
(`grid_search_lds`), and the held-out score repeats that choice inside each of its folds on the training
conditions only (nested: `cross_validated_co_smoothing(select_K=...)`), so that no score's
hyper-parameters saw the condition it scores.

Data (`neurodyn.data.prepare`): with ``data``, a user's recording is used whole, soft-normalised only
when its rates are in spikes/s, with the hold/go transition the file names (else one input epoch); the
resolved settings are printed and written to config.json. Without ``data``: the bundled CC0 M1
center-out dataset (8 reach directions, 141 units), soft-normalised ``r / (range + 5)`` as its SOURCE
notes advise, its window (-400..400 ms) and transition (-150 ms) in ms from movement onset.
"""

from __future__ import annotations

import warnings

import numpy as np
from typing import Literal

from pydantic import Field
from sklearn.exceptions import ConvergenceWarning

from neurodyn.analysis import henrici, signal_variance_explained
from neurodyn.data.prepare import prepare_from_config, transition_bin
from neurodyn.runner import EpochOptions
from neurodyn.runner import Run, experiment
from neurodyn.models.lds import (
    LDS,
    bootstrap_eigenvalues,
    cross_validated_co_smoothing,
    eigenvalue_density,
    grid_search_lds,
    latent_grid,
)
from neurodyn.report.figures import new_figure, plot_spectrum, rate_label, small_multiples


class LDSFitConfig(EpochOptions):
    data: str | None = Field(None, description="path to a .npz/.mat/.nwb dataset (None: bundled M1 data)")
    n_latents: int = Field(5, ge=1, description="latent dimension K when no grid is given")
    grid_K: list[int] | Literal["auto"] = Field(
        "auto", description="K values for the cross-validated grid search (auto: `latent_grid` of the number of "
                            "neurons, 1..min(32, N/4); []: use n_latents)")
    grid_transition_ms: list[float] = Field(default_factory=list, description="transition times for the grid search")
    grid_folds: int = Field(4, ge=2, description="condition folds of the grid search")
    max_iter: int = Field(150, ge=1, description="EM iterations (upper bound)")
    tol: float = Field(1e-7, gt=0, description="EM relative log-likelihood tolerance")
    n_boot: int = Field(0, ge=0, description="bootstrap refits over trials (needs single trials)")


@experiment("lds-fit", LDSFitConfig,
            "Seed 001 §9/§12: latent LDS with hold/go inputs fit by EM; co-smoothing of held-out neurons on "
            "held-out conditions against a PCA-ridge baseline, eigenvalues, Henrici non-normality.",
            quick={"n_latents": 4, "grid_K": [], "max_iter": 40, "bundled_window_ms": [-200.0, 300.0]})
def run_lds_fit(cfg: LDSFitConfig, run: Run) -> dict:
    prep = prepare_from_config(cfg, min_conditions=2, record=run.out / "config.json")
    data, Y, scale = prep.data, prep.Y, prep.scale
    C, T, N = Y.shape
    if C < 2:
        raise ValueError(f"data={cfg.data!r}: expected at least 2 conditions for the held-out score; found {C}")
    if N < 3:
        raise ValueError(f"data={cfg.data!r}: expected at least 3 neurons for co-smoothing; found {N}")
    K, tr_ms = cfg.n_latents, prep.transition_ms
    grid_K = latent_grid(N) if cfg.grid_K == "auto" else cfg.grid_K
    if cfg.grid_K == "auto" and C < 3:
        grid_K = []
        run.note(f"{C} conditions: too few to choose K inside each left-out fold, so K = n_latents = {K}.")
    tr_grid = None
    if grid_K or cfg.grid_transition_ms:
        Ks = grid_K or [cfg.n_latents]
        trs = cfg.grid_transition_ms or [prep.transition_ms]
        res = grid_search_lds(Y, Ks, [transition_bin(data.t_ms, t) for t in trs],
                              n_folds=min(cfg.grid_folds, C), max_iter=min(cfg.max_iter, 100), seed=cfg.seed)
        K = res["best_K"]
        tr_grid = [transition_bin(data.t_ms, t) for t in trs]
        tr_ms = trs[tr_grid.index(res["best_transition"])]
        run.note(f"K = {K} chosen from the grid {Ks} by co-smoothing over {min(cfg.grid_folds, C)} condition folds; "
                 "the held-out score repeats this choice inside each of its folds on the training conditions only.")
        run.save_array("grid_heldout_neuron_r2", res["heldout_neuron_r2"])
        run.table("grid search: co-smoothing R² of held-out neurons (condition folds)",
                  ["K \\ transition (ms)"] + [str(t) for t in trs],
                  [[k] + [f"{v:.4g}" for v in row] for k, row in zip(Ks, res["heldout_neuron_r2"])])
    if K > N:
        raise ValueError(f"n_latents={K}: expected at most the number of neurons ({N})")
    tb = transition_bin(data.t_ms, tr_ms)
    model = LDS(K, tb, max_iter=cfg.max_iter, tol=cfg.tol).fit(Y)
    model.save(run.out / "model.npz")
    pred_train = model.predict()
    sve_train = signal_variance_explained(Y, pred_train)
    # new conditions: leave one condition out, co-smoothing of a seeded 20% of the neurons (protocol (b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # with a grid, each left-out condition's K (and transition) is chosen on the other conditions only
        cv = cross_validated_co_smoothing(LDS(K, tb, max_iter=cfg.max_iter, tol=cfg.tol), Y, C, seed=cfg.seed,
                                          select_K=Ks if tr_grid is not None else None, select_transition=tr_grid,
                                          select_folds=cfg.grid_folds)
    nf = cv["neuron_folds"]
    ho = nf[0]                                             # first neuron fold, for the figure
    lam = model.eigenvalues()
    hen = henrici(model.A_)
    run.save_array("t_ms", data.t_ms)
    run.save_array("eigenvalues", lam)
    run.save_array("loglik", model.loglik_)
    run.save_array("rates", Y * scale)
    run.save_array("pred_train", pred_train * scale)
    run.save_array("neuron_fold", np.concatenate([np.full(f.size, i) for i, f in enumerate(nf)])[
        np.argsort(np.concatenate(nf))])
    run.save_array("pred_heldout_neurons", cv["prediction"] * scale)
    run.save_array("pred_heldout_neurons_baseline", cv["prediction_baseline"] * scale)
    sch = model.schur()
    run.save_array("schur_T", sch.T)
    metrics = {"K": int(K), "loglik": float(model.loglik_[-1]), "loglik_per_bin": model.score(Y),
               "n_iter": int(model.n_iter_), "em_converged": model.stop_reason_ == "converged",
               "signal_var_explained_train": sve_train,
               "heldout_neuron_r2": float(cv["heldout_neuron_r2"]),
               "heldout_neuron_r2_baseline": float(cv["heldout_neuron_r2_baseline"]),
               "heldout_neuron_r2_minus_baseline": float(cv["heldout_neuron_r2_minus_baseline"]),
               "heldout_neuron_r2_minus_baseline_se": float(cv["heldout_neuron_r2_minus_baseline_se"]),
               "heldout_neuron_r2_folds": cv["fold_r2"], "heldout_neuron_r2_baseline_folds": cv["fold_r2_baseline"],
               "eig_max_abs": float(np.max(np.abs(lam))), "henrici": hen}
    if cv["fold_K"] is not None:
        metrics["heldout_K_per_fold"] = [int(k) for k in cv["fold_K"]]
    if tr_ms is not None:
        metrics["transition_ms"] = float(tr_ms)
    if model.stop_reason_ != "converged":
        run.note(f"EM stopped by {model.stop_reason_!r} after {model.n_iter_} iterations (not converged).")
    rho = float(np.max(np.abs(lam)))
    if rho > 1.0:
        run.note(f"A has an eigenvalue of modulus {rho:.3f} > 1 per bin: a noise-free forward prediction over "
                 f"{T} bins can grow by up to {rho ** (T - 1):.3g}x, which is why signal_var_explained_train "
                 f"({sve_train:.3g}) can be low or negative; co-smoothing infers the latents from the data at "
                 "every bin and is not affected. The E/I network (`ei-subspace-fit`) bounds its spectral radius.")
    fig, ax = new_figure(1)
    th = np.linspace(0, 2 * np.pi, 200)
    ax[0].plot(np.cos(th), np.sin(th), color="0.7", lw=0.8)
    plot_spectrum(ax[0], lam)
    ax[0].set_aspect("equal")
    ax[0].set_title(f"eigenvalues of A (K={K}, per time bin)")
    run.save_figure(fig, "lds_fit", "Seed 001 Ext. Data Fig. 4a: eigenvalues of the fitted A (unit circle grey)")
    labels = [f"condition {c}" for c in range(Y.shape[0])]
    ylabel = rate_label(prep.soft_norm, data.meta.get("units", "spikes/s"))
    fig = small_multiples(data.t_ms, Y, pred_train, titles=labels, ylabel=ylabel,
                          model_label="forward prediction (train)")
    run.save_figure(fig, "lds_fit_train", "Seed 001 §12: data (solid) and noise-free forward prediction (dashed), "
                                          "every condition, the three most variable neurons")
    fig = small_multiples(data.t_ms, Y, cv["prediction"], titles=labels, ylabel=ylabel,
                          model_label="co-smoothing (held out)")
    run.save_figure(fig, "lds_fit_heldout", "Co-smoothing: each neuron of each condition predicted (dashed) from "
                                            "the other neurons, by a model fitted without that condition; every "
                                            "condition, the three most variable neurons")
    if cfg.n_boot > 0:
        if not data.has_trials:
            raise ValueError(f"n_boot={cfg.n_boot}: expected single trials in the data for the bootstrap")
        trials = [prep.normalise(t) for t in data.trial_list()]
        eigs = bootstrap_eigenvalues(trials, K, tb, n_boot=cfg.n_boot, seed=cfg.seed, max_iter=cfg.max_iter,
                                     tol=cfg.tol)
        H, xe, ye = eigenvalue_density(eigs)
        run.save_array("bootstrap_eigenvalues", eigs)
        fig, ax = new_figure(1)
        ax[0].imshow(H.T, origin="lower", extent=[xe[0], xe[-1], ye[0], ye[-1]], cmap="Greys")
        ax[0].plot(np.cos(th), np.sin(th), color="r", lw=0.8)
        ax[0].set_xlabel("Re λ")
        ax[0].set_ylabel("Im λ")
        run.save_figure(fig, "eigenvalue_density", "Bootstrap density of the eigenvalues of A (seed 001 §9)")
        metrics["bootstrap_eig_max_abs_median"] = float(np.median(np.abs(eigs).max(1)))
    run.note(f"LDS with K={K} on {C} conditions x {T} bins x {N} neurons: forward prediction explains "
             f"{sve_train:.1%} of the variance on training conditions; on held-out conditions, "
             f"each neuron predicted from the others (5 folds of 20%) reaches R² {cv['heldout_neuron_r2']:.3f} "
             f"(PCA-ridge baseline {cv['heldout_neuron_r2_baseline']:.3f}); max |eigenvalue| "
             f"{np.max(np.abs(lam)):.3f}, Henrici {hen:.2f}. The fitted model is model.npz "
             "(neurodyn.models.load_model).")
    return metrics


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import describe  # noqa: E402
from neurodyn.runner.data_options import HELDOUT_METRICS  # noqa: E402

describe(
    "lds-fit",
    metrics={
        "K": ("latent dimension of the fitted LDS (chosen by cross-validation when a grid is given)", "count"),
        "heldout_K_per_fold": ("K chosen inside each left-out-condition fold on its training conditions only "
                               "(nested selection of the held-out score)", "count"),
        "transition_ms": ("hold->go input transition time", "ms from movement onset"),
        "loglik": ("final EM log-likelihood of the training data", "nats"),
        "n_iter": ("EM iterations run", "count"),
        "signal_var_explained_train": ("fraction of variance of each training condition predicted forward, "
                                       "noise-free, from its fitted initial state and inputs (§12)", "fraction"),
        "signal_var_explained_test": ("the same for each held-out condition, its initial state and inputs "
                                      "inferred from its data (leave-one-condition-out, §12)", "fraction"),
        **HELDOUT_METRICS,
        "eig_max_abs": ("largest |eigenvalue| of A, per time bin of the data", "per bin"),
        "henrici": ("Henrici departure from normality of A, normalised: 0 normal, 1 maximally non-normal (§9.2)",
                    ""),
        "bootstrap_eig_max_abs_median": ("median over bootstrap refits of the largest |eigenvalue| of A",
                                         "per bin"),
        "loglik_per_bin": ("mean log-likelihood per observed bin (score)", "nats"),
    },
)

"""Experiment `lds-fit` (also ``neurodyn fit lds --data FILE``): latent LDS by EM (seed 001 §9, §12).

Fits ``x_{t+1} = A x_t + B u_{c, kappa(t)} + w``, ``y_t = C x_t + d + v`` to trial-averaged rates
(`neurodyn.models.LDS`): one input vector per condition and epoch ('hold' before the transition time,
'go' after it). K and the transition time are chosen by cross-validated grid search over held-out
conditions when grids are given (§9). Reported:

* ``K``, ``transition_ms``, ``loglik`` (final EM log-likelihood of the training data), ``n_iter``;
* ``signal_var_explained_train``: fraction of variance of each condition predicted forward, without
  noise, from its fitted initial state and inputs (§12);
* ``signal_var_explained_test``: leave-one-condition-out (§12): all parameters fit on the other
  conditions, the held-out condition's initial state and input vectors inferred from its data with
  everything else fixed, then its activity predicted forward from that initial state;
* ``eig_max_abs`` (largest |eigenvalue| of A, per 10-ms step of the data's bins) and ``henrici``
  (normalised departure from normality of A, §9.2);
* with single trials and ``n_boot > 0``: a bootstrap density of A's eigenvalues (§9).

Data (`neurodyn.data.prepare`): with ``data``, a user's recording is used whole, soft-normalised only
when its rates are in spikes/s, with the hold/go transition the file names (else one input epoch); the
resolved settings are printed and written to config.json. Without ``data``: the bundled CC0 M1
center-out dataset (8 reach directions, 141 units), soft-normalised ``r / (range + 5)`` as its SOURCE
notes advise, its window (-400..400 ms) and transition (-150 ms) in ms from movement onset. K is chosen from ``grid_K`` by held-out forward-prediction error over
condition folds. The scores are of noise-free forward predictions over the whole window, a harder
test than the one-step-ahead fit that EM maximises: models with large K fit the likelihood better but
can have |eigenvalues| slightly above 1 and drift when run forward, which the grid search penalises.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.analysis import henrici
from neurodyn.data.prepare import prepare_from_config, transition_bin
from neurodyn.experiments._data_options import EpochOptions
from neurodyn.experiments.base import Run, experiment
from neurodyn.models.lds import (
    LDS,
    bootstrap_eigenvalues,
    eigenvalue_density,
    grid_search_lds,
    signal_variance_explained,
)
from neurodyn.report.figures import new_figure, plot_spectrum


class LDSFitConfig(EpochOptions):
    data: str | None = Field(None, description="path to a .npz/.mat/.nwb dataset (None: bundled M1 data)")
    n_latents: int = Field(5, ge=1, description="latent dimension K when no grid is given")
    grid_K: list[int] = Field([3, 5, 8], description="K values for the cross-validated grid search ([]: use n_latents)")
    grid_transition_ms: list[float] = Field(default_factory=list, description="transition times for the grid search")
    grid_folds: int = Field(4, ge=2, description="condition folds of the grid search")
    max_iter: int = Field(150, ge=1, description="EM iterations (upper bound)")
    tol: float = Field(1e-7, gt=0, description="EM relative log-likelihood tolerance")
    n_boot: int = Field(0, ge=0, description="bootstrap refits over trials (needs single trials)")


@experiment("lds-fit", LDSFitConfig,
            "Seed 001 §9/§12: latent LDS with hold/go inputs fit by EM; train and leave-one-condition-out "
            "signal variance, eigenvalues, Henrici non-normality.",
            quick={"n_latents": 4, "grid_K": [], "max_iter": 40, "bundled_window_ms": [-200.0, 300.0]})
def run_lds_fit(cfg: LDSFitConfig, run: Run) -> dict:
    prep = prepare_from_config(cfg, min_conditions=2, record=run.out / "config.json")
    data, Y, scale = prep.data, prep.Y, prep.scale
    C, T, N = Y.shape
    if C < 2:
        raise ValueError(f"data={cfg.data!r}: expected at least 2 conditions for the held-out score; found {C}")
    K, tr_ms = cfg.n_latents, prep.transition_ms
    if cfg.grid_K or cfg.grid_transition_ms:
        Ks = cfg.grid_K or [cfg.n_latents]
        trs = cfg.grid_transition_ms or [prep.transition_ms]
        res = grid_search_lds(Y, Ks, [transition_bin(data.t_ms, t) for t in trs],
                              n_folds=min(cfg.grid_folds, C), max_iter=min(cfg.max_iter, 100))
        K = res["best_K"]
        tr_ms = trs[[transition_bin(data.t_ms, t) for t in trs].index(res["best_transition"])]
        run.save_array("grid_mse", res["mse"])
        run.table("grid search: held-out MSE", ["K \\ transition (ms)"] + [str(t) for t in trs],
                  [[k] + [f"{v:.4g}" for v in row] for k, row in zip(Ks, res["mse"])])
    if K > N:
        raise ValueError(f"n_latents={K}: expected at most the number of neurons ({N})")
    tb = transition_bin(data.t_ms, tr_ms)
    model = LDS(K, tb, max_iter=cfg.max_iter, tol=cfg.tol).fit(Y)
    pred_train = model.predict()
    sve_train = signal_variance_explained(Y, pred_train)
    pred_test = np.empty_like(Y)
    for j in run.progress(range(C), C, "leave-one-condition-out"):
        keep = np.arange(C) != j
        m = LDS(K, tb, max_iter=cfg.max_iter, tol=cfg.tol).fit(Y[keep], )
        pred_test[j] = m.predict(Y[j:j + 1])[0]
    sve_test = signal_variance_explained(Y, pred_test)
    lam = model.eigenvalues()
    hen = henrici(model.A_)
    run.save_array("t_ms", data.t_ms)
    run.save_array("A", model.A_)
    run.save_array("eigenvalues", lam)
    run.save_array("loglik", model.loglik_)
    run.save_array("rates", Y * scale)
    run.save_array("pred_train", pred_train * scale)
    run.save_array("pred_test", pred_test * scale)
    sch = model.schur()
    run.save_array("schur_T", sch.T)
    metrics = {"K": int(K), "loglik": float(model.loglik_[-1]), "n_iter": int(model.n_iter_),
               "signal_var_explained_train": sve_train, "signal_var_explained_test": sve_test,
               "eig_max_abs": float(np.max(np.abs(lam))), "henrici": hen}
    if tr_ms is not None:
        metrics["transition_ms"] = float(tr_ms)
    fig, ax = new_figure(3)
    th = np.linspace(0, 2 * np.pi, 200)
    ax[0].plot(np.cos(th), np.sin(th), color="0.7", lw=0.8)
    plot_spectrum(ax[0], lam)
    ax[0].set_aspect("equal")
    ax[0].set_title(f"eigenvalues of A (K={K})")
    best = np.argsort(-Y.reshape(-1, N).var(0))[:3]
    colors = ["C0", "C1", "C2"]
    for k, n in enumerate(best):
        ax[1].plot(data.t_ms, Y[0, :, n], color=colors[k], lw=1.5)
        ax[1].plot(data.t_ms, pred_train[0, :, n], color=colors[k], ls="--", lw=1)
        ax[2].plot(data.t_ms, Y[0, :, n], color=colors[k], lw=1.5)
        ax[2].plot(data.t_ms, pred_test[0, :, n], color=colors[k], ls="--", lw=1)
    for a, title in ((ax[1], "train: forward prediction"), (ax[2], "held-out condition")):
        a.set_xlabel("time (ms)")
        a.set_ylabel("rate (spikes/s)" if prep.soft_norm is None and data.meta.get("units") == "spikes/s"
                     else "normalised rate")
        a.set_title(title)
    run.save_figure(fig, "lds_fit", "Seed 001 Ext. Data Fig. 4a: LDS eigenvalues; data (solid) and noise-free "
                                    "forward predictions (dashed) of condition 0, three most variable neurons")
    if cfg.n_boot > 0:
        if not data.has_trials:
            raise ValueError(f"n_boot={cfg.n_boot}: expected single trials in the data for the bootstrap")
        trials = [prep.normalise(t) for t in data.trial_list()]
        eigs = bootstrap_eigenvalues(trials, K, tb, n_boot=cfg.n_boot, seed=cfg.seed, max_iter=50)
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
             f"{sve_train:.1%} of the variance on training conditions and {sve_test:.1%} on held-out "
             f"conditions; max |eigenvalue| {np.max(np.abs(lam)):.3f}, Henrici {hen:.2f}.")
    return metrics

"""Experiment `ei-subspace-fit` (also ``neurodyn fit ei-subspace --data FILE``): seed 001 §10, §12.

Fits the balanced Dale E/I network with a self-contained K-dimensional task-dynamics space
(`neurodyn.models.EISubspaceNetwork`: ``nu_{t+1} = W nu_t + J^+ B u``, ``x = J nu`` evolving by
``A = J W J^+``, ``y = C x + d``) by penalised EM to trial-averaged rates, holding out some conditions.
Reported (§12):

* ``signal_var_explained_train``: variance of the training conditions explained by noise-free forward
  prediction from their fitted initial states and inputs;
* ``signal_var_explained_test``: the held-out conditions, all parameters fixed, their initial states and
  hold/go inputs inferred from their data, then predicted forward (§12);
* constraint diagnostics: ``self_containment_residual`` = ``||J W (I - J^+ J)|| / ||J W||``,
  ``balance_residual`` = ``||W 1|| / || |W| 1 ||``, ``dale_violations`` (wrong-sign or off-mask entries;
  zero by construction of the bounded W updates);
* ``eig_max_abs`` of A (at most ``max_spectral_radius``, default 0.99 per 10-ms bin: the stability
  safeguard of `EISubspaceNetwork`; ``--set max_spectral_radius=null`` fits without it), the initialising
  LDS's ``lds_eig_max_abs``, W's spectral radius, ``stabilised_updates`` (W updates, initial match included,
  where the bound was active), and the mean seconds per EM iteration of the E-step and of the W update.

Data as for `lds-fit` (`neurodyn.data.prepare`): a user's recording whole, normalised by its units, with
its own transition or one epoch, the resolved settings printed and in config.json; without ``data`` the
bundled CC0 M1 center-out dataset (8 directions, 141 units), soft-normalised ``r / (range + 5)``, -400..400
ms, transition -150 ms. Without single trials the signal variance is the plain variance (noise_var = 0).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.data.prepare import prepare_from_config
from neurodyn.experiments._data_options import EpochOptions
from neurodyn.experiments.base import Run, experiment
from neurodyn.models.ei_subspace import EISubspaceNetwork
from neurodyn.models.lds import signal_variance_explained
from neurodyn.report.figures import new_figure, plot_spectrum


class EISubspaceFitConfig(EpochOptions):
    data: str | None = Field(None, description="path to a .npz/.mat/.nwb dataset (None: bundled M1 data)")
    n_units: int = Field(2000, ge=4, description="network size N (seed 001: 1500-2500)")
    n_latents: int = Field(20, ge=1, description="task-dynamics dimension K (N/100)")
    max_iter: int = Field(30, ge=1, description="EM iterations")
    w_iter: int = Field(200, ge=1, description="projected-gradient steps per W update")
    lds_iter: int = Field(100, ge=1, description="EM iterations of the initialising LDS")
    penalty_max: float = Field(1e5, gt=0, description="largest relative penalty weight")
    max_spectral_radius: float | None = Field(0.99, gt=0, description="bound on the spectral radius of "
                                              "A = J W J^+ per bin (None: unconstrained fit)")
    test_every: int = Field(4, ge=2, description="every test_every-th condition (from 1) is held out")


@experiment("ei-subspace-fit", EISubspaceFitConfig,
            "Seed 001 §10/§12: balanced Dale E/I network with a self-contained subspace fit by penalised EM; "
            "train/held-out signal variance and constraint residuals.",
            quick={"n_units": 300, "n_latents": 4, "max_iter": 6, "w_iter": 100, "lds_iter": 30,
                   "bundled_window_ms": [-200.0, 300.0]})
def run_ei_subspace_fit(cfg: EISubspaceFitConfig, run: Run) -> dict:
    prep = prepare_from_config(cfg, min_conditions=2, record=run.out / "config.json")
    data, Y, tb = prep.data, prep.Y, prep.transition_bin
    C, T, D = Y.shape
    test = np.arange(C) % cfg.test_every == 1
    if test.all() or not test.any():
        raise ValueError(f"test_every={cfg.test_every}: expected a split leaving train and test conditions "
                         f"(data has {C} conditions)")
    if cfg.n_latents > D:
        raise ValueError(f"n_latents={cfg.n_latents}: expected at most the number of neurons ({D})")
    model = EISubspaceNetwork(cfg.n_units, cfg.n_latents, tb, max_iter=cfg.max_iter, w_iter=cfg.w_iter,
                              lds_iter=cfg.lds_iter, penalty_max=cfg.penalty_max,
                              max_spectral_radius=cfg.max_spectral_radius, seed=cfg.seed)
    model.fit(Y[~test])
    pred_train = model.predict()
    pred_test = model.predict(Y[test])
    sve_train = signal_variance_explained(Y[~test], pred_train)
    sve_test = signal_variance_explained(Y[test], pred_test)
    lam = model.eigenvalues()
    rho_w = float(np.max(np.abs(np.linalg.eigvals(model.W_))))
    run.save_array("t_ms", data.t_ms)
    run.save_array("W", model.W_)
    run.save_array("J", model.J_)
    run.save_array("A", model.A_)
    run.save_array("C", model.C_)
    run.save_array("d", model.d_)
    run.save_array("m0", model.m0_)
    run.save_array("B", model.B_)
    run.save_array("is_excitatory", model.is_excitatory_)
    run.save_array("test_conditions", np.flatnonzero(test))
    run.save_array("pred_train", pred_train)
    run.save_array("pred_test", pred_test)
    run.save_array("loglik", model.loglik_)
    fig, ax = new_figure(3)
    th = np.linspace(0, 2 * np.pi, 200)
    ax[0].plot(np.cos(th), np.sin(th), color="0.7", lw=0.8)
    plot_spectrum(ax[0], lam, label="A = J W J⁺")
    plot_spectrum(ax[0], model.lds_.eigenvalues(), color="C1", label="initialising LDS")
    ax[0].legend(frameon=False, fontsize=8)
    ax[0].set_aspect("equal")
    ax[0].set_title(f"task dynamics (K={cfg.n_latents})")
    lw = np.linalg.eigvals(model.W_)
    plot_spectrum(ax[1], lw, s=3)
    ax[1].set_title(f"spectrum of W (N={cfg.n_units})")
    j = int(np.flatnonzero(test)[0])
    best = np.argsort(-Y.reshape(-1, D).var(0))[:3]
    for k, n in enumerate(best):
        ax[2].plot(data.t_ms, Y[j, :, n], color=f"C{k}", lw=1.5)
        ax[2].plot(data.t_ms, pred_test[0, :, n], color=f"C{k}", ls="--", lw=1)
    ax[2].set_xlabel("time (ms)")
    ax[2].set_ylabel("normalised rate")
    ax[2].set_title("held-out condition: data (solid), model (dashed)")
    run.save_figure(fig, "ei_subspace_fit", "Seed 001 Fig. 2a/e, Ext. Data Fig. 5: task-dynamics eigenvalues, "
                                           "spectrum of the fitted Dale W, held-out prediction")
    e_s = model.estep_seconds_[1:] if model.n_iter_ > 1 else model.estep_seconds_
    w_s = model.wstep_seconds_[1:] if model.n_iter_ > 1 else model.wstep_seconds_
    metrics = {
        "signal_var_explained_train": float(sve_train), "signal_var_explained_test": float(sve_test),
        "self_containment_residual": model.self_containment_residual(),
        "balance_residual": model.balance_residual(), "dale_violations": int(model.dale_violations()),
        "eig_max_abs": float(np.max(np.abs(lam))), "W_spectral_radius": rho_w,
        "lds_eig_max_abs": float(np.max(np.abs(model.lds_.eigenvalues()))),
        "stabilised_updates": int(np.sum(model.stability_active_)),
        "n_units": int(cfg.n_units), "n_latents": int(cfg.n_latents), "n_iter": int(model.n_iter_),
        "estep_seconds_per_iter": float(np.mean(e_s)), "wstep_seconds_per_iter": float(np.mean(w_s)),
    }
    run.note(f"N={cfg.n_units} units, K={cfg.n_latents}: train {sve_train:.1%}, held-out {sve_test:.1%} of "
             f"variance explained; self-containment residual {metrics['self_containment_residual']:.2e}, "
             f"balance residual {metrics['balance_residual']:.2e}, {metrics['dale_violations']} Dale violations.")
    return metrics

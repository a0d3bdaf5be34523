"""Experiment `stim-lvm-fit`: the stimulation latent variable model fitted to a recording (seed 001
Methods §8).

`stim-lvm-fit` (``neurodyn fit stim-lvm --data FILE.npz``) fits both variants to a user's recording in
the layout of docs/data_format.md with a ``condition_stimulated`` boolean column (docs/stim_lvm.md);
its run folder holds ``model.npz`` (the unconstrained fit, `neurodyn.models.load_model`) and
``model_contraction.npz``.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.models.stim_lvm import (
    StimLVM,
    contraction_factor_ci,
    deviance_per_observation,
    distortion,
    null_distortions,
    null_threshold,
)
from neurodyn.report.figures import new_figure
from neurodyn.runner import DataOptions, Run, experiment


class StimLVMFitConfig(DataOptions):
    data: str | None = Field(None, description="path to a .npz/.mat/.nwb recording with a stimulated flag per condition")
    stim_on_ms: float = Field(0.0, description="stimulation onset (ms, on the file's t_ms clock)")
    stim_off_ms: float = Field(200.0, description="stimulation offset (ms)")
    n_latents: int = Field(8, ge=1, description="latent dimensionality K")
    n_null: int = Field(10, ge=2, description="refits per null")
    max_iter: int = Field(3000, ge=10, description="L-BFGS iterations per fit")
    n_posterior: int = Field(200, ge=10, description="posterior samples for confidence intervals")


def paired_conditions(data):
    """Split a `PopulationData` with a ``stimulated`` condition column into paired (non-stim, stim)
    index arrays: by the ``pair`` column when present, else the k-th non-stimulated condition with the
    k-th stimulated one."""
    table = data.condition_table
    if "stimulated" not in table:
        raise ValueError(f"condition_table={sorted(table)}: expected a 'stimulated' column "
                         "(condition_stimulated in the .npz, docs/stim_lvm.md)")
    stim = np.asarray(table["stimulated"]).astype(bool)
    ix, iy = np.flatnonzero(~stim), np.flatnonzero(stim)
    if "pair" in table:
        pair = np.asarray(table["pair"])
        keys = [p for p in pair[ix] if p in set(pair[iy])]
        ix = np.array([ix[np.flatnonzero(pair[ix] == k)[0]] for k in keys], int)
        iy = np.array([iy[np.flatnonzero(pair[iy] == k)[0]] for k in keys], int)
    if ix.size < 2 or ix.size != iy.size:
        raise ValueError(f"condition_stimulated={stim.astype(int).tolist()}: expected at least 2 paired "
                         "non-stimulated and stimulated conditions (equal numbers, or a condition_pair column)")
    return ix, iy


@experiment("stim-lvm-fit", StimLVMFitConfig,
            "Seed 001 §8: fit the stimulation LVM to a recording with stimulated and non-stimulated conditions",
            quick={"n_null": 2, "max_iter": 300, "n_posterior": 20})
def run_stim_lvm_fit(cfg: StimLVMFitConfig, run: Run) -> dict:
    from neurodyn.data.prepare import prepare_from_config

    if cfg.data is None:
        raise ValueError("data=None: expected a path (neurodyn fit stim-lvm --data FILE.npz)")
    prep = prepare_from_config(cfg, epochs=False, normalise=False, record=run.out / "config.json")
    pop = prep.data
    if pop.meta.get("units") != "spikes/s":
        raise ValueError(f"data={cfg.data!r}: expected rates in spikes/s for the Poisson stimulation model; "
                         f"found {pop.meta.get('units_note')} (declare units='spikes/s' if they are)")
    ix, iy = paired_conditions(pop)
    t = pop.t_ms
    counts = pop.counts if pop.counts is not None else np.ones(pop.rates.shape)
    xhat, yhat = np.clip(pop.rates[ix], 0, None), np.clip(pop.rates[iy], 0, None)
    models = {}
    for variant in ("unconstrained", "contraction"):
        models[variant] = StimLVM(min(cfg.n_latents, pop.n_neurons), variant, max_iter=cfg.max_iter, seed=cfg.seed).fit(
            xhat, yhat, counts[ix], counts[iy], t, cfg.stim_on_ms, cfg.stim_off_ms, bin_ms=pop.bin_ms)
    models["unconstrained"].save(run.out / "model.npz")                 # neurodyn.models.load_model(RUN)
    models["contraction"].save(run.out / "model_contraction.npz")
    m = models["unconstrained"]
    ci_u = contraction_factor_ci(m, n_samples=cfg.n_posterior, seed=cfg.seed)
    ci_c = contraction_factor_ci(models["contraction"], n_samples=cfg.n_posterior, seed=cfg.seed)
    win = m.window_mask(None)
    dist = distortion(m.z_, m.z_stim_, m.readout_, win)
    pois = null_distortions(m, "poisson", cfg.n_null, window=win, seed=cfg.seed + 200)
    thresholds = [null_threshold(pois)]
    metrics = {}
    if pop.has_trials:
        trials = pop.trial_list()
        shuf = null_distortions(m, "shuffle", cfg.n_null, x_trials=[trials[i] for i in ix],
                                y_trials=[trials[i] for i in iy], window=win, seed=cfg.seed + 100)
        thresholds.append(null_threshold(shuf))
        run.save_array("null_shuffle", shuf)
        metrics["shuffle_null_threshold"] = thresholds[-1]
    dev, se = deviance_per_observation(m)
    run.save_array("t_ms", t)
    run.save_array("z", m.z_)
    run.save_array("z_stim", m.z_stim_)
    run.save_array("beta_unconstrained", ci_u["beta"])
    run.save_array("beta_contraction", ci_c["beta"])
    run.save_array("null_poisson", pois)
    fig, ax = new_figure(2)
    for c in range(m.z_.shape[0]):
        ax[0].plot(m.z_[c, :, 0], m.z_[c, :, 1 % m.z_.shape[2]], "-", color=f"C{c % 10}", lw=1)
        ax[0].plot(m.z_stim_[c, :, 0], m.z_stim_[c, :, 1 % m.z_.shape[2]], ":", color=f"C{c % 10}", lw=1.5)
    ax[0].set_title("latents: non-stim (solid), stim (dotted)")
    for ci, lab in ((ci_u, "unconstrained"), (ci_c, "contraction-only")):
        ax[1].fill_between(t, ci["lo"], ci["hi"], alpha=0.25)
        ax[1].plot(t, ci["beta"], label=lab)
    ax[1].axvspan(cfg.stim_on_ms, cfg.stim_off_ms, color="r", alpha=0.1)
    ax[1].axhline(1.0, color="0.5", ls="--")
    ax[1].set_xlabel("time (ms)")
    ax[1].set_ylabel("β_t")
    ax[1].legend(frameon=False, fontsize=8)
    run.save_figure(fig, "stim_lvm_fit", "Seed 001 §8: fitted latents and effective contraction factor")
    thr = max(thresholds)
    metrics.update({
        "mean_beta_unconstrained": ci_u["mean"], "mean_beta_unconstrained_lo": ci_u["mean_lo"],
        "mean_beta_unconstrained_hi": ci_u["mean_hi"], "mean_beta_contraction": ci_c["mean"],
        "mean_beta_contraction_lo": ci_c["mean_lo"], "mean_beta_contraction_hi": ci_c["mean_hi"],
        "distortion": dist, "poisson_null_threshold": thresholds[0], "null_threshold": thr,
        "distortion_significant": bool(dist > thr), "deviance_per_obs": dev, "deviance_per_obs_se": se,
        "n_pairs": int(ix.size), "converged_unconstrained": m.converged_,
        "converged_contraction": models["contraction"].converged_,
    })
    return metrics


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import describe  # noqa: E402

_STIM_LVM_COMMON = {
    "deviance_per_obs": ("deviance per observation of the unconstrained model's Poisson fit (§8.7)", ""),
    "deviance_per_obs_se": ("standard error of the deviance per observation", ""),
}

describe(
    "stim-lvm-fit",
    metrics={
        **_STIM_LVM_COMMON,
        "shuffle_null_threshold": ("95th percentile of the trial-shuffle null distortions (§8.3)", ""),
        "mean_beta_unconstrained": ("mean effective contraction factor of the unconstrained model (§8.5)", ""),
        "mean_beta_unconstrained_lo": ("lower end of its posterior interval", ""),
        "mean_beta_unconstrained_hi": ("upper end of its posterior interval", ""),
        "mean_beta_contraction": ("mean contraction factor of the contraction-only model (§8.2)", ""),
        "mean_beta_contraction_lo": ("lower end of its posterior interval", ""),
        "mean_beta_contraction_hi": ("upper end of its posterior interval", ""),
        "distortion": ("stimulation distortion metric (§8.6)", ""),
        "poisson_null_threshold": ("95th percentile of the Poisson null distortions (§8.3)", ""),
        "null_threshold": ("largest of the null thresholds", ""),
        "distortion_significant": ("the distortion exceeds the null threshold", ""),
        "n_pairs": ("stimulated / non-stimulated condition pairs", "count"),
    },
)

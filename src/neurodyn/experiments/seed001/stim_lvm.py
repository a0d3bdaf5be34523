"""Experiment `stim-lvm`: additive versus distorting stimulation (seed 001 Methods §8).

`stim-lvm` validates the stimulation latent variable model on simulated stimulation data (§8.5,
Extended Data Fig. 9m): a non-stimulated latent model (GP latents, random readout; standing in for a
fitted one, see `neurodyn.models.stim_lvm.simulate.from_fitted`) is transformed

* additively (z~ = z, rates + a rank-2 Delta): the unconstrained model (§8.1) must give beta near 1 and a
  distortion (§8.6) below the 95th percentile of its shuffle and Poisson nulls (§8.3);
* by contraction with a known factor a in (0, 1): the contraction-only model (§8.2) must recover a (mean
  beta_t over the window, truncated at 200 ms), and the unconstrained model's distortion must exceed the
  null thresholds.

Measured ``--quick`` figures (2-core machine, about 40 s; kappa = 10 per spikes/s and counts from the
rate censored at zero, `neurodyn.models.stim_lvm.likelihood` and `.simulate` docstrings): additive case
mean beta 0.94 [0.82, 1.23] and distortion 480 against a null threshold of 612 (not flagged; shuffle
nulls 304-320, Poisson nulls 606-613), contraction case distortion 1038 against 428 (flagged),
contraction recovery mean |error| 0.053 (max 0.072; estimates 0.272 and 0.634 for 0.2 and 0.6, whose
bands [0.23, 0.67] and [0.65, 1.33] come from posterior samples of b: the second excludes its estimate,
with 7 non-positive eigenvalues of the observed information floored). The same configuration under kappa
= 10 per spikes/bin at 20 ms bins (0.2 per spikes/s) with counts drawn through that soft g and its floor
eps gave additive beta 0.79 [0.74, 0.97], distortion 611 against 480 (flagged), contraction 949 against
389 and recovery 0.089 (max 0.14). Bisected on the additive case (seed 0): soft link with censored counts
0.80, 541 against 467 (flagged; 0.82 with the true readout); sharp link with counts floored at eps 0.79,
570 against 502 (flagged); sharp link with censored counts 0.94, 480 against 612. The last reproduces the
earlier code (0.94, 480 against 614) with the GP-smoothed initial latents, the 95th-percentile threshold,
the optimiser status and the full-information bands in place: those changes are not the cause. With 2
refits per null (quick) the 95th percentile is almost the larger draw, so a distortion exchangeable with
its null exceeds it about 1 time in 3: with these defaults the additive case at seeds 1 and 2 gives beta
0.97, 443 against 405 (flagged) and 0.85, 385 against 593, and with no stimulation at all (Delta = 0)
seeds 0-2 give 444 against 406 (flagged), 304 against 322 and 313 against 336. The quick flag is
therefore an indication; the full run's 10 refits per null bring that rate to about 1 in 11.

The fit of the same model to a recording is the experiment `stim-lvm-fit` (`neurodyn.experiments.fits`).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.models.stim_lvm import (
    StimLVM,
    additive_delta,
    contraction_factor_ci,
    deviance_per_observation,
    distortion,
    null_distortions,
    null_threshold,
    shaped_gradient,
    shaped_loglik,
    stimulated_dataset,
    synthetic_population,
)
from neurodyn.report.figures import new_figure


class StimLVMConfig(ExperimentConfig):
    n_conditions: int = Field(8, ge=2, description="conditions (e.g. reach directions)")
    n_neurons: int = Field(60, ge=4, description="recorded neurons D")
    n_latents: int = Field(4, ge=1, description="latent dimensionality K (FA readout rank)")
    duration_ms: float = Field(600.0, gt=0, description="trial length (ms), bins of bin_ms")
    bin_ms: float = Field(20.0, gt=0, description="bin width (ms); §8 uses 20 ms")
    stim_on_ms: float = Field(200.0, ge=0, description="stimulation onset (ms)")
    stim_off_ms: float = Field(400.0, gt=0, description="stimulation offset (ms)")
    n_trials: int = Field(20, ge=2, description="trials per condition and data set")
    delta_scale: float = Field(10.0, ge=0, description="SD of the additive effect's loadings (spikes/s)")
    factors: list[float] = Field([0.1, 0.3, 0.5, 0.7, 0.9], description="true contraction factors in (0, 1)")
    contraction_case_factor: float = Field(0.3, gt=0, lt=1, description="factor of the distortion test's contraction case")
    n_null: int = Field(10, ge=2, description="refits per null (shuffle and Poisson)")
    max_iter: int = Field(3000, ge=10, description="L-BFGS iterations per fit")
    n_posterior: int = Field(200, ge=10, description="posterior samples for confidence intervals")


def _fit(cfg, data, variant, t):
    return StimLVM(cfg.n_latents, variant, max_iter=cfg.max_iter, seed=cfg.seed).fit(
        data["xhat"], data["yhat"], data["n_x"], data["n_y"], t, cfg.stim_on_ms, cfg.stim_off_ms, bin_ms=cfg.bin_ms)


def _distortion_test(cfg, run, model, data, label):
    win = model.window_mask(None)
    d = distortion(model.z_, model.z_stim_, model.readout_, win)
    shuf = null_distortions(model, "shuffle", cfg.n_null, x_trials=data["x_trials"], y_trials=data["y_trials"],
                            window=win, seed=cfg.seed + 100)
    pois = null_distortions(model, "poisson", cfg.n_null, window=win, seed=cfg.seed + 200)
    thr = max(null_threshold(shuf), null_threshold(pois))
    run.save_array(f"{label}_null_shuffle", shuf)
    run.save_array(f"{label}_null_poisson", pois)
    return d, shuf, pois, thr


def _likelihood_surface_figure(run):
    y = np.linspace(-5.0, 10.0, 301)
    yhat = np.linspace(0.0, 10.0, 201)
    Y, YH = np.meshgrid(y, yhat)
    L = np.asarray(shaped_loglik(Y, YH))
    F = np.asarray(shaped_gradient(Y, YH))
    fig, ax = new_figure(2)
    rel = L - L.max(axis=1, keepdims=True)
    im = ax[0].pcolormesh(y, yhat, np.maximum(rel, -10), shading="auto", cmap="viridis")
    ax[0].plot(y[np.argmax(L, axis=1)], yhat, "w--", lw=1, label="argmax_y L")
    ax[0].set_xlabel("model rate y (spikes/s)")
    ax[0].set_ylabel("observed rate ŷ (spikes/s)")
    ax[0].set_title("shaped log-likelihood L(y, ŷ) - max_y")
    ax[0].legend(frameon=False, fontsize=8, loc="lower right")
    fig.colorbar(im, ax=ax[0])
    for v in (0.0, 0.5, 2.0, 5.0):
        ax[1].plot(y, F[np.argmin(np.abs(yhat - v))], label=f"ŷ = {v}")
    ax[1].axhline(0.0, color="0.6", lw=0.5)
    ax[1].set_yscale("symlog", linthresh=0.01)
    ax[1].set_xlabel("model rate y (spikes/s)")
    ax[1].set_ylabel("f = dL/dy")
    ax[1].set_title("gradient (η = 0.01 floor for y << 0)")
    ax[1].legend(frameon=False, fontsize=8)
    run.save_figure(fig, "likelihood_surface", "Seed 001 §8.4 / Ext. Data Fig. 2d: shaped rectified Poisson likelihood")


@experiment("stim-lvm", StimLVMConfig,
            "Seed 001 §8 / Ext. Data Fig. 9: stimulation LVM separates additive from contracting stimulation "
            "on simulated data",
            quick={"n_conditions": 6, "n_neurons": 30, "n_latents": 3, "duration_ms": 400.0, "stim_on_ms": 140.0,
                   "stim_off_ms": 300.0, "factors": [0.2, 0.6], "n_null": 2, "max_iter": 600, "n_posterior": 40})
def run_stim_lvm(cfg: StimLVMConfig, run: Run) -> dict:
    t = np.arange(cfg.bin_ms, cfg.duration_ms + 1e-9, cfg.bin_ms)
    C, d, z = synthetic_population(cfg.n_conditions, cfg.n_neurons, cfg.n_latents, t, seed=cfg.seed)
    delta = additive_delta(t, cfg.n_neurons, cfg.stim_on_ms, cfg.stim_off_ms, scale=cfg.delta_scale, seed=cfg.seed + 1)
    add = stimulated_dataset(C, d, z, t, cfg.stim_on_ms, cfg.stim_off_ms, kind="additive", delta=delta,
                             n_trials=cfg.n_trials, seed=cfg.seed + 2)
    m_add = _fit(cfg, add, "unconstrained", t)
    ci_add = contraction_factor_ci(m_add, n_samples=cfg.n_posterior, seed=cfg.seed)
    d_add, shuf_add, pois_add, thr_add = _distortion_test(cfg, run, m_add, add, "additive")
    dev, dev_se = deviance_per_observation(m_add)

    con = stimulated_dataset(C, d, z, t, cfg.stim_on_ms, cfg.stim_off_ms, kind="contraction",
                             factor=cfg.contraction_case_factor, n_trials=cfg.n_trials, seed=cfg.seed + 3)
    m_con = _fit(cfg, con, "unconstrained", t)
    d_con, shuf_con, pois_con, thr_con = _distortion_test(cfg, run, m_con, con, "contraction")

    est, lo, hi, est_unc, rows = [], [], [], [], []
    for i, a in enumerate(run.progress(cfg.factors, len(cfg.factors), "contraction sweep")):
        ds = stimulated_dataset(C, d, z, t, cfg.stim_on_ms, cfg.stim_off_ms, kind="contraction", factor=float(a),
                                n_trials=cfg.n_trials, seed=cfg.seed + 10 + i)
        m = _fit(cfg, ds, "contraction", t)
        ci = contraction_factor_ci(m, n_samples=cfg.n_posterior, seed=cfg.seed + i)
        est.append(ci["mean"])
        lo.append(ci["mean_lo"])
        hi.append(ci["mean_hi"])
        rows.append([f"{a:.2f}", f"{ci['mean']:.3f}", f"[{ci['mean_lo']:.3f}, {ci['mean_hi']:.3f}]", m.n_iter_])
    factors = np.asarray(cfg.factors, float)
    est = np.asarray(est)
    err = np.abs(est - factors)

    run.save_array("t_ms", t)
    run.save_array("additive_z", m_add.z_)
    run.save_array("additive_z_stim", m_add.z_stim_)
    run.save_array("additive_beta", ci_add["beta"])
    run.save_array("contraction_z", m_con.z_)
    run.save_array("contraction_z_stim", m_con.z_stim_)
    run.save_array("factors", factors)
    run.save_array("factor_estimates", est)

    fig, ax = new_figure(3)
    win = m_add.segments_ == 1
    for k, (mod, title) in enumerate(((m_add, "additive"), (m_con, f"contraction a = {cfg.contraction_case_factor}"))):
        for c in range(mod.z_.shape[0]):
            col = f"C{c % 10}"
            ax[k].plot(mod.z_[c, :, 0], mod.z_[c, :, 1 % mod.z_.shape[2]], "-", color=col, lw=1, alpha=0.6)
            ax[k].plot(mod.z_stim_[c, :, 0], mod.z_stim_[c, :, 1 % mod.z_.shape[2]], ":", color=col, lw=1.5)
            ax[k].plot(mod.z_stim_[c, win, 0], mod.z_stim_[c, win, 1 % mod.z_.shape[2]], ".", color=col, ms=4)
        ax[k].set_xlabel("latent 1")
        ax[k].set_ylabel("latent 2")
        ax[k].set_title(f"{title}: z (solid), z~ (dotted, dots = stim)")
    ax[2].fill_between(t, ci_add["lo"], ci_add["hi"], color="0.8", label="95% CI")
    ax[2].plot(t, ci_add["beta"], "k-", label="β_t additive (unconstrained)")
    ax[2].axvspan(cfg.stim_on_ms, cfg.stim_off_ms, color="r", alpha=0.1)
    ax[2].axhline(1.0, color="0.5", ls="--")
    ax[2].set_xlabel("time (ms)")
    ax[2].set_ylabel("β_t")
    ax[2].legend(frameon=False, fontsize=8)
    ax[2].set_title("effective contraction factor")
    run.save_figure(fig, "latents_beta", "Seed 001 §8.1/§8.5: fitted latents without/with stimulation and β_t")

    fig, ax = new_figure(2)
    ax[0].vlines(factors, lo, hi, color="k", lw=1)          # the band as computed (it may exclude the estimate)
    ax[0].plot(factors, est, "ko")
    ax[0].plot([0, 1], [0, 1], "r--", lw=1, label="identity")
    ax[0].set_xlabel("true contraction factor")
    ax[0].set_ylabel("estimated mean β (contraction-only model)")
    ax[0].set_title("Ext. Data Fig. 9m: recovery")
    ax[0].legend(frameon=False, fontsize=8)
    for k, (shuf, pois, obs, lab) in enumerate(((shuf_add, pois_add, d_add, "additive"),
                                                (shuf_con, pois_con, d_con, "contraction"))):
        xs = np.full(shuf.size, 2 * k) + 0.08 * np.arange(shuf.size) / max(shuf.size, 1)
        ax[1].plot(xs, shuf, "o", color="C0", ms=4, label="shuffle null" if k == 0 else None)
        ax[1].plot(xs + 0.5, pois, "s", color="C1", ms=4, label="Poisson null" if k == 0 else None)
        ax[1].plot([2 * k + 0.25], [obs], "r*", ms=12, label="observed" if k == 0 else None)
    ax[1].set_xticks([0.25, 2.25], ["additive", "contraction"])
    ax[1].set_ylabel("distortion (spikes/s, summed)")
    ax[1].set_yscale("log")
    ax[1].legend(frameon=False, fontsize=8)
    ax[1].set_title("§8.6 distortion vs nulls")
    run.save_figure(fig, "recovery_distortion", "Seed 001 §8.5/§8.6: contraction recovery and distortion against nulls")
    _likelihood_surface_figure(run)
    run.table("contraction recovery (contraction-only model)", ["true a", "mean β", "95% CI", "iterations"], rows)
    run.note(f"Additive stimulation: mean β = {ci_add['mean']:.3f} [{ci_add['mean_lo']:.3f}, {ci_add['mean_hi']:.3f}], "
             f"distortion {d_add:.1f} vs null threshold {thr_add:.1f}. Contraction by "
             f"{cfg.contraction_case_factor}: distortion {d_con:.1f} vs threshold {thr_con:.1f}.")
    return {
        "contraction_recovery_max_abs_err": float(err.max()),
        "contraction_recovery_mean_abs_err": float(err.mean()),
        "contraction_estimates": [float(v) for v in est],
        "additive_mean_beta": ci_add["mean"],
        "additive_mean_beta_lo": ci_add["mean_lo"],
        "additive_mean_beta_hi": ci_add["mean_hi"],
        "additive_distortion": d_add,
        "additive_null_threshold": thr_add,
        "additive_case_distortion_significant": bool(d_add > thr_add),
        "contraction_distortion": d_con,
        "contraction_null_threshold": thr_con,
        "contraction_case_distortion_significant": bool(d_con > thr_con),
        "deviance_per_obs": dev,
        "deviance_per_obs_se": dev_se,
    }


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import describe  # noqa: E402

_STIM_LVM_COMMON = {
    "deviance_per_obs": ("deviance per observation of the unconstrained model's Poisson fit (§8.7)", ""),
    "deviance_per_obs_se": ("standard error of the deviance per observation", ""),
}

describe(
    "stim-lvm",
    metrics={
        **_STIM_LVM_COMMON,
        "contraction_recovery_max_abs_err": ("largest |estimated - true| contraction factor over the simulated "
                                             "factors (§8.2, §8.5)", ""),
        "contraction_recovery_mean_abs_err": ("mean |estimated - true| contraction factor", ""),
        "contraction_estimates": ("estimated contraction factor (mean beta_t over the window) per true factor", ""),
        "additive_mean_beta": ("mean effective contraction factor beta of the unconstrained model, additive case "
                               "(1: no contraction)", ""),
        "additive_mean_beta_lo": ("lower end of its posterior interval", ""),
        "additive_mean_beta_hi": ("upper end of its posterior interval", ""),
        "additive_distortion": ("stimulation distortion metric (§8.6), additive case", ""),
        "additive_null_threshold": ("95th percentile of the shuffle and Poisson null distortions (§8.3), "
                                    "additive case", ""),
        "additive_case_distortion_significant": ("additive-case distortion exceeds its null threshold", ""),
        "contraction_distortion": ("stimulation distortion metric, contraction case", ""),
        "contraction_null_threshold": ("null threshold, contraction case", ""),
        "contraction_case_distortion_significant": ("contraction-case distortion exceeds its null threshold", ""),
    },
)

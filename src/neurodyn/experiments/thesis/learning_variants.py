"""Experiment `learning-variants`: gain learning in other models and with another rule.

Thesis (seed 003) §3.6-3.7, Figs. 3.5-3.6. The task of Fig. 3.3 (readout fit to an initial target with
all gains 1, then a novel target learned through the gains) in five settings, each with its own
readout fit to the same initial target so that the output before training is the same:

* ``original``: the SOC, reward-based rule of eqs. (3.5)-(3.6);
* ``ramp``: the same with the preparatory ramping input exp(t/400 ms) before onset and exp(-t/2 ms)
  after (§3.6; input direction derived in `neurodyn.learning.task`);
* ``alternative``: the rule of eqs. (3.8)-(3.9), eta = 50,000 (Appendix 3.B);
* ``chaotic``: random E/I network with gamma = 1, rho = 1.5, tau = 20 ms, x0 ~ U[-10, 10], first 0.5 s;
* ``r0_5``: baseline rate r0 = 5 Hz in eq. (3.2) (§3.7, more strongly nonlinear dynamics).

The thesis finds similar learning in all (ramp slightly worse, alternative faster, r0 = 5 Hz better).

Quick scale (``--quick``): the text's rules and 5000 iterations on 20 neurons, 2 sessions, readouts fit on
20 trials (20 iterations left every variant within 1% of its initial error). Measured (seed 0), error
before -> after: original 4.82 -> 0.63, ramp 4.80 -> 0.90, alternative 4.82 -> 0.63, chaotic 4.54 -> 1.36,
r0 = 5 Hz 4.86 -> 0.37: every variant learns, r0 = 5 Hz best and the ramp and chaotic network slower, as
in the text (the alternative rule is not faster at this size).
"""

from __future__ import annotations

import warnings

import numpy as np
from pydantic import Field

from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.report.figures import new_figure

VARIANTS = ("original", "ramp", "alternative", "chaotic", "r0_5")


class LearningVariantsConfig(ExperimentConfig):
    n: int = Field(200, ge=4, description="number of neurons (even)")
    soc_target: float = Field(0.15, gt=0, description="spectral abscissa the SOC optimisation stops below")
    sessions: int = Field(10, ge=1, description="independent sessions per variant")
    iterations: int = Field(5000, ge=1, description="iterations of the learning rule")
    dt_ms: float = Field(2.5, gt=0, description="largest RK4 step (ms)")
    n_trials: int = Field(100, ge=1, description="noisy trials for each readout fit")
    t_prep_ms: float = Field(1200.0, gt=0, description="duration of the preparatory ramp before onset (ms)")


@experiment("learning-variants", LearningVariantsConfig,
            "Thesis §3.6-3.7 / Figs. 3.5-3.6: gain learning with a ramping input, the alternative rule, a chaotic "
            "network and r0 = 5 Hz.",
            quick={"n": 20, "soc_target": 0.5, "sessions": 2, "iterations": 5000, "n_trials": 20,
                   "t_prep_ms": 100.0})
def run_learning_variants(cfg: LearningVariantsConfig, run: Run) -> dict:
    from neurodyn.learning import (GainTask, NodePerturbation, RampInput, chaotic_dynamics, emg_targets,
                                   fit_readout_on_trials, learn_gains, rate_amplitude, soc_dynamics)
    from neurodyn.learning.movement import soc_network

    if cfg.n % 2:
        raise ValueError(f"n={cfg.n}: expected an even number of neurons")
    net = soc_network(cfg.n, cfg.seed, target=cfg.soc_target)
    base = soc_dynamics(network=net, dt=cfg.dt_ms)
    _, Y = emg_targets(2, seed=cfg.seed, amplitude=rate_amplitude(base))
    setups = {
        "original": (base, "reward"),
        "ramp": (soc_dynamics(network=net, dt=cfg.dt_ms, ramp=RampInput(t_prep_ms=cfg.t_prep_ms)), "reward"),
        "alternative": (base, NodePerturbation("alternative")),
        "chaotic": (chaotic_dynamics(cfg.n, cfg.seed, dt=cfg.dt_ms), "reward"),
        "r0_5": (soc_dynamics(network=net, dt=cfg.dt_ms, r0=5.0), "reward"),
    }
    metrics: dict = {}
    curves = {}
    for name in run.progress(VARIANTS, total=len(VARIANTS), description="variants"):
        dyn, rule = setups[name]
        readout = fit_readout_on_trials(dyn, Y[0], n_trials=cfg.n_trials, seed=cfg.seed)
        task = GainTask(dyn, readout, Y[1])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            res = learn_gains(task, cfg.sessions, cfg.iterations, seed=cfg.seed, rule=rule,
                              description=f"learning ({name})")
        for w in caught:
            run.note(f"{name}: {w.message}")
        e = res.errors[0]
        curves[name] = e
        metrics[f"readout_fit_error_{name}"] = float(np.asarray(GainTask(dyn, readout, Y[0]).errors())[0])
        metrics[f"error_initial_{name}"] = float(e[0, 0])
        metrics[f"error_final_mean_{name}"] = float(e[:, -1].mean())
        metrics[f"error_final_sd_{name}"] = float(e[:, -1].std())
        metrics[f"gain_sd_{name}"] = float(res.gains.std())
        run.save_array(f"errors_{name}", e)
        run.save_array(f"gains_{name}", res.gains[0])
    colors = {"original": "r", "ramp": "b", "alternative": "purple", "chaotic": "0.4", "r0_5": "c"}
    fig, ax = new_figure(1, width=6.0)
    it = np.arange(cfg.iterations + 1)
    for name, e in curves.items():
        m, s = e.mean(0), e.std(0)
        ax[0].plot(it, m, color=colors[name], lw=1.3, label=name)
        ax[0].fill_between(it, m - s, m + s, color=colors[name], alpha=0.2, lw=0)
    ax[0].set_xlabel("iteration")
    ax[0].set_ylabel("error 1 - R²")
    ax[0].set_yscale("log")
    ax[0].legend(frameon=False, fontsize=8)
    run.save_figure(fig, "learning_variants", "Thesis Figs. 3.5a / 3.6d: learning curves (mean ± sd over sessions)")
    run.table("final error", ["variant", "before", "after (mean)", "after (sd)"],
              [[k, f"{metrics[f'error_initial_{k}']:.4f}", f"{metrics[f'error_final_mean_{k}']:.4f}",
                f"{metrics[f'error_final_sd_{k}']:.4f}"] for k in VARIANTS])
    return metrics


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import Reference, describe  # noqa: E402

describe(
    "learning-variants",
    metrics={
        "readout_fit_error_*": ("error 1 - R^2 of the variant's readout fit against the initial target, gains 1",
                                ""),
        "error_initial_*": ("error 1 - R^2 against the novel target before learning, named variant", ""),
        "error_final_mean_*": ("error 1 - R^2 after learning, mean over sessions, named variant", ""),
        "error_final_sd_*": ("standard deviation over sessions of the final error, named variant", ""),
        "gain_sd_*": ("standard deviation of the learned gains, named variant", "gain"),
    },
    references=[
        Reference("error_final_mean_ramp", "error_final_mean_original", "thesis §3.6, Fig. 3.5a",
                  "learning is slightly poorer with a ramping input", relation="above"),
        Reference("error_final_mean_alternative", "error_final_mean_original", "thesis §3.6, Fig. 3.5a",
                  "with the alternative rule the error decreases at a faster rate", relation="below"),
        Reference("error_final_mean_chaotic", "error_final_mean_original", "thesis §3.6, Fig. 3.5a",
                  "similar learning performance in the chaotic network", relation="ratio", tol=2.0),
        Reference("error_final_mean_r0_5", "error_final_mean_original", "thesis §3.7, Fig. 3.6d",
                  "better learning performance for r0 = 5 Hz than for r0 = 20 Hz", relation="below"),
        Reference("gain_sd_r0_5", 0.157, "thesis §3.7, Fig. 3.6e",
                  "a very similar distribution of gains: σ ≈ 0.157", tol=0.05,
                  scale="N = 200, 10 sessions x 5,000 iterations"),
    ],
)

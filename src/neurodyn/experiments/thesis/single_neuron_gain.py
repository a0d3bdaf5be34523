"""Experiment `single-neuron-gain`: how much can one neuron's gain change the network output?

Thesis (seed 003) §3.3, Fig. 3.2. The SOC of §3.2 with the readout fit to an initial target (all
gains 1, §3.2.3). For two novel targets A and B, set the gain of one neuron at a time to each value
in [0, 6] (all other gains 1) and compute the error 1 - R^2 (Appendix D) of the output against each
target. Reported: the neuron and gain that reduce each target's error most (the thesis finds one
neuron at gain about 5.5 for A and another at gain 0 for B), the error with all gains 1, and the
distribution of each neuron's minimum error (most neurons barely reduce it, Fig. 3.2b,e).
All N x G gain patterns are simulated in batched, jitted chunks.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.report.figures import new_figure


class SingleNeuronGainConfig(ExperimentConfig):
    n: int = Field(200, ge=4, description="number of neurons of the SOC (even)")
    soc_target: float = Field(0.15, gt=0, description="spectral abscissa the SOC optimisation stops below")
    gain_max: float = Field(6.0, gt=0, description="largest tested gain (range [0, gain_max])")
    gain_step: float = Field(0.1, gt=0, description="gain increment")
    dt_ms: float = Field(2.5, gt=0, description="largest RK4 step (ms)")
    n_trials: int = Field(100, ge=1, description="noisy trials for the readout fit")
    chunk: int = Field(400, ge=1, description="gain patterns simulated per batch")


@experiment("single-neuron-gain", SingleNeuronGainConfig,
            "Thesis §3.3 / Fig. 3.2: error against each single neuron's gain in [0, 6] for two novel targets.",
            quick={"n": 20, "soc_target": 0.5, "gain_step": 1.0, "n_trials": 5})
def run_single_neuron_gain(cfg: SingleNeuronGainConfig, run: Run) -> dict:
    import jax

    from neurodyn.learning import GainTask, emg_targets, fit_readout_on_trials, rate_amplitude, soc_dynamics
    from neurodyn.learning.network_file import network_arrays

    if cfg.n % 2:
        raise ValueError(f"n={cfg.n}: expected an even number of neurons")
    dyn = soc_dynamics(cfg.n, cfg.seed, dt=cfg.dt_ms, target=cfg.soc_target)
    amp = rate_amplitude(dyn)
    _, Y = emg_targets(3, seed=cfg.seed, amplitude=amp)
    readout = fit_readout_on_trials(dyn, Y[0], n_trials=cfg.n_trials, seed=cfg.seed)
    task = GainTask(dyn, readout, Y[1:, :, None])      # P = 2 problems: targets A and B
    values = np.arange(0.0, cfg.gain_max + 1e-9, cfg.gain_step)
    n, G = cfg.n, values.size
    patterns = np.ones((n, G, n))
    patterns[np.arange(n), :, np.arange(n)] = values[None, :]
    flat = patterns.reshape(n * G, n)
    err_fn = jax.jit(task.errors)
    errs = np.empty((n * G, 2))
    starts = list(range(0, n * G, cfg.chunk))
    for s in run.progress(starts, total=len(starts), description="single-neuron gains"):
        errs[s:s + cfg.chunk] = np.asarray(err_fn(flat[s:s + cfg.chunk]))
    E = errs.reshape(n, G, 2).transpose(2, 0, 1)        # (target, neuron, gain)
    e1 = np.asarray(task.errors())                       # all gains 1
    run.save_array("gain_values", values)
    for k, v in network_arrays(dyn, readout).items():      # for independent re-simulation of the run
        run.save_array(k, v)
    run.save_array("targets", Y[1:])
    run.save_array("errors", E)
    metrics = {}
    best = {}
    for k, lab in enumerate("AB"):
        i, j = np.unravel_index(np.argmin(E[k]), E[k].shape)
        best[lab] = (int(i), float(values[j]))
        mins = E[k].min(axis=1)
        metrics.update({f"error_gain1_{lab}": float(e1[k]), f"best_neuron_{lab}": int(i),
                        f"best_gain_{lab}": float(values[j]), f"best_error_{lab}": float(E[k, i, j]),
                        f"median_min_error_{lab}": float(np.median(mins)),
                        f"frac_neurons_reduce_10pct_{lab}": float(np.mean(mins < 0.9 * e1[k]))})
        run.save_array(f"min_errors_{lab}", mins)
    rnd = int(np.random.default_rng(cfg.seed).integers(n))
    fig, ax = new_figure(3, 2)
    for k, lab in enumerate("AB"):
        a = ax[3 * k]
        a.plot(values, E[k, best["A"][0]], "b-", label=f"best for A (neuron {best['A'][0]})")
        a.plot(values, E[k, best["B"][0]], "r-", label=f"best for B (neuron {best['B'][0]})")
        a.plot(values, E[k, rnd], color="gold", label=f"random neuron {rnd}")
        a.axhline(e1[k], color="0.5", ls="--", lw=1)
        a.set_xlabel("gain of one neuron")
        a.set_ylabel(f"error (target {lab})")
        a.legend(frameon=False, fontsize=7)
        ax[3 * k + 1].hist(E[k].min(axis=1), bins=30, color="0.6")
        ax[3 * k + 1].set_xlabel(f"minimum error over gains (target {lab})")
        ax[3 * k + 1].set_ylabel("neurons")
        i, gv = best[lab]
        g = np.ones(n)
        g[i] = gv
        ax[3 * k + 2].plot(dyn.t_ms, np.asarray(task.output())[..., 0], "k-", label="gains 1")
        ax[3 * k + 2].plot(dyn.t_ms, Y[1 + k], "--", color="purple" if k else "0.4", label=f"target {lab}")
        ax[3 * k + 2].plot(dyn.t_ms, np.asarray(task.output(g))[..., 0], "--", color="br"[k],
                           label=f"neuron {i} at gain {gv:.1f}")
        ax[3 * k + 2].set_xlabel("time (ms)")
        ax[3 * k + 2].legend(frameon=False, fontsize=7)
    run.save_figure(fig, "single_neuron_gain", "Thesis Fig. 3.2: error vs one neuron's gain, minimum errors of "
                                               "all neurons, and the best single-neuron output")
    run.note(f"Target A: neuron {best['A'][0]} at gain {best['A'][1]:.2f} lowers the error from {e1[0]:.3f} to "
             f"{metrics['best_error_A']:.3f}; target B: neuron {best['B'][0]} at gain {best['B'][1]:.2f}, "
             f"{e1[1]:.3f} -> {metrics['best_error_B']:.3f}.")
    return metrics


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import Reference, describe  # noqa: E402

describe(
    "single-neuron-gain",
    metrics={
        "error_gain1_*": ("error 1 - R^2 (App. D) of the output against the named novel target, all gains 1", ""),
        "best_neuron_*": ("index of the neuron whose single gain change reduces the named target's error most",
                          "index"),
        "best_gain_*": ("gain of that neuron at the minimum error (tested on the grid in [0, 6])", "gain"),
        "best_error_*": ("smallest error reached by changing one neuron's gain, named target", ""),
        "median_min_error_*": ("median over neurons of each neuron's minimum error over gains, named target", ""),
        "frac_neurons_reduce_10pct_*": ("share of neurons whose best gain lowers the named target's error by "
                                        "more than 10 %", "fraction"),
    },
    references=[
        Reference("frac_neurons_reduce_10pct_A", 0.5, "thesis §3.3, Fig. 3.2b",
                  "the majority of neurons do not substantially reduce the error", relation="below"),
        Reference("frac_neurons_reduce_10pct_B", 0.5, "thesis §3.3, Fig. 3.2e",
                  "the majority of neurons do not substantially reduce the error", relation="below"),
        Reference("best_error_A", "error_gain1_A", "thesis §3.3, Fig. 3.2a,c",
                  "one specific neuron's gain change reduces the error to target A", relation="below"),
    ],
)

"""Experiment `groups-multi`: one grouping shared by several movements (thesis, seed 003, §4.3, Fig. 4.2,
App. 4.A.1).

A fixed (random or k-means-specialised) grouping of the gains is shared by q movements and compared
with per-movement specialised groups and neuron-specific modulation (see `run_groups_multi`).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.report.figures import new_figure


class GroupsMultiConfig(ExperimentConfig):
    n: int = Field(200, ge=4, description="neurons of the SOC (even)")
    soc_target: float = Field(0.15, gt=0, description="spectral abscissa the SOC optimisation stops below")
    sessions: int = Field(10, ge=1, description="sessions per movement and condition")
    iterations: int = Field(18000, ge=1, description="iterations of the reward-based rule (Appendix 4.A.1)")
    movements: int = Field(5, ge=1, description="movements q that share one grouping (1..movements)")
    group_counts: list[int] = Field([10, 20], description="numbers of groups")
    n_trials: int = Field(100, ge=1, description="noisy trials for the readout fit")
    snr_db: float = Field(30.0, gt=0, description="SNR of the readout-fit trials (dB)")


@experiment("groups-multi", GroupsMultiConfig,
            "Thesis §4.3, Fig. 4.2, App. 4.A.1: one fixed (random or k-means-specialised) grouping shared by several "
            "movements, against per-movement specialised groups and neuron-specific modulation.",
            quick={"n": 50, "soc_target": 0.3, "sessions": 3, "iterations": 5000, "movements": 2,
                   "group_counts": [10], "n_trials": 20})
def run_groups_multi(cfg: GroupsMultiConfig, run: Run) -> dict:
    """Shared specialised groups for q movements: k-means on the N x (S q) matrix of the neuron-specific
    gain patterns (at each session's minimum error) of movements 1..q (Appendix 4.A.1); every movement
    1..q is then learned with that grouping. Reported: mean minimum error over movements and sessions.

    Quick scale (``--quick``): 50-neuron SOC (alpha < 0.3), 2 movements, 10 groups, 3 sessions, 5000
    iterations of the text's rule (20 iterations left every condition within 1% of the neuron-specific
    error). Measured (seed 0; 86 s wall, 39 s CPU on 2 heavily loaded cores): mean minimum error 0.025 with
    each movement's own specialised groups and 0.027 with the grouping shared by both movements, against
    0.078 neuron-specific and 0.184 with random groups: specialised groupings, shared or not, beat random
    ones and neuron-specific modulation (Fig. 4.2a)."""
    from neurodyn.learning import GainTask, emg_targets, fit_readout_on_trials, rate_amplitude, soc_dynamics
    from neurodyn.learning.groups import learn_group_gains, random_groups, specialised_groups
    from neurodyn.learning.movement import soc_network

    counts = [int(c) for c in cfg.group_counts]
    if cfg.n % 2 or any(c < 1 or c > cfg.n for c in counts):
        raise ValueError(f"n={cfg.n}, group_counts={counts}: expected an even n and counts in [1, n]")
    N, S, Q = cfg.n, cfg.sessions, cfg.movements
    net = soc_network(N, cfg.seed, target=cfg.soc_target)
    dyn = soc_dynamics(network=net)
    _, Y = emg_targets(1 + Q, seed=cfg.seed, amplitude=rate_amplitude(dyn))
    readout = fit_readout_on_trials(dyn, Y[0], n_trials=cfg.n_trials, snr_db=cfg.snr_db, seed=cfg.seed)
    targets = Y[1:]
    base = learn_group_gains(GainTask(dyn, readout, targets[:, :, None]), np.arange(N), S, cfg.iterations,
                             seed=cfg.seed, description="neuron-specific sessions")
    patterns = base.best_gains                                               # (Q, S, N)
    conds = []                                                               # (kind, k, q, movement, labels)
    for k in counts:
        for q in range(1, Q + 1):
            lab = specialised_groups(np.concatenate(list(patterns[:q]), axis=0).T, k, seed=cfg.seed)
            conds += [("shared", k, q, p, np.broadcast_to(lab, (S, N))) for p in range(q)]
        for p in range(Q):
            conds.append(("own", k, 1, p, np.broadcast_to(specialised_groups(patterns[p].T, k, seed=cfg.seed), (S, N))))
            conds.append(("random", k, 1, p, np.stack([random_groups(N, k, cfg.seed + 1000 + 97 * p + s)
                                                        for s in range(S)])))
    task = GainTask(dyn, readout, np.stack([targets[c[3]] for c in conds])[:, :, None])
    res = learn_group_gains(task, np.stack([c[4] for c in conds]), S, cfg.iterations, seed=cfg.seed + 1,
                            description="grouped sessions")
    min_err = res.errors[:, :, 1:].min(-1).mean(1)                           # (conditions,) mean over sessions
    ns = base.errors[:, :, 1:].min(-1).mean(1)                               # (Q,)
    metrics = {"neuron_specific_min_error": float(ns.mean())}
    for k in counts:
        metrics[f"shared_{k}_min_error_per_q"] = [
            float(np.mean([min_err[i] for i, c in enumerate(conds) if c[:3] == ("shared", k, q)]))
            for q in range(1, Q + 1)]
        for kind in ("own", "random"):
            per = np.array([min_err[i] for i, c in enumerate(conds) if c[:2] == (kind, k)])
            metrics[f"{kind}_{k}_min_error"] = float(per.mean())
            metrics[f"{kind}_{k}_improvement_per_movement"] = (ns / per).tolist()
        shared_q = np.array([min_err[i] for i, c in enumerate(conds) if c[:3] == ("shared", k, Q)])
        metrics[f"shared_{k}_improvement_per_movement"] = (ns / shared_q).tolist()
    run.save_array("neuron_specific_errors", base.errors)
    run.save_array("condition_min_errors", min_err)
    run.save_array("condition_k_q_movement", np.array([c[1:4] for c in conds]))
    fig, ax = new_figure(2)
    qs = np.arange(1, Q + 1)
    for col, k in zip(["#3366cc", "0.2", "#2ca02c"], counts):
        ax[0].plot(qs, metrics[f"shared_{k}_min_error_per_q"], "o-", color=col, label=f"{k} specialised (shared)")
        ax[0].axhline(metrics[f"random_{k}_min_error"], color=col, ls=":", lw=1, label=f"{k} random")
        ax[1].plot(qs, metrics[f"shared_{k}_improvement_per_movement"], "s", color=col, label=f"{k} shared")
        ax[1].plot(qs, metrics[f"own_{k}_improvement_per_movement"], "o", mfc="none", color=col, label=f"{k} own")
    ax[0].axhline(metrics["neuron_specific_min_error"], color="r", label="neuron-specific")
    ax[0].set_xlabel("movements sharing the grouping q")
    ax[0].set_ylabel("mean minimum error")
    ax[0].legend(frameon=False, fontsize=7)
    ax[1].axhline(1.0, color="r")
    ax[1].set_xlabel("movement")
    ax[1].set_ylabel("neuron-specific error / grouped error")
    ax[1].legend(frameon=False, fontsize=7)
    run.save_figure(fig, "groups_multi", "Thesis Fig. 4.2a-b: minimum errors with one grouping shared by q movements, "
                                         "and improvement over neuron-specific modulation per movement")
    return metrics


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import describe  # noqa: E402

describe(
    "groups-multi",
    metrics={
        "neuron_specific_min_error": ("minimum error 1 - R^2 over training with neuron-specific gains, mean over "
                                      "movements and sessions", ""),
        "shared_*_min_error_per_q": ("per number q of movements sharing it, minimum error with the named "
                                     "specialised grouping shared by movements 1..q, mean", ""),
        "random_*_min_error": ("minimum error with the named number of random groups, mean", ""),
        "own_*_min_error": ("minimum error with per-movement (own) specialised groups of the named size, mean",
                            ""),
        "*_improvement_per_movement": ("per movement, neuron-specific minimum error over that of the named "
                                       "grouping (> 1: the grouping is better)", "ratio"),
    },
)

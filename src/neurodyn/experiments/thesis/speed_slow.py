"""Experiment `speed-slow`: playing a movement slower by a gain pattern (thesis, seed 003, ch. 6).

`speed-slow` (§6.3.1-6.3.2, Figs. 6.1, 6.6-6.8): a 400-neuron SOC with 40 random modulatory groups
(§4.1.1) from its preferred initial condition; 10 movement shapes of 2.5 s at 200 Hz (§6.2.2,
`slow_fast_targets`) and their 5x faster (0.5 s) variants. Per movement a readout is fit on 100 noisy
trials (30 dB) so that the network at gains 1 produces the fast variant; then

* the reward-based rule (eqs. 3.5-3.6, group-tied, 10 sessions x 60,000 iterations) learns a gain
  pattern whose output is the slow variant (readout and x0 fixed);
* back-propagation (`neurodyn.learning.speed.train_speed_backprop`, 500 Adam iterations) learns the slow
  gain pattern jointly with one readout shared by both speeds (cost: squared error at both speeds +
  readout norm).

Reported: errors 1 - R^2 of the slow (and, for back-propagation, fast) outputs; the same under noisy
initial conditions (30 dB, Fig. 6.8); the spectral abscissa of the linearisation around x = 0,
``(-I + W diag(g)) / tau`` (f'(0; g) = g, eq. 6.2), before and after (Fig. 6.6e-f). ``amplitude_scale``
= 0.04 scales the slow targets by 1/25 (Fig. 6.7).

`speed-slow` quick scale (``--quick``): one movement, a 50-neuron SOC (alpha < 0.3) with 10 groups, the
text's 500 Adam iterations, 5000 reward-rule iterations (of the text's 60,000). Measured (seed 0; 143 s
wall, 46 s CPU on 2 heavily loaded cores): back-propagation plays the movement 5x slower with the readout
shared by both speeds (error 0.32 slow, 0.28 fast, from 1.0); the reward rule, at a twelfth of its
iterations, has only started (1.07 -> 0.87). The former quick settings (20 and 5 iterations) left both
at 1.0-1.07. A smaller network does not make the rule fast enough: on a 20-neuron SOC (alpha < 0.5) with
4 groups (seed 0, one session of 20,000 iterations; 36 s wall, 35 s CPU) its best error is 1.08 -> 0.72
at 5000 iterations and saturates at 0.70 from 10,000 on, while back-propagation on that network reaches
0.49 (4 groups cannot express the slow variant much better). The reward rule therefore does not halve
the error at any quick size tried (it needs the text's 60,000 iterations), and the quick run shows the
slowed movement through the text's back-propagation route (Fig. 6.1c, §6.3.2).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.runner import Run, SOCGroupsConfig, experiment
from neurodyn.report.figures import new_figure


class SpeedSlowConfig(SOCGroupsConfig):
    movements: int = Field(10, ge=1, description="movement shapes")
    sessions: int = Field(10, ge=1, description="reward-rule sessions per movement")
    iterations: int = Field(60000, ge=1, description="reward-rule iterations")
    backprop_iterations: int = Field(500, ge=1, description="Adam iterations of the joint back-propagation")
    backprop_lr: float = Field(1e-2, gt=0, description="Adam learning rate")
    readout_reg: float = Field(1e-3, ge=0, description="weight of ||m||^2 in the back-propagation cost")
    amplitude_scale: float = Field(1.0, gt=0, description="scale of the slow targets (0.04 = 1/25: Fig. 6.7)")
    n_trials: int = Field(100, ge=1, description="noisy trials for the readout fit and the noise test")
    snr_db: float = Field(30.0, gt=0, description="SNR of the noisy trials (dB)")


@experiment("speed-slow", SpeedSlowConfig,
            "Thesis §6.3.1-6.3.2, Fig. 6.1: gain patterns that play a movement 5x slower (reward rule and joint "
            "back-propagation with a shared readout).",
            quick={"n": 50, "soc_target": 0.3, "n_groups": 10, "movements": 1, "sessions": 2, "iterations": 5000,
                   "backprop_iterations": 500, "n_trials": 20})
def run_speed_slow(cfg: SpeedSlowConfig, run: Run) -> dict:
    from neurodyn.analysis import spectral_abscissa
    from neurodyn.learning import (GainTask, TrialDynamics, fit_readout_on_trials, noisy_initial_conditions,
                                   preferred_x0, rate_amplitude, slow_fast_targets)
    from neurodyn.learning.groups import learn_group_gains, random_groups
    from neurodyn.learning.movement import soc_network
    from neurodyn.learning.speed import train_speed_backprop

    if cfg.n % 2 or cfg.n_groups > cfg.n:
        raise ValueError(f"n={cfg.n}, n_groups={cfg.n_groups}: expected an even n >= n_groups")
    net = soc_network(cfg.n, cfg.seed, target=cfg.soc_target)
    t0, _, _ = slow_fast_targets(1, cfg.seed)
    dyn = TrialDynamics(net, preferred_x0(net), t0, dt=2.5)
    t, slow, fast = slow_fast_targets(cfg.movements, cfg.seed, amplitude=rate_amplitude(dyn))
    slow = slow * cfg.amplitude_scale
    labels = random_groups(cfg.n, cfg.n_groups, seed=cfg.seed)
    W = np.asarray(net.W)
    tau = float(np.mean(net.tau))
    lin_abscissa = lambda g: spectral_abscissa((-np.eye(cfg.n) + W * g[None, :]) / tau)  # noqa: E731
    x_noisy = noisy_initial_conditions(dyn.x0, cfg.n_trials, cfg.snr_db, seed=cfg.seed + 1)

    rule_err, rule_noisy, bp_slow, bp_fast, bp_noisy, ab_rule, ab_bp = ([] for _ in range(7))
    rule_curves, rule_gains, bp_gains = [], [], []
    for q in run.progress(range(cfg.movements), total=cfg.movements, description="movements"):
        readout = fit_readout_on_trials(dyn, fast[q], n_trials=cfg.n_trials, snr_db=cfg.snr_db, seed=cfg.seed + q)
        task = GainTask(dyn, readout, slow[q])
        res = learn_group_gains(task, labels, cfg.sessions, cfg.iterations, seed=cfg.seed + q,
                                description=f"reward rule, movement {q}")
        g_best = res.best_gains[0]                                           # (S, N)
        rule_curves.append(res.errors[0])
        rule_err.append(res.errors[0, :, 1:].min(-1))
        rule_gains.append(g_best)
        rule_noisy.append(np.mean(np.asarray(task.errors(g_best[:, None], x_noisy[None]))[..., 0], axis=1))
        ab_rule.append([lin_abscissa(g) for g in g_best])
        bp = train_speed_backprop(dyn, labels, fast[q], slow[q], readout, iterations=cfg.backprop_iterations,
                                  learning_rate=cfg.backprop_lr, reg=cfg.readout_reg,
                                  description=f"backprop, movement {q}")
        two = GainTask(dyn, bp.readout, np.stack([fast[q], slow[q]])[:, :, None])
        e = np.asarray(two.errors(np.stack([np.ones(cfg.n), bp.gains])))  # (2 gains, 2 targets)
        bp_fast.append(e[0, 0])
        bp_slow.append(e[1, 1])
        bp_noisy.append(float(np.mean(np.asarray(two.errors(bp.gains, x_noisy))[:, 1])))
        ab_bp.append(lin_abscissa(bp.gains))
        bp_gains.append(bp.gains)
    rule_err, rule_noisy = np.array(rule_err), np.array(rule_noisy)          # (Q, S)
    metrics = {"spectral_abscissa_linear_before": float(lin_abscissa(np.ones(cfg.n))),
               "rule_error_slow_mean": float(rule_err.mean()), "rule_error_slow_median": float(np.median(rule_err)),
               "rule_error_slow_noisy_mean": float(rule_noisy.mean()),
               "rule_spectral_abscissa_after_max": float(np.max(ab_rule)),
               "backprop_error_slow_mean": float(np.mean(bp_slow)), "backprop_error_fast_mean": float(np.mean(bp_fast)),
               "backprop_error_slow_noisy_mean": float(np.mean(bp_noisy)),
               "backprop_spectral_abscissa_after_max": float(np.max(ab_bp)),
               "rule_gain_sd": float(np.std(rule_gains)), "backprop_gain_sd": float(np.std(bp_gains))}
    for name, arr in [("t_ms", t), ("slow_targets", slow), ("fast_targets", fast), ("rule_errors", rule_err),
                      ("rule_errors_noisy", rule_noisy), ("rule_curves", np.array(rule_curves)),
                      ("rule_gains", np.array(rule_gains)), ("backprop_gains", np.array(bp_gains)),
                      ("backprop_error_slow", np.array(bp_slow)), ("backprop_error_fast", np.array(bp_fast)),
                      ("labels", labels)]:
        run.save_array(name, arr)

    # figures: example outputs (movement 0), learning curves, eigenvalues before/after
    readout0 = fit_readout_on_trials(dyn, fast[0], n_trials=cfg.n_trials, snr_db=cfg.snr_db, seed=cfg.seed)
    task0 = GainTask(dyn, readout0, slow[0])
    z_fast = np.asarray(task0.output())[..., 0]
    z_slow = np.asarray(task0.output(rule_gains[0][0]))[..., 0]
    fig, ax = new_figure(3)
    ax[0].plot(t, fast[0], color="#3366cc", lw=2, alpha=0.4, label="fast target")
    ax[0].plot(t, slow[0], color="orange", lw=2, alpha=0.4, label="slow target")
    ax[0].plot(t, z_fast, color="#3366cc", lw=1, label="gains 1")
    ax[0].plot(t, z_slow, color="#cc6600", lw=1, label="learned (rule)")
    ax[0].set_xlabel("time (ms)")
    ax[0].legend(frameon=False, fontsize=7)
    ax[0].set_title("Fig. 6.1b")
    curves = np.array(rule_curves).reshape(-1, cfg.iterations + 1)
    ax[1].plot(np.arange(cfg.iterations + 1), curves.mean(0), "k")
    ax[1].set_yscale("log")
    ax[1].set_xlabel("iteration")
    ax[1].set_ylabel("error 1 - R² (slow)")
    ax[1].set_title("reward rule, mean over sessions")
    ev0 = np.linalg.eigvals((-np.eye(cfg.n) + W) / tau)
    ev1 = np.linalg.eigvals((-np.eye(cfg.n) + W * rule_gains[0][0][None, :]) / tau)
    ax[2].plot(ev0.real, ev0.imag, ".", color="#3366cc", ms=3, label="gains 1")
    ax[2].plot(ev1.real, ev1.imag, ".", color="orange", ms=3, label="learned")
    ax[2].axvline(0, color="k", lw=0.5)
    ax[2].set_xlabel("Re λ (1/ms)")
    ax[2].set_ylabel("Im λ")
    ax[2].legend(frameon=False, fontsize=7)
    ax[2].set_title("Fig. 6.6e: linearisation at x = 0")
    run.save_figure(fig, "speed_slow", "Thesis Figs. 6.1 and 6.6: slow-variant output, reward-rule learning curve and "
                                       "eigenvalues of the linearisation before and after learning")
    run.table("Slow-variant errors 1 - R² (mean over movements)", ["method", "noise-free", "noisy x0 (30 dB)"],
              [["reward rule", f"{metrics['rule_error_slow_mean']:.4f}", f"{metrics['rule_error_slow_noisy_mean']:.4f}"],
               ["back-propagation", f"{metrics['backprop_error_slow_mean']:.4f}",
                f"{metrics['backprop_error_slow_noisy_mean']:.4f}"]])
    return metrics


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import describe  # noqa: E402

describe(
    "speed-slow",
    metrics={
        "spectral_abscissa_linear_before": ("spectral abscissa of the linearisation (-I + W diag(g))/tau at "
                                            "gains 1", "1/ms"),
        "rule_error_slow_mean": ("error 1 - R^2 of the slow output learned by the reward rule, mean", ""),
        "rule_error_slow_median": ("error of the slow output learned by the reward rule, median", ""),
        "rule_error_slow_noisy_mean": ("reward-rule slow error under noisy initial conditions (30 dB), mean", ""),
        "rule_spectral_abscissa_after_max": ("largest spectral abscissa of the linearisation with the learned "
                                             "gains (reward rule)", "1/ms"),
        "backprop_error_slow_mean": ("back-propagation error of the slow output, mean", ""),
        "backprop_error_fast_mean": ("back-propagation error of the fast output with the shared readout, mean",
                                     ""),
        "backprop_error_slow_noisy_mean": ("back-propagation slow error under noisy initial conditions, mean", ""),
        "backprop_spectral_abscissa_after_max": ("largest spectral abscissa of the linearisation with the "
                                                 "back-propagated gains", "1/ms"),
        "rule_gain_sd": ("standard deviation of the reward-rule gains", "gain"),
        "backprop_gain_sd": ("standard deviation of the back-propagated gains", "gain"),
    },
)

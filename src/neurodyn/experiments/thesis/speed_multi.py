"""Experiment `speed-multi`: one gain pattern slowing m movements from m orthogonal equal-energy
initial conditions (thesis, seed 003, §6.3.3, Fig. 6.2, App. 6.A.1; joint back-propagation with a
shared readout).

Quick scale (``--quick``: m = 1, 2 movements of 3 shapes, 10 groups, one session; back-propagation, the
text's 500 Adam iterations at learning rate 1e-2, 50-neuron SOC with alpha < 0.3; measured at nice 10 on 2
heavily loaded cores; errors 1 - R^2): one slow pattern slows both movements. Seed 0: slow error 1.25 / 1.29
-> 0.09 / 0.29 for m = 1 / 2, fast 0.29 / 0.28 (50 s wall, 54 s CPU); seed 1: 1.45 / 1.93 -> 0.08 / 0.06,
fast 0.16 / 0.17 (76 s wall, 50 s CPU). The former quick settings ran 5 iterations on a 20-neuron SOC.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.runner import Run, SOCGroupsConfig, experiment
from neurodyn.report.figures import new_figure


class SpeedMultiConfig(SOCGroupsConfig):
    max_m: int = Field(10, ge=1, description="largest number m of initial conditions / movements")
    movements: int = Field(10, ge=1, description="fixed set of movement shapes the m targets are drawn from")
    sessions: int = Field(10, ge=1, description="independent sessions per m")
    iterations: int = Field(500, ge=1, description="Adam iterations")
    learning_rate: float = Field(1e-2, gt=0, description="Adam learning rate")
    readout_reg: float = Field(1e-3, ge=0, description="weight of ||m||^2 in the cost")


@experiment("speed-multi", SpeedMultiConfig,
            "Thesis §6.3.3, Fig. 6.2, App. 6.A.1: one gain pattern slowing m movements from m orthogonal "
            "equal-energy initial conditions (joint back-propagation with a shared readout).",
            quick={"n": 50, "soc_target": 0.3, "n_groups": 10, "max_m": 2, "movements": 3, "sessions": 1,
                   "iterations": 500})
def run_speed_multi(cfg: SpeedMultiConfig, run: Run) -> dict:
    from neurodyn.analysis import equal_energy_initial_conditions
    from neurodyn.learning import TrialDynamics, fit_readout, output_error, preferred_x0, rate_amplitude
    from neurodyn.learning import slow_fast_targets
    from neurodyn.learning.groups import membership_matrix, random_groups
    from neurodyn.learning.movement import soc_network
    from neurodyn.learning.speed import manifold_outputs, train_speed_manifold

    import jax.numpy as jnp

    if cfg.n % 2 or cfg.n_groups > cfg.n or cfg.max_m > cfg.movements:
        raise ValueError(f"n={cfg.n}, n_groups={cfg.n_groups}, max_m={cfg.max_m}: expected an even n >= n_groups "
                         f"and max_m <= movements={cfg.movements}")
    net = soc_network(cfg.n, cfg.seed, target=cfg.soc_target)
    t, _, _ = slow_fast_targets(1, cfg.seed)
    amp = rate_amplitude(TrialDynamics(net, preferred_x0(net), t, dt=2.5))
    _, slow, fast = slow_fast_targets(cfg.movements, cfg.seed, amplitude=amp)
    labels = random_groups(cfg.n, cfg.n_groups, seed=cfg.seed)
    M = jnp.asarray(membership_matrix(labels, cfg.n_groups))
    rng = np.random.default_rng(cfg.seed + 1)
    err = np.full((cfg.max_m, cfg.sessions), np.nan)
    err_fast = np.full_like(err, np.nan)
    err_before = np.full_like(err, np.nan)
    jobs = [(m, s) for m in range(1, cfg.max_m + 1) for s in range(cfg.sessions)]
    for m, s in run.progress(jobs, total=len(jobs), description="m x sessions"):
        Xc, _ = equal_energy_initial_conditions(net.W, m, seed=cfg.seed + 100 * m + s)
        x0s = 1.5 * np.sqrt(cfg.n) * Xc.T
        pick = rng.choice(cfg.movements, m, replace=False)
        Y = np.stack([fast[pick], slow[pick]])                                       # (2, m, T)
        dyn = TrialDynamics(net, x0s[0], t, dt=2.5)
        rates = np.asarray(dyn.rates_e(None, x0s))
        ro = fit_readout(rates.reshape(1, -1, rates.shape[-1]), Y[0].reshape(-1))
        res = train_speed_manifold(dyn, labels, x0s, Y, ro, fix_fast=True, iterations=cfg.iterations,
                                   learning_rate=cfg.learning_rate, reg=cfg.readout_reg,
                                   description=f"m = {m}, session {s}")
        z = manifold_outputs(dyn, M, jnp.asarray(res.gamma_fast), jnp.asarray(res.gamma_slow), jnp.asarray(res.lam),
                             jnp.asarray(x0s), jnp.asarray(res.readout.m[0]), float(res.readout.b[0]))
        e = np.asarray(output_error(z[..., None], jnp.asarray(Y)[..., None]))  # (2, m)
        err_fast[m - 1, s], err[m - 1, s] = e[0].mean(), e[1].mean()
        # before training: the slow variants from gains 1 (the fast outputs) with the fitted readout
        z0 = rates @ ro.m[0] + ro.b[0]                                               # (m, T)
        err_before[m - 1, s] = float(np.mean(np.asarray(output_error(z0[..., None], Y[1][..., None]))))
    run.save_array("slow_errors", err)
    run.save_array("slow_errors_before", err_before)
    run.save_array("fast_errors", err_fast)
    ms = np.arange(1, cfg.max_m + 1)
    fig, ax = new_figure(1, width=5.0)
    ax[0].boxplot(err.T, positions=ms, whis=1.5)
    ax[0].plot(ms, err.mean(1), "r-", label="mean")
    ax[0].set_xlabel("number m of initial conditions")
    ax[0].set_ylabel("slow-variant error 1 - R²")
    ax[0].legend(frameon=False)
    run.save_figure(fig, "speed_multi", "Thesis Fig. 6.2a-b: slow-variant errors after training against the number of "
                                        "movements slowed by one gain pattern (Tukey box plots over sessions)")
    return {"slow_error_before_mean_per_m": err_before.mean(1).tolist(),
            "slow_error_mean_per_m": err.mean(1).tolist(), "fast_error_mean_per_m": err_fast.mean(1).tolist(),
            "slow_error_mean": float(err.mean())}


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import describe  # noqa: E402

describe(
    "speed-multi",
    metrics={
        "slow_error_before_mean_per_m": ("per m, mean slow error 1 - R^2 before training (gains 1, the readout "
                                         "fit to the fast variants)", ""),
        "slow_error_mean_per_m": ("per number m of movements slowed by one gain pattern, mean slow error 1 - R^2",
                                  ""),
        "fast_error_mean_per_m": ("per m, mean fast error with the shared readout", ""),
        "slow_error_mean": ("mean slow error over all m", ""),
    },
)

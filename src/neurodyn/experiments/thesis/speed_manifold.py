"""Experiment `speed-manifold`: a speed manifold of gain patterns (thesis, seed 003, §6.4, Fig. 6.3,
App. 6.A.2). Linear interpolation between fast and slow patterns gives intermediate speeds only when
trained with interpolation constraints.

Quick scale (``--quick``: one initial condition, 4 speeds 0.5-2.5 s, 10 groups, 3 interpolation points at
lambda = 0.75, 0.5, 0.25; back-propagation, the text's 500 Adam iterations at learning rate 1e-2, 50-neuron
SOC with alpha < 0.3; measured at nice 10 on 2 heavily loaded cores; errors 1 - R^2): with the interpolation
constraints the interpolated patterns play intermediate speeds, trained at the ends only they do not. Seed
0: interpolated error 0.56 (0.54, 0.16, 0.97) against 1.67 naive (2.45, 1.47, 1.11) (50 s wall, 50 s CPU);
seed 1: 0.18 (0.28, 0.21, 0.05) against 1.30 (1.30, 1.51, 1.10) (45 s wall, 61 s CPU). Both trainings fit
their own trained speeds (naive ends 0.14 and 0.08). The learned interior lambdas need not stay ordered by
duration (seed 0: 0.32 at 1.17 s, 0.70 at 1.83 s); the evaluation maps lambda to duration through the
learned lambdas. With 3 speeds (one interior constraint) the contrast is smaller (seed 0, two initial
conditions: 0.60 against 2.13). The former quick settings ran 5 iterations.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.runner import Run, SOCGroupsConfig, experiment
from neurodyn.report.figures import new_figure


class SpeedManifoldConfig(SOCGroupsConfig):
    initial_conditions: int = Field(2, ge=1, description="orthogonal equal-energy initial conditions (one movement each)")
    speeds: int = Field(7, ge=2, description="trained speeds, durations evenly spaced from fast to slow")
    fast_ms: float = Field(500.0, gt=0, description="duration of the fastest variant (ms)")
    interpolation_points: int = Field(5, ge=1, description="interpolated gain patterns evaluated between the ends")
    iterations: int = Field(500, ge=1, description="Adam iterations")
    learning_rate: float = Field(1e-2, gt=0, description="Adam learning rate")
    readout_reg: float = Field(1e-3, ge=0, description="weight of ||m||^2 in the cost")


def _interp_errors(dyn, M, res, x0s, t, slow, durations, lam_eval):
    """1 - R^2 (C,) per interpolation coefficient: the target duration follows the learned lambda_s."""
    import jax.numpy as jnp

    from neurodyn.learning import output_error
    from neurodyn.learning.speed import manifold_outputs, speed_variants

    order = np.argsort(res.lam)
    d_eval = np.interp(lam_eval, res.lam[order], np.asarray(durations)[order])
    Y = speed_variants(t, slow, t.size * (t[1] - t[0]) / d_eval)                  # (L, C, T)
    z = manifold_outputs(dyn, jnp.asarray(M), jnp.asarray(res.gamma_fast), jnp.asarray(res.gamma_slow),
                         jnp.asarray(lam_eval), jnp.asarray(x0s), jnp.asarray(res.readout.m[0]),
                         float(res.readout.b[0]))
    return np.asarray(output_error(z[..., None], Y[..., None])), np.asarray(z), Y, d_eval


@experiment("speed-manifold", SpeedManifoldConfig,
            "Thesis §6.4, Fig. 6.3, App. 6.A.2: a speed manifold of gain patterns; linear interpolation between "
            "fast and slow patterns gives intermediate speeds only when trained with interpolation constraints.",
            quick={"n": 50, "soc_target": 0.3, "n_groups": 10, "initial_conditions": 1, "speeds": 4,
                   "interpolation_points": 3, "iterations": 500})
def run_speed_manifold(cfg: SpeedManifoldConfig, run: Run) -> dict:
    from neurodyn.analysis import equal_energy_initial_conditions
    from neurodyn.learning import TrialDynamics, fit_readout, preferred_x0, rate_amplitude, slow_fast_targets
    from neurodyn.learning.groups import membership_matrix, random_groups
    from neurodyn.learning.movement import soc_network
    from neurodyn.learning.speed import speed_variants, train_speed_manifold

    if cfg.n % 2 or cfg.n_groups > cfg.n:
        raise ValueError(f"n={cfg.n}, n_groups={cfg.n_groups}: expected an even n >= n_groups")
    net = soc_network(cfg.n, cfg.seed, target=cfg.soc_target)
    t, _, _ = slow_fast_targets(1, cfg.seed)
    C = cfg.initial_conditions
    Xc, _ = equal_energy_initial_conditions(net.W, C, seed=cfg.seed)
    x0s = 1.5 * np.sqrt(cfg.n) * Xc.T                                                # (C, N)
    dyn = TrialDynamics(net, x0s[0], t, dt=2.5)
    amp = rate_amplitude(TrialDynamics(net, preferred_x0(net), t, dt=2.5))
    _, slow, _ = slow_fast_targets(C, cfg.seed, amplitude=amp)                       # (C, T): one shape per IC
    D = t.size * (t[1] - t[0])
    if not 0 < cfg.fast_ms < D:
        raise ValueError(f"fast_ms={cfg.fast_ms}: expected a duration in (0, {D:g}) ms")
    durations = np.linspace(cfg.fast_ms, D, cfg.speeds)
    Y = speed_variants(t, slow, D / durations)                                       # (S, C, T)
    labels = random_groups(cfg.n, cfg.n_groups, seed=cfg.seed)
    M = membership_matrix(labels, cfg.n_groups)
    rates = np.asarray(dyn.rates_e(None, x0s))                                       # (C, T, M) at gains 1
    ro = fit_readout(rates.reshape(1, -1, rates.shape[-1]), Y[0].reshape(-1))
    lam_eval = np.linspace(1.0, 0.0, cfg.interpolation_points + 2)[1:-1]
    out = {}
    for name, trained in (("naive", [0, cfg.speeds - 1]), ("manifold", None)):
        res = train_speed_manifold(dyn, labels, x0s, Y, ro, trained=trained, iterations=cfg.iterations,
                                   learning_rate=cfg.learning_rate, reg=cfg.readout_reg, description=name)
        e_tr, z_tr, _, _ = _interp_errors(dyn, M, res, x0s, t, slow, durations, res.lam)
        e_in, z_in, Y_in, d_in = _interp_errors(dyn, M, res, x0s, t, slow, durations, lam_eval)
        out[name] = (res, e_tr, e_in, z_in, Y_in, d_in)
        run.save_array(f"{name}_lambda", res.lam)
        run.save_array(f"{name}_gain_patterns", np.outer(res.lam, res.gamma_fast) + np.outer(1 - res.lam, res.gamma_slow))
        run.save_array(f"{name}_errors_trained_speeds", e_tr)
        run.save_array(f"{name}_errors_interpolated", e_in)
        run.save_array(f"{name}_outputs_interpolated", z_in)
        run.save_array(f"{name}_cost_history", res.history)
    run.save_array("durations_ms", durations)
    run.save_array("targets", Y)
    metrics = {"durations_ms": durations.tolist(),
               "manifold_lambda": out["manifold"][0].lam.tolist(),
               "manifold_error_per_speed": out["manifold"][1].mean(1).tolist(),
               "manifold_error_interpolated": out["manifold"][2].mean(1).tolist(),
               "manifold_error_interpolated_mean": float(out["manifold"][2].mean()),
               "naive_error_ends_mean": float(out["naive"][1][[0, -1]].mean()),
               "naive_error_interpolated": out["naive"][2].mean(1).tolist(),
               "naive_error_interpolated_mean": float(out["naive"][2].mean())}

    fig, ax = new_figure(3)
    for a, name in zip(ax[:2], ("naive", "manifold")):
        _, _, e_in, z_in, Y_in, d_in = out[name]
        k = len(d_in) // 2
        a.plot(t, Y_in[k, 0], color="0.6", lw=2, label=f"target {d_in[k]:.0f} ms")
        a.plot(t, z_in[k, 0], color="orange", lw=1, label=f"interpolated (1-R² {e_in[k, 0]:.3f})")
        a.set_xlabel("time (ms)")
        a.set_title(f"{name}: middle interpolation point")
        a.legend(frameon=False, fontsize=7)
    G = np.outer(out["manifold"][0].lam, out["manifold"][0].gamma_fast) + \
        np.outer(1 - out["manifold"][0].lam, out["manifold"][0].gamma_slow)
    ax[2].imshow(G.T, aspect="auto", cmap="coolwarm")
    ax[2].set_xlabel("speed index (fast -> slow)")
    ax[2].set_ylabel("group")
    ax[2].set_title("speed manifold (Fig. 6.3c)")
    run.save_figure(fig, "speed_manifold", "Thesis Fig. 6.3: interpolating between fast and slow gain patterns trained "
                                           "at the ends only (naive) or at all speeds (manifold); the learned patterns")
    return metrics


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import Reference, describe  # noqa: E402

describe(
    "speed-manifold",
    metrics={
        "durations_ms": ("movement durations of the trained speeds", "ms"),
        "manifold_lambda": ("interpolation coefficient lambda of each trained speed (1 fast, 0 slow)", ""),
        "manifold_error_per_speed": ("error 1 - R^2 at each trained speed, trained with interpolation "
                                     "constraints, mean over movements", ""),
        "manifold_error_interpolated": ("error at interpolated speeds, trained with constraints", ""),
        "manifold_error_interpolated_mean": ("mean error at interpolated speeds, trained with constraints", ""),
        "naive_error_ends_mean": ("mean error at the fast and slow ends, trained at the ends only", ""),
        "naive_error_interpolated": ("error at interpolated speeds, trained at the ends only", ""),
        "naive_error_interpolated_mean": ("mean error at interpolated speeds, trained at the ends only", ""),
    },
    references=[
        Reference("manifold_error_interpolated_mean", "naive_error_interpolated_mean", "thesis §6.4, Fig. 6.3",
                  "naive interpolation fails at intermediate speeds; training with intermediate speeds makes "
                  "linear interpolation work", relation="below"),
    ],
)

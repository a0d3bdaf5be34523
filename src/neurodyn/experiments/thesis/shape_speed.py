"""Experiment `shape-speed`: shape gain patterns times a speed manifold (element-wise product) give
any shape at any interpolated speed (thesis, seed 003, §6.5, Fig. 6.4, App. 6.A.3).

Quick scale (``--quick``: 2 shapes x 5 speeds, 20 groups, 4 interpolated speeds at lambda = 0.8, 0.6, 0.4,
0.2; back-propagation, the text's 500 Adam iterations at learning rate 1e-2, 50-neuron SOC with alpha < 0.3;
measured at nice 10 on 2 heavily loaded cores; errors 1 - R^2): both shapes at the interpolated speeds. Seed
0: error 1.14 at gains 1 -> 0.15 at the trained speeds, 0.34 at the interpolated ones (0.90, 0.14, 0.25,
0.10; the point next to the fast end is the worst) (62 s wall, 62 s CPU); seed 1: 1.42 -> 0.05 trained, 0.15
interpolated (0.29, 0.17, 0.06, 0.06) (59 s wall, 58 s CPU). With 3 speeds the interpolated point between
the fast and the middle speed failed (error 2.2). The former quick settings ran 5 iterations.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.runner import Run, SOCGroupsConfig, experiment
from neurodyn.report.figures import new_figure


class ShapeSpeedConfig(SOCGroupsConfig):
    shapes: int = Field(10, ge=1, description="movement shapes")
    speeds: int = Field(7, ge=2, description="trained speeds, durations evenly spaced from fast to slow")
    fast_ms: float = Field(500.0, gt=0, description="duration of the fastest variant (ms)")
    interpolation_points: int = Field(5, ge=1, description="interpolated speeds evaluated between the ends")
    iterations: int = Field(500, ge=1, description="Adam iterations")
    learning_rate: float = Field(1e-2, gt=0, description="Adam learning rate")
    readout_reg: float = Field(1e-3, ge=0, description="weight of ||m||^2 in the cost")


@experiment("shape-speed", ShapeSpeedConfig,
            "Thesis §6.5, Fig. 6.4, App. 6.A.3: shape gain patterns times a speed manifold (element-wise product) "
            "give any shape at any interpolated speed.",
            quick={"n": 50, "soc_target": 0.3, "n_groups": 20, "shapes": 2, "speeds": 5, "interpolation_points": 4,
                   "iterations": 500})
def run_shape_speed(cfg: ShapeSpeedConfig, run: Run) -> dict:
    import jax.numpy as jnp

    from neurodyn.learning import TrialDynamics, fit_readout, output_error, preferred_x0, rate_amplitude
    from neurodyn.learning import slow_fast_targets
    from neurodyn.learning.groups import membership_matrix, random_groups
    from neurodyn.learning.movement import soc_network
    from neurodyn.learning.speed import shape_speed_outputs, speed_variants, train_shape_speed

    if cfg.n % 2 or cfg.n_groups > cfg.n:
        raise ValueError(f"n={cfg.n}, n_groups={cfg.n_groups}: expected an even n >= n_groups")
    net = soc_network(cfg.n, cfg.seed, target=cfg.soc_target)
    t, _, _ = slow_fast_targets(1, cfg.seed)
    dyn = TrialDynamics(net, preferred_x0(net), t, dt=2.5)
    _, slow, _ = slow_fast_targets(cfg.shapes, cfg.seed, amplitude=rate_amplitude(dyn))
    D = t.size * (t[1] - t[0])
    if not 0 < cfg.fast_ms < D:
        raise ValueError(f"fast_ms={cfg.fast_ms}: expected a duration in (0, {D:g}) ms")
    durations = np.linspace(cfg.fast_ms, D, cfg.speeds)
    Y = np.swapaxes(speed_variants(t, slow, D / durations), 0, 1)                   # (Q, S, T)
    labels = random_groups(cfg.n, cfg.n_groups, seed=cfg.seed)
    M = jnp.asarray(membership_matrix(labels, cfg.n_groups))
    rates = np.asarray(dyn.rates_e())                                               # (T, M) at gains 1
    ro = fit_readout(np.tile(rates, (cfg.shapes, 1))[None], Y[:, 0].reshape(-1))   # one readout, fast shapes
    z0 = rates @ ro.m[0] + ro.b[0]                                                 # (T,) every pattern at gains 1
    e_init = np.asarray(output_error(np.broadcast_to(z0, Y.shape)[..., None], Y[..., None]))  # (Q, S)
    res = train_shape_speed(dyn, labels, Y, ro, iterations=cfg.iterations, learning_rate=cfg.learning_rate,
                            reg=cfg.readout_reg)
    m, b = jnp.asarray(res.readout.m[0]), float(res.readout.b[0])
    args = (dyn, M, jnp.asarray(res.shapes), jnp.asarray(res.gamma_fast), jnp.asarray(res.gamma_slow))
    z_tr = np.asarray(shape_speed_outputs(*args, jnp.asarray(res.lam), m, b))     # (Q, S, T)
    e_tr = np.asarray(output_error(z_tr[..., None], Y[..., None]))
    lam_eval = np.linspace(1.0, 0.0, cfg.interpolation_points + 2)[1:-1]
    order = np.argsort(res.lam)
    d_eval = np.interp(lam_eval, res.lam[order], durations[order])
    Y_in = np.swapaxes(speed_variants(t, slow, D / d_eval), 0, 1)                  # (Q, L, T)
    z_in = np.asarray(shape_speed_outputs(*args, jnp.asarray(lam_eval), m, b))
    e_in = np.asarray(output_error(z_in[..., None], Y_in[..., None]))
    for name, arr in [("durations_ms", durations), ("lambda", res.lam), ("shape_gains", res.shapes),
                      ("speed_gains", np.outer(res.lam, res.gamma_fast) + np.outer(1 - res.lam, res.gamma_slow)),
                      ("errors_initial", e_init),
                      ("errors_trained", e_tr), ("errors_interpolated", e_in), ("interpolated_durations_ms", d_eval),
                      ("outputs_interpolated", z_in), ("cost_history", res.history)]:
        run.save_array(name, arr)
    fig, ax = new_figure(2)
    ax[0].plot(durations, e_tr.mean(0), "ko-", label="trained speeds")
    ax[0].plot(d_eval, e_in.mean(0), "o", color="orange", label="interpolated")
    ax[0].set_xlabel("duration (ms)")
    ax[0].set_ylabel("mean error 1 - R² over shapes")
    ax[0].legend(frameon=False, fontsize=7)
    for q in range(min(2, cfg.shapes)):
        ax[1].plot(t, Y_in[q, 0], color="0.6", lw=2)
        ax[1].plot(t, z_in[q, 0], lw=1)
    ax[1].set_xlabel("time (ms)")
    ax[1].set_title(f"shapes at {d_eval[0]:.0f} ms (interpolated)")
    run.save_figure(fig, "shape_speed", "Thesis Fig. 6.4: errors at the trained and interpolated speeds (mean over "
                                        "shapes) and example shapes at an interpolated speed")
    return {"lambda": res.lam.tolist(), "error_initial_mean": float(e_init.mean()),
            "error_per_speed": e_tr.mean(0).tolist(),
            "error_interpolated": e_in.mean(0).tolist(), "error_trained_mean": float(e_tr.mean()),
            "error_interpolated_mean": float(e_in.mean())}


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import describe  # noqa: E402

describe(
    "shape-speed",
    metrics={
        "lambda": ("interpolation coefficient of each trained speed on the speed manifold", ""),
        "error_initial_mean": ("mean error 1 - R^2 over shapes and trained speeds before training (all gains 1, "
                               "the readout fit to the fast shapes)", ""),
        "error_per_speed": ("error 1 - R^2 at each trained speed, mean over shapes", ""),
        "error_interpolated": ("error at each interpolated speed, mean over shapes", ""),
        "error_trained_mean": ("mean error at the trained speeds", ""),
        "error_interpolated_mean": ("mean error at interpolated speeds", ""),
    },
)

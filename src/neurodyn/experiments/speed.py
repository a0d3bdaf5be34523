"""Speed-control experiments of thesis (seed 003) ch. 6.

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

Quick scales of the other experiments (back-propagation, the text's 500 Adam iterations at learning rate
1e-2, 50-neuron SOC with alpha < 0.3; measured at nice 10 on 2 heavily loaded cores; errors 1 - R^2):

* `speed-multi` (m = 1, 2 movements of 3 shapes, 10 groups, one session): one slow pattern slows both
  movements. Seed 0: slow error 1.25 / 1.29 -> 0.09 / 0.29 for m = 1 / 2, fast 0.29 / 0.28 (50 s wall,
  54 s CPU); seed 1: 1.45 / 1.93 -> 0.08 / 0.06, fast 0.16 / 0.17 (76 s wall, 50 s CPU). The former
  quick settings ran 5 iterations on a 20-neuron SOC.
* `speed-manifold` (one initial condition, 4 speeds 0.5-2.5 s, 10 groups, 3 interpolation points at
  lambda = 0.75, 0.5, 0.25): with the interpolation constraints the interpolated patterns play
  intermediate speeds, trained at the ends only they do not. Seed 0: interpolated error 0.56 (0.54,
  0.16, 0.97) against 1.67 naive (2.45, 1.47, 1.11) (50 s wall, 50 s CPU); seed 1: 0.18 (0.28, 0.21,
  0.05) against 1.30 (1.30, 1.51, 1.10) (45 s wall, 61 s CPU). Both trainings fit their own trained
  speeds (naive ends 0.14 and 0.08). The learned interior lambdas need not stay ordered by duration
  (seed 0: 0.32 at 1.17 s, 0.70 at 1.83 s); the evaluation maps lambda to duration through the learned
  lambdas. With 3 speeds (one interior constraint) the contrast is smaller (seed 0, two initial
  conditions: 0.60 against 2.13). The former quick settings ran 5 iterations.
* `shape-speed` (2 shapes x 5 speeds, 20 groups, 4 interpolated speeds at lambda = 0.8, 0.6, 0.4,
  0.2): both shapes at the interpolated speeds. Seed 0: error 1.14 at gains 1 -> 0.15 at the trained
  speeds, 0.34 at the interpolated ones (0.90, 0.14, 0.25, 0.10; the point next to the fast end is
  the worst) (62 s wall, 62 s CPU); seed 1: 1.42 -> 0.05 trained, 0.15 interpolated (0.29, 0.17,
  0.06, 0.06) (59 s wall, 58 s CPU). With 3 speeds the interpolated point between the fast and the
  middle speed failed (error 2.2). The former quick settings ran 5 iterations.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.experiments.base import ExperimentConfig, Run, experiment
from neurodyn.report.figures import new_figure


class SOCGroupsConfig(ExperimentConfig):
    """Keys shared by the chapter-6 experiments: a 400-neuron SOC with 40 random modulatory groups."""

    n: int = Field(400, ge=4, description="neurons of the SOC (even)")
    soc_target: float = Field(0.15, gt=0, description="spectral abscissa the SOC optimisation stops below")
    n_groups: int = Field(40, ge=1, description="random modulatory groups")


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
from neurodyn.experiments.base import Reference, describe  # noqa: E402

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

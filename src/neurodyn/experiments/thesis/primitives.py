"""Experiment `primitives`: gain-pattern primitives for movement shape and speed (thesis, seed 003, §6.6).

Fig. 6.5 and Appendix 6.A.4 (Figs. 6.10-6.11). A 400-neuron SOC (Appendix C.1) with 40 random
modulatory groups (§4.1.1) from its preferred initial condition first learns, by back-propagation, Q = 10
shape patterns and a speed manifold at 7 speeds (Appendix 6.A.3, `train_shape_speed`): 2.5 s movements
at 200 Hz (§6.2.2) played between 0.5 s and 2.5 s. These 10 shape patterns Gamma (Q x n) and the fast
and slow end patterns gamma_fast, gamma_slow of the speed manifold are the library of primitives.

Each of 100 novel targets (new Gaussian-process draws, eq. 6.3) is then learned at the fast (0.5 s) and
slow (2.5 s) speeds at once by the reward-based rule (eqs. 3.5-3.6) acting on the Q coefficients c,
10,000 iterations, error = mean of the fast and slow errors (`neurodyn.learning.primitives`):

    g_s(c) = M (gamma_s * sum_j c_j Gamma_j),      gamma_s = lam gamma_fast + (1 - lam) gamma_slow.

Outputs at intermediate speeds use the same c with lam between 1 (fast) and 0 (slow); the target
duration of lam follows the learned manifold (durations interpolated over the trained lam_s, as in
`shape-speed`). Compared against (Fig. 6.5c):

* constrained least squares (Appendix 6.A.4, §5.1.1): c minimising ||sum_j c_j F_j - y||^2 with c >= 0,
  sum c = 1, where F_j = (z_fast, z_slow) of shape j and y = (y_fast, y_slow) (fast and slow together;
  `convex_coefficients_batch`);
* permuted control: target p is produced with the coefficients learned for target pi(p), pi a uniformly
  random permutation (the learned gain patterns dissociated from their targets).

Fig. 6.5d: Pearson correlation between each pair of targets (slow variants) against that between
their coefficient vectors (4,950 pairs for 100 targets); we report the Pearson correlation of these two
sets. Errors are 1 - R^2 (Appendix D).

Quick scale (``--quick``): a 50-neuron SOC (alpha < 0.3) with 20 groups; the library is Q = 3 shapes x 3
speeds, trained by the text's 500 Adam iterations; 3 novel targets, whose 3 coefficients are learned by
the text's reward rule (noise sd 0.001) for 5000 iterations (half the text's 10,000: at 5000 the
learning curves are still falling; the full count doubles the rule's share of the run time). Measured
(nice 10, 2 heavily loaded cores), median error over the targets and the 3 durations:

======  =============  ==========  =======  ========  =============  ===========
seed    library error  at c = 1/Q  learned  permuted  least squares  wall / CPU
======  =============  ==========  =======  ========  =============  ===========
0       0.12           1.92        0.75     1.40      1.34           89 s / 89 s
1       0.03           1.04        0.45     1.52      0.70           89 s / 88 s
======  =============  ==========  =======  ========  =============  ===========

so the learned coefficients beat the permuted ones (Fig. 6.5c) by a factor 1.9-3.4 and, with only 3
primitives, also the constrained least squares fit to the outputs. The former quick settings (10 Adam
and 60 rule iterations) left the library untrained (every shape pattern near gains 1), so the learned
and permuted coefficients could not differ.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.runner import Run, experiment
from neurodyn.runner import SOCGroupsConfig
from neurodyn.report.figures import new_figure


class PrimitivesConfig(SOCGroupsConfig):
    shapes: int = Field(10, ge=2, description="shape patterns Q of the library (Appendix 6.A.3)")
    speeds: int = Field(7, ge=2, description="trained speeds of the manifold, durations evenly spaced fast to slow")
    fast_ms: float = Field(500.0, gt=0, description="duration of the fastest variant (ms)")
    shape_iterations: int = Field(500, ge=1, description="Adam iterations of the shape x speed training")
    learning_rate: float = Field(1e-2, gt=0, description="Adam learning rate")
    readout_reg: float = Field(1e-3, ge=0, description="weight of ||m||^2 in the back-propagation cost")
    novel_targets: int = Field(100, ge=3, description="novel target movements")
    iterations: int = Field(10000, ge=1, description="iterations of the reward rule on the coefficients")
    sessions: int = Field(1, ge=1, description="sessions per target (the best one is kept)")
    noise_sd: float = Field(0.001, gt=0, description="sd of the perturbations xi of the coefficients")
    durations: int = Field(9, ge=2, description="movement durations evaluated, fast to slow (Fig. 6.5c)")
    batch: int = Field(25, ge=1, description="targets simulated at once in the evaluation")


@experiment("primitives", PrimitivesConfig,
            "Thesis §6.6, Fig. 6.5, App. 6.A.4: novel movements at any speed from learned coefficients on 10 shape "
            "gain patterns with the speed manifold fixed, against constrained least squares and permuted patterns.",
            quick={"n": 50, "soc_target": 0.3, "n_groups": 20, "shapes": 3, "speeds": 3, "shape_iterations": 500,
                   "novel_targets": 3, "iterations": 5000, "durations": 3})
def run_primitives(cfg: PrimitivesConfig, run: Run) -> dict:
    import jax.numpy as jnp

    from neurodyn.learning import NodePerturbation, TrialDynamics, fit_readout, output_error, preferred_x0
    from neurodyn.learning import rate_amplitude, slow_fast_targets
    from neurodyn.learning.groups import membership_matrix, random_groups
    from neurodyn.learning.library import convex_coefficients_batch
    from neurodyn.learning.movement import soc_network
    from neurodyn.learning.primitives import learn_combination, pair_correlations, primitive_bases
    from neurodyn.learning.speed import shape_speed_outputs, speed_variants, train_shape_speed

    if cfg.n % 2 or cfg.n_groups > cfg.n:
        raise ValueError(f"n={cfg.n}, n_groups={cfg.n_groups}: expected an even n >= n_groups")
    net = soc_network(cfg.n, cfg.seed, target=cfg.soc_target)
    t, _, _ = slow_fast_targets(1, cfg.seed)
    dyn = TrialDynamics(net, preferred_x0(net), t, dt=2.5)
    amp = rate_amplitude(dyn)
    D = t.size * (t[1] - t[0])
    if not 0 < cfg.fast_ms < D:
        raise ValueError(f"fast_ms={cfg.fast_ms}: expected a duration in (0, {D:g}) ms")
    Q, P = cfg.shapes, cfg.novel_targets

    # 1) the library: Q shape patterns x a speed manifold (Appendix 6.A.3)
    _, lib_slow, _ = slow_fast_targets(Q, cfg.seed, amplitude=amp)
    durations = np.linspace(cfg.fast_ms, D, cfg.speeds)
    Y_lib = np.swapaxes(speed_variants(t, lib_slow, D / durations), 0, 1)             # (Q, S, T)
    labels = random_groups(cfg.n, cfg.n_groups, seed=cfg.seed)
    M = jnp.asarray(membership_matrix(labels, cfg.n_groups))
    rates = np.asarray(dyn.rates_e())
    ro0 = fit_readout(np.tile(rates, (Q, 1))[None], Y_lib[:, 0].reshape(-1))
    lib = train_shape_speed(dyn, labels, Y_lib, ro0, iterations=cfg.shape_iterations,
                            learning_rate=cfg.learning_rate, reg=cfg.readout_reg, description="shape x speed library")
    m, b = jnp.asarray(lib.readout.m[0]), float(lib.readout.b[0])
    gf, gs = jnp.asarray(lib.gamma_fast), jnp.asarray(lib.gamma_slow)
    z_lib = np.asarray(shape_speed_outputs(dyn, M, jnp.asarray(lib.shapes), gf, gs, jnp.asarray(lib.lam), m, b))
    lib_err = np.asarray(output_error(z_lib[..., None], Y_lib[..., None]))      # (Q, S)
    run.note(f"Library: {Q} shape patterns x {cfg.speeds} speeds, mean error at the trained speeds "
             f"{lib_err.mean():.3f} after {cfg.shape_iterations} Adam iterations.")

    # 2) novel targets at the fast and slow ends; coefficients learned by the reward rule
    _, nov_slow, _ = slow_fast_targets(P, cfg.seed + 1, amplitude=amp)
    Y_ends = np.swapaxes(speed_variants(t, nov_slow, [D / cfg.fast_ms, 1.0]), 0, 1)   # (P, 2, T)
    bases = primitive_bases(labels, lib.shapes, np.stack([lib.gamma_fast, lib.gamma_slow]))
    res = learn_combination(dyn, lib.readout, bases, Y_ends, cfg.sessions, cfg.iterations, seed=cfg.seed,
                            rule=NodePerturbation(noise_sd=cfg.noise_sd), description="coefficients")
    best_s = res.errors[:, :, 1:].min(-1).argmin(1)
    c_learned = res.best_coefficients[np.arange(P), best_s]                            # (P, Q)

    # 3) constrained least squares on the library outputs at both ends (§5.1.1)
    F = z_lib[:, [0, -1]]                                                              # (Q, 2, T): lam = 1, 0
    c_ls = convex_coefficients_batch(np.broadcast_to(F, (P,) + F.shape), Y_ends)       # (P, Q)

    # 4) permuted control
    perm = np.random.default_rng(cfg.seed + 2).permutation(P)
    c_perm = c_learned[perm]

    # 5) errors at durations from fast to slow along the (fixed) speed manifold
    lam_eval = np.linspace(1.0, 0.0, cfg.durations)
    order = np.argsort(lib.lam)
    d_eval = np.interp(lam_eval, lib.lam[order], durations[order])
    Y_eval = np.swapaxes(speed_variants(t, nov_slow, D / d_eval), 0, 1)                # (P, L, T)

    def evaluate(c):
        out = []
        for i in range(0, P, cfg.batch):
            z = shape_speed_outputs(dyn, M, jnp.asarray(c[i:i + cfg.batch] @ lib.shapes), gf, gs,
                                    jnp.asarray(lam_eval), m, b)
            out.append(np.asarray(z))
        z = np.concatenate(out)                                                         # (P, L, T)
        return np.asarray(output_error(z[..., None], Y_eval[..., None])), z

    e_learned, z_learned = evaluate(c_learned)
    e_ls, _ = evaluate(c_ls)
    e_perm, _ = evaluate(c_perm)
    e_init, _ = evaluate(np.full((P, Q), 1.0 / Q))
    summed = e_learned[:, 0] + e_learned[:, -1]
    example = int(np.argsort(summed)[(P + 1) // 2 - 1])                                # the 50th-smallest of 100

    r_targets, r_coef = pair_correlations(nov_slow, c_learned)
    _, r_coef_ls = pair_correlations(nov_slow, c_ls)
    corr = lambda u, v: float(np.corrcoef(u, v)[0, 1])  # noqa: E731  (3 or more targets: >= 3 pairs)

    metrics = {"durations_ms": d_eval.tolist(), "library_error_trained_mean": float(lib_err.mean()),
               "initial_error_median": float(np.median(e_init)),
               "coefficient_sum_mean": float(c_learned.sum(1).mean()),
               "pair_correlation_learned": corr(r_targets, r_coef),
               "pair_correlation_least_squares": corr(r_targets, r_coef_ls),
               "example_target": example, "example_error_per_duration": e_learned[example].tolist()}
    for name, e in (("learned", e_learned), ("least_squares", e_ls), ("permuted", e_perm)):
        metrics[f"{name}_error_fast_median"] = float(np.median(e[:, 0]))
        metrics[f"{name}_error_slow_median"] = float(np.median(e[:, -1]))
        metrics[f"{name}_error_median"] = float(np.median(e))
        metrics[f"{name}_error_mean_per_duration"] = e.mean(0).tolist()
    for name, arr in [("t_ms", t), ("library_targets", Y_lib), ("library_errors", lib_err),
                      ("shape_gains", lib.shapes), ("speed_lambda", lib.lam),
                      ("speed_gains_fast_slow", np.stack([lib.gamma_fast, lib.gamma_slow])),
                      ("novel_targets_fast_slow", Y_ends), ("library_outputs_fast_slow", F),
                      ("learning_curves", res.errors),
                      ("coefficients_learned", c_learned), ("coefficients_least_squares", c_ls),
                      ("permutation", perm), ("durations_ms", d_eval), ("lambda_eval", lam_eval),
                      ("errors_learned", e_learned), ("errors_least_squares", e_ls), ("errors_permuted", e_perm),
                      ("errors_initial", e_init), ("example_outputs", z_learned[example]),
                      ("example_targets", Y_eval[example]), ("pair_correlation_targets", r_targets),
                      ("pair_correlation_coefficients", r_coef),
                      ("pair_correlation_coefficients_least_squares", r_coef_ls), ("labels", labels)]:
        run.save_array(name, arr)
    run.table("Median error 1 - R² over novel targets", ["coefficients", "fast", "slow", "all durations"],
              [[k.replace("_", " "), f"{metrics[f'{k}_error_fast_median']:.3f}",
                f"{metrics[f'{k}_error_slow_median']:.3f}", f"{metrics[f'{k}_error_median']:.3f}"]
               for k in ("learned", "least_squares", "permuted")])

    fig, ax = new_figure(4)
    mid = len(d_eval) // 2
    for k, col in zip(sorted({0, mid, len(d_eval) - 1}), ("#3366cc", "#2ca02c", "orange")):
        ax[0].plot(t, Y_eval[example, k], color=col, lw=2, alpha=0.35)
        ax[0].plot(t, z_learned[example, k], color=col, lw=1, label=f"{d_eval[k]:.0f} ms")
    ax[0].set_xlabel("time (ms)")
    ax[0].set_title("Fig. 6.5b: median example (targets thick)")
    ax[0].legend(frameon=False, fontsize=7)
    d_s = d_eval / 1000.0
    ax[1].plot(d_s, e_learned.mean(0), "k-", label="learned combination")
    ax[1].plot(d_s, e_learned[example], "r-", label="example")
    ax[1].plot(d_s, e_perm.mean(0), color="0.6", label="permuted control")
    ax[1].plot(d_s, e_ls.mean(0), "k--", label="constrained least squares")
    ax[1].set_xlabel("movement duration (s)")
    ax[1].set_ylabel("mean error 1 - R²")
    ax[1].set_title("Fig. 6.5c")
    ax[1].legend(frameon=False, fontsize=7)
    show = np.random.default_rng(cfg.seed + 3).choice(r_coef.size, min(1000, r_coef.size), replace=False)
    ax[2].plot(r_coef[show], r_targets[show], ".", ms=2, color="k")
    ax[2].set_xlabel("correlation between coefficients")
    ax[2].set_ylabel("correlation between targets")
    ax[2].set_title(f"Fig. 6.5d (r = {metrics['pair_correlation_learned']:.2f})")
    bins = np.linspace(0.0, max(1e-9, float(np.max(e_learned[:, [0, -1]]))), 21)
    ax[3].hist(e_learned[:, 0], bins=bins, alpha=0.6, color="#3366cc", label="fast")
    ax[3].hist(e_learned[:, -1], bins=bins, alpha=0.6, color="orange", label="slow")
    ax[3].set_xlabel("error 1 - R²")
    ax[3].set_title("Fig. 6.10")
    ax[3].legend(frameon=False, fontsize=7)
    run.save_figure(fig, "primitives", "Thesis Figs. 6.5 and 6.10: the median example at three speeds, mean error "
                                       "against movement duration (learned, example, permuted, constrained least "
                                       "squares), target vs coefficient correlations, error histograms")
    return metrics


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import Reference, describe  # noqa: E402

describe(
    "primitives",
    metrics={
        "durations_ms": ("movement durations at which the novel movements are evaluated", "ms"),
        "library_error_trained_mean": ("mean error 1 - R^2 of the 10 trained shape patterns over the trained "
                                       "speeds", ""),
        "initial_error_median": ("median error of the novel targets before learning the coefficients", ""),
        "coefficient_sum_mean": ("mean over novel targets of the sum of the learned coefficients c_1..c_Q", ""),
        "pair_correlation_learned": ("Pearson correlation, over target pairs, between target correlation and "
                                     "learned-coefficient correlation (Fig. 6.5d)", ""),
        "pair_correlation_least_squares": ("the same with the least-squares coefficients", ""),
        "example_target": ("index of the example target shown", "index"),
        "example_error_per_duration": ("error of the example target at each evaluated duration", ""),
        "*_error_fast_median": ("median error 1 - R^2 at the fastest duration (learned, least_squares or "
                                "permuted coefficients)", ""),
        "*_error_slow_median": ("median error at the slowest duration, named method", ""),
        "*_error_median": ("median error over targets and durations, named method (Fig. 6.5c)", ""),
        "*_error_mean_per_duration": ("mean error over targets at each duration, named method (Fig. 6.5c)", ""),
    },
    references=[
        Reference("coefficient_sum_mean", 0.91, "thesis §6.6",
                  "the mean sum of the coefficients is 0.91", tol=0.1, scale="N = 400, 100 targets"),
        Reference("learned_error_median", 0.5, "thesis §6.6, Fig. 6.5c (black curve)",
                  "mean error of approximately 0.5 across all movement durations", tol=0.15,
                  scale="N = 400, 100 targets, 10,000 iterations"),
        Reference("learned_error_median", "permuted_error_median", "thesis §6.6, Fig. 6.5c",
                  "learned coefficients substantially outperform permuted gain patterns", relation="below"),
    ],
)

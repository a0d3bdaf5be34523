"""Experiment `groups-size`: network size, number of random groups and number of readouts (seed 003, §4.4-4.5).

Thesis §4.4, Fig. 4.3: stability-optimised circuits (Appendix C.1) of N = 100, 200 and 400 neurons from
their preferred initial conditions (Appendix C.2); one initial output y_0 and a readout fit per network on
100 noisy trials (30 dB, §3.2.3) so that every network produces the same output at gains 1; 5 novel
targets, 10 sessions each, learned by the group-tied reward rule (§4.1.1, eqs. 3.5-3.6 on the group
gains gamma, neuronal gains g = M gamma) for several numbers n of random groups (a new random grouping
per session, Appendix 4.A.1) and neuron-specific modulation (n = N). All sessions of one network with
the same number of iterations run as one batch: `learn_combination` with the membership matrices as
bases, gamma(t_0) = 1 and one readout per session, which is the group rule of `learn_group_gains` (the
tests check the two give identical results). 18,000 iterations (Appendix 4.A.2: "60,000 (instead of
18,000)"). Reported per N and n:

* the minimum error 1 - R^2 (Appendix D) over training, eps_min = min_{1 <= t <= I} eps(t) (Fig. 4.3a, blue),
  its mean over targets and sessions (Fig. 4.3c) and per target (Fig. 4.3b); the error at the last iteration;
* the number of iterations needed to get within 1 % of the minimum, min {t : eps(t) <= 1.01 eps_min}
  (Fig. 4.3a, red).

§4.5, Fig. 4.4, Appendix 4.A.2: K = 2, 3, 4 readout units. For each K, 10 sets of K initial outputs and
K targets (Gaussian-process draws, eq. 3.3), shared by all network sizes and group counts; per network
and set a readout is fit so that gains 1 give the set's initial outputs; one session per set, 60,000
iterations; error = mean of 1 - R^2 over the K outputs. Reported: mean minimum error over the sets per
N, n and K, and the mean learning curve for 40 groups (Fig. 4.4a, bottom). Sessions with K readouts
join a batch with K_pad outputs (the least common multiple) by repeating each readout row and its
target K_pad / K times: the error, a mean of 1 - R^2 over outputs, is unchanged.

Errors are invariant to a common scale of targets and readout, so all targets are scaled to the peak
rate of the first network (§3.2.2 scales targets "to the magnitude of the rates").

Quick scale (``--quick``): N = 20 and 40, 1, 2, 5, 10 groups and N, 2 targets x 2 sessions, the text's rule
for 5000 iterations (40 left every count at the initial error). Measured (seed 0; 110 s wall, 40 s CPU on 2
heavily loaded cores), mean minimum error for 1, 2, 5, 10, N groups from 3.18:
N = 20: 1.09, 0.99, 0.62, 0.44, 0.33; N = 40: 1.18, 0.97, 0.51, 0.28, 0.11; with 2 readouts
N = 20: 0.93, 0.90, 0.55, 0.45, 0.36; N = 40: 0.84, 0.67, 0.32, 0.17, 0.06: more groups, and for 2 or more
groups the larger network, give lower errors (Figs. 4.3c, 4.4).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.report.figures import new_figure


class GroupsSizeConfig(ExperimentConfig):
    sizes: list[int] = Field([100, 200, 400], description="network sizes N (even)")
    soc_target: float = Field(0.15, gt=0, description="spectral abscissa the SOC optimisation stops below")
    group_counts: list[int] = Field([1, 2, 3, 5, 10, 20, 40, 80],
                                    description="numbers of random groups (counts above N are skipped for that N)")
    neuron_specific: bool = Field(True, description="also learn with n = N (neuron-specific modulation)")
    targets: int = Field(5, ge=1, description="target movements (Fig. 4.3)")
    sessions: int = Field(10, ge=1, description="sessions per target and condition")
    iterations: int = Field(18000, ge=1, description="iterations of the reward rule (Fig. 4.3)")
    readouts: list[int] = Field([2, 3, 4], description="numbers K of readout units (Fig. 4.4); [] skips")
    readout_sets: int = Field(10, ge=1, description="sets of K initial outputs and targets (one session each)")
    readout_iterations: int = Field(60000, ge=1, description="iterations with K readouts (Appendix 4.A.2)")
    curve_groups: int = Field(40, ge=1, description="group count whose learning curves are kept for Fig. 4.4a")
    n_trials: int = Field(100, ge=1, description="noisy trials for the readout fit")
    snr_db: float = Field(30.0, gt=0, description="SNR of the readout-fit trials (dB)")


def _iterations_to_within(errors, rel: float = 0.01) -> np.ndarray:
    """First iteration t >= 1 with eps(t) <= (1 + rel) min_{t >= 1} eps(t): ``(..., I+1)`` -> ``(...)``."""
    e = errors[..., 1:]
    return np.argmax(e <= (1.0 + rel) * e.min(-1, keepdims=True), axis=-1) + 1


@experiment("groups-size", GroupsSizeConfig,
            "Thesis §4.4-4.5, Figs. 4.3-4.4, App. 4.A.2: error against the number of random modulatory groups for "
            "networks of 100, 200 and 400 neurons, with 1 and with 2-4 readout units.",
            quick={"sizes": [20, 40], "soc_target": 0.5, "group_counts": [1, 2, 5, 10], "targets": 2,
                   "sessions": 2, "iterations": 5000, "readouts": [2], "readout_sets": 2,
                   "readout_iterations": 5000, "curve_groups": 5, "n_trials": 20})
def run_groups_size(cfg: GroupsSizeConfig, run: Run) -> dict:
    from neurodyn.learning import (Readout, emg_targets, fit_readout_on_trials, learn_combination, rate_amplitude,
                                   soc_dynamics)
    from neurodyn.learning.groups import membership_matrix, random_groups
    from neurodyn.learning.movement import soc_network
    from neurodyn.learning.network_file import network_arrays

    sizes = [int(s) for s in cfg.sizes]
    if not sizes or any(s < 4 or s % 2 for s in sizes):
        raise ValueError(f"sizes={sizes}: expected one or more even network sizes >= 4")
    if any(c < 1 for c in cfg.group_counts) or any(k < 1 for k in cfg.readouts):
        raise ValueError(f"group_counts={cfg.group_counts}, readouts={cfg.readouts}: expected positive integers")
    S, Q = cfg.sessions, cfg.targets

    def counts_for(N):
        cs = sorted({int(c) for c in cfg.group_counts if c < N} | ({N} if cfg.neuron_specific else set())
                    | ({N} if N in cfg.group_counts else set()))
        if not cs:
            raise ValueError(f"group_counts={cfg.group_counts}: no count <= N={N} and neuron_specific is off")
        return cs

    def label_name(N, c):
        return "neuron_specific" if c == N and cfg.neuron_specific else f"g{c}"

    dyns = {N: soc_dynamics(network=soc_network(N, cfg.seed, target=cfg.soc_target))
            for N in run.progress(sizes, total=len(sizes), description="networks")}
    amp = rate_amplitude(dyns[sizes[0]])
    _, Y = emg_targets(1 + Q, seed=cfg.seed, amplitude=amp)
    T = Y.shape[1]
    sets = {}
    for K in cfg.readouts:                      # Fig. 4.4: sets of initial outputs and targets shared by all N
        R = cfg.readout_sets
        _, Z = emg_targets(2 * R * K, seed=cfg.seed + 100 + K, amplitude=amp)
        sets[K] = (Z[:R * K].reshape(R, K, T), Z[R * K:].reshape(R, K, T))
        run.save_array(f"k{K}_initial_outputs", sets[K][0])
        run.save_array(f"k{K}_targets", sets[K][1])
    run.save_array("targets", Y)

    # every session of one network, one problem each: (job key, labels, readout m (K, M), b (K,), target (K, T),
    # iterations); jobs with the same iteration count run as one batch, K padded to a common K_pad by repeating
    # each readout row and its target K_pad / K times (the mean of 1 - R^2 over outputs is unchanged)
    curves: dict = {}
    for N in sizes:
        dyn = dyns[N]
        cs = counts_for(N)
        kmax = max(cs)
        lab = lambda c, sd: np.arange(N) if c == N else random_groups(N, c, sd)  # noqa: E731
        ro1 = fit_readout_on_trials(dyn, Y[0], n_trials=cfg.n_trials, snr_db=cfg.snr_db, seed=cfg.seed)
        for k, v in network_arrays(dyn, ro1, prefix=f"n{N}_network_").items():   # for re-simulation
            run.save_array(k, v)
        jobs = [(("one", c, q, s), lab(c, cfg.seed + 1000 + 7919 * q + 97 * c + s), np.asarray(ro1.m),
                 np.asarray(ro1.b), Y[1 + q][:, None], cfg.iterations) for c in cs for q in range(Q) for s in range(S)]
        for K in cfg.readouts:
            y0, yt = sets[K]
            for r in range(cfg.readout_sets):
                ro = fit_readout_on_trials(dyn, y0[r].T, n_trials=cfg.n_trials, snr_db=cfg.snr_db, seed=cfg.seed + r)
                jobs += [(("multi", K, c, r), lab(c, cfg.seed + 5000 + 131 * r + 97 * c), np.asarray(ro.m),
                          np.asarray(ro.b), yt[r].T, cfg.readout_iterations) for c in cs]
        for iters in sorted({j[5] for j in jobs}):
            batch = [j for j in jobs if j[5] == iters]
            k_pad = int(np.lcm.reduce([j[2].shape[0] for j in batch]))
            rep = [k_pad // j[2].shape[0] for j in batch]
            bases = np.stack([membership_matrix(j[1], kmax)[None] for j in batch])    # (P, 1, N, kmax)
            ro = Readout(np.stack([np.repeat(j[2], k, 0) for j, k in zip(batch, rep)]),
                         np.stack([np.repeat(j[3], k, 0) for j, k in zip(batch, rep)]))
            yy = np.stack([np.repeat(j[4], k, 1) for j, k in zip(batch, rep)])[:, None]  # (P, 1, T, K_pad)
            res = learn_combination(dyn, ro, bases, yy, 1, iters, c0=np.ones(kmax), seed=cfg.seed + N + iters,
                                    description=f"N = {N}, {len(batch)} sessions x {iters} iterations")
            curves.update({(N,) + j[0]: res.errors[i, 0] for i, j in enumerate(batch)})

    metrics: dict = {"sizes": sizes}
    per_size, multi = {}, {}
    for N in sizes:                             # Fig. 4.3: one readout unit
        cs = counts_for(N)
        err = np.stack([[[curves[(N, "one", c, q, s)] for s in range(S)] for q in range(Q)] for c in cs])
        e_min = err[..., 1:].min(-1)                                                    # (counts, Q, S)
        e_fin = err[..., -1]
        n_1pct = _iterations_to_within(err)
        per_size[N] = (cs, e_min, e_fin, n_1pct, err[..., 0].mean())
        metrics[f"initial_error_n{N}"] = float(err[..., 0].mean())
        for i, c in enumerate(cs):
            nm = label_name(N, c)
            metrics[f"min_error_n{N}_{nm}"] = float(e_min[i].mean())
            metrics[f"final_error_n{N}_{nm}"] = float(e_fin[i].mean())
            metrics[f"iterations_to_1pct_median_n{N}_{nm}"] = float(np.median(n_1pct[i]))
            metrics[f"min_error_per_target_n{N}_{nm}"] = e_min[i].mean(-1).tolist()
        metrics[f"group_counts_n{N}"] = cs
        metrics[f"min_error_per_count_n{N}"] = e_min.mean((1, 2)).tolist()
        run.save_array(f"n{N}_group_counts", np.array(cs))
        run.save_array(f"n{N}_min_errors", e_min)
        run.save_array(f"n{N}_final_errors", e_fin)
        run.save_array(f"n{N}_iterations_to_1pct", n_1pct)
        run.save_array(f"n{N}_mean_curves", err.mean((1, 2)))
        for K in cfg.readouts:                  # Fig. 4.4: K readout units, one session per set
            err = np.stack([[curves[(N, "multi", K, c, r)] for r in range(cfg.readout_sets)] for c in cs])
            e_min = err[..., 1:].min(-1)                                                # (counts, sets)
            multi[(K, N)] = (cs, e_min)
            for i, c in enumerate(cs):
                metrics[f"readouts{K}_min_error_n{N}_{label_name(N, c)}"] = float(e_min[i].mean())
            metrics[f"readouts{K}_min_error_per_count_n{N}"] = e_min.mean(1).tolist()
            run.save_array(f"k{K}_n{N}_min_errors", e_min)
            if cfg.curve_groups in cs:
                run.save_array(f"k{K}_n{N}_curve_{cfg.curve_groups}_groups", err[cs.index(cfg.curve_groups)].mean(0))

    # summary, table and figures
    common = sorted(set.intersection(*[set(per_size[N][0]) for N in sizes]) - set(sizes))
    if len(common) >= 2:
        lo, hi = common[0], common[-1]
        metrics["error_decreases_with_groups_all_sizes"] = bool(all(
            metrics[f"min_error_n{N}_g{hi}"] < metrics[f"min_error_n{N}_g{lo}"] for N in sizes))
    rows = []
    for N in sizes:
        cs, e_min, e_fin, n_1pct, _ = per_size[N]
        rows += [[N, "N" if c == N else c, f"{e_min[i].mean():.4f}", f"{e_fin[i].mean():.4f}",
                  f"{np.median(n_1pct[i]):.0f}"] for i, c in enumerate(cs)]
    run.table("One readout: error 1 - R² (mean over targets and sessions)",
              ["N", "groups", "minimum", "final", "iterations to 1 % (median)"], rows)

    fig, ax = new_figure(3, 1 + (1 if cfg.readouts else 0))
    colours = ["#3366cc", "#e6b800", "#cc3333", "#2ca02c", "#9467bd"]
    allc = sorted({c for N in sizes for c in per_size[N][0] if not (c == N and cfg.neuron_specific)})
    xpos = {c: i for i, c in enumerate(allc)}
    xN = len(allc)

    def x_of(N, c):
        return xN if c == N and cfg.neuron_specific else xpos[c]

    ticks = ([str(c) for c in allc] + (["N"] if cfg.neuron_specific else []))
    for j, N in enumerate(sizes):
        cs, e_min, _, n_1pct, _ = per_size[N]
        off = (j - (len(sizes) - 1) / 2) * 0.25
        pos = [x_of(N, c) + off for c in cs]
        ax[0].boxplot(e_min.reshape(len(cs), -1).T, positions=pos, widths=0.2, whis=1.5, showfliers=False,
                      boxprops={"color": colours[j % 5]}, medianprops={"color": colours[j % 5]})
        ax[1].boxplot(n_1pct.reshape(len(cs), -1).T, positions=pos, widths=0.2, whis=1.5, showfliers=False,
                      boxprops={"color": colours[j % 5]}, medianprops={"color": colours[j % 5]})
        ax[2].plot([x_of(N, c) for c in cs], e_min.mean((1, 2)), "o-", color=colours[j % 5], label=f"N = {N}")
    for a, ttl, yl in ((ax[0], "Fig. 4.3a: minimum error", "error 1 - R²"),
                       (ax[1], "Fig. 4.3a: iterations to within 1 %", "iterations"),
                       (ax[2], "Fig. 4.3c: mean minimum error", "error 1 - R²")):
        a.set_xticks(range(len(ticks)))
        a.set_xticklabels(ticks)
        a.set_xlabel("random groups")
        a.set_ylabel(yl)
        a.set_title(ttl, fontsize=9)
    ax[0].set_yscale("log")
    ax[2].set_yscale("log")
    ax[2].legend(frameon=False, fontsize=7)
    if cfg.readouts:
        for i, K in enumerate(cfg.readouts[:3]):
            a = ax[3 + i]
            for j, N in enumerate(sizes):
                cs, e_min = multi[(K, N)]
                a.plot([x_of(N, c) for c in cs], e_min.mean(1), "o-", color=colours[j % 5], label=f"N = {N}")
            a.set_xticks(range(len(ticks)))
            a.set_xticklabels(ticks)
            a.set_xlabel("random groups")
            a.set_ylabel("mean minimum error")
            a.set_yscale("log")
            a.set_title(f"Fig. 4.4a: {K} readout units", fontsize=9)
            a.legend(frameon=False, fontsize=7)
        for a in ax[3 + len(cfg.readouts[:3]):]:
            a.axis("off")
    run.save_figure(fig, "groups_size", "Thesis Figs. 4.3-4.4: minimum errors (Tukey box plots over targets and "
                                        "sessions) and iterations to within 1 % of the minimum against the number "
                                        "of random groups for each network size; mean minimum errors with 1 and "
                                        "with several readout units")
    if cfg.readouts and any(cfg.curve_groups in multi[(K, N)][0] for K in cfg.readouts for N in sizes):
        fig, ax = new_figure(len(cfg.readouts))
        for a, K in zip(ax, cfg.readouts):
            for j, N in enumerate(sizes):
                if cfg.curve_groups in multi[(K, N)][0]:
                    a.plot(run.arrays[f"k{K}_n{N}_curve_{cfg.curve_groups}_groups"], color=colours[j % 5],
                           label=f"N = {N}")
            a.set_yscale("log")
            a.set_xlabel("iteration")
            a.set_ylabel("mean error 1 - R²")
            a.set_title(f"{K} readouts, {cfg.curve_groups} groups", fontsize=9)
            a.legend(frameon=False, fontsize=7)
        run.save_figure(fig, "groups_size_curves", "Thesis Fig. 4.4a (bottom): mean error during training with "
                                                   f"{cfg.curve_groups} random groups")
    return metrics


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import Reference, describe  # noqa: E402

describe(
    "groups-size",
    metrics={
        "sizes": ("network sizes N", "neurons"),
        "initial_error_n*": ("error 1 - R^2 before learning for the network of the named size, mean", ""),
        "min_error_n*_*": ("minimum error over training (Fig. 4.3a, blue) for the named size and number of "
                           "groups (gN: neuron-specific), mean over targets and sessions", ""),
        "final_error_n*_*": ("error at the last iteration for the named size and number of groups, mean", ""),
        "iterations_to_1pct_median_n*_*": ("median number of iterations to come within 1 % of the minimum error "
                                           "(Fig. 4.3a, red)", "iterations"),
        "min_error_per_target_n*_*": ("per target, minimum error for the named size and number of groups", ""),
        "group_counts_n*": ("numbers of groups tested for the network of the named size", "count"),
        "min_error_per_count_n*": ("minimum error per number of groups (Fig. 4.3c), named size", ""),
        "readouts*_min_error_n*_*": ("minimum error, mean of 1 - R^2 over K readouts (§4.5, Fig. 4.4), named K, "
                                     "size and number of groups", ""),
        "readouts*_min_error_per_count_n*": ("minimum error per number of groups with K readouts, named size",
                                             ""),
        "error_decreases_with_groups_all_sizes": ("for every size, the most groups give a lower minimum error than "
                                                  "the fewest", ""),
    },
    references=[
        Reference("error_decreases_with_groups_all_sizes", True, "thesis §4.4, Fig. 4.3c",
                  "error falls with more random groups and saturates above about 10 groups, in all 3 networks", relation="equal"),
    ],
)

"""Experiment `library`: new movements from convex combinations of a library of learned gain patterns.

Thesis (seed 003) ch. 5, Figs. 5.1-5.3 and Appendix 5.A: a 400-neuron SOC with 40 random modulatory
groups (§4.1.1) learns each of 100 targets by the reward-based rule (eqs. 3.5-3.6), giving 100 gain
patterns and outputs. For library sizes l = 1..50, 100 libraries of l patterns are drawn uniformly
without replacement; each of 100 novel targets is fit by a convex combination of the library's outputs
and the network is run with the same combination of gain patterns (`neurodyn.learning.library`). We
report, per l, the median over libraries of the median over targets of the fit, output and
fit-to-output errors (Fig. 5.3c), the Pearson correlation of output and fit errors, the distribution of
the learned gains (Fig. 5.2a) and outputs of gain patterns drawn at random from it (Fig. 5.2c): their
spread across patterns is compared with that of the trained outputs. ``r0 = 5`` gives Fig. 5.6.

Quick scale (``--quick``): the text's rule and 5000 iterations per library target on a 50-neuron SOC
(alpha < 0.3) with 10 random groups; 10 library targets, libraries of 1-5 patterns (5 per size), 5 novel
targets (20 iterations learned nothing: every size stayed at 2.2). Measured (seeds 0 / 1; 50 s wall, 23 s
CPU on 2 loaded cores): library patterns learned to a median error 0.037 / 0.136; the median output error
falls from 2.23 / 2.27 with one pattern to 0.80 / 0.58 with five, following the fit error (0.68 / 0.40;
correlation of fit and output errors 0.83-0.99), as in Fig. 5.3c.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.report.figures import new_figure


class LibraryConfig(ExperimentConfig):
    n: int = Field(400, ge=4, description="neurons of the SOC (even)")
    soc_target: float = Field(0.15, gt=0, description="spectral abscissa the SOC optimisation stops below")
    n_groups: int = Field(40, ge=1, description="random modulatory groups")
    r0: float = Field(20.0, gt=0, description="baseline rate r0 of the gain function (Hz); 5 gives Fig. 5.6")
    library_targets: int = Field(100, ge=2, description="targets learned to build the library")
    iterations: int = Field(5000, ge=1, description="iterations of the reward-based rule per library target")
    max_library_size: int = Field(50, ge=1, description="largest library size l")
    libraries: int = Field(100, ge=1, description="random libraries per size")
    novel_targets: int = Field(100, ge=1, description="novel targets fit by each library")
    n_trials: int = Field(100, ge=1, description="noisy trials for the readout fit")
    snr_db: float = Field(30.0, gt=0, description="SNR of the readout-fit trials (dB)")


@experiment("library", LibraryConfig,
            "Thesis ch. 5, Figs. 5.1-5.3: novel movements from convex combinations of learned gain patterns "
            "(fit, output and fit-to-output errors against library size).",
            quick={"n": 50, "soc_target": 0.3, "n_groups": 10, "library_targets": 10, "iterations": 5000,
                   "max_library_size": 5, "libraries": 5, "novel_targets": 5, "n_trials": 20})
def run_library(cfg: LibraryConfig, run: Run) -> dict:
    from neurodyn.learning import GainTask, emg_targets, fit_readout_on_trials, rate_amplitude, soc_dynamics
    from neurodyn.learning.groups import learn_group_gains, random_groups
    from neurodyn.learning.library import combine_library
    from neurodyn.learning.movement import soc_network
    from neurodyn.learning.network_file import network_arrays

    if cfg.n % 2 or cfg.n_groups > cfg.n:
        raise ValueError(f"n={cfg.n}, n_groups={cfg.n_groups}: expected an even n >= n_groups")
    if cfg.max_library_size > cfg.library_targets:
        raise ValueError(f"max_library_size={cfg.max_library_size}: expected at most library_targets="
                         f"{cfg.library_targets}")
    net = soc_network(cfg.n, cfg.seed, target=cfg.soc_target)
    dyn = soc_dynamics(network=net, r0=cfg.r0)
    L, V = cfg.library_targets, cfg.novel_targets
    _, Y = emg_targets(1 + L + V, seed=cfg.seed, amplitude=rate_amplitude(dyn))
    readout = fit_readout_on_trials(dyn, Y[0], n_trials=cfg.n_trials, snr_db=cfg.snr_db, seed=cfg.seed)
    lib_y, novel_y = Y[1:1 + L, :, None], Y[1 + L:, :, None]
    labels = random_groups(cfg.n, cfg.n_groups, seed=cfg.seed)
    task = GainTask(dyn, readout, lib_y)
    res = learn_group_gains(task, labels, 1, cfg.iterations, seed=cfg.seed, description="library targets")
    G = res.best_gains[:, 0]                                  # (L, N) learned gain patterns
    Fz = np.asarray(task.output(G))                           # (L, T, readouts) their outputs
    lib_err = res.errors[:, 0, 1:].min(-1)

    rng = np.random.default_rng(cfg.seed + 1)
    sizes = np.arange(1, cfg.max_library_size + 1)
    fit_e = np.zeros((sizes.size, cfg.libraries, V))
    out_e, fo_e = np.zeros_like(fit_e), np.zeros_like(fit_e)
    for i, l in enumerate(run.progress(sizes, total=sizes.size, description="library sizes")):
        idx = np.stack([rng.choice(L, l, replace=False) for _ in range(cfg.libraries)])    # (libraries, l)
        bi = np.repeat(idx, V, axis=0)                                                     # (libraries*V, l)
        fit = combine_library(task, G[bi], Fz[bi], np.tile(novel_y, (cfg.libraries, 1, 1)))
        fit_e[i] = fit.fit_error.reshape(cfg.libraries, V)
        out_e[i] = fit.output_error.reshape(cfg.libraries, V)
        fo_e[i] = fit.fit_output_error.reshape(cfg.libraries, V)
        if l == sizes[-1]:                                # largest libraries: for independent re-simulation
            run.save_array("largest_library_index", idx)
            run.save_array("largest_library_coefficients", fit.coefficients.reshape(cfg.libraries, V, l))
    med = lambda e: np.median(np.median(e, axis=2), axis=1)  # noqa: E731  (Fig. 5.3c)
    m_fit, m_out, m_fo = med(fit_e), med(out_e), med(fo_e)
    corr = [float(np.corrcoef(fit_e[i].ravel(), out_e[i].ravel())[0, 1]) if fit_e[i].std() > 0 else float("nan")
            for i in range(sizes.size)]

    # Fig. 5.2: gain distribution and outputs of patterns drawn at random from it (group-wise, as learned)
    gam = res.group_gains[:, 0]                               # (L, n_groups)
    rand_gam = rng.choice(gam.ravel(), size=gam.shape, replace=True)
    Fr = np.asarray(task.output(rand_gam[:, labels]))[..., 0]
    spread_trained = float(np.mean(np.std(Fz[..., 0], axis=0)))
    spread_random = float(np.mean(np.std(Fr, axis=0)))

    for k, v in network_arrays(dyn, readout).items():
        run.save_array(k, v)
    for name, arr in [("library_targets", lib_y[..., 0]), ("novel_targets", novel_y[..., 0]), ("library_gains", G), ("library_outputs", Fz), ("library_errors", lib_err),
                      ("sizes", sizes), ("fit_error", fit_e), ("output_error", out_e),
                      ("fit_output_error", fo_e), ("random_pattern_outputs", Fr), ("labels", labels)]:
        run.save_array(name, arr)
    metrics = {"library_error_median": float(np.median(lib_err)),
               "median_fit_error": m_fit.tolist(), "median_output_error": m_out.tolist(),
               "median_fit_output_error": m_fo.tolist(), "fit_output_correlation": corr,
               "gain_mean": float(gam.mean()), "gain_sd": float(gam.std()),
               "output_spread_trained": spread_trained, "output_spread_random_gains": spread_random}
    for l in (1, 5, 20, 50):
        if l <= sizes[-1]:
            metrics[f"median_output_error_l{l}"] = float(m_out[l - 1])
            metrics[f"median_fit_error_l{l}"] = float(m_fit[l - 1])

    fig, ax = new_figure(3)
    ax[0].plot(sizes, m_fit, "r--", label="fit")
    ax[0].plot(sizes, m_out, color="orange", label="output")
    ax[0].plot(sizes, m_fo, "k:", label="fit vs output")
    ax[0].set_yscale("log")
    ax[0].set_xlabel("library size l")
    ax[0].set_ylabel("median error 1 - R²")
    ax[0].legend(frameon=False, fontsize=8)
    ax[0].set_title("Fig. 5.3c")
    ax[1].hist(gam.ravel(), bins=30, density=True, color="0.7")
    ax[1].set_xlabel("learned gain")
    ax[1].set_title(f"gains over {L} patterns (sd {gam.std():.3f})")
    t = dyn.t_ms
    ax[2].plot(t, Fz[..., 0].T, color="#3366cc", lw=0.5, alpha=0.6)
    ax[2].plot(t, Fr.T, color="orange", lw=0.5, alpha=0.6)
    ax[2].set_xlabel("time (ms)")
    ax[2].set_title("trained (blue) vs random gains (orange)")
    run.save_figure(fig, "library", "Thesis Figs. 5.2-5.3: errors against library size (medians), distribution of "
                                    "learned gains, outputs of trained and randomly drawn gain patterns")
    return metrics


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import Reference, describe  # noqa: E402

describe(
    "library",
    metrics={
        "library_error_median": ("median error 1 - R^2 of the trained library movements (each learned target)", ""),
        "median_fit_error": ("per library size l, median over libraries of the median over novel targets of the "
                             "error of the convex fit of the outputs (Fig. 5.3c)", ""),
        "median_output_error": ("per library size l, median error of the network output with the combined gain "
                                "pattern against the novel target (Fig. 5.3c)", ""),
        "median_fit_output_error": ("per library size l, median error between the convex fit and the network "
                                    "output (Fig. 5.3c)", ""),
        "fit_output_correlation": ("Pearson correlation between fit errors and output errors", ""),
        "gain_mean": ("mean of the learned gains over all library gain patterns", "gain"),
        "gain_sd": ("standard deviation of the learned gains over all library gain patterns", "gain"),
        "output_spread_trained": ("spread across patterns of the outputs of the trained gain patterns", ""),
        "output_spread_random_gains": ("spread of the outputs of gain patterns drawn at random from the learned "
                                       "gain distribution (Fig. 5.2c)", ""),
        "median_output_error_l*": ("median output error for the named library size", ""),
        "median_fit_error_l*": ("median fit error for the named library size", ""),
    },
    references=[
        Reference("gain_mean", 0.996, "thesis App. 5.B, Fig. 5.4",
                  "mean mean (µ) of approximately 0.996 over 100 gain patterns", tol=0.05,
                  scale="N = 400, 40 groups, 100 targets"),
        Reference("gain_sd", 0.177, "thesis App. 5.B, Fig. 5.4",
                  "mean over patterns of each pattern's σ ≈ 0.177 (this run: σ pooled over patterns)", tol=0.05,
                  scale="N = 400, 40 groups, 100 targets"),
    ],
)

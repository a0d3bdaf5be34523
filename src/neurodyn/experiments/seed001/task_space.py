"""Experiment `task-space`: task activity space and unbiased distances on single-trial premotor data.

Seed 001 §6 (PCA of trial averages; dimensionality at 95% of the noise-corrected signal variance of
Machens / Kobak et al.) and §7 (cross-validated, unbiased squared distances between trial-averaged
states, in the full space and projected into the task activity space, and the task-space diameter),
applied to the premotor delayed-reach dataset in ``shared/data/yu_pmd_delayed_reach`` (97 units,
8 directions, 1-ms rasters, 200 ms baseline + 500 ms delay; simultaneous recordings, so the §7.2
estimators apply). Reported: ``dimensionality``, the signal- and total-variance fractions at that
dimensionality, the mean unbiased and naive squared distances between the 8 direction means in the
planning window (both spaces), the noise bias of the naive estimate, and the task-space diameter.
"""

from __future__ import annotations

import os

from itertools import combinations
from pathlib import Path

import numpy as np
from pydantic import Field

from neurodyn.analysis import cv_distance_sq, naive_distance_sq, task_space, task_space_diameter
from neurodyn.data import load_mat
from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.report.figures import new_figure

#: Where the (unshippable) premotor teaching dataset lives relative to a checkout: the shared data
#: folder beside the working directory; override with --set data=PATH or NEURODYN_YU_MAT.
YU_RELATIVE = Path("..") / "shared" / "data" / "yu_pmd_delayed_reach" / "ps4_realdata.mat"


def default_yu_path() -> str:
    return os.environ.get("NEURODYN_YU_MAT", str(YU_RELATIVE))


class TaskSpaceConfig(ExperimentConfig):
    data: str = Field(default_factory=default_yu_path,
                      description="MATLAB file with [trial, direction] structs of 1-ms rasters "
                                  "(default: ../shared/data/yu_pmd_delayed_reach/ps4_realdata.mat or $NEURODYN_YU_MAT)")
    bin_ms: int = Field(20, ge=1, description="causal bin width (ms)")
    t_min_ms: float = Field(0.0, description="first bin end kept (ms from target onset)")
    t_max_ms: float = Field(500.0, description="last bin end kept (ms from target onset)")
    window_ms: list[float] = Field([150.0, 350.0], description="planning window for the distances (ms)")
    threshold: float = Field(0.95, gt=0, le=1, description="signal-variance fraction for the dimensionality")
    max_trials: int | None = Field(None, ge=2, description="use at most this many trials per direction")


@experiment("task-space", TaskSpaceConfig,
            "Seed 001 §6-§7: task activity space (noise-corrected signal variance) and unbiased vs naive "
            "distances between reach directions in premotor single trials.",
            quick={"max_trials": 30, "bin_ms": 50})
def run_task_space(cfg: TaskSpaceConfig, run: Run) -> dict:
    if not Path(cfg.data).is_file():
        raise FileNotFoundError(f"data={cfg.data!r}: expected the premotor .mat file (see shared/data)")
    data = load_mat(cfg.data, bin_ms=cfg.bin_ms, t0_ms=-200.0).select_time(cfg.t_min_ms, cfg.t_max_ms)
    trials = data.trial_list()
    if cfg.max_trials is not None:
        trials = [t[:cfg.max_trials] for t in trials]
    rates = np.stack([t.mean(0) for t in trials])
    ts = task_space(rates, trials, threshold=cfg.threshold)
    k = ts.dimensionality
    lo, hi = cfg.window_ms
    win = (data.t_ms > lo) & (data.t_ms <= hi)
    if not win.any():
        raise ValueError(f"window_ms={cfg.window_ms}: expected a window inside t_ms "
                         f"[{data.t_ms[0]:.0f}, {data.t_ms[-1]:.0f}]")
    planning = [t[:, win].mean(1) for t in trials]            # (n_trials, N) planning-window rates
    pairs = list(combinations(range(len(trials)), 2))
    cv_full, nv_full, cv_task, nv_task = [], [], [], []
    for a, b in run.progress(pairs, len(pairs), "direction pairs"):
        cv_full.append(float(cv_distance_sq(planning[a], planning[b])))
        nv_full.append(float(naive_distance_sq(planning[a], planning[b])))
        cv_task.append(float(cv_distance_sq(planning[a], planning[b], ts.W)))
        nv_task.append(float(naive_distance_sq(planning[a], planning[b], ts.W)))
    diam, p, q = task_space_diameter(trials, ts.W)
    n_min = int(min(t.shape[0] for t in trials))
    run.save_array("t_ms", data.t_ms)
    run.save_array("signal_fraction", ts.signal_fraction)
    run.save_array("total_fraction", ts.total_fraction)
    run.save_array("pc_variance", ts.variance)
    run.save_array("pc_noise_variance", ts.noise_variance)
    run.save_array("cv_distance_sq_full", cv_full)
    run.save_array("naive_distance_sq_full", nv_full)
    run.save_array("projected_trajectories", ts.project(rates))
    fig, ax = new_figure(3)
    n_show = min(30, ts.variance.size)
    ks = np.arange(1, n_show + 1)
    ax[0].plot(ks, ts.signal_fraction[:n_show], "ko-", ms=3, label="signal variance (noise-corrected)")
    ax[0].plot(ks, ts.total_fraction[:n_show], "s-", color="0.6", ms=3, label="total variance")
    ax[0].axhline(cfg.threshold, color="r", ls="--", lw=1)
    ax[0].axvline(k, color="r", ls=":", lw=1)
    ax[0].set_xlabel("number of PCs")
    ax[0].set_ylabel("cumulative fraction")
    ax[0].legend(frameon=False, fontsize=8)
    ax[0].set_title(f"dimensionality {k}")
    ax[1].scatter(cv_full, nv_full, s=12, color="k")
    m = max(max(nv_full), 1e-9)
    ax[1].plot([0, m], [0, m], color="0.6", lw=1)
    ax[1].set_xlabel("unbiased squared distance ((sp/s)²)")
    ax[1].set_ylabel("naive squared distance")
    ax[1].set_title("direction pairs, full space")
    proj = ts.project(rates)
    for c in range(proj.shape[0]):
        ax[2].plot(proj[c, :, 0], proj[c, :, 1], lw=1.2)
        ax[2].plot(proj[c, -1, 0], proj[c, -1, 1], "o", ms=3, color="k")
    ax[2].set_xlabel("PC 1")
    ax[2].set_ylabel("PC 2")
    ax[2].set_title("trajectories in the task space")
    run.save_figure(fig, "task_space", "Seed 001 §6-§7 on premotor data: signal-variance curve, unbiased vs "
                                       "naive distances, trial-averaged trajectories in PCs 1-2")
    bias = float(np.mean(nv_full) - np.mean(cv_full))
    run.note(f"{k} PCs hold {cfg.threshold:.0%} of the noise-corrected signal variance "
             f"({ts.total_fraction[k - 1]:.1%} of the total variance). The naive squared distance between "
             f"direction means exceeds the unbiased one by {bias:.3g} (sp/s)² on average: the noise of the "
             f"trial averages ({n_min}+ trials per direction).")
    return {"dimensionality": k, "signal_fraction_at_dim": float(ts.signal_fraction[k - 1]),
            "total_fraction_at_dim": float(ts.total_fraction[k - 1]),
            "n_neurons": int(rates.shape[2]), "n_bins": int(rates.shape[1]), "n_trials_min": n_min,
            "mean_cv_distance_sq_full": float(np.mean(cv_full)),
            "mean_naive_distance_sq_full": float(np.mean(nv_full)),
            "mean_cv_distance_sq_task": float(np.mean(cv_task)),
            "mean_naive_distance_sq_task": float(np.mean(nv_task)),
            "naive_bias_full": bias, "task_space_diameter": diam}


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import describe  # noqa: E402

describe(
    "task-space",
    metrics={
        "dimensionality": ("dimension of the task activity space: PCs reaching 95 % of the signal variance (§6)",
                           "count"),
        "signal_fraction_at_dim": ("noise-corrected signal variance captured at that dimension", "fraction"),
        "total_fraction_at_dim": ("total variance of the trial averages captured at that dimension", "fraction"),
        "n_neurons": ("units", "count"),
        "n_bins": ("time bins", "count"),
        "n_trials_min": ("fewest trials of any condition", "count"),
        "mean_cv_distance_sq_full": ("mean cross-validated (unbiased) squared distance between direction means, "
                                     "full space (§7)", "(spikes/s)^2"),
        "mean_naive_distance_sq_full": ("mean naive squared distance between direction means, full space",
                                        "(spikes/s)^2"),
        "mean_cv_distance_sq_task": ("mean unbiased squared distance in the task activity space", "(spikes/s)^2"),
        "mean_naive_distance_sq_task": ("mean naive squared distance in the task activity space", "(spikes/s)^2"),
        "naive_bias_full": ("naive minus unbiased mean squared distance, full space (noise bias)", "(spikes/s)^2"),
        "task_space_diameter": ("largest unbiased distance between two non-stimulated states (§7.2)", "spikes/s"),
    },
)

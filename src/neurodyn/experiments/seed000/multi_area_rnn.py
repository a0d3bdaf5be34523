"""Experiment `multi-area-rnn`: a two-area Dale RNN trained on delayed reaching, area 1 regularised toward M1.

Seed 000 (Fig. 2b and section "Models of large scale, brain-wide neural population dynamics"): a
multi-area RNN with E/I cell types, inter-area connection proportions and Dale's law, trained by BPTT,
with "regularizing neural population trajectories of each RNN area to resemble cortical areas", then
probed for "key dynamical features, including fixed point structure". Here:

* task: 8-direction delayed reach on the time grid of the bundled M1 data (-800 .. 400 ms around
  movement onset; target at -700 ms, go step at -300 ms); output: the recorded, normalised hand velocity
  (`neurodyn.models.tasks`);
* PSTH term: area 1's rates must match the top principal components of the recorded M1 firing rates
  (soft-normalised rate / (range + 5), as the data's SOURCE.md advises) through a ridge map refitted at
  every step (`neurodyn.models.rnn`);
* reported: task error 1 - R^2 (thesis App. D), PSTH fit R^2 in-sample and on held-out conditions
  (map fitted on 7 reach directions, tested on the 8th), Dale violations (0 by construction), and the
  fixed points of the trained circuit in the delay epoch of every condition and in the go epoch, with
  their stability (`neurodyn.analysis.fixed_points`), plus a flow field in the plane of the top two
  delay-period PCs.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field
from sklearn.decomposition import PCA

from neurodyn.analysis.fixed_points import find_fixed_points, flow_field, sample_initial_states
from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.models.reach_rnn import task_r2, train_reach_rnn
from neurodyn.models.rnn import Relu
from neurodyn.report.figures import new_figure



def heldout_condition_r2(rates: np.ndarray, psth: np.ndarray, ridge: float) -> float:
    """R^2 of the ridge map (as in training) fitted on all but one condition and tested on it, pooled."""
    C = rates.shape[0]
    sse = sst = 0.0
    for c in range(C):
        tr = np.arange(C) != c
        R = rates[tr].reshape(-1, rates.shape[-1])
        P = psth[tr].reshape(-1, psth.shape[-1])
        rm, pm = R.mean(0), P.mean(0)
        G = (R - rm).T @ (R - rm)
        lam = ridge * (np.trace(G) / G.shape[0] + 1e-12)
        M = np.linalg.solve(G + lam * np.eye(G.shape[0]), (R - rm).T @ (P - pm))
        pred = (rates[c] - rm) @ M + pm
        sse += float(np.sum((psth[c] - pred) ** 2))
        sst += float(np.sum((psth[c] - pm) ** 2))
    return 1.0 - sse / sst


class MultiAreaRNNConfig(ExperimentConfig):
    area_size: int = Field(100, ge=4, description="units per area (80% E)")
    n_iter: int = Field(600, ge=1, description="Adam iterations (BPTT)")
    learning_rate: float = Field(5e-3, gt=0, description="Adam step size")
    tau_ms: list[float] = Field([50.0, 50.0], description="time constant per area (ms)")
    psth_weight: float = Field(1.0, ge=0, description="weight of the PSTH term (1 - R^2)")
    psth_area: int = Field(1, ge=1, le=2, description="area (1 or 2) regularised toward the M1 PSTHs")
    n_pcs: int = Field(20, ge=1, description="principal components of the M1 rates to match")
    noise_sd: float = Field(0.0, ge=0, description="recurrent noise during training")
    output: str = Field("velocity", description="'velocity' or 'emg'")
    n_fp_starts: int = Field(64, ge=1, description="starts per epoch for the fixed-point search")
    m1_data: str | None = Field(None, description="path of the hatsopoulos2007 .npz (default: bundled dataset)")


@experiment("multi-area-rnn", MultiAreaRNNConfig,
            "Seed 000 Fig. 2b: two-area Dale RNN trained by BPTT on delayed reaching, area 1 regularised "
            "toward M1 PSTHs; fixed points and flow field.",
            quick={"area_size": 30, "n_iter": 150, "learning_rate": 1e-2, "n_pcs": 8, "n_fp_starts": 16})
def run_multi_area_rnn(cfg: MultiAreaRNNConfig, run: Run) -> dict:
    if len(cfg.tau_ms) != 2:
        raise ValueError(f"tau_ms={cfg.tau_ms}: expected two time constants (one per area)")
    model, task, psth, kept = train_reach_rnn(cfg, (cfg.area_size, cfg.area_size), psth_weight=cfg.psth_weight,
                                              psth_area=cfg.psth_area - 1)
    x, r, z = model.simulate(task.inputs)
    model.save(run.out / "model.npz")                       # neurodyn.models.load_model(RUN)
    idx = model.structure_.area_index(cfg.psth_area - 1)
    r2_cv = heldout_condition_r2(r[..., idx], psth, model.psth_ridge)
    net = model.to_network()
    drive = model.input_drive(task.inputs)
    t = task.t_ms
    delay = (t >= task.target_on_ms + 200) & (t < task.go_ms)
    fps = []
    for c in run.progress(range(task.n_conditions), task.n_conditions, "fixed points (delay epoch)"):
        starts = sample_initial_states(x[c, delay], cfg.n_fp_starts, noise_sd=0.1, seed=cfg.seed + c)
        fps.append(find_fixed_points(net, starts, gain_fn=Relu(), h=drive[c, np.argmax(delay)],
                                     n_steps=1500, learning_rate=1e-2, fixed_tol=1e-14, dedup_tol=1e-3))
    go = t >= task.go_ms
    starts = sample_initial_states(x[0, go], cfg.n_fp_starts, noise_sd=0.1, seed=cfg.seed + 100)
    fp_go = find_fixed_points(net, starts, gain_fn=Relu(), h=drive[0, -1], n_steps=1500, learning_rate=1e-2,
                              fixed_tol=1e-14, dedup_tol=1e-3)
    n_fixed = sum(int(f.is_fixed.sum()) for f in fps)
    n_stable = sum(f.count("stable") for f in fps)
    n_saddle = sum(f.count("saddle") for f in fps)
    # distance from the end-of-delay state to the nearest stable delay fixed point, relative to its norm
    rel_dist = []
    end = np.where(delay)[0][-1]
    for c, f in enumerate(fps):
        stable = f.points[np.array([s == "stable" for s in f.stability]) & f.is_fixed]
        if stable.size:
            rel_dist.append(np.min(np.linalg.norm(stable - x[c, end], axis=1)) / np.linalg.norm(x[c, end]))
    # flow field (condition 1, delay input) in the plane of the top two PCs of the preparatory period
    prep = (t >= task.target_on_ms) & (t < task.go_ms)
    pca = PCA(2, svd_solver="full").fit(x[:, prep].reshape(-1, net.n))
    ff = flow_field(net, pca.components_.T, pca.mean_, extent=2.0 * np.sqrt(pca.explained_variance_),
                    n_grid=15, gain_fn=Relu(), h=drive[0, np.argmax(delay)])
    err = 1.0 - task_r2(z, task.targets, task.mask)
    run.save_array("loss_history", model.loss_history_)
    run.save_array("outputs", z)
    run.save_array("targets", task.targets)
    run.save_array("W", net.W)
    run.save_array("fixed_points_condition0", fps[0].points)
    fig, ax = new_figure(4)
    ax[0].semilogy(model.loss_history_, "k-")
    ax[0].set_xlabel("iteration")
    ax[0].set_ylabel("loss")
    ax[0].set_title("BPTT training")
    cols = __import__("matplotlib").cm.hsv(np.linspace(0, 1, task.n_conditions, endpoint=False))
    for c in range(task.n_conditions):
        ax[1].plot(t, task.targets[c, :, 0], color=cols[c], ls=":", lw=1)
        ax[1].plot(t, z[c, :, 0], color=cols[c], lw=1)
    ax[1].set_xlabel("time from movement onset (ms)")
    ax[1].set_ylabel("v_x (dotted: recorded)")
    ax[1].set_title(f"output, 1 - R² = {err:.3f}")
    proj = (x - pca.mean_) @ pca.components_.T
    for c in range(task.n_conditions):
        ax[2].plot(proj[c, prep, 0], proj[c, prep, 1], color=cols[c], lw=1)
        fpp = (fps[c].points[fps[c].is_fixed] - pca.mean_) @ pca.components_.T
        stab = np.array(fps[c].stability)[fps[c].is_fixed]
        ax[2].scatter(fpp[stab == "stable", 0], fpp[stab == "stable", 1], color=cols[c], marker="o", s=25)
        ax[2].scatter(fpp[stab != "stable", 0], fpp[stab != "stable", 1], color=cols[c], marker="x", s=25)
    ax[2].set_xlabel("PC 1")
    ax[2].set_ylabel("PC 2")
    ax[2].set_title("target-on to go, fixed points (o stable, x unstable)")
    ax[3].streamplot(ff["a"], ff["b"], ff["da"], ff["db"], color=np.log10(ff["speed"] + 1e-12), cmap="viridis",
                     density=1.0)
    ax[3].set_xlabel("PC 1")
    ax[3].set_ylabel("PC 2")
    ax[3].set_title("flow field, condition 1 delay input")
    run.save_figure(fig, "multi_area_rnn", "Training loss, outputs, delay-period trajectories with fixed points, "
                                           "and the flow field in the top-2 PC plane")
    run.note(f"The M1 PSTH targets keep {kept:.0%} of the soft-normalised rate variance ({psth.shape[-1]} PCs).")
    return {"task_error": err, "task_r2": 1.0 - err, "psth_r2": float(model.psth_r2_),
            "psth_r2_heldout_condition": r2_cv, "dale_violations": model.dale_violations(),
            "final_loss": float(model.loss_history_[-1]), "n_delay_fixed_points": n_fixed,
            "n_delay_stable": n_stable, "n_delay_saddle": n_saddle,
            "n_conditions_with_stable_delay_fp": int(sum(f.count("stable") > 0 for f in fps)),
            "delay_state_to_stable_fp_rel_dist": float(np.mean(rel_dist)) if rel_dist else -1.0,
            "n_go_fixed_points": int(fp_go.is_fixed.sum()), "n_go_stable": fp_go.count("stable"),
            "min_q_go": float(fp_go.q.min()),
            "max_eig_real_delay_fp": float(max(f.eigenvalues[f.is_fixed].real.max() for f in fps if f.is_fixed.any()))
            if n_fixed else 0.0}


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import describe  # noqa: E402

describe(
    "multi-area-rnn",
    metrics={
        "task_error": ("task error 1 - R^2 (thesis App. D) of the output against the hand velocity", ""),
        "task_r2": ("task R^2 of the output", ""),
        "psth_r2": ("R^2 of area 1's rates mapped to the top M1 PCs, in sample", ""),
        "psth_r2_heldout_condition": ("the same R^2 on a held-out reach direction (map fit on the others)", ""),
        "dale_violations": ("weights with the wrong sign for Dale's law", "count"),
        "final_loss": ("training loss at the last BPTT iteration", ""),
        "n_delay_fixed_points": ("fixed points found in the delay epoch, all conditions", "count"),
        "n_delay_stable": ("stable delay-epoch fixed points", "count"),
        "n_delay_saddle": ("saddle delay-epoch fixed points", "count"),
        "n_conditions_with_stable_delay_fp": ("conditions with at least one stable delay fixed point", "count"),
        "delay_state_to_stable_fp_rel_dist": ("distance of the end-of-delay state to the nearest stable fixed "
                                              "point over the state norm (-1: none)", "ratio"),
        "n_go_fixed_points": ("fixed points found in the go epoch", "count"),
        "n_go_stable": ("stable go-epoch fixed points", "count"),
        "min_q_go": ("smallest q = ||F(x)||^2 / 2 among the go-epoch candidates (0 at a fixed point)", ""),
        "max_eig_real_delay_fp": ("largest real part of the Jacobian eigenvalues at the delay fixed points", ""),
    },
)

"""Experiment `multi-area-lds`: recover a known rank-2 communication subspace from two simulated areas.

Seed 000 (coupled LDS ``x2(t+1) = A2 x2 + B2 u2 + B_{1->2} x1``, the communication subspace and
output-null spaces): simulate a two-area system whose projection ``B_{1->2}`` has rank 2
(`neurodyn.models.multi_area_lds.random_two_area_params`), fit the block-structured EM of
`MultiAreaLDS`, and compare the fitted potent space (area 1) and target space (area 2) with the truth
by principal angles in neuron space. Independently, reduced-rank regression (Semedo et al. 2019) of
area 2's next-step activity on area 1's activity estimates the dimensionality. Area 2's own dynamics
would also make ``y2(t+1)`` depend on area 1's past through ``A2``, so the target is area 2's
next-step activity with the least-squares prediction from ``y2(t)`` removed (partial regression), which
leaves ``C2 B_{1->2} x1(t)`` plus noise: rank 2.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from pydantic import Field

from neurodyn.analysis.communication import rrr_cross_validate
from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.models.multi_area_lds import (MultiAreaLDS, communication_subspace, random_two_area_params,
                                           simulate_multi_area_lds)
from neurodyn.report.figures import new_figure


class MultiAreaLDSConfig(ExperimentConfig):
    latent_dim: int = Field(4, ge=2, description="latent dimension of each area")
    n_neurons: int = Field(30, ge=4, description="observed neurons per area")
    true_rank: int = Field(2, ge=1, description="rank of B_{1->2}")
    n_trials: int = Field(40, ge=1, description="trials")
    n_steps: int = Field(100, ge=10, description="time bins per trial")
    max_iter: int = Field(200, ge=1, description="EM iterations")
    obs_noise: float = Field(0.2, gt=0, description="observation noise variance R")
    n_folds: int = Field(10, ge=2, description="RRR cross-validation folds")


def _partial_regression_target(y1, y2):
    """Source y1(t) and target y2(t+1) minus its least-squares prediction from y2(t) (with intercept)."""
    src = y1[:, :-1].reshape(-1, y1.shape[2])
    nxt = y2[:, 1:].reshape(-1, y2.shape[2])
    cur = y2[:, :-1].reshape(-1, y2.shape[2])
    D = np.hstack([cur, np.ones((cur.shape[0], 1))])
    coef = scipy.linalg.lstsq(D, nxt)[0]
    return src, nxt - D @ coef


@experiment("multi-area-lds", MultiAreaLDSConfig,
            "Seed 000: coupled two-area LDS; block-structured EM recovers a rank-2 communication subspace, "
            "reduced-rank regression finds its rank.",
            quick={"latent_dim": 3, "n_neurons": 15, "n_trials": 15, "n_steps": 80, "max_iter": 60})
def run_multi_area_lds(cfg: MultiAreaLDSConfig, run: Run) -> dict:
    k, p = cfg.latent_dim, cfg.n_neurons
    if cfg.true_rank > k:
        raise ValueError(f"true_rank={cfg.true_rank}: expected at most latent_dim={k}")
    params = random_two_area_params((k, k), (p, p), rank=cfg.true_rank, r=cfg.obs_noise, seed=cfg.seed)
    x, y = simulate_multi_area_lds(params, cfg.n_trials, cfg.n_steps, seed=cfg.seed + 1)
    model = MultiAreaLDS((k, k), max_iter=cfg.max_iter, tol=1e-9).fit(y, (p, p))
    fitted = model.communication_subspace(0, 1, rank=cfg.true_rank)
    auto_rank = model.communication_subspace(0, 1).rank
    true = communication_subspace(params, (k, k), (p, p), 0, 1, rank=cfg.true_rank, means=x)
    ang_src = np.degrees(scipy.linalg.subspace_angles(fitted.potent, true.potent))
    ang_tgt = np.degrees(scipy.linalg.subspace_angles(fitted.target_space, true.target_space))
    src, tgt = _partial_regression_target(y[:, :, :p], y[:, :, p:])
    cv = rrr_cross_validate(src, tgt, np.arange(1, min(p, 10) + 1), n_folds=cfg.n_folds, seed=cfg.seed)
    ll = model.loglik_
    monotone = bool(np.all(np.diff(ll) >= -1e-8 * np.abs(ll[:-1])))
    run.save_array("loglik", ll)
    run.save_array("A_true", np.asarray(params.A))
    run.save_array("A_fit", np.asarray(model.params_.A))
    run.save_array("potent_true", true.potent)
    run.save_array("potent_fit", fitted.potent)
    run.save_array("rrr_performance", cv.performance)
    fig, ax = new_figure(3)
    ax[0].plot(ll, "k-")
    ax[0].set_xlabel("EM iteration")
    ax[0].set_ylabel("log-likelihood")
    ax[0].set_title("EM never decreases the likelihood")
    ax[1].bar(np.arange(1, fitted.singular_values.size + 1) - 0.2, fitted.singular_values, 0.4, label="fitted")
    ax[1].bar(np.arange(1, true.singular_values.size + 1) + 0.2, true.singular_values, 0.4, label="true")
    ax[1].set_xlabel("index")
    ax[1].set_ylabel("singular value of B C⁺")
    ax[1].legend(frameon=False, fontsize=8)
    ax[1].set_title("communication matrix 1→2")
    ax[2].errorbar(cv.ranks, cv.performance, yerr=cv.performance_sem, fmt="ko-", ms=3)
    ax[2].axvline(cv.optimal_rank, color="r", lw=1)
    ax[2].set_xlabel("rank")
    ax[2].set_ylabel("1 - NSE (CV)")
    ax[2].set_title(f"RRR: optimal rank {cv.optimal_rank}")
    run.save_figure(fig, "multi_area_lds", "EM log-likelihood, singular values of the 1→2 communication "
                                           "matrix (neuron space) and reduced-rank regression performance")
    run.table("Principal angles (deg) between fitted and true subspaces", ["subspace", "angle 1", "angle 2"],
              [["area-1 potent space", *np.round(np.sort(ang_src), 2).tolist()],
               ["area-2 target space", *np.round(np.sort(ang_tgt), 2).tolist()]])
    run.note(f"Of area 1's denoised activity, {true.potent_variance:.0%} of the variance lies in the true potent "
             f"space (fitted: {fitted.potent_variance:.0%}); the rest is output-null.")
    return {"max_principal_angle_deg": float(max(ang_src.max(), ang_tgt.max())),
            "max_angle_source_deg": float(ang_src.max()), "max_angle_target_deg": float(ang_tgt.max()),
            "rrr_rank": cv.optimal_rank, "em_rank": auto_rank, "true_rank": cfg.true_rank,
            "em_iterations": int(ll.size - 1), "loglik_monotone": monotone,
            "final_loglik_per_bin": float(ll[-1] / (cfg.n_trials * cfg.n_steps)),
            "potent_variance_fit": float(fitted.potent_variance),
            "potent_variance_true": float(true.potent_variance),
            "potent_pc_max_angle_deg": float(fitted.pc_angles_deg.max())}


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import describe  # noqa: E402

describe(
    "multi-area-lds",
    metrics={
        "max_principal_angle_deg": ("largest principal angle between fitted and true communication spaces "
                                    "(source or target)", "degrees"),
        "max_angle_source_deg": ("largest principal angle, fitted vs true potent space in area 1", "degrees"),
        "max_angle_target_deg": ("largest principal angle, fitted vs true target space in area 2", "degrees"),
        "rrr_rank": ("communication rank chosen by cross-validated reduced-rank regression", "count"),
        "em_rank": ("rank of the EM-fitted B_{1->2} (singular values above the threshold)", "count"),
        "true_rank": ("rank of the simulated B_{1->2}", "count"),
        "em_iterations": ("EM iterations run", "count"),
        "loglik_monotone": ("the EM log-likelihood never decreased", ""),
        "final_loglik_per_bin": ("final EM log-likelihood per time bin and trial", "nats"),
        "potent_variance_fit": ("share of area-1 activity variance in the fitted potent space", "fraction"),
        "potent_variance_true": ("share of area-1 activity variance in the true potent space", "fraction"),
        "potent_pc_max_angle_deg": ("largest principal angle between the fitted potent space and area 1's top PCs",
                                    "degrees"),
    },
)

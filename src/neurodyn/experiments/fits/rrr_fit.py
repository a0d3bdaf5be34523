"""Experiment `rrr-fit`: communication subspace between two recorded areas by reduced-rank regression.

Seed 000 (communication subspace ``B_{1->2}``, refs. 11-12) and Semedo et al. 2019: reads ``source`` and
``target`` (samples x neurons) from an ``.npz`` file (``neurodyn fit rrr --data FILE.npz``), or any
recording with an ``area`` label per neuron (.npz/.mat/.nwb, loaded like every fit by
`neurodyn.data.prepare`), whose ``source_area`` and ``target_area`` neurons give the samples (every
time bin of every single trial, or of every condition without trials); it chooses the
rank by 10-fold cross-validation (smallest rank within one SEM of the best), compares with ridge and
full-rank regression, and reports how the predictive dimensions align with the source's dominant
dimensions (top principal components). Without ``data`` it runs on synthetic two-area data with a known
rank (`neurodyn.analysis.communication.synthetic_communication`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field

from neurodyn.analysis.communication import predictive_alignment, rrr_cross_validate, synthetic_communication
from neurodyn.data.prepare import prepare_from_config
from neurodyn.runner import DataOptions
from neurodyn.runner import Run, experiment
from neurodyn.report.figures import new_figure


class RRRFitConfig(DataOptions):
    data: str | None = Field(None, description="npz file with arrays `source` and `target` (samples x neurons), or "
                                               "a recording with area labels; none: synthetic data with a known rank")
    source_area: str | None = Field(None, description="recordings with area labels: source area (None: the first)")
    target_area: str | None = Field(None, description="recordings with area labels: target area (None: the second)")
    n_folds: int = Field(10, ge=2, description="cross-validation folds (Semedo et al. 2019 use 10)")
    max_rank: int | None = Field(None, ge=1, description="largest rank tested (default min(source, target neurons))")
    n_samples: int = Field(2000, ge=20, description="synthetic data: samples")
    n_source: int = Field(40, ge=2, description="synthetic data: source neurons")
    n_target: int = Field(30, ge=2, description="synthetic data: target neurons")
    true_rank: int = Field(3, ge=1, description="synthetic data: rank of the communication subspace")
    noise: float = Field(2.0, ge=0, description="synthetic data: target noise SD")


def _has_pair(path: str) -> bool:
    if Path(path).suffix.lower() != ".npz" or not Path(path).is_file():
        return False
    try:
        with np.load(path, allow_pickle=False) as z:
            return {"source", "target"} <= set(getattr(z, "files", ()))
    except Exception:  # unreadable: the recording loader below gives the one-line error
        return False


def load_areas(cfg, record=None) -> tuple[np.ndarray, np.ndarray]:
    """Source and target samples (bins x neurons) of a recording with an ``area`` label per neuron."""
    prep = prepare_from_config(cfg, epochs=False, normalise=False, record=record)
    data = prep.data
    if data.areas is None:
        raise ValueError(f"data={cfg.data!r}: expected arrays 'source' and 'target', or an 'area' label per neuron")
    names, first = np.unique(data.areas, return_index=True)
    names = [str(a) for a in names[np.argsort(first)]]
    src = cfg.source_area if cfg.source_area is not None else names[0]
    tgt = cfg.target_area if cfg.target_area is not None else (names[1] if len(names) > 1 else None)
    for key, a in (("source_area", src), ("target_area", tgt)):
        if a is None or a not in names:
            raise ValueError(f"{key}={a!r}: expected one of the recording's areas {names} (two are needed)")
    if src == tgt:
        raise ValueError(f"target_area={tgt!r}: expected an area other than source_area")
    Z = np.concatenate(data.trial_list(), axis=0) if data.has_trials else data.rates
    Z = Z.reshape(-1, data.n_neurons)
    areas = data.areas.astype(str)
    return Z[:, areas == src], Z[:, areas == tgt]


def load_pair(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Read ``source`` and ``target`` (samples x neurons) from an ``.npz`` file (never unpickles)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"data={path!r}: expected an existing .npz file")
    try:
        z = np.load(p, allow_pickle=False)
        files = set(z.files)
    except Exception:  # zipfile.BadZipFile, OSError, EOFError, or ValueError for pickled/garbled content
        raise ValueError(f"data={path!r}: expected a readable .npz file with arrays 'source' and 'target'") from None
    with z:
        missing = {"source", "target"} - files
        if missing:
            raise ValueError(f"data={path!r}: expected arrays 'source' and 'target' (missing {sorted(missing)})")
        return np.asarray(z["source"], float), np.asarray(z["target"], float)


@experiment("rrr-fit", RRRFitConfig,
            "Seed 000 / Semedo et al. 2019: communication subspace between two areas by cross-validated "
            "reduced-rank regression.",
            quick={"n_samples": 400, "n_source": 12, "n_target": 8, "true_rank": 2, "noise": 1.0})
def run_rrr_fit(cfg: RRRFitConfig, run: Run) -> dict:
    if cfg.data is not None:
        if _has_pair(cfg.data):
            X, Y = load_pair(cfg.data)
        else:
            X, Y = load_areas(cfg, record=run.out / "config.json")
        true_rank = None
    else:
        X, Y, _ = synthetic_communication(cfg.n_samples, cfg.n_source, cfg.n_target, cfg.true_rank, cfg.noise,
                                          seed=cfg.seed)
        true_rank = cfg.true_rank
    max_rank = min(X.shape[1], Y.shape[1]) if cfg.max_rank is None else min(cfg.max_rank, X.shape[1], Y.shape[1])
    cv = rrr_cross_validate(X, Y, np.arange(1, max_rank + 1), n_folds=cfg.n_folds, seed=cfg.seed)
    align = predictive_alignment(X, cv.model.predictive_dimensions_)
    cv.model.save(run.out / "model.npz")     # the optimal-rank model; neurodyn.models.load_model(RUN)
    run.save_array("ranks", cv.ranks)
    run.save_array("cv_performance", cv.performance)
    run.save_array("cv_performance_sem", cv.performance_sem)
    run.save_array("coef", cv.model.coef_)
    run.save_array("predictive_dimensions", cv.model.predictive_dimensions_)
    fig, ax = new_figure(2)
    ax[0].errorbar(cv.ranks, cv.performance, yerr=cv.performance_sem, fmt="ko-", ms=3, label="RRR")
    ax[0].axhline(cv.ridge_performance, color="b", ls="--", label="ridge")
    ax[0].axhline(cv.full_rank_performance, color="0.5", ls=":", label="full rank")
    ax[0].axvline(cv.optimal_rank, color="r", lw=1, label=f"optimal rank {cv.optimal_rank}")
    ax[0].set_xlabel("rank")
    ax[0].set_ylabel("1 - NSE (10-fold CV)")
    ax[0].legend(frameon=False, fontsize=8)
    ax[0].set_title("predictive performance")
    ax[1].bar(np.arange(1, align["principal_angles_deg"].size + 1), align["principal_angles_deg"], color="k")
    ax[1].set_xlabel("principal angle index")
    ax[1].set_ylabel("angle (deg)")
    ax[1].set_title("predictive vs dominant (top PCs) dimensions")
    run.save_figure(fig, "rrr_fit", "Cross-validated RRR performance per rank and alignment of the predictive "
                                    "dimensions with the source's top principal components")
    run.note(f"{X.shape[0]} samples, {X.shape[1]} source and {Y.shape[1]} target neurons; optimal rank "
             f"{cv.optimal_rank} (smallest within one SEM of the best); the predictive dimensions capture "
             f"{align['variance_ratio']:.2f} of the source variance that as many top PCs capture.")
    metrics = {"optimal_rank": cv.optimal_rank, "cv_performance": cv.performance.tolist(),
               "cv_performance_sem": cv.performance_sem.tolist(),
               "ridge_performance": cv.ridge_performance, "full_rank_performance": cv.full_rank_performance,
               "optimal_rank_performance": float(cv.performance[cv.optimal_rank - 1]),
               "max_principal_angle_to_top_pcs_deg": float(np.max(align["principal_angles_deg"])),
               "predictive_variance_ratio": align["variance_ratio"],
               "n_samples": int(X.shape[0])}
    if true_rank is not None:
        metrics["true_rank"] = true_rank
    return metrics


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import describe  # noqa: E402

describe(
    "rrr-fit",
    metrics={
        "optimal_rank": ("communication rank chosen by 10-fold cross-validation (smallest within one SEM of the "
                         "best)", "count"),
        "cv_performance": ("cross-validated predictive performance (R^2) per rank", ""),
        "cv_performance_sem": ("standard error over folds of the performance per rank", ""),
        "ridge_performance": ("cross-validated R^2 of ridge regression", ""),
        "full_rank_performance": ("cross-validated R^2 of full-rank regression", ""),
        "optimal_rank_performance": ("cross-validated R^2 at the chosen rank", ""),
        "max_principal_angle_to_top_pcs_deg": ("largest principal angle between the predictive dimensions and the "
                                               "source's top PCs", "degrees"),
        "predictive_variance_ratio": ("source variance along the predictive dimensions over that along as many "
                                      "top PCs", "ratio"),
        "n_samples": ("samples (time bins x trials) used", "count"),
        "true_rank": ("rank of the simulated communication (synthetic data only)", "count"),
    },
)

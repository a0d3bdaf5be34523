"""Experiment `multi-area-fit` (``neurodyn fit multi-area --data FILE``): a coupled multi-area LDS fitted
to a user's recordings from several areas, with the communication subspace of every pair of areas.

Seed 000's coupled LDS ``x_a(t+1) = A_a x_a(t) + sum_{b != a} B_{b->a} x_b(t) + w_a``,
``y_a = C_a x_a + d_a + v_a`` (block-diagonal observations per area), fitted by the block-structured EM of
`neurodyn.models.MultiAreaLDS`. For each ordered pair of areas the fitted block ``B_{b->a}`` gives the
communication subspace in the source area's neuron space (potent and output-null spaces) and its
alignment (principal angles) with the source area's leading PCs.

Data: the documented ``.npz`` layout (docs/data_format.md) with an ``area`` label per neuron. Single
trials (``spikes`` + ``trial_condition``) are used as independent sequences when present, otherwise the
trial-averaged ``rates`` of each condition are. Loading, window and units as for every fit
(`neurodyn.data.prepare`, settings printed and in config.json); rates in spikes/s are soft-normalised
``r / (range + c)`` (``soft_norm``, auto: 5), values already normalised are used as they are.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.data import soft_normalize
from neurodyn.data.prepare import prepare_from_config
from neurodyn.runner import RateOptions
from neurodyn.runner import Run, experiment
from neurodyn.models.multi_area_lds import MultiAreaLDS
from neurodyn.report.figures import new_figure


class MultiAreaFitConfig(RateOptions):
    data: str | None = Field(None, description="path to a .npz/.mat/.nwb dataset with an area label per neuron")
    latent_dim: int = Field(4, ge=1, description="latent dimension per area")
    max_iter: int = Field(100, ge=1, description="EM iterations")
    tol: float = Field(1e-7, gt=0, description="EM relative log-likelihood tolerance")
    rel_tol: float = Field(0.1, gt=0, lt=1, description="singular values above rel_tol x the largest count "
                                                        "towards a communication subspace's rank")


@experiment("multi-area-fit", MultiAreaFitConfig,
            "Seed 000: coupled multi-area LDS fitted by block EM to recordings with area labels; communication "
            "subspace (rank, potent/null spaces, alignment with each area's PCs) for every pair of areas.",
            quick={"max_iter": 15})
def run_multi_area_fit(cfg: MultiAreaFitConfig, run: Run) -> dict:
    if cfg.data is None:
        raise ValueError("data=None: expected a dataset with an 'area' label per neuron (neurodyn fit multi-area "
                         "--data FILE.npz)")
    prep = prepare_from_config(cfg, epochs=False, record=run.out / "config.json")
    data = prep.data
    if data.areas is None:
        raise ValueError(f"data={cfg.data!r}: expected an 'area' label per neuron")
    names, first = np.unique(data.areas, return_index=True)
    names = names[np.argsort(first)]                       # areas in order of appearance
    if names.size < 2:
        raise ValueError(f"data={cfg.data!r}: expected at least 2 areas; found {names.tolist()}")
    order = np.concatenate([np.flatnonzero(data.areas == a) for a in names])
    sizes = tuple(int(np.sum(data.areas == a)) for a in names)
    if min(sizes) < cfg.latent_dim:
        raise ValueError(f"latent_dim={cfg.latent_dim}: expected at most the smallest area's neuron count "
                         f"({min(sizes)})")
    Y = np.concatenate(data.trial_list(), axis=0) if data.has_trials else data.rates
    Y = Y[..., order]
    if prep.soft_norm is not None:
        Y = soft_normalize(Y, prep.soft_norm)
    model = MultiAreaLDS((cfg.latent_dim,) * names.size, max_iter=cfg.max_iter, tol=cfg.tol).fit(Y, sizes)
    model.save(run.out / "model.npz")        # load with neurodyn.models.load_model(RUN)
    ll = np.asarray(model.loglik_)
    metrics: dict = {"n_areas": int(names.size), "n_sequences": int(Y.shape[0]),
                     "loglik_per_bin": model.score(Y),
                     "loglik_monotone": bool(np.all(np.diff(ll) >= -1e-6 * np.abs(ll[1:])))}
    rows = []
    n = names.size
    fig, axes = new_figure(n * (n - 1))
    k = 0
    for s in range(n):
        for t in range(n):
            if s == t:
                continue
            cs = model.communication_subspace(s, t, rel_tol=cfg.rel_tol)
            key = f"{names[s]}_to_{names[t]}"
            metrics[f"rank_{key}"] = int(cs.rank)
            metrics[f"pc_angle_max_deg_{key}"] = float(np.max(cs.pc_angles_deg)) if cs.rank else 0.0
            rows.append([f"{names[s]} -> {names[t]}", cs.rank, ", ".join(f"{v:.3g}" for v in cs.singular_values),
                         ", ".join(f"{a:.0f}" for a in cs.pc_angles_deg)])
            run.save_array(f"potent_{key}", cs.potent)
            run.save_array(f"singular_values_{key}", cs.singular_values)
            ax = axes[k]
            ax.bar(np.arange(1, cs.singular_values.size + 1), cs.singular_values, color="0.5")
            ax.axhline(cfg.rel_tol * cs.singular_values.max(), color="r", ls="--", lw=1)
            ax.set_xlabel("dimension")
            ax.set_ylabel("singular value of B C⁺")
            ax.set_title(f"{names[s]} → {names[t]}: rank {cs.rank}")
            k += 1
    run.table("communication subspaces", ["projection", "rank", "singular values", "angles to source PCs (deg)"],
              rows)
    run.save_figure(fig, "communication_subspaces", "Singular values of each fitted inter-area block (seed 000); "
                                                    "the dashed line is the rank threshold")
    run.save_array("loglik", model.loglik_)
    run.note("The fitted model is in model.npz (neurodyn.models.load_model); its areas are in the order "
             f"{', '.join(map(str, names))}.")
    run.note(f"{names.size} areas ({', '.join(f'{a}: {m} neurons' for a, m in zip(names, sizes))}), "
             f"{Y.shape[0]} sequences of {Y.shape[1]} bins, {cfg.latent_dim} latents per area.")
    return metrics


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import describe  # noqa: E402

describe(
    "multi-area-fit",
    metrics={
        "n_areas": ("number of recorded areas", "count"),
        "n_sequences": ("sequences fitted (single trials, or condition averages)", "count"),
        "loglik_per_bin": ("mean log-likelihood per observed bin of the fitted coupled LDS", "nats"),
        "loglik_monotone": ("the EM log-likelihood never decreased", ""),
        "rank_*": ("rank of the communication subspace B_{source->target} of the named pair (singular values "
                   "above rel_tol x the largest)", "count"),
        "pc_angle_max_deg_*": ("largest principal angle between the named pair's communication subspace and the "
                               "source area's leading PCs", "degrees"),
    },
)

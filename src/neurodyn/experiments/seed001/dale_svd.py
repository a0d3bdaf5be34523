"""Experiment `dale-svd`: leading singular modes of Dale's-law matrices (seed 001 Methods §14, Fig. 4).

For any W obeying Dale's law, ``W W^T`` is entrywise non-negative and ``W^T W`` has non-negative diagonal
and non-positive off-diagonal E/I blocks, so the leading left singular vector u_1 is an E/I co-activation
pattern (one sign) and the leading right singular vector v_1 a differential pattern (E against I); with
entries of size O(1/sqrt(N)), ``sigma_1^2 = ||W^T u_1||^2`` sums N positive O(1) terms, so
``sigma_1 = O(sqrt(N))`` (§14). Shown on random E/I matrices (thesis eq. 1.15 via
`neurodyn.connectivity.random_ei`, several draws per N) and on the fitted W of a self-contained-subspace
network (`EISubspaceNetwork` on the bundled M1 data, or the W saved by an `ei-subspace-fit` run).

Metrics: ``sigma1_exponent`` (least-squares slope of log sigma_1 against log N; theory 1/2),
``u1_coactivation`` and ``v1_differential`` (all random matrices and the fitted W satisfy the sign
patterns), and the fitted W's ``sigma1_fitted``, ``u1_same_sign_fraction_fitted``,
``v1_differential_fraction_fitted``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field

from neurodyn.analysis import dale_svd_modes, sigma1_scaling_exponent
from neurodyn.connectivity import random_ei
from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.report.figures import new_figure


class DaleSVDConfig(ExperimentConfig):
    sizes: list[int] = Field(default_factory=lambda: [100, 200, 400, 800, 1600, 2400],
                             description="network sizes N of the random E/I matrices")
    n_draws: int = Field(3, ge=1, description="random matrices per size")
    p: float = Field(0.25, gt=0, le=1, description="connection probability")
    rho: float = Field(0.85, gt=0, description="bulk spectral radius of the random matrices")
    gamma: float = Field(1.0, gt=0, description="I/E weight ratio (1: balanced on average)")
    fitted_run: str | None = Field(None, description="folder of an ei-subspace-fit run whose W to analyse")
    fit_units: int = Field(0, ge=0, description="if > 0 and no fitted_run: fit a network of this size here")
    fit_latents: int = Field(4, ge=1, description="K of that fit")
    fit_iter: int = Field(10, ge=1, description="EM iterations of that fit")


def _fitted_W(cfg):
    if cfg.fitted_run is not None:
        path = Path(cfg.fitted_run) / "arrays.npz"
        if not path.exists():
            raise ValueError(f"fitted_run={cfg.fitted_run!r}: expected an ei-subspace-fit run folder with arrays.npz")
        with np.load(path) as f:
            return np.asarray(f["W"]), np.asarray(f["is_excitatory"], bool)
    if cfg.fit_units == 0:
        return None, None
    from neurodyn.data import load_example, soft_normalize
    from neurodyn.models.ei_subspace import EISubspaceNetwork

    data = load_example("hatsopoulos2007").select_time(-200.0, 300.0)
    Y = soft_normalize(data.rates, 5.0)
    tb = int(np.searchsorted(data.t_ms, -150.0))
    m = EISubspaceNetwork(cfg.fit_units, cfg.fit_latents, tb, max_iter=cfg.fit_iter, w_iter=100, lds_iter=30,
                          seed=cfg.seed).fit(Y)
    return m.W_, m.is_excitatory_


@experiment("dale-svd", DaleSVDConfig,
            "Seed 001 §14 / Fig. 4: sigma_1 of Dale matrices grows like sqrt(N); u_1 co-activation, v_1 "
            "differential, on random E/I matrices and a fitted subspace network.",
            quick={"sizes": [50, 100, 200, 400], "n_draws": 2, "fit_units": 120, "fit_iter": 4})
def run_dale_svd(cfg: DaleSVDConfig, run: Run) -> dict:
    if len(cfg.sizes) < 2 or min(cfg.sizes) < 4:
        raise ValueError(f"sizes={cfg.sizes}: expected at least two network sizes >= 4")
    rows, s1, ns, co, diff = [], [], [], [], []
    example = None
    for i, n in enumerate(run.progress(cfg.sizes, len(cfg.sizes), "Dale SVD over N")):
        for k in range(cfg.n_draws):
            net = random_ei(n, cfg.p, cfg.rho, cfg.gamma, seed=cfg.seed + 1000 * i + k)
            modes = dale_svd_modes(net)
            s1.append(modes.sigma1)
            ns.append(n)
            co.append(modes.u1_coactivation)
            diff.append(modes.v1_differential)
            if example is None or n == max(cfg.sizes):
                example = (net.is_excitatory, modes)
        sig = np.array(s1[-cfg.n_draws:])
        rows.append([n, f"{sig.mean():.3f}", f"{sig.mean() / np.sqrt(n):.4f}"])
    expo = sigma1_scaling_exponent(ns, s1)
    run.table("leading singular value of random E/I matrices", ["N", "mean sigma_1", "sigma_1 / sqrt(N)"], rows)
    Wf, ef = _fitted_W(cfg)
    metrics = {"sigma1_exponent": expo, "u1_coactivation": bool(all(co)), "v1_differential": bool(all(diff))}
    fig, ax = new_figure(3)
    ax[0].loglog(ns, s1, "ko", ms=4)
    nn = np.array(sorted(set(ns)), float)
    ax[0].loglog(nn, np.exp(np.mean(np.log(s1) - 0.5 * np.log(ns))) * np.sqrt(nn), "r--", label="∝ sqrt(N)")
    ax[0].set_xlabel("N")
    ax[0].set_ylabel("σ₁")
    ax[0].legend(frameon=False)
    ax[0].set_title(f"fitted exponent {expo:.3f}")
    e, modes = example
    order = np.arange(e.size)
    ax[1].plot(order[e], modes.u1[e], "r.", ms=2, label="u₁ (E)")
    ax[1].plot(order[~e], modes.u1[~e], "b.", ms=2, label="u₁ (I)")
    ax[1].plot(order[e], modes.v1[e] - 3 * np.abs(modes.v1).max(), "m.", ms=2, label="v₁ (E), shifted")
    ax[1].plot(order[~e], modes.v1[~e] - 3 * np.abs(modes.v1).max(), "c.", ms=2, label="v₁ (I), shifted")
    ax[1].set_xlabel("unit")
    ax[1].legend(frameon=False, fontsize=7)
    ax[1].set_title("leading singular vectors (random E/I)")
    if Wf is not None:
        mf = dale_svd_modes(Wf, ef)
        run.save_array("W_fitted_u1", mf.u1)
        run.save_array("W_fitted_v1", mf.v1)
        metrics.update({"sigma1_fitted": mf.sigma1, "u1_coactivation_fitted": bool(mf.u1_coactivation),
                        "v1_differential_fitted": bool(mf.v1_differential),
                        "u1_same_sign_fraction_fitted": mf.u1_same_sign_fraction,
                        "v1_differential_fraction_fitted": mf.v1_differential_fraction,
                        "fitted_units": int(Wf.shape[0])})
        o = np.arange(ef.size)
        ax[2].plot(o[ef], mf.u1[ef], "r.", ms=2, label="u₁ (E)")
        ax[2].plot(o[~ef], mf.u1[~ef], "b.", ms=2, label="u₁ (I)")
        ax[2].plot(o[ef], mf.v1[ef] - 3 * np.abs(mf.v1).max(), "m.", ms=2, label="v₁ (E), shifted")
        ax[2].plot(o[~ef], mf.v1[~ef] - 3 * np.abs(mf.v1).max(), "c.", ms=2, label="v₁ (I), shifted")
        ax[2].set_title(f"fitted W (N={Wf.shape[0]}), σ₁ = {mf.sigma1:.2f}")
        ax[2].set_xlabel("unit")
        ax[2].legend(frameon=False, fontsize=7)
    else:
        ax[2].axis("off")
    run.save_array("sizes", np.array(ns))
    run.save_array("sigma1", np.array(s1))
    run.save_figure(fig, "dale_svd", "Seed 001 Fig. 4: sigma_1 against N and the co-activation / differential "
                                     "singular vectors")
    run.note(f"sigma_1 grows as N^{expo:.3f} (theory 1/2); u_1 is a co-activation pattern in "
             f"{sum(co)}/{len(co)} matrices and v_1 a differential pattern in {sum(diff)}/{len(diff)}.")
    return metrics


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import Reference, describe  # noqa: E402

describe(
    "dale-svd",
    metrics={
        "sigma1_exponent": ("least-squares slope of log sigma_1 against log N over random Dale matrices", ""),
        "u1_coactivation": ("in every random matrix the leading left singular vector u_1 has one sign "
                            "(E/I co-activation)", ""),
        "v1_differential": ("in every random matrix the leading right singular vector v_1 has opposite signs "
                            "on E and I units (differential pattern)", ""),
        "sigma1_fitted": ("largest singular value of the fitted subspace network's W", ""),
        "u1_coactivation_fitted": ("u_1 of the fitted W has one sign", ""),
        "v1_differential_fitted": ("v_1 of the fitted W has opposite E and I signs", ""),
        "u1_same_sign_fraction_fitted": ("share of u_1's entries with its majority sign, fitted W", "fraction"),
        "v1_differential_fraction_fitted": ("share of v_1's entries whose sign follows the E/I split, fitted W",
                                            "fraction"),
        "fitted_units": ("number of units of the fitted network", "count"),
    },
    references=[
        Reference("sigma1_exponent", 0.5, "seed 001 Methods §14, Fig. 4",
                  "σ_1 scales with the square root of the network size (exponent 1/2)", tol=0.1),
        Reference("u1_coactivation", True, "seed 001 Methods §14, Fig. 4",
                  "left singular vector: all elements have the same sign", relation="equal"),
        Reference("v1_differential", True, "seed 001 Methods §14, Fig. 4",
                  "right singular vector: E and I elements have opposite signs", relation="equal"),
        Reference("u1_coactivation_fitted", True, "seed 001 Methods §14, Fig. 4",
                  "the sign constraints apply to any matrix satisfying Dale's law", relation="equal"),
        Reference("v1_differential_fitted", True, "seed 001 Methods §14, Fig. 4",
                  "the sign constraints apply to any matrix satisfying Dale's law", relation="equal"),
    ],
)

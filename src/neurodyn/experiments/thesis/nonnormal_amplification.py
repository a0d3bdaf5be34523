"""Experiment `nonnormal-amplification`: transient amplification by a stable Dale's-law network.

Thesis (seed 003) §1.2.3, Fig. 1.5: N = 200, tau = 200 ms, linear dynamics (eq. 1.9) with W of
eq. (1.15), entries ``3/sqrt(N)`` (E) or ``-3/sqrt(N)`` (I) with probability p = 0.1 and 0 otherwise,
and a random unit-norm x0 (uniform on [-1, 1], rescaled). Although alpha(W) < 1 (the thesis quotes
about 0.98), some neurons' activity grows before decaying: the matrix is non-normal. Reported:

* ``frac_neurons_amplified``: share of neurons with ``|x_i(t)| > |x_i(0)|`` at some t > 0;
* ``max_transient_gain``: ``max_t ||exp((W - I) t / tau)||_2`` (the largest amplification of any x0);
* ``henrici``: normalised departure from normality (seed 001 §9.2).

The trajectory is the exact solution (eq. 1.10), checked against RK4 in the tests.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.analysis import eigenvalues, henrici, spectral_abscissa, transient_gain_curve
from neurodyn.connectivity import random_ei
from neurodyn.dynamics import linear_solution
from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.report.figures import new_figure, plot_spectrum, plot_traces


class NonnormalConfig(ExperimentConfig):
    n: int = Field(200, ge=4, description="number of neurons N (even)")
    p: float = Field(0.1, gt=0, le=1, description="connection probability")
    w0: float = Field(3.0, gt=0, description="nonzero weights are ±w0/sqrt(N)")
    tau_ms: float = Field(200.0, gt=0, description="time constant (ms)")
    duration_ms: float = Field(4000.0, gt=0, description="simulated time (ms)")
    dt_out_ms: float = Field(5.0, gt=0, description="output sampling (ms)")


@experiment("nonnormal-amplification", NonnormalConfig,
            "Thesis §1.2.3 / Fig. 1.5: a stable E/I network transiently amplifies some neurons' activity.",
            quick={"n": 100, "duration_ms": 2000.0})
def run_nonnormal(cfg: NonnormalConfig, run: Run) -> dict:
    net = random_ei(cfg.n, cfg.p, gamma=1.0, w0=cfg.w0, seed=cfg.seed, tau=cfg.tau_ms, self_loops=True)
    rng = np.random.default_rng(cfg.seed + 1)
    x0 = rng.uniform(-1.0, 1.0, cfg.n)
    x0 /= np.linalg.norm(x0)
    t = np.arange(0.0, cfg.duration_ms + 1e-9, cfg.dt_out_ms)
    x = linear_solution(net, x0, t)
    amplified = np.any(np.abs(x[1:]) > np.abs(x0)[None, :], axis=0)
    alpha = spectral_abscissa(net.W)
    A = (net.W - np.eye(cfg.n)) / cfg.tau_ms
    tg = np.linspace(0.0, cfg.duration_ms, 201)
    gain_curve = transient_gain_curve(A, tg)
    k = int(np.argmax(gain_curve))
    fine = np.linspace(tg[max(k - 1, 0)], tg[min(k + 1, tg.size - 1)], 41)
    max_gain = float(max(gain_curve.max(), transient_gain_curve(A, fine).max()))
    hen = henrici(net.W)
    run.save_array("t_ms", t)
    run.save_array("x", x)
    run.save_array("W", net.W)
    run.save_array("transient_gain", gain_curve)
    fig, ax = new_figure(3)
    plot_traces(ax[0], t, x[:, :net.n_excitatory], n=20, ylabel="x_i(t) (20 E neurons)")
    ax[0].set_title("activity after a random unit x0")
    plot_spectrum(ax[1], eigenvalues(net.W), line=alpha, line_label=f"α(W) = {alpha:.3f}")
    ax[1].axvline(1.0, color="b", ls=":", lw=1, label="stability bound 1")
    ax[1].legend(frameon=False, fontsize=8)
    ax[1].set_title("spectrum of W")
    ax[2].plot(tg, gain_curve, "k-")
    ax[2].axhline(1.0, color="0.6", ls="--")
    ax[2].set_xlabel("time (ms)")
    ax[2].set_ylabel("||exp((W-I)t/τ)||₂")
    ax[2].set_title("largest possible amplification")
    run.save_figure(fig, "nonnormal_amplification", "Thesis Fig. 1.5: transient amplification by a non-normal W")
    run.note(f"{amplified.mean():.0%} of neurons exceed their initial |x_i| at some time although α(W) = "
             f"{alpha:.3f} < 1; the best initial condition is amplified {max_gain:.2f}x.")
    return {"spectral_abscissa": alpha, "frac_neurons_amplified": float(amplified.mean()),
            "max_transient_gain": max_gain, "henrici": hen}


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import Reference, describe  # noqa: E402

describe(
    "nonnormal-amplification",
    metrics={
        "spectral_abscissa": ("alpha(W): largest real part of W's eigenvalues; the linear network is stable "
                              "for alpha < 1", ""),
        "frac_neurons_amplified": ("share of neurons with |x_i(t)| > |x_i(0)| at some t > 0 after a random "
                                   "unit-norm x0", "fraction"),
        "max_transient_gain": ("largest amplification of any initial condition, max_t ||exp((W - I)t/tau)||_2",
                               "ratio"),
        "henrici": ("Henrici departure from normality of W, normalised: 0 normal, 1 maximally non-normal", ""),
    },
    references=[
        Reference("spectral_abscissa", 0.98, "thesis §1.2.3, Fig. 1.5 (cf. §1.2.4)",
                  "α(W) ≈ 0.98", tol=0.1, scale="N = 200, p = 0.1, w0 = 3"),
        Reference("spectral_abscissa", 1.0, "thesis §1.2.3, Fig. 1.5", "α(W) < 1 (stable)", relation="below"),
        Reference("frac_neurons_amplified", 0.0, "thesis §1.2.3, Fig. 1.5",
                  "some neurons' activity grows transiently before decaying", relation="above"),
    ],
)

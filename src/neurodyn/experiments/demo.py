"""The flagship demonstration (`make demo`, `neurodyn demo`).

It tells one story in one report, section by section, with what neurodyn can do now:

1. Build a random E/I network with Dale's law (thesis eq. 1.15), measure its stability (spectral
   abscissa, critical gain 1/alpha, eq. 2.3) and bring it into the stable regime by global gain
   modulation (g = 0.8 / alpha).
2. Find its preferred initial condition from the observability Gramian (thesis Appendix C.2),
   compare its evoked energy with random initial conditions, and simulate the nonlinear network
   (eq. 2.1 with the gain function of eq. 3.2) from both.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.analysis import (
    critical_gain,
    eigenvalues,
    evoked_energy,
    henrici,
    observability_gramian,
    preferred_initial_conditions,
    spectral_abscissa,
)
from neurodyn.connectivity import random_ei
from neurodyn.dynamics import Tanh, simulate
from neurodyn.experiments.base import ExperimentConfig, Run, experiment
from neurodyn.report.figures import new_figure, plot_spectrum, plot_traces


class DemoConfig(ExperimentConfig):
    n: int = Field(200, ge=4, description="neurons in the random E/I network")
    p: float = Field(0.1, gt=0, lt=1, description="connection probability")
    rho: float = Field(10.0, gt=0, description="approximate spectral radius before gain modulation")
    gamma: float = Field(3.0, gt=0, description="inhibition/excitation ratio")
    gain_fraction: float = Field(0.8, gt=0, lt=1, description="global gain as a fraction of the critical gain")
    duration_ms: float = Field(1000.0, gt=0, description="simulated time (ms)")
    n_random: int = Field(100, ge=1, description="random unit initial conditions for the energy comparison")


def _section_network(cfg: DemoConfig, run: Run, metrics: dict) -> dict:
    net = random_ei(cfg.n, cfg.p, cfg.rho, cfg.gamma, seed=cfg.seed)
    alpha = spectral_abscissa(net.W)
    gc = critical_gain(net.W)
    g = cfg.gain_fraction * gc
    lam, V = preferred_initial_conditions(net.W, gain=g)
    Q = observability_gramian(net.W, gain=g)
    rng = np.random.default_rng(cfg.seed + 7)
    xr = rng.uniform(-1, 1, (cfg.n_random, cfg.n))
    xr /= np.linalg.norm(xr, axis=1, keepdims=True)
    e_rand = evoked_energy(Q, xr)
    scale = 1.5 * np.sqrt(cfg.n)  # thesis Appendix C.2: ||x0|| = 1.5 sqrt(N)
    x0 = np.stack([V[:, 0] * scale, xr[0] * scale])
    t = np.arange(0.0, cfg.duration_ms + 1e-9, 2.0)
    fn = Tanh()
    x = np.asarray(simulate(net, x0, t, dt=0.5, gain_fn=fn, gains=np.full(cfg.n, g)))
    rates = np.asarray(fn(x, g)) + fn.r0
    run.save_array("W", net.W)
    run.save_array("t_ms", t)
    run.save_array("rates_a1", rates[0])
    run.save_array("rates_random", rates[1])
    fig, ax = new_figure(3)
    plot_spectrum(ax[0], eigenvalues(g * net.W), line=1.0, line_label="stability bound")
    ax[0].set_title(f"spectrum of gW (g = {g:.3f})")
    ax[0].legend(frameon=False, fontsize=8)
    plot_traces(ax[1], t, rates[0], n=20, ylabel="rate (Hz)")
    ax[1].set_title("from preferred initial condition a1")
    plot_traces(ax[2], t, rates[1], n=20, ylabel="rate (Hz)")
    ax[2].set_title("from a random initial condition")
    run.save_figure(fig, "demo_network", "Random E/I network at 80% of its critical gain: spectrum and rates")
    run.note(f"The random E/I network has α(W) = {alpha:.2f}; it is stable only for gains below "
             f"1/α = {gc:.4f} (thesis eq. 2.3). At g = {g:.4f} its preferred initial condition evokes "
             f"{lam[0] / e_rand.mean():.1f}x the energy of a random one.")
    metrics.update({"alpha_W": alpha, "critical_gain": gc, "gain": g, "stable": bool(g * alpha < 1),
                    "henrici_W": henrici(net.W),
                    "energy_a1": float(lam[0]), "energy_random_mean": float(e_rand.mean()),
                    "energy_ratio_a1_vs_random": float(lam[0] / e_rand.mean())})
    return metrics


@experiment("demo", DemoConfig, "The flagship demonstration: what neurodyn does, in one report.",
            quick={"n": 100, "duration_ms": 500.0, "n_random": 20})
def run_demo(cfg: DemoConfig, run: Run) -> dict:
    metrics: dict = {}
    _section_network(cfg, run, metrics)
    return metrics

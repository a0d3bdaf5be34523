"""Experiment `soc`: a stability-optimised circuit before and after optimisation (thesis Fig. 1.6).

Thesis (seed 003) §1.2.4 and Appendix C: a 200-neuron Dale matrix (p = 0.1, rho = 10, gamma = 3,
spectral abscissa about 10) is stabilised by the constrained gradient descent of Appendix C.1
(`neurodyn.connectivity.soc`) until alpha(W) < 0.15. Shown: the spectrum before and after (Fig. 1.6a);
firing rates ``r0 + f(x)`` of 20 excitatory neurons under ``tau dx/dt = -x + W f(x)`` (eq. 1.8 with
the gain function of eq. 1.12, r0 = 20 Hz, rmax = 100 Hz, tau = 200 ms) from a random initial
condition for the initial W (Fig. 1.6b) and the SOC (Fig. 1.6c), and from the preferred initial
condition a1 (Fig. 1.6d).

Initial conditions: random x0 uniform on [-1, 1] (Fig. 1.6), a1 the top eigenvector of the
observability Gramian Q (``(W - I)^T Q + Q (W - I) = -2I``, Appendix C.2); both are rescaled to
``||x0|| = 1.5 sqrt(N)`` (Appendix C.2, following Hennequin et al. 2014; set ``x0_norm = 1`` for the unit
norm of the Fig. 1.6 caption). Evoked energy ``eps(a) = a^T Q a`` (eq. C.21) of the unit vector a1 is
compared with the mean over ``n_random`` random unit initial conditions (``energy_ratio_a1_vs_random``).

Step schedule (``schedule``): `soc`'s default capped bold driver; ``--set schedule=thesis`` runs the fixed
eta of Appendix C.1. BLAS threads are chosen by `soc` (one below N = 1000). Measured with the defaults
(seed 0, load average about 12 on 2 cores): 298 iterations to alpha = 0.149 (fixed eta: 1666), inhibitory
density 0.395, Henrici 0.734, energy ratio 5.56, 46 s for the optimisation; ``--set n=400``:
218 iterations, density 0.398, Henrici 0.726, energy ratio 6.37.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.analysis import eigenvalues, evoked_energy, henrici, observability_gramian, preferred_initial_conditions
from neurodyn.connectivity.soc import soc
from neurodyn.dynamics import Tanh, simulate
from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.report.figures import new_figure, plot_spectrum, plot_traces


class SOCConfig(ExperimentConfig):
    n: int = Field(200, ge=4, description="number of neurons N = 2M (even)")
    p: float = Field(0.1, gt=0, lt=1, description="connection probability of the initial matrix")
    rho: float = Field(10.0, gt=0, description="approximate spectral radius of the initial matrix")
    gamma: float = Field(3.0, gt=0, description="inhibition/excitation ratio")
    target: float = Field(0.15, description="stop when alpha(W) < target")
    eta: float = Field(10.0, gt=0, description="learning rate of eq. (C.19) (the bold driver's smallest step)")
    schedule: str = Field("bold-driver", pattern="^(bold-driver|thesis)$",
                          description="step-size schedule: 'bold-driver' (default) or 'thesis' (fixed eta)")
    max_iter: int = Field(5000, ge=1, description="iteration cap of the optimisation")
    device: str = Field("auto", pattern="^(auto|cpu|gpu)$", description="'auto', 'cpu' or 'gpu'")
    tau_ms: float = Field(200.0, gt=0, description="time constant (ms)")
    r0: float = Field(20.0, gt=0, description="baseline rate of the gain function (Hz)")
    rmax: float = Field(100.0, gt=0, description="maximum rate of the gain function (Hz)")
    duration_ms: float = Field(1500.0, gt=0, description="simulated time (ms)")
    dt_ms: float = Field(0.5, gt=0, description="RK4 step (ms)")
    x0_norm: float | None = Field(None, gt=0, description="||x0|| (default 1.5 sqrt(N), Appendix C.2)")
    n_random: int = Field(100, ge=1, description="random unit initial conditions for the energy ratio")


@experiment("soc", SOCConfig,
            "Thesis §1.2.4 / Fig. 1.6 and Appendix C: stability-optimised circuit, spectrum before and "
            "after, rates from random and preferred (a1) initial conditions, evoked energy.",
            quick={"n": 60, "target": 0.5, "duration_ms": 600.0, "dt_ms": 1.0, "n_random": 50})
def run_soc(cfg: SOCConfig, run: Run) -> dict:
    res = soc(cfg.n, cfg.p, cfg.rho, cfg.gamma, cfg.target, cfg.eta, cfg.seed, tau=cfg.tau_ms,
              max_iter=cfg.max_iter, device=cfg.device, schedule=cfg.schedule)
    net = res.network
    W0, W = res.initial_W, np.asarray(net.W)
    n, m = cfg.n, cfg.n // 2
    if res.alpha >= 1.0:
        raise RuntimeError(f"SOC alpha={res.alpha:.3g} >= 1: the Gramian of W - I diverges; raise max_iter")
    Q = observability_gramian(W)
    lam, V = preferred_initial_conditions(W)
    a1 = V[:, 0]
    rng = np.random.default_rng(cfg.seed + 1)
    R = rng.uniform(-1.0, 1.0, (cfg.n_random, n))
    R /= np.linalg.norm(R, axis=1, keepdims=True)
    e_rand = evoked_energy(Q, R)
    e_a1 = float(evoked_energy(Q, a1))
    norm = 1.5 * np.sqrt(n) if cfg.x0_norm is None else cfg.x0_norm

    t = np.arange(0.0, cfg.duration_ms + 1e-9, cfg.dt_ms * max(1, round(5.0 / cfg.dt_ms)))  # 5 ms output
    fn = Tanh(cfg.r0, cfg.rmax)
    x_rand = norm * R[0]
    x_a1 = norm * a1
    rates = {}
    for name, Wx, x0 in (("initial_random", W0, x_rand), ("soc_random", W, x_rand), ("soc_a1", W, x_a1)):
        x = simulate(net.replace(W=Wx), x0, t, dt=cfg.dt_ms, gain_fn=fn)
        rates[name] = cfg.r0 + np.asarray(fn(x))
        run.save_array(f"rates_{name}", rates[name])
    ev0, ev = eigenvalues(W0), eigenvalues(W)
    run.save_array("t_ms", t)
    run.save_array("W_initial", W0)
    run.save_array("W_soc", W)
    run.save_array("eigenvalues_initial", ev0)
    run.save_array("eigenvalues_soc", ev)
    run.save_array("alpha_history", res.alpha_history)
    run.save_array("gramian_eigenvalues", lam)
    run.save_array("energy_random", e_rand)

    fig, ax = new_figure(3, 2)
    plot_spectrum(ax[0], ev0, label="initial W", color="tab:blue")
    plot_spectrum(ax[0], ev, label="SOC", color="k", line=res.alpha, line_label=f"α = {res.alpha:.3f}")
    ax[0].legend(frameon=False, fontsize=8)
    ax[0].set_title("a  spectrum before / after")
    ax[1].plot(res.alpha_history, "k-")
    ax[1].axhline(cfg.target, color="r", ls="--", lw=1)
    if np.all(res.alpha_history > 0):
        ax[1].set_yscale("log")
    else:
        ax[1].set_yscale("symlog", linthresh=0.1)
    ax[1].set_xlabel("iteration")
    ax[1].set_ylabel("spectral abscissa α(W)")
    ax[1].set_title("optimisation (Appendix C.1)")
    ax[2].semilogy(np.arange(1, n + 1), lam, "k.")
    ax[2].axhline(np.mean(e_rand), color="tab:blue", ls="--", lw=1, label="mean ε(random)")
    ax[2].set_xlabel("k")
    ax[2].set_ylabel("ε(a_k)")
    ax[2].legend(frameon=False, fontsize=8)
    ax[2].set_title("evoked energy of a_k (C.2)")
    for axis, key, title in ((ax[3], "initial_random", "b  initial W, random x0"),
                             (ax[4], "soc_random", "c  SOC, random x0"),
                             (ax[5], "soc_a1", "d  SOC, x0 = a1")):
        plot_traces(axis, t, rates[key][:, :m], n=20, ylabel="rate (Hz), 20 E neurons")
        axis.set_title(title)
    run.save_figure(fig, "soc", "Thesis Fig. 1.6: stability-optimised circuit (spectra, optimisation, rates)")
    run.note(f"alpha(W) went from {res.alpha_history[0]:.3f} to {res.alpha:.3f} in {res.iterations} iterations "
             f"({res.seconds:.1f} s, path {res.device}, schedule {cfg.schedule}, {res.extra['threads']} BLAS "
             f"thread(s)); ||x0|| = {norm:.3g}.")
    run.note(f"eps(a1) = {e_a1:.1f} versus {np.mean(e_rand):.2f} on average for {cfg.n_random} random unit x0.")
    ie = res.ie_ratio
    return {
        "alpha_initial": float(res.alpha_history[0]),
        "alpha_final": float(res.alpha),
        "iterations": int(res.iterations),
        "converged": bool(res.converged),
        "soc_seconds": float(res.seconds),
        "blas_threads": int(res.extra["threads"]),
        "henrici": float(henrici(W)),
        "energy_ratio_a1_vs_random": float(e_a1 / np.mean(e_rand)),
        "energy_a1": e_a1,
        "inhibitory_density": res.inhibitory_density,
        "dale_ok": bool(np.all(W[:, :m] >= 0) and np.all(W[:, m:] <= 0)),
        "no_self_loops": bool(np.all(np.diag(W) == 0)),
        "excitatory_untouched": bool(np.array_equal(W[:, :m], W0[:, :m])),
        "ie_ratio_onto_e": ie[0],
        "ie_ratio_onto_i": ie[1],
        "max_rate_soc_a1_hz": float(np.max(rates["soc_a1"])),
        "max_rate_soc_random_hz": float(np.max(rates["soc_random"])),
    }


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import Reference, describe  # noqa: E402

describe(
    "soc",
    metrics={
        "alpha_initial": ("spectral abscissa alpha(W) of the random E/I matrix before optimisation", ""),
        "alpha_final": ("spectral abscissa alpha(W) of the stability-optimised circuit", ""),
        "iterations": ("gradient steps of the stability optimisation (App. C.1)", "count"),
        "converged": ("the optimisation reached its target abscissa", ""),
        "soc_seconds": ("wall time of the stability optimisation alone", "s"),
        "energy_ratio_a1_vs_random": ("evoked energy a1^T Q a1 of the preferred initial condition over the mean "
                                      "of random unit initial conditions (eq. C.21)", "ratio"),
        "energy_a1": ("evoked energy a^T Q a of the unit preferred initial condition a1 (eq. C.21)", ""),
        "inhibitory_density": ("share of nonzero inhibitory connections after optimisation", "fraction"),
        "dale_ok": ("E columns >= 0 and I columns <= 0 after optimisation (Dale's law)", ""),
        "no_self_loops": ("all diagonal weights W_ii are zero", ""),
        "excitatory_untouched": ("the excitatory columns equal those of the initial matrix", ""),
        "ie_ratio_onto_e": ("mean inhibitory over mean excitatory weight onto E neurons (magnitudes)", "ratio"),
        "ie_ratio_onto_i": ("mean inhibitory over mean excitatory weight onto I neurons (magnitudes)", "ratio"),
        "max_rate_soc_a1_hz": ("largest firing rate r0 + f(x) of the SOC from the preferred x0 a1", "spikes/s"),
        "max_rate_soc_random_hz": ("largest firing rate of the SOC from a random x0", "spikes/s"),
    },
    references=[
        Reference("alpha_final", 0.15, "thesis App. C.1 (step 9), §1.2.4, Fig. 1.6a",
                  "repeat until α(W) < 0.15", relation="below", scale="N = 200, target 0.15"),
        Reference("iterations", 2000.0, "thesis §1.2.4 (Hennequin et al. 2014)",
                  "approximately 2,000 iterations are required", relation="ratio", tol=2.0,
                  scale="N = 200, alpha from about 10 to 0.15"),
        Reference("inhibitory_density", 0.4, "thesis App. C.1 (step 8)",
                  "density of inhibitory connections <= 0.4", relation="at_most"),
    ],
)

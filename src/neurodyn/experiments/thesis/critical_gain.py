"""Experiment `critical-gain`: the gain at which activity becomes unstable is 1/alpha(W).

Thesis (seed 003) §2.3.2, Fig. 2.2b. For 200 weight matrices (§2.2 construction with gamma = 1; N, p,
rho uniform on [50, 1000], [0, 0.5], [0, 20]) the critical gain is found numerically as the smallest g
with ``||x(T)|| > ||x0||`` (T = 10 s, tau = 200 ms, h = 0, x0 ~ U[-0.025, 0.025]) for the linear gain
f_l and the nonlinear f of eq. (2.2), and compared with the prediction g = 1/alpha(W) (eq. 2.3).

The thesis increases g from 0.9/alpha in steps of 1e-4. Here the same threshold is located to the same
resolution (1e-4) by batched multi-section: a bracket [stable, unstable] is split into 16 candidate
gains simulated together in one batched call, repeatedly. The linear network is evaluated with the
exact solution of eq. (1.10) through the eigen-decomposition of W (Appendix A: gW - I shares W's
eigenvectors, so one decomposition serves every g); the nonlinear network with RK4 (dt = 5 ms).

The numerical critical gain lies slightly above 1/alpha by construction (derived): just above it the
leading mode grows as exp((g alpha - 1) T / tau), and it must outgrow the decay of the rest of x0 to
beat ||x0||, so g_c alpha - 1 ~ (tau / T) ln(||x0|| / |leading component of x0|) > 0, about 2% at
T / tau = 50 for random x0 in these networks. Quick scale (``--quick``: 20 matrices, N <= 200, the text's
T, tau, x0 and resolution; 13 s unloaded): median relative deviation |g_c - 1/alpha| alpha 2.1%, 2.3%,
2.5% on seeds 0, 1, 2 (linear and nonlinear f alike), maximum 4.1%, 9.3%, 9.2% (the sparsest, most
non-normal matrices, where x0 projects least on the leading mode).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.analysis import spectral_abscissa
from neurodyn.connectivity import random_ei
from neurodyn.dynamics import Linear, Tanh, simulate
from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.report.figures import new_figure


class CriticalGainConfig(ExperimentConfig):
    n_matrices: int = Field(200, ge=1, description="number of random weight matrices")
    n_min: int = Field(50, ge=4, description="smallest network size (N uniform on [n_min, n_max], even)")
    n_max: int = Field(1000, ge=4, description="largest network size")
    p_max: float = Field(0.5, gt=0, le=1, description="connection probability uniform on (0, p_max]")
    rho_max: float = Field(20.0, gt=0, description="rho uniform on (0, rho_max]")
    gamma: float = Field(1.0, gt=0, description="inhibition/excitation ratio (§2.2 uses 1)")
    tau_ms: float = Field(200.0, gt=0, description="time constant (ms)")
    T_ms: float = Field(10_000.0, gt=0, description="test time T: unstable if ||x(T)|| > ||x0||")
    x0_range: float = Field(0.025, gt=0, description="x0 ~ U[-x0_range, x0_range]")
    resolution: float = Field(1e-4, gt=0, description="resolution of the critical gain")
    dt_ms: float = Field(5.0, gt=0, description="RK4 step for the nonlinear network (ms)")
    r0: float = Field(20.0, gt=0, description="baseline rate of eq. (2.2) (Hz)")
    rmax: float = Field(100.0, gt=0, description="maximum rate of eq. (2.2) (Hz)")
    n_probe: int = Field(16, ge=2, le=256, description="gains simulated together per multi-section round")


def _multisection(unstable, lo: float, hi: float, resolution: float, n_probe: int) -> float:
    """Smallest g in [lo, hi] (lo stable, hi unstable) where ``unstable(g)`` turns True, to ``resolution``."""
    while hi - lo > resolution:
        gs = np.linspace(lo, hi, n_probe + 2)[1:-1]
        flags = np.asarray(unstable(gs), dtype=bool)
        k = int(np.argmax(flags)) if flags.any() else None
        if k is None:
            lo = gs[-1]
        else:
            hi = gs[k]
            lo = gs[k - 1] if k > 0 else lo
    return hi


def _bracket(unstable, guess: float, resolution: float) -> tuple[float, float]:
    lo, hi = guess * 0.99, guess * 1.01
    for _ in range(60):
        f = np.asarray(unstable(np.array([lo, hi])), dtype=bool)
        if not f[0] and f[1]:
            return lo, hi
        if f[0]:
            hi, lo = lo, lo - 2 * (hi - lo)
            lo = max(lo, resolution)
        else:
            lo, hi = hi, hi + 2 * (hi - lo)
    raise RuntimeError(f"could not bracket the critical gain near {guess:g}")


def critical_gains(W: np.ndarray, cfg: CriticalGainConfig, rng: np.random.Generator) -> tuple[float, float, float]:
    """(alpha, numerical critical gain with f_l, numerical critical gain with f) for one matrix."""
    from neurodyn import Network

    n = W.shape[0]
    alpha = spectral_abscissa(W)
    x0 = rng.uniform(-cfg.x0_range, cfg.x0_range, n)
    norm0 = np.linalg.norm(x0)
    lam, V = np.linalg.eig(W)
    T = cfg.T_ms / cfg.tau_ms
    net = Network(W=W, tau=cfg.tau_ms)

    if np.linalg.cond(V) < 1e8:
        c = np.linalg.solve(V, x0.astype(complex))

        def unstable_linear(gs):
            gs = np.atleast_1d(gs)
            xT = (V @ (np.exp(T * (gs[:, None] * lam[None, :] - 1.0)) * c[None, :]).T).real.T
            return np.linalg.norm(xT, axis=1) > norm0
    else:  # (nearly) defective W, common for very sparse matrices: integrate with RK4 instead

        def unstable_linear(gs):
            gs = np.atleast_1d(gs)
            gains = np.repeat(gs[:, None], n, axis=1)
            xT = simulate(net, x0, [cfg.T_ms], dt=cfg.dt_ms, gain_fn=Linear(), gains=gains)[:, -1, :]
            return np.linalg.norm(np.asarray(xT), axis=1) > norm0

    g_lin = _multisection(unstable_linear, *_bracket(unstable_linear, 1.0 / alpha, cfg.resolution),
                          cfg.resolution, cfg.n_probe)
    fn = Tanh(cfg.r0, cfg.rmax)

    def unstable_nonlinear(gs):
        gs = np.atleast_1d(gs)
        gains = np.repeat(gs[:, None], n, axis=1)
        xT = simulate(net, x0, [cfg.T_ms], dt=cfg.dt_ms, gain_fn=fn, gains=gains)[:, -1, :]
        return np.linalg.norm(np.asarray(xT), axis=1) > norm0

    g_nl = _multisection(unstable_nonlinear, *_bracket(unstable_nonlinear, g_lin, cfg.resolution),
                         cfg.resolution, cfg.n_probe)
    return alpha, g_lin, g_nl


@experiment("critical-gain", CriticalGainConfig,
            "Thesis §2.3.2 / Fig. 2.2b: numerically found critical gain vs the prediction 1/alpha(W), "
            "linear and nonlinear gain functions.",
            quick={"n_matrices": 20, "n_max": 200})
def run_critical_gain(cfg: CriticalGainConfig, run: Run) -> dict:
    if cfg.n_min > cfg.n_max:
        raise ValueError(f"n_min={cfg.n_min}: expected <= n_max={cfg.n_max}")
    rng = np.random.default_rng(cfg.seed)
    rows = []
    for k in run.progress(range(cfg.n_matrices), description="critical gain"):
        while True:
            n = 2 * int(rng.integers(cfg.n_min // 2, cfg.n_max // 2 + 1))
            p = float(rng.uniform(0.0, cfg.p_max))
            rho = float(rng.uniform(0.0, cfg.rho_max))
            if p <= 0 or p >= 1 or rho <= 0:
                continue
            W = random_ei(n, p, rho, cfg.gamma, seed=int(rng.integers(2**31)), tau=cfg.tau_ms).W
            if spectral_abscissa(W) > 1e-6:
                break
        alpha, g_lin, g_nl = critical_gains(W, cfg, rng)
        rows.append((n, p, rho, alpha, g_lin, g_nl))
    arr = np.array(rows)
    alpha, g_lin, g_nl = arr[:, 3], arr[:, 4], arr[:, 5]
    pred = 1.0 / alpha
    rel_lin = np.abs(g_lin - pred) / pred
    rel_nl = np.abs(g_nl - pred) / pred
    run.save_array("N", arr[:, 0])
    run.save_array("p", arr[:, 1])
    run.save_array("rho", arr[:, 2])
    run.save_array("alpha", alpha)
    run.save_array("critical_gain_linear", g_lin)
    run.save_array("critical_gain_nonlinear", g_nl)
    fig, ax = new_figure(2)
    a = np.linspace(alpha.min() * 0.9, alpha.max() * 1.1, 200)
    for axis, g, title in ((ax[0], g_nl, "nonlinear f (eq. 2.2)"), (ax[1], g_lin, "linear f_l")):
        axis.plot(a, 1.0 / a, "r-", lw=1.2, label="1/α(W)")
        axis.scatter(alpha, g, s=10, color="k", label="numerical", zorder=3)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("spectral abscissa α(W)")
        axis.set_ylabel("critical gain")
        axis.set_title(title)
        axis.legend(frameon=False)
    run.save_figure(fig, "critical_gain", "Critical gain against the spectral abscissa (thesis Fig. 2.2b)")
    run.note("Each dot is one random E/I matrix; the red curve is the prediction g = 1/α(W) of eq. (2.3).")
    return {
        "n_matrices": int(cfg.n_matrices),
        "median_rel_dev_linear": float(np.median(rel_lin)),
        "median_rel_dev_nonlinear": float(np.median(rel_nl)),
        "max_rel_dev_linear": float(np.max(rel_lin)),
        "max_rel_dev_nonlinear": float(np.max(rel_nl)),
    }


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import Reference, describe  # noqa: E402

describe(
    "critical-gain",
    metrics={
        "n_matrices": ("number of random E/I weight matrices tested", "count"),
        "median_rel_dev_linear": ("median over matrices of |g_crit - 1/alpha(W)| / (1/alpha(W)), linear f_l",
                                  "fraction"),
        "median_rel_dev_nonlinear": ("median over matrices of |g_crit - 1/alpha(W)| / (1/alpha(W)), "
                                     "nonlinear f (eq. 2.2)", "fraction"),
        "max_rel_dev_linear": ("largest relative deviation of the critical gain from 1/alpha(W), linear f_l",
                               "fraction"),
        "max_rel_dev_nonlinear": ("largest relative deviation of the critical gain from 1/alpha(W), "
                                  "nonlinear f", "fraction"),
    },
    references=[
        Reference("median_rel_dev_linear", 0.0, "thesis §2.3.2, Fig. 2.2b (inset)",
                  "critical gain g = 1/α(W): results 'lie very close to the theoretical prediction'", tol=0.05),
        Reference("median_rel_dev_nonlinear", 0.0, "thesis §2.3.2, Fig. 2.2b",
                  "critical gain g = 1/α(W): results 'lie very close to the theoretical prediction'", tol=0.05),
    ],
)

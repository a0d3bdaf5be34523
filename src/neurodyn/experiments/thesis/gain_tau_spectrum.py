"""Experiment `gain-tau-spectrum`: how a global gain g and the time constant tau reshape the dynamics.

Thesis (seed 003) §2.4 (Fig. 2.3) and §2.5 (Fig. 2.4).

§2.4, linear gain ``f_l(x) = g x``: the solution ``x(t) = exp((g W - I) t / tau) x0`` (eq. 2.5) is read off
the spectrum of ``(g W - I) / tau``, whose eigenvalues are ``(g lambda_k - 1) / tau`` for the eigenvalues
lambda_k of W (Appendix A, Lemma 1). Hence

* halving tau doubles every eigenvalue: real parts twice as negative (faster decay), imaginary parts
  doubled (twice the frequency);
* doubling g doubles the imaginary parts as well, but expands the real parts about ``-1/tau``, moving
  ``alpha((gW - I)/tau) = (g alpha(W) - 1)/tau`` towards 0 (slower decay, larger transients);
* changing both with ``tau / g`` fixed (thesis: 200 ms) keeps the imaginary parts and raises the abscissa.

The matrix is the §2.2 construction (`random_ei`, gamma = 1) with N = 50, p = 0.1, rho = 0.2; reported
are the ratios of the largest imaginary part and the abscissas, which the eigenvalue map predicts exactly.

§2.5, nonlinear gain (eq. 2.2, r0 = 20 Hz, rmax = 100 Hz): a 200-neuron SOC (Appendix C.1, alpha < 0.15)
started from the preferred initial condition a1 (Appendix C.2, ``||x0|| = 1.5 sqrt(N)``), for the
baseline (g = 1, tau = 200 ms), half tau, double gain, and ``g = 2, tau = 400 ms`` (``tau/g = 200``). Per
neuron, the dominant oscillation frequency is the highest local maximum (f > 0) of the
periodogram of its deviation from baseline ``f(x_i(t))`` (zero-padded; the simulation runs until the
activity has decayed, so the periodogram covers the whole transient; see `dominant_frequency`) and the
amplitude is the largest deviation from baseline, ``max_t |f(x_i(t))|``. Reported are medians over
neurons of each neuron's ratio to the baseline (neurons whose baseline amplitude is below 1 % of the
largest, or without a spectral peak in some condition, are skipped).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from neurodyn.analysis import eigenvalues, preferred_initial_conditions
from neurodyn.connectivity import random_ei
from neurodyn.connectivity.soc import soc
from neurodyn.dynamics import Tanh, simulate
from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.report.figures import new_figure, plot_spectrum

CONDITIONS = ("baseline", "half_tau", "double_gain", "joint")


class GainTauConfig(ExperimentConfig):
    n_linear: int = Field(50, ge=4, description="N of the §2.4 random matrix")
    p_linear: float = Field(0.1, gt=0, lt=1, description="connection probability of the §2.4 matrix")
    rho_linear: float = Field(0.2, gt=0, description="spectral radius of the §2.4 matrix")
    n_soc: int = Field(200, ge=4, description="N of the §2.5 SOC")
    soc_target: float = Field(0.15, description="SOC stops when alpha(W) < soc_target")
    soc_max_iter: int = Field(5000, ge=1, description="SOC iteration cap")
    device: str = Field("auto", pattern="^(auto|cpu|gpu)$", description="SOC path: 'auto', 'cpu' or 'gpu'")
    tau_ms: float = Field(200.0, gt=0, description="baseline time constant (ms)")
    gain: float = Field(1.0, gt=0, description="baseline global gain g")
    joint_tau_ms: float = Field(400.0, gt=0, description="tau of the joint condition (tau/g = baseline)")
    r0: float = Field(20.0, gt=0, description="baseline rate of eq. (2.2) (Hz)")
    rmax: float = Field(100.0, gt=0, description="maximum rate of eq. (2.2) (Hz)")
    duration_ms: float = Field(6000.0, gt=0, description="simulated time (ms)")
    dt_ms: float = Field(0.5, gt=0, description="RK4 step (ms)")


def dominant_frequency(x: np.ndarray, dt_ms: float, pad: int = 16) -> np.ndarray:
    """Dominant oscillation frequency (Hz) of each column of ``x`` (T, N): deviations from baseline.

    The periodogram ``|FFT(x_i)|^2`` (zero-padded to ``pad`` times the length, so it samples the
    continuous transform finely) is searched for its highest local maximum at f > 0; a column whose
    spectrum only decreases from f = 0 (a non-oscillating transient) gives NaN. Because x is not
    mean-centred, a time-rescaled copy ``x(c t)`` that decays inside the window has its peaks at exactly
    c times the frequencies.
    """
    x = np.asarray(x, dtype=float)
    nfft = int(2 ** np.ceil(np.log2(pad * x.shape[0])))
    power = np.abs(np.fft.rfft(x, n=nfft, axis=0)) ** 2
    freqs = np.fft.rfftfreq(nfft, d=dt_ms / 1000.0)
    inner = power[1:-1]
    is_peak = (inner > power[:-2]) & (inner >= power[2:])
    masked = np.where(is_peak, inner, -np.inf)
    k = np.argmax(masked, axis=0)
    found = np.isfinite(masked[k, np.arange(x.shape[1])])
    return np.where(found, freqs[1:-1][k], np.nan)


def _conditions(cfg: GainTauConfig) -> dict[str, tuple[float, float]]:
    g, tau = cfg.gain, cfg.tau_ms
    return {"baseline": (g, tau), "half_tau": (g, tau / 2), "double_gain": (2 * g, tau),
            "joint": (2 * g, cfg.joint_tau_ms)}


@experiment("gain-tau-spectrum", GainTauConfig,
            "Thesis §2.4-2.5 / Figs. 2.3-2.4: spectrum of (gW - I)/tau as g and tau change, and the "
            "frequency and amplitude of SOC rates (nonlinear gain) from a1.",
            quick={"n_soc": 60, "soc_target": 0.3, "duration_ms": 6000.0, "dt_ms": 1.0})
def run_gain_tau(cfg: GainTauConfig, run: Run) -> dict:
    conds = _conditions(cfg)
    metrics: dict = {}
    # ---- §2.4: linear spectra ------------------------------------------------------------------
    Wl = random_ei(cfg.n_linear, cfg.p_linear, cfg.rho_linear, 1.0, seed=cfg.seed).W
    lam = eigenvalues(Wl)
    spectra = {k: (g * lam - 1.0) / tau for k, (g, tau) in conds.items()}
    for k, ev in spectra.items():
        run.save_array(f"spectrum_{k}", ev)
    base = spectra["baseline"]
    for k in CONDITIONS[1:]:
        metrics[f"spec_imag_ratio_{k}"] = float(np.max(spectra[k].imag) / np.max(base.imag))
        metrics[f"spec_abscissa_{k}_per_s"] = float(1000.0 * np.max(spectra[k].real))
    metrics["spec_abscissa_baseline_per_s"] = float(1000.0 * np.max(base.real))

    # ---- §2.5: SOC with the nonlinear gain function ----------------------------------------------
    res = soc(cfg.n_soc, target=cfg.soc_target, seed=cfg.seed, tau=cfg.tau_ms, max_iter=cfg.soc_max_iter,
              device=cfg.device)
    W = np.asarray(res.network.W)
    for k, (g, _) in conds.items():
        if g * res.alpha >= 1.0:
            raise ValueError(f"gain={g:g} in condition {k!r}: expected g < 1/alpha(W) = {1 / res.alpha:.3g}")
    _, V = preferred_initial_conditions(W)
    x0 = 1.5 * np.sqrt(cfg.n_soc) * V[:, 0]
    fn = Tanh(cfg.r0, cfg.rmax)
    t = np.arange(0.0, cfg.duration_ms + 1e-9, cfg.dt_ms)
    rates, freq, amp = {}, {}, {}
    for k, (g, tau) in run.progress(list(conds.items()), description="gain/tau conditions"):
        net = res.network.replace(tau=tau)
        x = np.asarray(simulate(net, x0, t, dt=cfg.dt_ms, gain_fn=fn, gains=np.full(cfg.n_soc, g)))
        dev = np.asarray(fn(x, g))
        rates[k] = cfg.r0 + dev
        freq[k] = dominant_frequency(dev, cfg.dt_ms)
        amp[k] = np.max(np.abs(dev), axis=0)
        tail = np.max(np.abs(x[-int(len(t) // 10):])) / np.max(np.abs(x))
        metrics[f"final_decay_{k}"] = float(tail)
        run.save_array(f"rates_{k}", rates[k][::int(max(1, round(5.0 / cfg.dt_ms)))])
        run.save_array(f"frequency_hz_{k}", freq[k])
        run.save_array(f"amplitude_hz_{k}", amp[k])
    ok = amp["baseline"] > 0.01 * amp["baseline"].max()
    osc = ok & np.all([np.isfinite(freq[k]) for k in conds], axis=0)

    def med(d, k):
        sel = osc if d is freq else ok
        return float(np.median(d[k][sel] / d["baseline"][sel]))

    metrics.update({
        "freq_ratio_half_tau": med(freq, "half_tau"),
        "amp_ratio_half_tau": med(amp, "half_tau"),
        "freq_ratio_double_gain": med(freq, "double_gain"),
        "amp_ratio_double_gain": med(amp, "double_gain"),
        "freq_ratio_joint": med(freq, "joint"),
        "amp_ratio_joint": med(amp, "joint"),
        "baseline_frequency_hz": float(np.median(freq["baseline"][osc])),
        "n_neurons_oscillating": int(osc.sum()),
        "soc_alpha": float(res.alpha),
        "soc_iterations": int(res.iterations),
        "n_neurons_measured": int(ok.sum()),
    })

    # ---- figures ---------------------------------------------------------------------------------
    fig, ax = new_figure(3, 2)
    for axis, k, title in ((ax[0], "half_tau", "a  halve τ"), (ax[1], "double_gain", "b  double g"),
                           (ax[2], "joint", "c  both, τ/g fixed")):
        plot_spectrum(axis, 1000 * base, label=f"g={conds['baseline'][0]:g}, τ={conds['baseline'][1]:g}",
                      color="0.5")
        plot_spectrum(axis, 1000 * spectra[k], label=f"g={conds[k][0]:g}, τ={conds[k][1]:g}", color="k")
        axis.set_xlabel("Re λ (1/s)")
        axis.set_ylabel("Im λ (1/s)")
        axis.legend(frameon=False, fontsize=8)
        axis.set_title(title + " (spectrum of (gW - I)/τ)")
    i = int(np.argmax(amp["baseline"]))
    tt = t[::int(max(1, round(5.0 / cfg.dt_ms)))]
    step = int(max(1, round(5.0 / cfg.dt_ms)))
    for axis, k in zip(ax[3:], CONDITIONS[1:]):
        axis.plot(tt, rates["baseline"][::step, i], color="0.5", label="baseline")
        axis.plot(tt, rates[k][::step, i], color="k", label=k.replace("_", " "))
        axis.set_xlim(0, min(cfg.duration_ms, 2500.0))
        axis.set_xlabel("time (ms)")
        axis.set_ylabel(f"rate of neuron {i} (Hz)")
        axis.legend(frameon=False, fontsize=8)
    run.save_figure(fig, "gain_tau", "Thesis Figs. 2.3 (top) and 2.4 (bottom): gain and time constant")
    run.note(f"SOC: alpha = {res.alpha:.3f} after {res.iterations} iterations; x0 = 1.5 sqrt(N) a1. "
             f"Frequencies are periodogram peaks of each neuron's rate deviation; frequency ratios are "
             f"medians over {int(osc.sum())} oscillating neurons, amplitude ratios over {int(ok.sum())}.")
    return metrics


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import Reference, describe  # noqa: E402

describe(
    "gain-tau-spectrum",
    metrics={
        "spec_imag_ratio_*": ("largest imaginary part of the spectrum of (gW - I)/tau in the named condition "
                              "over that of the baseline (g = 1, tau = 200 ms)", "ratio"),
        "spec_abscissa_*_per_s": ("spectral abscissa of (gW - I)/tau in the named condition", "1/s"),
        "spec_abscissa_baseline_per_s": ("spectral abscissa of (W - I)/tau at g = 1, tau = 200 ms", "1/s"),
        "final_decay_*": ("largest |x_i| in the last tenth of the nonlinear SOC simulation over the largest |x_i| overall, "
                          "named condition", "ratio"),
        "freq_ratio_*": ("median over neurons of the dominant firing-rate frequency in the named condition "
                         "over that at baseline (nonlinear SOC)", "ratio"),
        "amp_ratio_*": ("median over neurons of the largest firing-rate deviation from baseline in the named "
                        "condition over that at baseline", "ratio"),
        "baseline_frequency_hz": ("median dominant oscillation frequency of the SOC rates at baseline", "Hz"),
        "n_neurons_oscillating": ("neurons with a spectral peak in every condition", "count"),
        "soc_alpha": ("spectral abscissa of the stability-optimised circuit", ""),
        "soc_iterations": ("gradient steps of the stability optimisation", "count"),
        "n_neurons_measured": ("neurons entering the frequency and amplitude medians", "count"),
    },
    references=[
        Reference("freq_ratio_half_tau", 2.0, "thesis §2.5, Fig. 2.4a",
                  "halving τ causes a doubling of the frequency", tol=0.2),
        Reference("amp_ratio_half_tau", 1.0, "thesis §2.5, Fig. 2.4a",
                  "only the frequency of the neuronal dynamics is affected", tol=0.2),
        Reference("freq_ratio_double_gain", 2.0, "thesis §2.5, Fig. 2.4b",
                  "when doubling the gain g, the frequency also approximately doubles", tol=0.4),
        Reference("amp_ratio_double_gain", 1.0, "thesis §2.5, Fig. 2.4b",
                  "doubling g causes an increase in the amplitude", relation="above"),
        Reference("spec_imag_ratio_half_tau", 2.0, "thesis §2.4, Fig. 2.3 (App. A, Lemma 1)",
                  "halving τ doubles the imaginary parts of the eigenvalues", tol=1e-6),
        Reference("spec_imag_ratio_double_gain", 2.0, "thesis §2.4, Fig. 2.3 (App. A, Lemma 1)",
                  "doubling g doubles the imaginary parts of the eigenvalues", tol=1e-6),
    ],
)

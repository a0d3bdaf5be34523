"""Experiment `icms-preprocess`: simulated Neuropixels ICMS recording from raw voltage to rates.

Seed 001 Methods §3.2-§3.7 on a simulated phase 3a recording (`neurodyn.preprocess.synthetic`) whose
amplifier clips near the stimulation site, as in the text's saturated sessions:

1. ERAASR2 (§3.2) cleans the stimulated trials: per-channel limits from the data, marked samples
   left out of the artifact covariance, completed from the rank-K model before projection and left
   out of each channel's regression, actually saturated samples (and every channel where > 60% are
   marked) cleared to 0, common median reference per ADC group without the cleared samples. Its
   per-channel predicted artifact is the artifact estimate.
2. Synthetic stimulation (§3.6): the estimate is added to the matched non-stimulated trials, clipped
   at the channels' saturation limits (the same clipping as the stimulated trials), cleaned again;
   spikes are detected by threshold on each unit's peak channel, a trough on or next to a cleared
   sample not counted (`detect_spikes`), and scored within 500 us against the known spikes:
   ``spike_recovery`` (recovered / true) and ``spike_fabrication`` (unmatched / detected) inside the
   stimulation window. ``spike_recovery_expected`` is the independent prediction from the ground
   truth and the cleared samples alone: the fraction of true spikes whose trough sample and its two
   neighbours survived the clearing. The same scores without clipping (synthetic traces not clipped,
   nothing marked: ``*_unclipped``) and on the stimulated trials against their own known spikes
   (``*_stim``) separate the loss due to saturation from that of the cleaning.
3. ``artifact_residual_db``: ``10 log10`` of the power of (cleaned - true neural) over the power of the
   true artifact, stimulation window, uncleared samples.
4. Localisation (§3.3): peak-to-peak of the estimated artifact (extrapolated through clipping by the
   regression), moving-median outlier removal, resampled to the centre column, fitted with
   ``v0 I / r``: ``source_distance_error_mm``.
5. Gain correction (§3.7): recovery gain ``G = Ŷ / Y`` per unit and 50 ms bin from the synthetic
   (Ŷ) and true (Y) rates of the non-stimulated trials, rank one around unity, divided out of the
   stimulated trials' detected rates; ``gain_corrected_rate_error`` =
   ``||r_corr - r_true|| / ||r_true||`` over units, with r the per-unit rate over the stimulation
   period (mean over bins of ``R / G``) and r_true from the stimulated trials' known spikes;
   ``uncorrected_rate_error`` the same without dividing by G. Independent route for G: the fraction
   of stimulation-window samples of the stimulated trials at which a trough survives the clearing on
   the unit's channel (``gain_expected_mean``, ``gain_abs_error`` = mean over units of
   ``|mean_t G_td - expected_d|``). Both errors carry the binomial noise of which spikes the clearing
   hit on a few trials; the correction removes the bias (the lost fraction), not that noise.
6. Waveform correlation (§3.5) spontaneous vs during and after stimulation, 7 channels per unit.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field
from threadpoolctl import threadpool_limits

from neurodyn.runner import ExperimentConfig, Run, experiment
from neurodyn.preprocess.eraasr import eraasr2, possibly_saturated, saturation_limits
from neurodyn.preprocess.gain_correction import correct_rates, denoise_gain, recovery_gain
from neurodyn.preprocess.localize import clipped_channels, fit_artifact_source, peak_to_peak, remove_outliers, resample_to_column
from neurodyn.preprocess.spikes import (detect_spikes, mean_waveform, neighbour_channels, noise_sigma,
                                        score_spikes, synthetic_stimulation, waveform_correlation)
from neurodyn.preprocess.synthetic import simulate_stim_recording
from neurodyn.report.figures import new_figure


class IcmsPreprocessConfig(ExperimentConfig):
    n_channels: int = Field(374, ge=16, le=374, description="recording channels (phase 3a: 374)")
    n_trials: int = Field(8, ge=1, description="stimulated trials (and as many matched non-stimulated); the gain "
                                               "correction needs several spikes per unit and bin")
    stim_ms: float = Field(200.0, gt=0, description="train duration (ms), 333 Hz biphasic pulses")
    current_ua: float = Field(60.0, gt=0, description="stimulation current (uA)")
    v0: float = Field(60.0, gt=0, description="artifact constant (uV mm / uA)")
    source_x_mm: float = Field(1.0, gt=0, description="lateral probe-to-electrode distance (mm)")
    source_y_mm: float = Field(1.5, description="source depth along the probe from the first site (mm)")
    clip_uv: float = Field(1500.0, gt=0, description="amplifier saturation level (uV from baseline)")
    noise_uv: float = Field(8.0, gt=0, description="white noise SD (uV)")
    k: int = Field(4, ge=1, description="ERAASR2 artifact subspace dimension K")
    lam: float = Field(0.05, ge=0, lt=1, description="ERAASR2 trade-off lambda")
    threshold: float = Field(5.0, gt=0, description="detection threshold (robust SDs)")
    bin_ms: float = Field(50.0, gt=0, description="rate bin for the gain correction (ms); each entry of the "
                                                "gain matrix needs several spikes, or its rank-one fit follows "
                                                "single misses")
    car: bool = Field(True, description="common median reference per ADC group (probe-wide median where a group "
                                        "has fewer than 16 unsaturated channels)")
    tol_sd: float = Field(0.0, ge=0, description="saturation test |predicted| > |recorded| - tol_sd * noise SD "
                                                 "(0: the text's test)")
    compare_unclipped: bool = Field(True, description="also score the synthetic stimulation without clipping")


def _rates(spikes_by_trial, units, start, stop, fs, bin_ms):
    edges = np.arange(start, stop + 1, int(round(bin_ms * 1e-3 * fs)))
    out = np.zeros((len(spikes_by_trial), edges.size - 1, len(units)))
    for k, trains in enumerate(spikes_by_trial):
        for j, u in enumerate(units):
            out[k, :, j] = np.histogram(trains[u], edges)[0] / (bin_ms * 1e-3)
    return out.mean(0)


def _detect(cleaned, cleared, rec, threshold, run, what):
    """Per trial, per unit: spike samples on the unit's peak channel (cleared samples excluded)."""
    w0, n = rec.stim_start, cleaned.shape[0]
    out = []
    for k in run.progress(range(n), n, f"detect spikes ({what})"):
        sig = noise_sigma(cleaned[k, :w0])
        out.append([detect_spikes(cleaned[k, :, ch], rec.fs, sig[ch], threshold, blanked=cleared[k, :, ch])
                    for ch in rec.unit_channel])
    return out


def _score(detected, truth, cleared, rec):
    """Recovered / true, fabricated / detected in the stimulation window (§3.6, 500 us), per-unit
    recovered and true counts, and the recovery expected from the cleared samples alone."""
    w0, w1, tol = rec.stim_start, rec.stim_stop, int(round(500e-6 * rec.fs))
    rec_u, true_u, survive = np.zeros(rec.n_units), np.zeros(rec.n_units), np.zeros(rec.n_units)
    fab = n_det = 0
    for k, trains in enumerate(truth):
        for u, ch in enumerate(rec.unit_channel):
            t = trains[u][(trains[u] >= w0) & (trains[u] < w1)]
            d = detected[k][u]
            d = d[(d >= w0) & (d < w1)]
            r, f = score_spikes(t, d, tol)
            rec_u[u] += r
            true_u[u] += t.size
            fab += f
            n_det += d.size
            c = cleared[k, :, ch]
            survive[u] += np.sum(~(c[t] | c[t - 1] | c[t + 1]))
    n_true = max(true_u.sum(), 1)
    return rec_u.sum() / n_true, fab / max(n_det, 1), rec_u, true_u, survive, n_det


@experiment("icms-preprocess", IcmsPreprocessConfig,
            "Seed 001 Methods §3.2-§3.7: ERAASR2 artifact removal, synthetic-stimulation spike recovery, "
            "artifact-source localisation and rate gain correction on a simulated Neuropixels ICMS recording.",
            quick={"n_channels": 96, "n_trials": 2, "source_x_mm": 0.5, "source_y_mm": 0.4, "current_ua": 26.0})
def run_icms_preprocess(cfg: IcmsPreprocessConfig, run: Run) -> dict:
    with threadpool_limits(1):
        return _run(cfg, run)


def _run(cfg: IcmsPreprocessConfig, run: Run) -> dict:
    rec = simulate_stim_recording(cfg.n_channels, cfg.n_trials, stim_ms=cfg.stim_ms, current_ua=cfg.current_ua,
                                  v0=cfg.v0, source_mm=(cfg.source_x_mm, cfg.source_y_mm), clip_uv=cfg.clip_uv,
                                  noise_uv=cfg.noise_uv, seed=cfg.seed)
    fs, w0, w1 = rec.fs, rec.stim_start, rec.stim_stop
    opts = dict(k=cfg.k, lam=cfg.lam, adc_group=rec.adc_group, car=cfg.car, tol_sd=cfg.tol_sd)
    cl_stim, art_est, sat_stim = eraasr2(rec.raw_stim, w0, w1, fs, **opts)
    limits = saturation_limits(rec.raw_stim, rec.adc_group)
    # §3.6: the estimated artifact on the matched non-stimulated trials, clipped at the channels' limits,
    # and held where the stimulated trial saturated (marked and found saturated there)
    replicate = possibly_saturated(rec.raw_stim, *limits) & sat_stim
    syn = synthetic_stimulation(rec.raw_nostim, art_est, rec.clip_lo, rec.clip_hi, replicate, rec.raw_stim)
    del replicate
    cl_syn, _, sat_syn = eraasr2(syn, w0, w1, fs, limits=limits, **opts)
    syn_marked = float(np.mean((syn[:, w0:w1] <= limits[0]) | (syn[:, w0:w1] >= limits[1])))
    del syn

    # residual artifact on the stimulated trials
    win = slice(w0, w1)
    base = np.median(rec.neural_stim[:, w0 - int(fs):w0], axis=1, keepdims=True)
    resid = cl_stim[:, win] - (rec.neural_stim[:, win] - base)
    ok = ~sat_stim[:, win]
    art_pow = float(np.mean(rec.artifact[win] ** 2))
    residual_db = 10 * np.log10(float(np.mean(resid[ok] ** 2)) / art_pow)
    noise_db = 10 * np.log10(cfg.noise_uv ** 2 / art_pow)
    del resid, ok

    # spike detection and scoring (synthetic stimulation, §3.6)
    units = list(range(rec.n_units))
    det_syn = _detect(cl_syn, sat_syn, rec, cfg.threshold, run, "synthetic")
    recovery, fabrication, rec_u, true_u, survive_u, det_n = _score(det_syn, rec.spikes_nostim, sat_syn, rec)
    expected = survive_u.sum() / max(true_u.sum(), 1)
    det_stim = _detect(cl_stim, sat_stim, rec, cfg.threshold, run, "stimulated")
    rec_stim, fab_stim, _, true_stim, survive_stim, _ = _score(det_stim, rec.spikes_stim, sat_stim, rec)
    exp_stim = survive_stim.sum() / max(true_stim.sum(), 1)
    unit_cleared = np.array([sat_syn[:, win, ch].mean() for ch in rec.unit_channel])
    metrics_unclipped = {}
    if cfg.compare_unclipped:
        # the same synthetic stimulation without amplifier clipping: nothing marked, nothing cleared
        free = (np.full(rec.n_channels, -np.inf), np.full(rec.n_channels, np.inf))
        syn_u = synthetic_stimulation(rec.raw_nostim, art_est, -np.inf, np.inf)
        cl_u, _, sat_u = eraasr2(syn_u, w0, w1, fs, limits=free, **opts)
        del syn_u
        det_u = _detect(cl_u, sat_u, rec, cfg.threshold, run, "unclipped")
        r_u, f_u, *_ = _score(det_u, rec.spikes_nostim, sat_u, rec)
        metrics_unclipped = {"spike_recovery_unclipped": float(r_u), "spike_fabrication_unclipped": float(f_u)}
        del cl_u, sat_u

    # waveform correlation (§3.5) on the cleaned synthetic data with the true spike times
    post = int(round(0.3 * fs))
    corr_during, corr_post = [], []
    for u in units:
        chs = neighbour_channels(rec.positions_um, rec.unit_channel[u], 7)
        ts = [np.concatenate([rec.spikes_nostim[k][u][sel(rec.spikes_nostim[k][u])] + k * cl_syn.shape[1]
                              for k in range(cfg.n_trials)])
              for sel in (lambda s: s < w0, lambda s: (s >= w0) & (s < w1), lambda s: (s >= w1) & (s < w1 + post))]
        flat = cl_syn.reshape(-1, cl_syn.shape[2])
        ws = [mean_waveform(flat, t, chs, fs) for t in ts]
        if ws[0] is not None and ws[1] is not None:
            corr_during.append(waveform_correlation(ws[0], ws[1]))
        if ws[0] is not None and ws[2] is not None:
            corr_post.append(waveform_correlation(ws[0], ws[2]))

    # localisation (§3.3) from the estimated artifact, unsaturated channels
    plen = int(round(2.5e-3 * fs))
    p2p = np.mean([peak_to_peak(art_est[k, w0:w1 + plen], rec.pulses - w0, plen) for k in range(cfg.n_trials)], 0)
    # the regression prediction extrapolates the artifact through clipped samples, so every channel's
    # estimate is used; channels with a clipping plateau are reported
    good = np.ones(rec.n_channels, bool)
    n_clipped = int(clipped_channels(rec.raw_stim).sum())
    order = np.argsort(rec.positions_um[good, 1], kind="stable")
    amp_clean = np.empty(good.sum())
    amp_clean[order] = remove_outliers(p2p[good][order])
    ys, amps = resample_to_column(rec.positions_um[good], amp_clean)
    y_first = rec.positions_um[:, 1].min()
    depth_mm = (ys + rec.positions_um[good, 1].min() - y_first) * 1e-3
    fit = fit_artifact_source([depth_mm], [amps], [cfg.current_ua])
    dist_err = float(np.hypot(fit["x_mm"][0] - cfg.source_x_mm, fit["y_mm"][0] - cfg.source_y_mm))

    # gain correction (§3.7)
    y_true = _rates(rec.spikes_nostim, units, w0, w1, fs, cfg.bin_ms)
    y_syn = _rates(det_syn, units, w0, w1, fs, cfg.bin_ms)
    g = denoise_gain(recovery_gain(y_syn, y_true))
    r_stim = _rates(det_stim, units, w0, w1, fs, cfg.bin_ms)
    r_true = _rates(rec.spikes_stim, units, w0, w1, fs, cfg.bin_ms).mean(0)
    r_corr = correct_rates(r_stim, g).mean(0)
    err_corr = float(np.linalg.norm(r_corr - r_true) / np.linalg.norm(r_true))
    err_raw = float(np.linalg.norm(r_stim.mean(0) - r_true) / np.linalg.norm(r_true))
    # the gain expected from the clearing alone: per unit, the fraction of stimulation-window samples of
    # the stimulated trials at which a trough would survive (it and both neighbours uncleared)
    c = sat_stim[:, :, rec.unit_channel]
    alive = ~(c[:, w0:w1] | c[:, w0 - 1:w1 - 1] | c[:, w0 + 1:w1 + 1])
    gain_expected = alive.mean((0, 1))
    gain_unit = g.mean(0)

    # figures
    ch_show = int(np.argmax(np.where(good, p2p, -np.inf)))
    t_ms = (np.arange(w0 - 60, w0 + 330) - w0) / fs * 1e3
    sl = slice(w0 - 60, w0 + 330)
    fig, ax = new_figure(3)
    ax[0].plot(t_ms, rec.raw_stim[0, sl, ch_show] - base[0, 0, ch_show], color="0.6", lw=0.8, label="raw")
    ax[0].plot(t_ms, cl_stim[0, sl, ch_show], "k-", lw=0.8, label="ERAASR2")
    ax[0].plot(t_ms, rec.neural_stim[0, sl, ch_show] - base[0, 0, ch_show], "r--", lw=0.8, label="true neural")
    ax[0].set_ylim(-12 * cfg.noise_uv - 150, 12 * cfg.noise_uv + 100)
    ax[0].set_xlabel("time from train onset (ms)")
    ax[0].set_ylabel(f"channel {ch_show} (uV)")
    ax[0].legend(frameon=False, fontsize=8)
    ax[0].set_title("raw, cleaned and true traces")
    frac = np.where(true_u > 0, rec_u / np.maximum(true_u, 1), np.nan)
    ax[1].plot(rec.unit_channel, frac, "ko", label="recovered")
    ax[1].plot(rec.unit_channel, np.where(true_u > 0, survive_u / np.maximum(true_u, 1), np.nan), "rx",
               label="trough not cleared")
    ax[1].legend(frameon=False, fontsize=8)
    ax[1].set_ylim(0, 1.05)
    ax[1].set_xlabel("unit peak channel")
    ax[1].set_ylabel("spikes recovered")
    ax[1].set_title("recovery by channel (synthetic stimulation)")
    dd = np.linspace(depth_mm.min(), depth_mm.max(), 200)
    ax[2].plot(depth_mm, amps, "k.", ms=3, label="resampled p2p")
    ax[2].plot(dd, fit["v0"] * cfg.current_ua / np.hypot(fit["x_mm"][0], dd - fit["y_mm"][0]), "r-", label="fit")
    ax[2].set_xlabel("depth along probe (mm)")
    ax[2].set_ylabel("artifact p2p (uV)")
    ax[2].legend(frameon=False, fontsize=8)
    ax[2].set_title(f"source fit x={fit['x_mm'][0]:.2f}, y={fit['y_mm'][0]:.2f} mm")
    run.save_figure(fig, "icms_preprocess", "Seed 001 §3.2-§3.6 / Ext. Data Fig. 6-8: ERAASR2 cleaning, "
                    "synthetic-stimulation spike recovery and artifact-source localisation (simulated recording)")
    run.save_array("p2p_uv", p2p)
    run.save_array("recovery_by_unit", frac)
    run.save_array("unit_channel", rec.unit_channel)
    run.save_array("gain", g)
    run.save_array("gain_expected", gain_expected)
    run.save_array("rates_true", r_true)
    run.save_array("rates_corrected", r_corr)
    run.table("scores", ["quantity", "value"],
              [["units", rec.n_units], ["true spikes in window", int(true_u.sum())],
               ["detected in window", det_n], ["channels with a clipping plateau", n_clipped],
               ["saturated samples (raw)", f"{rec.saturated_fraction:.4f}"],
               ["cleared samples on unit channels (window)", f"{unit_cleared.mean():.4f}"]])
    run.note(f"ERAASR2 left {residual_db:.1f} dB of artifact power (white noise alone is {noise_db:.1f} dB); "
             f"synthetic stimulation with the recording's clipping: {recovery:.1%} of true spikes recovered "
             f"({expected:.1%} expected from the cleared samples alone), {fabrication:.1%} of detections "
             f"fabricated; uncorrected rate error {err_raw:.3f}, after gain correction {err_corr:.3f} "
             f"(mean gain {gain_unit.mean():.3f}, expected {gain_expected.mean():.3f}).")
    if metrics_unclipped:
        run.note(f"Without clipping: {metrics_unclipped['spike_recovery_unclipped']:.1%} recovered, "
                 f"{metrics_unclipped['spike_fabrication_unclipped']:.1%} fabricated.")
    return {"spike_recovery": float(recovery), "spike_fabrication": float(fabrication),
            "spike_recovery_expected": float(expected), **metrics_unclipped,
            "spike_recovery_stim": float(rec_stim), "spike_fabrication_stim": float(fab_stim),
            "spike_recovery_stim_expected": float(exp_stim),
            "unit_channel_cleared_fraction": float(unit_cleared.mean()),
            "synthetic_marked_fraction": syn_marked, "artifact_residual_db": float(residual_db),
            "noise_floor_db": float(noise_db), "source_distance_error_mm": dist_err,
            "source_x_mm_fit": float(fit["x_mm"][0]), "source_y_mm_fit": float(fit["y_mm"][0]),
            "v0_fit": fit["v0"], "gain_corrected_rate_error": err_corr, "uncorrected_rate_error": err_raw,
            "gain_mean": float(gain_unit.mean()), "gain_expected_mean": float(gain_expected.mean()),
            "gain_abs_error": float(np.mean(np.abs(gain_unit - gain_expected))),
            "waveform_corr_during": float(np.median(corr_during)) if corr_during else float("nan"),
            "waveform_corr_post": float(np.median(corr_post)) if corr_post else float("nan"),
            "saturated_fraction": rec.saturated_fraction, "n_units": rec.n_units, "n_clipped_channels": n_clipped}


# What each metric means and the texts' values (report, `neurodyn reproduce`).
from neurodyn.runner import describe  # noqa: E402

describe(
    "icms-preprocess",
    metrics={
        "spike_recovery": ("true spikes recovered within 500 us in the stimulation window, synthetic "
                           "stimulation (§3.6)", "fraction"),
        "spike_fabrication": ("detected spikes matching no true spike, synthetic stimulation", "fraction"),
        "spike_recovery_expected": ("predicted recovery: true spikes whose trough and neighbours survive the "
                                    "clearing", "fraction"),
        "spike_recovery_unclipped": ("spike recovery without amplifier clipping", "fraction"),
        "spike_fabrication_unclipped": ("spike fabrication without amplifier clipping", "fraction"),
        "spike_recovery_stim": ("spike recovery on the stimulated trials against their own known spikes",
                                "fraction"),
        "spike_fabrication_stim": ("spike fabrication on the stimulated trials", "fraction"),
        "spike_recovery_stim_expected": ("predicted recovery on the stimulated trials", "fraction"),
        "unit_channel_cleared_fraction": ("share of stimulation-window samples cleared on the units' peak "
                                          "channels", "fraction"),
        "synthetic_marked_fraction": ("share of samples marked as possibly saturated in the synthetic trials",
                                      "fraction"),
        "artifact_residual_db": ("power of (cleaned - true neural) over power of the true artifact", "dB"),
        "noise_floor_db": ("power of the recording noise over power of the true artifact", "dB"),
        "source_distance_error_mm": ("distance between the fitted and true stimulation sites (§3.3)", "mm"),
        "source_x_mm_fit": ("fitted x position of the stimulation site", "mm"),
        "source_y_mm_fit": ("fitted y position of the stimulation site", "mm"),
        "v0_fit": ("fitted artifact amplitude constant v0 of v0 I / r", ""),
        "gain_corrected_rate_error": ("||r_corr - r_true|| / ||r_true|| of the gain-corrected rates (§3.7)",
                                      "fraction"),
        "uncorrected_rate_error": ("the same without the gain correction", "fraction"),
        "gain_mean": ("mean recovery gain G = Yhat / Y over units and bins", "ratio"),
        "gain_expected_mean": ("mean predicted recovery gain (surviving trough fraction)", "ratio"),
        "gain_abs_error": ("mean over units of |mean_t G - expected|", "ratio"),
        "waveform_corr_during": ("median correlation of spike waveforms during stimulation with spontaneous "
                                 "ones, 7 channels (§3.5)", ""),
        "waveform_corr_post": ("the same after stimulation", ""),
        "saturated_fraction": ("share of samples at the amplifier's saturation limits", "fraction"),
        "n_units": ("simulated units", "count"),
        "n_clipped_channels": ("channels that clip during stimulation", "count"),
    },
)

"""Simulated Neuropixels ICMS recordings with known spikes, known artifact and known stimulation site.

Seed 001 Methods §3.1-§3.3 describe the recordings this generator imitates: a Neuropixels phase 3a
probe with 374 recording channels (384 bank-0 sites less 10 reference sites), sampled at 30 kHz;
ICMS trains of biphasic pulses at 333 Hz (150 us cathodic, 100 us pause, 150 us anodic) lasting
200 ms, delivered by an electrode 1-6 mm from the probe; artifacts that are spatially broad and fall
with distance from the source as (§3.3, equation reconstructed from the prose: the text says the
field "falls off with distance" and gives v0 in units of V mm / uA, so amplitude is v0 I / r)

    ptp_c = v0 * I / r_c,   r_c = sqrt(x_s^2 + (y_c - y_s)^2)   (mm),

and amplifier saturation at per-channel limits that differ from the quantisation limits.

Neural signal: units with known Poisson spike trains (absolute refractory period 2 ms), a biphasic
extracellular waveform and an exponential spatial footprint ``exp(-d / lambda_fp)`` around a soma
location next to the probe, plus white noise. Stimulated trials multiply each unit's rate during the
train by a unit-specific factor, so the true stimulation-period rates are known.

Geometry comes from probeinterface (``build_neuropixels_probe("NP1000")``, the phase 3a/1.0
layout). ADC groups: each of the 32 ADCs of a 1.0/3a probe digitises 12 channels in turn, so the
channels converted at the same instant, ``{c : (c // 2) % 12 = g}``, form 12 groups spread along the
probe (the groups over which Siegle et al. take the common median reference).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.signal import fftconvolve
from jaxtyping import Float, Int

from neurodyn.validation import fail, in_range, positive, positive_int

__all__ = ["StimRecording", "neuropixels_3a_probe", "pulse_train_samples", "simulate_stim_recording",
           "spike_waveform", "artifact_waveforms"]

if TYPE_CHECKING:      # probeinterface is imported only when a probe is built
    from probeinterface import Probe

# reference sites of the phase 3a probe (bank 0 channel indices) that are not recorded
_REFERENCE_CHANNELS = (36, 75, 112, 151, 188, 227, 264, 303, 340, 379)
ADC_GROUP_SIZE = 12


def neuropixels_3a_probe(n_channels: int = 374) -> Probe:
    """probeinterface `Probe` of the first ``n_channels`` recording sites of a phase 3a probe.

    The 384 bank-0 sites of ``NP1000`` (same layout as phase 3a) less the 10 reference sites give
    the 374 recording channels of seed 001 §3.1; ``n_channels < 374`` keeps the deepest sites.
    """
    from probeinterface.neuropixels_tools import build_neuropixels_probe

    n_channels = positive_int("n_channels", n_channels)
    if n_channels > 374:
        fail("n_channels", n_channels, "an integer <= 374 (phase 3a recording channels)")
    full = build_neuropixels_probe("NP1000")
    keep = np.array([i for i in range(384) if i not in _REFERENCE_CHANNELS])[:n_channels]
    probe = full.get_slice(keep)
    probe.set_device_channel_indices(np.arange(n_channels))
    probe.annotate_contacts(adc_group=((keep // 2) % ADC_GROUP_SIZE).astype(int))
    return probe


def pulse_train_samples(fs: float, start: int, duration_ms: float, rate_hz: float = 333.0) -> Int[np.ndarray,
                        " pulses"]:
    """Sample indices of pulse onsets of a train starting at sample ``start`` (seed 001 §3.1)."""
    n = int(np.floor(duration_ms * 1e-3 * rate_hz + 1e-9))
    return start + np.round(np.arange(n) * fs / rate_hz).astype(int)


def spike_waveform(fs: float, amplitude: float = 1.0) -> tuple[Float[np.ndarray, " samples"], int]:
    """Biphasic extracellular spike (trough at sample ``centre``) of unit peak ``-amplitude``.

    ``w(t) = -exp(-t^2 / (2 * 0.12^2)) + 0.3 exp(-(t - 0.45)^2 / (2 * 0.25^2))`` (t in ms), sampled
    from -0.6 to 1.2 ms. Returns ``(waveform, centre)``.
    """
    t = np.arange(int(round(-0.6e-3 * fs)), int(round(1.2e-3 * fs)) + 1) / fs * 1e3
    w = -np.exp(-t ** 2 / (2 * 0.12 ** 2)) + 0.3 * np.exp(-(t - 0.45) ** 2 / (2 * 0.25 ** 2))
    w /= -w.min()
    return amplitude * w, int(np.argmin(np.abs(t)))


def artifact_waveforms(fs: float) -> tuple[Float[np.ndarray, " samples"], Float[np.ndarray, " samples"]]:
    """Two temporal components of one biphasic pulse's artifact (seed 001 §3.1 pulse timing).

    Component 1 is the stimulus itself seen through the amplifier: -1 during the 150 us cathodic
    phase, 0 in the 100 us pause, +1 during the 150 us anodic phase (evaluated on a fine grid and
    averaged into samples). Component 2 is a slow exponential recovery (tau 0.4 ms) starting at the
    end of the pulse, which gives the artifact a second spatial pattern (rank > 1).
    """
    fine = 20
    n = int(np.ceil(2.5e-3 * fs))
    tf = (np.arange(n * fine) + 0.5) / (fs * fine) * 1e6  # us
    s1 = np.where(tf < 150, -1.0, np.where(tf < 250, 0.0, np.where(tf < 400, 1.0, 0.0)))
    s2 = np.where(tf >= 400, np.exp(-(tf - 400) / 400.0), 0.0)
    return s1.reshape(n, fine).mean(1), s2.reshape(n, fine).mean(1)


@dataclass
class StimRecording:
    """Trial-structured simulated recording; voltages in uV, arrays ``(trials, time, channels)``.

    ``raw_stim``: stimulated trials as recorded (neural + artifact, clipped); ``neural_stim``: their
    neural part; ``raw_nostim``: matched non-stimulated trials (ground truth for §3.6);
    ``artifact``: the true artifact (T, n_ch), identical across trials up to ``pulse_gain`` jitter;
    ``spikes_stim`` / ``spikes_nostim``: per trial, per unit, spike sample indices;
    ``unit_channel``: each unit's largest-amplitude channel.
    """

    fs: float
    positions_um: Float[np.ndarray, "channels 2"]
    adc_group: Int[np.ndarray, " channels"]
    raw_stim: Float[np.ndarray, "trials time channels"]
    neural_stim: Float[np.ndarray, "trials time channels"]
    raw_nostim: Float[np.ndarray, "trials time channels"]
    artifact: Float[np.ndarray, "time channels"]
    spikes_stim: list[list[Int[np.ndarray, " spikes"]]]
    spikes_nostim: list[list[Int[np.ndarray, " spikes"]]]
    unit_channel: Int[np.ndarray, " neurons"]
    unit_rate_hz: Float[np.ndarray, " neurons"]
    unit_stim_factor: Float[np.ndarray, " neurons"]
    stim_start: int
    stim_stop: int
    pulses: Int[np.ndarray, " pulses"]
    clip_lo: Float[np.ndarray, " channels"]
    clip_hi: Float[np.ndarray, " channels"]
    source_mm: tuple
    current_ua: float
    v0: float
    noise_uv: float
    saturated_fraction: float = field(default=0.0)

    @property
    def n_channels(self) -> int:
        return self.positions_um.shape[0]

    @property
    def n_units(self) -> int:
        return self.unit_channel.size


def _poisson_train(rng, rate_per_sample: np.ndarray, refractory: int) -> np.ndarray:
    draws = np.flatnonzero(rng.random(rate_per_sample.size) < rate_per_sample)
    keep, last = [], -10 ** 9
    for s in draws:
        if s - last >= refractory:
            keep.append(s)
            last = s
    return np.asarray(keep, dtype=int)


def simulate_stim_recording(n_channels: int = 374, n_trials: int = 4, *, fs: float = 30000.0,
                            pre_s: float = 1.0, stim_ms: float = 200.0, post_s: float = 0.3,
                            n_units: int | None = None, rate_hz: tuple = (10.0, 40.0),
                            stim_factor: tuple = (0.5, 2.0), spike_amp_uv: tuple = (90.0, 200.0),
                            footprint_um: float = 25.0, noise_uv: float = 8.0,
                            source_mm: tuple = (1.0, 1.5), current_ua: float = 40.0, v0: float = 60.0,
                            clip_uv: float = 1500.0, pulse_jitter: float = 0.03,
                            seed: int = 0) -> StimRecording:
    """Simulate matched stimulated and non-stimulated trials on a Neuropixels phase 3a probe.

    The artifact on channel c is ``a_c (s1(t) + b_c s2(t))`` per pulse (see `artifact_waveforms`), with
    ``a_c = v0 I / (2 r_c)`` in uV (v0 in uV mm/uA), so that the peak-to-peak artifact is ``v0 I / r_c``
    (seed 001 §3.3) and ``b_c`` a smooth depth gradient,
    so the artifact spans two spatial patterns. Amplifier saturation clips every stimulated trace at
    ``baseline_g +- clip_uv * (1 + 0.05 u_g)`` for ADC group g (u_g uniform in [-1, 1]); the clip
    levels therefore differ from channel to channel as on phase 3a probes (§3.2).

    Units sit every ~120 um along the probe (unless ``n_units`` is given), with rates drawn in
    ``rate_hz``; during stimulation their rate is multiplied by a factor in ``stim_factor``.
    """
    n_channels = positive_int("n_channels", n_channels)
    n_trials = positive_int("n_trials", n_trials)
    fs = positive("fs", fs)
    pre_s = in_range("pre_s", pre_s, 0.2, 60.0)
    positive("stim_ms", stim_ms)
    positive("noise_uv", noise_uv)
    positive("current_ua", current_ua)
    positive("v0", v0)
    positive("clip_uv", clip_uv)
    if len(source_mm) != 2 or source_mm[0] <= 0:
        fail("source_mm", source_mm, "(lateral distance x_s > 0, depth y_s) in mm")
    rng = np.random.default_rng(seed)
    probe = neuropixels_3a_probe(n_channels)
    pos = np.asarray(probe.contact_positions, dtype=float)
    adc = np.asarray(probe.contact_annotations["adc_group"], dtype=int)
    n_t = int(round((pre_s + stim_ms * 1e-3 + post_s) * fs))
    stim_start = int(round(pre_s * fs))
    stim_stop = stim_start + int(round(stim_ms * 1e-3 * fs))
    pulses = pulse_train_samples(fs, stim_start, stim_ms)

    # units: one per ~12 rows of sites (120 um), soma 20 um lateral to the probe's centre line
    y_lo, y_hi = pos[:, 1].min(), pos[:, 1].max()
    if n_units is None:
        n_units = max(1, int((y_hi - y_lo) // 120))
    n_units = positive_int("n_units", n_units)
    unit_y = np.linspace(y_lo + 10, y_hi - 10, n_units) + rng.uniform(-5, 5, n_units)
    unit_x = rng.choice([-15.0, 63.0], n_units)
    unit_pos = np.stack([unit_x, unit_y], 1)
    dist = np.linalg.norm(pos[None, :, :] - unit_pos[:, None, :], axis=2)  # (U, n_ch)
    d0 = dist.min(1, keepdims=True)
    amp = rng.uniform(*spike_amp_uv, n_units)
    footprint = amp[:, None] * np.exp(-(dist - d0) / footprint_um)
    footprint[footprint < 0.5] = 0.0
    unit_channel = np.argmax(footprint, 1)
    wf, centre = spike_waveform(fs)
    rates = rng.uniform(*rate_hz, n_units)
    factors = rng.uniform(*stim_factor, n_units)
    refractory = int(round(2e-3 * fs))

    # artifact template
    s1, s2 = artifact_waveforms(fs)
    y_mm = (pos[:, 1] - y_lo) * 1e-3
    r = np.sqrt(source_mm[0] ** 2 + (y_mm - source_mm[1]) ** 2)
    a = 0.5 * v0 * current_ua / r  # peak-to-peak of a (s1 + b s2) is 2a = v0 I / r
    b = 0.4 + 0.4 * (y_mm - y_mm.mean()) / max(np.ptp(y_mm), 1e-9)
    art_time = np.zeros((2, n_t))
    for p in pulses:
        m = min(s1.size, n_t - p)
        art_time[0, p:p + m] += s1[:m]
        art_time[1, p:p + m] += s2[:m]
    artifact = art_time[0][:, None] * a[None, :] + art_time[1][:, None] * (a * b)[None, :]

    n_groups = adc.max() + 1
    base_g = rng.uniform(-20, 20, n_groups)
    lim_g = clip_uv * (1 + 0.05 * rng.uniform(-1, 1, n_groups))
    clip_lo = base_g[adc] - lim_g[adc]
    clip_hi = base_g[adc] + lim_g[adc]

    def neural_trial(stimulated: bool):
        x = noise_uv * rng.standard_normal((n_t, n_channels)).astype(np.float32)
        trains = []
        for u in range(n_units):
            lam = np.full(n_t, rates[u] / fs)
            if stimulated:
                lam[stim_start:stim_stop] *= factors[u]
            st = _poisson_train(rng, lam, refractory)
            st = st[(st >= centre) & (st < n_t - wf.size + centre)]
            trains.append(st)
            ind = np.zeros(n_t)
            ind[st] = 1.0
            trace = fftconvolve(ind, wf)[centre:centre + n_t]
            ch = np.flatnonzero(footprint[u])
            x[:, ch] += (trace[:, None] * footprint[u, ch][None, :]).astype(np.float32)
        return x, trains

    neural_stim = np.empty((n_trials, n_t, n_channels), np.float32)
    raw_nostim = np.empty_like(neural_stim)
    raw_stim = np.empty_like(neural_stim)
    spikes_stim, spikes_nostim = [], []
    for k in range(n_trials):
        x, tr = neural_trial(True)
        neural_stim[k] = x
        spikes_stim.append(tr)
        gain = 1.0 + pulse_jitter * rng.standard_normal()
        raw_stim[k] = np.clip(x + base_g[adc] + gain * artifact, clip_lo, clip_hi)
        x, tr = neural_trial(False)
        raw_nostim[k] = x + base_g[adc]
        spikes_nostim.append(tr)
    sat = float(np.mean((raw_stim <= clip_lo) | (raw_stim >= clip_hi)))
    return StimRecording(fs=fs, positions_um=pos, adc_group=adc, raw_stim=raw_stim, neural_stim=neural_stim,
                         raw_nostim=raw_nostim, artifact=artifact.astype(np.float32), spikes_stim=spikes_stim,
                         spikes_nostim=spikes_nostim, unit_channel=unit_channel, unit_rate_hz=rates,
                         unit_stim_factor=factors, stim_start=stim_start, stim_stop=stim_stop, pulses=pulses,
                         clip_lo=clip_lo, clip_hi=clip_hi, source_mm=tuple(source_mm), current_ua=current_ua,
                         v0=v0, noise_uv=noise_uv, saturated_fraction=sat)

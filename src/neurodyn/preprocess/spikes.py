"""Spike detection, ground-truth scoring and waveform distortion (seed 001 Methods §3.5-§3.6).

* `detect_spikes`: negative threshold crossings at ``-threshold * sigma``, with the noise level
  ``sigma = median(|x|) / 0.6745`` (Quiroga et al. 2004) estimated on spontaneous data, local minima
  separated by a dead time (1 ms); a stand-in for the re-sorting of §3.6 on well-isolated units.
  Samples cleared by ERAASR2 (§3.2: actually saturated, "which remained set to zero") carry no
  signal: a trough is accepted only if it and both its neighbours are uncleared, so that a spike whose
  trough fell in a cleared stretch is missed rather than reported at the stretch's edge (where the
  last uncleared sample of the spike's flank would otherwise look like a local minimum). The lost
  spikes are what the gain correction of §3.7 restores.
* `score_spikes` (§3.6): a true spike is *recovered* if a detected spike lies within ``tol`` (500 us)
  of it, otherwise *missed*; a detected spike is *fabricated* if no true spike lies within ``tol``.
  Matching is one-to-one (greedy in time order), so recovered <= min(n_true, n_detected).
* `synthetic_stimulation` (§3.6): matched non-stimulated traces plus the artifact estimated on
  stimulated trials, clipped at the channels' saturation limits; and, "where a given channel was
  marked as saturated" on the stimulated trial, held at the level the amplifier sat at there (the
  stimulated trial's recorded value). The second step matters where the recording holds no trace of
  the artifact's size (every channel clipped at once): the estimate there is a guess, and clipping
  ``nostim + estimate`` alone would saturate the synthetic trace less than the real one, so the
  synthetic pipeline would lose fewer spikes than the real one and the gain correction of §3.7 would
  undercorrect. Only samples found actually saturated on the stimulated trial are copied: a sample
  merely near the limit there keeps its own synthetic value.
* `waveform_correlation` (§3.5): mean waveforms on the peak channel and its six nearest channels
  before, during and after stimulation, correlated (Pearson, over the concatenated 7-channel waveform)
  against the spontaneous waveform.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks
from jaxtyping import Bool, Float, Int

from neurodyn.validation import fail, positive

__all__ = ["noise_sigma", "detect_spikes", "score_spikes", "synthetic_stimulation", "waveform_correlation",
           "mean_waveform", "neighbour_channels"]


def noise_sigma(x: Float[np.ndarray, "time channels"]) -> Float[np.ndarray, " channels"]:
    """Robust per-channel noise level ``median(|x - median x|) / 0.6745`` for ``x`` (time, channels)."""
    x = np.asarray(x, dtype=float)
    return np.median(np.abs(x - np.median(x, 0)), 0) / 0.6745


def detect_spikes(trace: Float[np.ndarray, " time"], fs: float, sigma: float, threshold: float = 4.5,
                  dead_ms: float = 1.0, baseline: float | None = None,
                  blanked: Bool[np.ndarray, " time"] | None = None) -> Int[np.ndarray, " spikes"]:
    """Sample indices of negative peaks below ``baseline - threshold * sigma`` of one channel's
    ``trace``, at least ``dead_ms`` apart (the larger kept); ``baseline`` defaults to the trace's
    median. ``blanked`` (bool, like ``trace``): cleared samples; a peak on or next to one is dropped."""
    positive("sigma", sigma)
    positive("threshold", threshold)
    x = np.asarray(trace, dtype=float)
    if x.ndim != 1:
        fail("trace", x, "a 1-d trace of one channel")
    base = float(np.median(x)) if baseline is None else float(baseline)
    dead = max(1, int(round(dead_ms * 1e-3 * fs)))
    if blanked is None:
        return find_peaks(base - x, height=threshold * sigma, distance=dead)[0]
    b = np.asarray(blanked, bool)
    if b.shape != x.shape:
        fail("blanked", b, f"a mask shaped like trace {x.shape}")
    peaks, props = find_peaks(base - x, height=threshold * sigma)
    near = b.copy()
    near[1:] |= b[:-1]
    near[:-1] |= b[1:]
    keep = ~near[peaks]
    peaks, heights = peaks[keep], props["peak_heights"][keep]
    if peaks.size < 2:
        return peaks
    # dead time among the accepted peaks (largest first), as find_peaks(distance=...) does
    sparse = np.full(x.size, -1.0)
    sparse[peaks] = heights
    return find_peaks(sparse, height=0.0, distance=dead)[0]


def score_spikes(true: Int[np.ndarray, " spikes"], detected: Int[np.ndarray, " detected"], tol: int) -> tuple[int, int]:
    """``(recovered, fabricated)`` counts: one-to-one matches of ``detected`` to ``true`` within ``tol``
    samples (seed 001 §3.6); fabricated = detected spikes left unmatched."""
    t = np.sort(np.asarray(true, int))
    d = np.sort(np.asarray(detected, int))
    used = np.zeros(d.size, bool)
    recovered = 0
    j0 = 0
    for s in t:
        while j0 < d.size and d[j0] < s - tol:
            j0 += 1
        j = j0
        best = -1
        while j < d.size and d[j] <= s + tol:
            if not used[j] and (best < 0 or abs(d[j] - s) < abs(d[best] - s)):
                best = j
            j += 1
        if best >= 0:
            used[best] = True
            recovered += 1
    return recovered, int(d.size - used.sum())


def synthetic_stimulation(nostim: Float[np.ndarray, "*trials time channels"],
                          artifact: Float[np.ndarray, "time channels"],
                          lo: Float[np.ndarray, " channels"], hi: Float[np.ndarray, " channels"],
                          saturated: Bool[np.ndarray, "*trials time channels"] | None = None,
                          stim: Float[np.ndarray, "*trials time channels"] | None = None
                          ) -> Float[np.ndarray, "*trials time channels"]:
    """Synthetic stimulation traces (seed 001 §3.6): ``clip(nostim + artifact, lo, hi)`` per channel;
    where ``saturated`` (samples of the stimulated trials ``stim`` found saturated, both shaped like
    nostim) the trace takes the stimulated trial's recorded value, clipped to ``[lo, hi]``."""
    x = np.asarray(nostim, dtype=float)
    a = np.asarray(artifact, dtype=float)
    if a.shape != x.shape[-a.ndim:] and a.shape != x.shape:
        fail("artifact", a, f"shape broadcastable to nostim {x.shape}")
    out = x + a
    if saturated is not None:
        m = np.asarray(saturated, bool)
        if m.shape != x.shape:
            fail("saturated", m, f"a mask shaped like nostim {x.shape}")
        if stim is None or np.shape(stim) != x.shape:
            fail("stim", None if stim is None else np.shape(stim), f"stimulated traces shaped like nostim {x.shape}")
        out[m] = np.asarray(stim)[m]
    return np.clip(out, lo, hi)


def mean_waveform(x: Float[np.ndarray, "time channels"], times: Int[np.ndarray, " spikes"],
                  channels: Int[np.ndarray, " picked"], fs: float,
                  before_ms: float = 0.6, after_ms: float = 1.2) -> Float[np.ndarray, "samples picked"] | None:
    """Average snippet (samples, len(channels)) of ``x`` (time, channels) around ``times``, or None."""
    b, a = int(round(before_ms * 1e-3 * fs)), int(round(after_ms * 1e-3 * fs))
    times = np.asarray(times, int)
    times = times[(times >= b) & (times + a < x.shape[0])]
    if times.size == 0:
        return None
    idx = times[:, None] + np.arange(-b, a + 1)[None, :]
    return x[idx][:, :, channels].mean(0)


def waveform_correlation(ref: Float[np.ndarray, "samples picked"], other: Float[np.ndarray, "samples picked"]) -> float:
    """Pearson correlation of two multichannel mean waveforms, flattened (seed 001 §3.5)."""
    r, o = np.ravel(ref), np.ravel(other)
    if r.shape != o.shape:
        fail("other", other, f"a waveform of the same shape as ref {np.shape(ref)}")
    return float(np.corrcoef(r, o)[0, 1])


def neighbour_channels(positions: Float[np.ndarray, "channels 2"], centre: int, n: int = 7) -> Int[np.ndarray, " n"]:
    """The channel ``centre`` and its ``n - 1`` nearest channels (seed 001 §3.5 uses 7)."""
    pos = np.asarray(positions, float)
    d = np.linalg.norm(pos - pos[centre], axis=1)
    return np.argsort(d, kind="stable")[:n]

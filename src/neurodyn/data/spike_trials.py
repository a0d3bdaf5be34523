"""Spike times per trial into `PopulationData`: the one kernel of the spike-time loaders (NWB, .mat
structs of 1-ms rasters). Trials are aligned to an event, cut to a window, causally binned (rates in
spikes/s), optionally Gaussian-smoothed and averaged per condition (``docs/data_format.md``)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from jaxtyping import Float, Shaped

from neurodyn.validation import fail, positive
from neurodyn.data.binning import bin_spike_times
from neurodyn.data.population import PopulationData
from neurodyn.data.shaping import smooth, window_pair

__all__ = ["CONDITION_COLUMNS", "DEFAULT_SPIKE_BIN_MS", "bin_trials", "first_column", "transition_from"]

#: Trials-table columns (or struct fields) tried in order for the condition label when none is named.
CONDITION_COLUMNS = ("condition", "direction", "target", "reach_direction")
#: Bin width for spike times when none is given: the 10-ms causal bins of seed 001 Methods §7, §9.
DEFAULT_SPIKE_BIN_MS = 10.0


def first_column(columns: dict[str, Shaped[np.ndarray, " trials"]], wanted: str | None, name: str,
                 default: Sequence[str]) -> str | None:
    """The trial column ``wanted`` (checked to exist), else the first of ``default`` present, else None."""
    if wanted is not None:
        if wanted not in columns:
            fail(name, wanted, f"one of the trial columns: {', '.join(sorted(columns)) or '(none)'}")
        return wanted
    for c in default:
        if c in columns:
            return c
    return None


def bin_trials(path: str | Path,
               spikes_ms: Callable[[float, float], list[Float[np.ndarray, " spikes"]]] | None,
               events_ms: Float[np.ndarray, " trials"], labels: Shaped[np.ndarray, " trials"],
               starts_ms: Float[np.ndarray, " trials"], stops_ms: Float[np.ndarray, " trials"], *,
               window_ms: tuple[float, float] | None, bin_ms: float | None, smooth_ms: float | None, meta: dict,
               neurons: Shaped[np.ndarray, " neurons"] | None = None,
               areas: Shaped[np.ndarray, " neurons"] | None = None,
               raster: Callable[[int, float, float, float], Float[np.ndarray, "time neurons"]] | None = None
               ) -> PopulationData:
    """One kernel for spike-time files: drop trials without the event, bin each trial's spikes causally in
    ``(event + lo, event + hi]``, group by label, smooth.

    ``spikes_ms(a, b)`` returns the spike times in ``[a, b]`` (a list per neuron, ms on the file's clock);
    with ``raster(i, a, b, bin_ms)`` (1-ms rasters) trial i's whole-ms cut ``(a, b]`` is binned directly.
    """
    events_ms = np.asarray(events_ms, float)
    ok = np.isfinite(events_ms)
    dropped = int(np.sum(~ok))
    if not ok.any():
        raise ValueError(f"{path}: align_event={meta['align_event']!r} is missing in all {events_ms.size} trials; "
                         "expected an event time in at least one trial")
    if dropped:
        warnings.warn(f"{path}: dropped {dropped} of {events_ms.size} trials with no {meta['align_event']!r} time",
                      UserWarning, stacklevel=3)
    idx = np.flatnonzero(ok)
    rel_start = np.round(starts_ms[idx] - events_ms[idx], 6)
    rel_stop = np.round(stops_ms[idx] - events_ms[idx], 6)
    if window_ms is None:
        lo, hi = float(rel_start.max()), float(rel_stop.min())
        if not hi > lo:
            raise ValueError(f"{path}: the trials share no span around {meta['align_event']!r} (latest start "
                             f"{lo:g} ms, earliest stop {hi:g} ms); expected --set window_ms=[start, stop]")
        meta["window_source"] = f"the span every trial covers around {meta['align_event']}"
    else:
        lo, hi = window_pair(window_ms)
        meta["window_source"] = "as given"
    bin_ms = DEFAULT_SPIKE_BIN_MS if bin_ms is None else positive("bin_ms", bin_ms)
    n_bins = int(np.floor((hi - lo) / bin_ms + 1e-9))
    if n_bins < 1:
        fail("bin_ms", bin_ms, f"at most the window length {hi - lo:g} ms")
    binned = []
    for i in idx:
        e = float(events_ms[i])
        if raster is not None:
            binned.append(raster(i, e + lo, e + lo + n_bins * bin_ms, bin_ms))
        else:
            a, b = e + lo, e + lo + n_bins * bin_ms
            binned.append(bin_spike_times(spikes_ms(a, b), a, b, bin_ms)[0])
    t = lo + bin_ms * (np.arange(n_bins) + 1.0)
    meta.update(window_ms=[lo, lo + n_bins * bin_ms], dropped_trials=dropped, n_trials=int(idx.size),
                units="spikes/s", units_note="spikes/s (binned from spike times)")
    data = PopulationData.from_trials(np.stack(binned), np.asarray(labels)[idx], t, bin_ms=bin_ms,
                                      neurons=neurons, areas=areas, meta=meta)
    return smooth(data, smooth_ms) if smooth_ms is not None else data


def transition_from(columns: dict[str, Float[np.ndarray, " trials"]], align_event: str,
                    events_ms: Float[np.ndarray, " trials"], meta: dict) -> None:
    """The hold/go transition named by the file: the go cue's median time from the alignment event."""
    if "go_cue_time" in columns:
        go = np.asarray(columns["go_cue_time"], float)
        ok = np.isfinite(go) & np.isfinite(events_ms)
        if ok.any():
            meta["transition_ms"] = (0.0 if align_event == "go_cue_time"
                                     else float(np.round(np.median(go[ok] - events_ms[ok]), 6)))
            meta["transition_event"] = "go_cue_time"

"""Loaders into `PopulationData`: ``.npz``, MATLAB ``.mat`` (v5 via scipy.io, v7.3 via h5py), NWB.

Nothing is ever unpickled (``np.load(..., allow_pickle=False)``; MATLAB objects are read as arrays). A
file that cannot be read gives one line naming the file and what is wrong. The layouts and every
default are documented in ``docs/data_format.md``:

* **binned arrays** (``.npz``, or the same named variables in a ``.mat``): ``rates`` (C, T, N),
  ``t_ms`` (T,); optional ``condition``, ``counts``, ``bin_ms``, ``neuron``, ``area``,
  ``condition_<name>`` table columns, ``units`` (``"spikes/s"``, ``"normalized"`` or ``"counts"``),
  ``transition_ms`` (the hold/go transition on the ``t_ms`` clock) and single trials ``spikes``
  (trials, T, N) with ``trial_condition`` (trials,);
* **spike times per trial**: an NWB file (units table ``spike_times`` and a trials table, read with
  pynwb) or a v5 ``.mat`` struct array of trials whose ``spikes`` field is an N x T_ms 1-ms raster.
  Trials are aligned to ``align_event``, cut to ``window_ms``, causally binned into ``bin_ms`` bins
  (rates in spikes/s), optionally Gaussian-smoothed (``smooth_ms``) and averaged per value of
  ``condition_column``.

Units of binned arrays (`resolve_units`): a ``units`` entry in the file (or the ``units`` argument)
wins; otherwise integer-valued single trials whose maximum is below one spike per bin in spikes/s
(``1000 / bin_ms``) are counts per bin and are converted to spikes/s; rates with no value of magnitude
above `NORMALISED_MAX` are taken to be already normalised; other rates are spikes/s and must not be
negative.
"""

from __future__ import annotations

import warnings
import zipfile
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from neurodyn.validation import fail, positive, positive_int
from neurodyn.data.binning import bin_spike_raster, bin_spike_times, gaussian_smooth
from neurodyn.data.population import PopulationData

__all__ = ["CONDITION_COLUMNS", "DEFAULT_SPIKE_BIN_MS", "NORMALISED_MAX", "UNITS", "check_layout", "load",
           "load_mat", "load_npz", "load_nwb", "rebin", "reshape_bins", "resolve_units", "smooth", "window"]

#: Trials-table columns (or struct fields) tried in order for the condition label when none is named.
CONDITION_COLUMNS = ("condition", "direction", "target", "reach_direction")
#: Bin width for spike times when none is given: the 10-ms causal bins of seed 001 Methods §7, §9.
DEFAULT_SPIKE_BIN_MS = 10.0
#: Rates whose largest magnitude is at most this are taken to be already normalised: a recording in
#: spikes/s in which no neuron ever exceeds 5 spikes/s is implausible, whereas z-scores and soft-normalised
#: rates ``r / (range + 5)`` stay within it. Declare ``units`` in the file to override.
NORMALISED_MAX = 5.0
#: Accepted values of ``units``.
UNITS = ("spikes/s", "normalized", "counts")
_UNIT_ALIASES = {"spikes/s": "spikes/s", "hz": "spikes/s", "spikes/sec": "spikes/s", "sp/s": "spikes/s",
                 "normalized": "normalized", "normalised": "normalized", "a.u.": "normalized",
                 "z-score": "normalized", "zscore": "normalized", "counts": "counts", "count": "counts",
                 "counts/bin": "counts", "spikes/bin": "counts"}


def _units_name(value, name="units") -> str:
    key = str(value).strip().lower()
    if key not in _UNIT_ALIASES:
        fail(name, value, f"one of {', '.join(UNITS)} (or 'auto' to infer from the values)")
    return _UNIT_ALIASES[key]


# ---------------------------------------------------------------------------------------------- checks
def check_layout(shape, source="rates") -> str | None:
    """A warning text when a (C, T, N) shape looks like swapped axes, else None.

    More conditions than neurons, or fewer than 5 time bins, is unusual for population recordings and is
    what an array stored neurons x time x conditions (or time-last) looks like.
    """
    C, T, N = shape
    why = []
    if C > N:
        why.append(f"more conditions ({C}) than neurons ({N})")
    if T < 5:
        why.append(f"fewer than 5 time bins ({T})")
    if not why:
        return None
    return (f"{source} of shape {tuple(shape)}: {' and '.join(why)}; the axes may be swapped: expected "
            f"conditions x time x neurons (np.transpose the array if it is stored another way)")


def _is_count_like(x: np.ndarray, bin_ms: float) -> bool:
    return bool(x.size and np.all(x >= 0) and np.all(x == np.round(x)) and x.max() < 1000.0 / bin_ms)


def resolve_units(data: PopulationData, units: str = "auto", *, declared: str | None = None,
                  source="rates") -> PopulationData:
    """Rates in spikes/s or marked normalised (``meta['units']``, with ``meta['units_note']`` saying why).

    ``units`` (``'auto'`` or one of `UNITS`) overrides ``declared`` (the file's own entry). Counts per
    bin become spikes/s, ``count * 1000 / bin_ms``. Negative values are refused for spikes/s.
    """
    chosen = None if units in (None, "auto") else _units_name(units)
    how = "as given"
    if chosen is None and declared is not None:
        chosen, how = _units_name(declared, f"{source} units"), "declared in the file"
    rates, trials, bin_ms = data.rates, data.trials, data.bin_ms
    note = None
    if chosen is None and trials is not None and _is_count_like(trials[data.trial_mask], bin_ms):
        chosen, how = "counts", (f"inferred: integer single trials with maximum {trials.max():.0f} < "
                                 f"{1000.0 / bin_ms:g} (one spike per {bin_ms:g}-ms bin in spikes/s)")
    if chosen == "counts":
        f = 1000.0 / bin_ms
        if trials is not None:
            raw_mean = np.stack([t.mean(0) for t in data.trial_list()])
            rates_from_trials = np.allclose(rates, raw_mean)
            trials = trials * f
            rates = rates * f if rates_from_trials else rates
        else:
            rates = rates * f
        if np.any(rates < 0):
            fail(source, rates, "non-negative spike counts")
        note = f"counts per bin ({how}), converted to spikes/s with the {bin_ms:g}-ms bin width (x {f:g})"
        chosen = "spikes/s"
    lo, hi = float(rates.min()), float(rates.max())
    if chosen is None:
        if max(abs(lo), abs(hi)) <= NORMALISED_MAX:
            chosen, how = "normalized", (f"inferred: values in [{lo:.3g}, {hi:.3g}], none of magnitude above "
                                         f"{NORMALISED_MAX:g}, so already normalised")
        else:
            chosen, how = "spikes/s", f"inferred: values in [{lo:.3g}, {hi:.3g}]"
    if chosen == "spikes/s" and lo < 0:
        n_neg = int(np.sum(rates < 0))
        raise ValueError(f"{source}=array of shape {rates.shape}: expected non-negative rates in spikes/s, found "
                         f"{n_neg} negative values (min {lo:.3g}); if the values are normalised (z-scores, "
                         f"baseline-subtracted), declare units='normalized' in the file or --set units=normalized")
    meta = dict(data.meta)
    meta["units"] = chosen
    meta["units_note"] = note or f"{chosen} ({how})"
    return replace(data, rates=rates, trials=trials, meta=meta)


# ---------------------------------------------------------------------------------------------- shaping
def window(data: PopulationData, window_ms) -> PopulationData:
    """Bins whose end time lies in ``(window_ms[0], window_ms[1]]`` (the causal-bin convention)."""
    lo, hi = _window_pair(window_ms)
    keep = (data.t_ms > lo + 1e-9) & (data.t_ms <= hi + 1e-9)
    if not keep.any():
        fail("window_ms", list(window_ms), f"a window overlapping the recording's bins "
             f"({data.t_ms[0]:g} to {data.t_ms[-1]:g} ms)")
    return replace(data, rates=data.rates[:, keep], t_ms=data.t_ms[keep],
                   counts=None if data.counts is None else data.counts[:, keep],
                   trials=None if data.trials is None else data.trials[:, :, keep])


def rebin(data: PopulationData, bin_ms: float) -> PopulationData:
    """Merge every ``bin_ms / data.bin_ms`` consecutive bins (an integer factor): rates and trials are
    averaged, counts take the minimum, the new bin is labelled by its last bin's end time."""
    bin_ms = positive("bin_ms", bin_ms)
    f = bin_ms / data.bin_ms
    k = int(round(f))
    if k < 1 or abs(f - k) > 1e-6:
        fail("bin_ms", bin_ms, f"a whole multiple of the file's {data.bin_ms:g}-ms bins (binned data are "
             "merged, not re-cut)")
    if k == 1:
        return data
    C, T, N = data.shape
    m = T // k
    if m == 0:
        fail("bin_ms", bin_ms, f"at most the recording length ({T} bins of {data.bin_ms:g} ms)")

    def merge(x, axis, how):
        x = np.take(x, np.arange(m * k), axis=axis)
        shp = x.shape[:axis] + (m, k) + x.shape[axis + 1:]
        return getattr(x.reshape(shp), how)(axis + 1)

    return replace(data, rates=merge(data.rates, 1, "mean"), t_ms=data.t_ms[k - 1:m * k:k], bin_ms=bin_ms,
                   counts=None if data.counts is None else merge(data.counts, 1, "min"),
                   trials=None if data.trials is None else merge(data.trials, 2, "mean"))


def smooth(data: PopulationData, smooth_ms: float) -> PopulationData:
    """Gaussian smoothing along time with standard deviation ``smooth_ms`` (rates and single trials)."""
    positive("smooth_ms", smooth_ms)
    return replace(data, rates=gaussian_smooth(data.rates, smooth_ms, data.bin_ms, axis=1),
                   trials=None if data.trials is None else gaussian_smooth(data.trials, smooth_ms, data.bin_ms,
                                                                           axis=2))


def reshape_bins(data: PopulationData, *, bin_ms=None, window_ms=None, smooth_ms=None) -> PopulationData:
    """Re-bin to ``bin_ms``, cut to ``window_ms`` and smooth with a Gaussian of ``smooth_ms`` (each skipped
    when None), in that order: the binned-array path of every loader and of the bundled dataset."""
    if bin_ms is not None:
        data = rebin(data, bin_ms)
    if window_ms is not None:
        data = window(data, window_ms)
    if smooth_ms is not None:
        data = smooth(data, smooth_ms)
    return data


def _window_pair(window_ms) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in window_ms)
    except (TypeError, ValueError):
        fail("window_ms", window_ms, "[start, stop] in ms around the alignment event")
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        fail("window_ms", list(window_ms), "[start, stop] with stop > start (ms)")
    return lo, hi


# ---------------------------------------------------------------------------------------------- arrays
def _from_arrays(get, keys: Sequence[str], path, *, units="auto") -> PopulationData:
    keys = list(keys)
    if "rates" not in keys and not {"spikes", "trial_condition", "t_ms"} <= set(keys):
        raise ValueError(f"{path}: expected variables 'rates' and 't_ms' (or 'spikes', 'trial_condition', "
                         f"'t_ms'); found: {', '.join(sorted(keys)) or 'nothing'}")
    if "t_ms" not in keys:
        raise ValueError(f"{path}: expected a variable 't_ms' (bin times in ms); found: {', '.join(sorted(keys))}")
    t = np.asarray(get("t_ms"), float).ravel()
    opt = {}
    if "bin_ms" in keys:
        opt["bin_ms"] = float(np.asarray(get("bin_ms")).ravel()[0])
    if "neuron" in keys:
        opt["neurons"] = np.asarray(get("neuron")).ravel()
    if "area" in keys:
        opt["areas"] = np.asarray(get("area")).ravel()
    meta = {"source": str(path)}
    if "transition_ms" in keys:
        meta["transition_ms"] = float(np.asarray(get("transition_ms"), float).ravel()[0])
    declared = str(np.asarray(get("units")).ravel()[0]) if "units" in keys else None
    table = {k[len("condition_"):]: np.asarray(get(k)).ravel() for k in keys if k.startswith("condition_")}
    cond = np.asarray(get("condition")).ravel() if "condition" in keys else None
    for k in ("rates", "spikes"):
        if k in keys and np.ndim(get(k)) != 3:
            shp = np.shape(get(k))
            layout = "(conditions, time, neurons)" if k == "rates" else "(trials, time, neurons)"
            hint = "; one condition? add a leading axis (rates[None])" if k == "rates" and len(shp) == 2 else ""
            raise ValueError(f"{path}: {k}=array of shape {shp}: expected a 3-d array {layout}{hint}")
    if "spikes" in keys:
        if "trial_condition" not in keys:
            raise ValueError(f"{path}: 'spikes' needs 'trial_condition' (one label per trial); found: "
                             f"{', '.join(sorted(keys))}")
        data = PopulationData.from_trials(np.asarray(get("spikes"), float), np.asarray(get("trial_condition")).ravel(),
                                          t, conditions=cond, condition_table=table, meta=meta, **opt)
        if "rates" in keys:
            data = PopulationData(np.asarray(get("rates"), float), t, bin_ms=data.bin_ms,
                                  counts=np.asarray(get("counts"), float) if "counts" in keys else data.counts,
                                  trials=data.trials, trial_mask=data.trial_mask, conditions=data.conditions,
                                  condition_table=table, meta=meta,
                                  **{k: v for k, v in opt.items() if k != "bin_ms"})
    else:
        counts = np.asarray(get("counts"), float) if "counts" in keys else None
        data = PopulationData(np.asarray(get("rates"), float), t, counts=counts, conditions=cond,
                              condition_table=table, meta=meta, **opt)
    msg = check_layout(data.shape, f"{path}: rates")
    if msg:
        warnings.warn(msg, UserWarning, stacklevel=3)
    return resolve_units(data, units, declared=declared, source=f"{path}: rates")


def _shape_arrays(data: PopulationData, path, *, align_event=None, condition_column=None, window_ms=None,
                  bin_ms=None, smooth_ms=None) -> PopulationData:
    """Window, re-bin and smooth binned arrays; the spike-time options do not apply to them."""
    for name, value in (("align_event", align_event), ("condition_column", condition_column)):
        if value is not None:
            fail(name, value, f"None for {Path(str(path)).name}, which holds binned arrays already aligned and "
                 "grouped (align_event and condition_column apply to .nwb files and .mat structs of trials)")
    return reshape_bins(data, bin_ms=bin_ms, window_ms=window_ms, smooth_ms=smooth_ms)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            if not hasattr(f, "files"):
                raise ValueError("a single .npy array, not an .npz archive of named arrays")
            return {k: f[k] for k in f.files}
    except ValueError as exc:
        text = str(exc)
        if "pickle" in text:
            text = ("it holds object arrays (or is not an .npz archive); save plain numeric/string arrays, "
                    "object arrays are never unpickled")
        raise ValueError(f"path={str(path)!r}: expected a readable .npz file of numeric arrays: {text}") from None
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, KeyError) as exc:
        raise ValueError(f"path={str(path)!r}: expected a readable .npz file, the file is corrupt or truncated "
                         f"({type(exc).__name__}: {exc})") from None


def load_npz(path, *, units: str = "auto", window_ms=None, bin_ms=None, smooth_ms=None, align_event=None,
             condition_column=None) -> PopulationData:
    """Read the documented ``.npz`` layout (no pickles); see the module docstring for ``units``.

    ``window_ms`` keeps the bins ending in ``(start, stop]``, ``bin_ms`` merges bins (a whole multiple of
    the file's), ``smooth_ms`` smooths in time; ``align_event`` and ``condition_column`` apply only to
    spike-time files and are refused here."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path={str(path)!r}: expected an existing .npz file")
    arrays = _read_npz(path)
    data = _from_arrays(arrays.__getitem__, list(arrays), path, units=units)
    return _shape_arrays(data, path, align_event=align_event, condition_column=condition_column,
                         window_ms=window_ms, bin_ms=bin_ms, smooth_ms=smooth_ms)


# ---------------------------------------------------------------------------------------------- trials
def _first_column(columns, wanted, name, default):
    if wanted is not None:
        if wanted not in columns:
            fail(name, wanted, f"one of the trial columns: {', '.join(sorted(columns)) or '(none)'}")
        return wanted
    for c in default:
        if c in columns:
            return c
    return None


def _bin_trials(path, spikes_ms, events_ms, labels, starts_ms, stops_ms, *, window_ms, bin_ms, smooth_ms,
                meta, neurons=None, areas=None, raster=None) -> PopulationData:
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
        lo, hi = _window_pair(window_ms)
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


def _transition_from(columns: dict[str, np.ndarray], align_event: str, events_ms: np.ndarray, meta: dict):
    """The hold/go transition named by the file: the go cue's median time from the alignment event."""
    if "go_cue_time" in columns:
        go = np.asarray(columns["go_cue_time"], float)
        ok = np.isfinite(go) & np.isfinite(events_ms)
        if ok.any():
            meta["transition_ms"] = (0.0 if align_event == "go_cue_time"
                                     else float(np.round(np.median(go[ok] - events_ms[ok]), 6)))
            meta["transition_event"] = "go_cue_time"


def _raster_structs(path, mat: dict, trial_vars, *, bin_ms, t0_ms, align_event, condition_column, window_ms,
                    smooth_ms):
    found = [k for k, v in mat.items() if not k.startswith("__") and isinstance(v, np.ndarray)
             and v.dtype.names is not None and "spikes" in v.dtype.names]
    names = list(trial_vars) if trial_vars is not None else found
    for name in names:
        if name not in found:
            raise ValueError(f"{path}: expected a struct array {name!r} with a 'spikes' field; found: "
                             f"{', '.join(sorted(k for k in mat if not k.startswith('__')))}")
    if not names:
        return None

    def scalar(x):
        x = np.asarray(x)
        while x.dtype == object and x.size == 1:
            x = np.asarray(x.item())
        return x.ravel()[0] if x.size else np.nan

    rasters, fields = [], {}
    col_index = []
    for name in names:
        arr = mat[name]
        if arr.ndim == 1:
            arr = arr[:, None]
        for n in range(arr.shape[0]):
            for c in range(arr.shape[1]):
                el = arr[n, c]
                raster = np.asarray(el["spikes"])
                while raster.dtype == object:
                    raster = np.asarray(raster.item())
                rasters.append(raster)                                      # (N, T_ms)
                col_index.append(c)
                for fname in arr.dtype.names:
                    if fname != "spikes":
                        fields.setdefault(fname, []).append(el[fname])
    cols = {}
    for fname, vals in fields.items():
        try:
            cols[fname] = np.array([scalar(v) for v in vals])
        except (TypeError, ValueError):
            continue
    bin_ms = DEFAULT_SPIKE_BIN_MS if bin_ms is None else bin_ms
    bin_ms = positive_int("bin_ms", int(bin_ms) if float(bin_ms).is_integer() else bin_ms)
    ev_name = _first_column(cols, align_event, "align_event", ("go_cue_time",))
    cond_name = _first_column(cols, condition_column, "condition_column", CONDITION_COLUMNS)
    n_tr = len(rasters)
    events = (np.zeros(n_tr) if ev_name is None else np.asarray(cols[ev_name], float))
    labels = np.asarray(col_index) if cond_name is None else cols[cond_name]
    lengths = np.array([r.shape[1] for r in rasters], float)
    meta = {"source": str(path), "trial_vars": names, "align_event": ev_name or "raster start",
            "condition_column": cond_name or "struct column index"}
    if ev_name is not None:
        _transition_from(cols, ev_name, events, meta)

    def cut(i, a, b, bw):
        a_i, b_i = int(round(a)), int(round(b))
        r = rasters[i]
        seg = np.zeros((r.shape[0], b_i - a_i), r.dtype)
        lo_i, hi_i = max(a_i, 0), min(b_i, r.shape[1])
        if hi_i > lo_i:
            seg[:, lo_i - a_i:hi_i - a_i] = r[:, lo_i:hi_i]
        return bin_spike_raster(seg.T, int(round(bw)))[0]

    data = _bin_trials(path, None, events, labels, np.zeros(n_tr), lengths, window_ms=window_ms,
                       bin_ms=float(bin_ms), smooth_ms=smooth_ms, meta=meta, raster=cut)
    if t0_ms:
        meta = dict(data.meta, window_ms=[w + t0_ms for w in data.meta["window_ms"]])
        data = replace(data, t_ms=data.t_ms + t0_ms, meta=meta)
    return data


def _is_v73(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(128)
    return b"MATLAB 7.3" in head or head[:8] == b"\x89HDF\r\n\x1a\n"


def load_mat(path, *, trial_vars: Sequence[str] | None = None, bin_ms: float | None = None, t0_ms: float = 0.0,
             align_event: str | None = None, condition_column: str | None = None, window_ms=None,
             smooth_ms: float | None = None, units: str = "auto") -> PopulationData:
    """Read a MATLAB file (v5 with scipy.io, v7.3 with h5py) into `PopulationData`.

    Named variables as in the ``.npz`` layout are used when present. Otherwise (v5) struct arrays with a
    ``spikes`` field (N x T_ms 1-ms rasters, indexed [trial, condition]) named in ``trial_vars`` (all such
    arrays by default) are read as trials: aligned to the struct field ``align_event`` (ms from the raster
    start; default ``go_cue_time`` when present, else the raster start), cut to ``window_ms`` (default:
    the span every trial covers), binned causally into ``bin_ms`` bins (default 10 ms; times ``t0_ms +
    (k+1) bin_ms`` from the event) and grouped by the field ``condition_column`` (default: the first of
    `CONDITION_COLUMNS` that exists, else the struct array's column index).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path={str(path)!r}: expected an existing .mat file")
    if _is_v73(path):
        import h5py
        try:
            with h5py.File(path, "r") as f:
                keys = [k for k in f.keys() if isinstance(f[k], h5py.Dataset) and not k.startswith("#")]
                # MATLAB writes column-major arrays: h5py sees the axes reversed
                arrays = {k: np.asarray(f[k][()]).T for k in keys}
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(f"path={str(path)!r}: expected a readable MATLAB v7.3 (HDF5) file, the file is "
                             f"corrupt or truncated ({type(exc).__name__}: {exc})") from None
        arrays = {k: (v.astype(str).ravel()[0] if k == "units" and v.dtype.kind in "SU" else v)
                  for k, v in arrays.items()}
        data = _from_arrays(arrays.__getitem__, list(arrays), path, units=units)
        return _shape_arrays(data, path, align_event=align_event, condition_column=condition_column,
                             window_ms=window_ms, bin_ms=bin_ms, smooth_ms=smooth_ms)
    import scipy.io
    try:
        mat = scipy.io.loadmat(path, squeeze_me=False, struct_as_record=True, mat_dtype=False)
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError, EOFError, MatReadError, ...
        raise ValueError(f"path={str(path)!r}: expected a readable MATLAB .mat file, the file is corrupt, "
                         f"truncated or not a .mat file ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    keys = [k for k in mat if not k.startswith("__")]
    if "rates" in keys or "spikes" in keys:
        def get(k):
            v = mat[k]
            if k in ("rates", "counts", "spikes"):
                return v
            v = np.squeeze(v)
            return v.ravel()[0] if k == "units" and v.dtype.kind in "SU" and v.size else v
        data = _from_arrays(get, keys, path, units=units)
        return _shape_arrays(data, path, align_event=align_event, condition_column=condition_column,
                             window_ms=window_ms, bin_ms=bin_ms, smooth_ms=smooth_ms)
    data = _raster_structs(path, mat, trial_vars, bin_ms=bin_ms, t0_ms=t0_ms, align_event=align_event,
                           condition_column=condition_column, window_ms=window_ms, smooth_ms=smooth_ms)
    if data is None:
        raise ValueError(f"{path}: expected variables 'rates' and 't_ms' or a struct array of trials with a "
                         f"'spikes' field; found: {', '.join(sorted(keys)) or 'nothing'}")
    return data


def load_nwb(path, *, align_event: str | None = None, window_ms=None, bin_ms: float | None = None,
             condition_column: str | None = None, smooth_ms: float | None = None, units: str = "auto",
             event: str | None = None, condition: str | None = None) -> PopulationData:
    """Read an NWB file with pynwb: the units table's spike times, trial by trial, aligned and binned.

    ``align_event`` is a trials-table column of times in s (default ``go_cue_time`` when the table has
    one, else ``start_time``); trials where it is missing (NaN) are dropped, with a warning giving the
    count. Each trial's spikes in ``(event + window_ms[0], event + window_ms[1]]`` (default: the span
    from the latest ``start_time`` to the earliest ``stop_time`` relative to the event, so every trial
    covers it) are binned causally into ``bin_ms`` bins (default 10 ms; spikes/s), Gaussian-smoothed
    with SD ``smooth_ms`` when given, and grouped by the trials-table column ``condition_column``
    (default: the first of `CONDITION_COLUMNS` present; one condition when none is). A ``go_cue_time``
    column gives the hold/go transition (``meta['transition_ms']``). ``event`` and ``condition`` are
    older names of ``align_event`` and ``condition_column``; ``units`` must be 'auto' or 'spikes/s'.
    """
    import pynwb
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path={str(path)!r}: expected an existing .nwb file")
    align_event = align_event if align_event is not None else event
    condition_column = condition_column if condition_column is not None else condition
    if units not in (None, "auto") and _units_name(units) != "spikes/s":
        fail("units", units, "'auto' or 'spikes/s' for spike times (binned into spikes/s)")
    if window_ms is not None:
        _window_pair(window_ms)
    try:
        with pynwb.NWBHDF5IO(str(path), "r") as io:
            nwb = io.read()
            if nwb.units is None or nwb.trials is None:
                raise ValueError(f"{path}: expected a units table and a trials table; found units="
                                 f"{nwb.units is not None}, trials={nwb.trials is not None}")
            names = list(dict.fromkeys(["start_time", "stop_time", *nwb.trials.colnames]))
            cols = {}
            for c in names:
                try:
                    cols[c] = np.asarray(nwb.trials[c][:])
                except (TypeError, ValueError):
                    continue
            spikes = [np.sort(np.asarray(nwb.units["spike_times"][i], float) * 1000.0) for i in range(len(nwb.units))]
            unit_ids = np.asarray(nwb.units.id[:])
            areas = None
            for c in ("area", "location", "brain_area"):
                if c in nwb.units.colnames:
                    areas = np.asarray(nwb.units[c][:]).astype(str)
                    break
    except ValueError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise ValueError(f"path={str(path)!r}: expected a readable NWB file ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    except Exception as exc:  # h5py/hdmf raise OSError, KeyError, TypeError, hdmf errors on broken files
        raise ValueError(f"path={str(path)!r}: expected a readable NWB file, the file is corrupt or truncated "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    n = cols["start_time"].size
    if n == 0:
        raise ValueError(f"{path}: expected at least one trial in the trials table; found none")
    ev_name = _first_column(cols, align_event, "align_event", ("go_cue_time", "start_time"))
    cond_name = _first_column(cols, condition_column, "condition_column", CONDITION_COLUMNS)
    meta = {"source": str(path), "align_event": ev_name, "condition_column": cond_name}
    if cond_name is None:
        others = sorted(c for c in cols if c not in ("start_time", "stop_time"))
        meta["condition_column"] = None
        warnings.warn(f"{path}: no condition column ({', '.join(CONDITION_COLUMNS)}) in the trials table; all "
                      f"trials form one condition (set condition_column to one of: {', '.join(others) or 'none'})",
                      UserWarning, stacklevel=2)
    events = np.asarray(cols[ev_name], float) * 1000.0
    _transition_from({k: np.asarray(v, float) * 1000.0 for k, v in cols.items() if k == "go_cue_time"}, ev_name,
                     events, meta)
    labels = cols[cond_name] if cond_name is not None else np.zeros(n, int)
    def in_window(a, b):                           # sorted spike times: slice each unit's to [a, b]
        return [st[np.searchsorted(st, a):np.searchsorted(st, b, side="right")] for st in spikes]

    return _bin_trials(path, in_window, events, labels, cols["start_time"] * 1000.0,
                       cols["stop_time"] * 1000.0, window_ms=window_ms, bin_ms=bin_ms, smooth_ms=smooth_ms,
                       meta=meta, neurons=unit_ids, areas=areas)


def load(path, **kwargs) -> PopulationData:
    """Dispatch on the suffix: ``.npz``, ``.mat``, ``.nwb`` (keyword options as for each loader)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        return load_npz(path, **kwargs)
    if suffix == ".mat":
        return load_mat(path, **kwargs)
    if suffix == ".nwb":
        return load_nwb(path, **kwargs)
    raise ValueError(f"path={str(path)!r}: expected a .npz, .mat or .nwb file")

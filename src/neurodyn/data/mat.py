"""MATLAB files into `PopulationData`: v5 with scipy.io, v7.3 (HDF5) with h5py; the binned-array layout
or (v5) struct arrays of trials with 1-ms spike rasters (``docs/data_format.md``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from neurodyn.validation import positive_int
from neurodyn.data.binning import bin_spike_raster
from neurodyn.data.npz import population_from_arrays, shape_binned
from neurodyn.data.population import PopulationData
from neurodyn.data.spike_trials import (CONDITION_COLUMNS, DEFAULT_SPIKE_BIN_MS, bin_trials, first_column,
                                        transition_from)

__all__ = ["load_mat"]


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
    ev_name = first_column(cols, align_event, "align_event", ("go_cue_time",))
    cond_name = first_column(cols, condition_column, "condition_column", CONDITION_COLUMNS)
    n_tr = len(rasters)
    events = (np.zeros(n_tr) if ev_name is None else np.asarray(cols[ev_name], float))
    labels = np.asarray(col_index) if cond_name is None else cols[cond_name]
    lengths = np.array([r.shape[1] for r in rasters], float)
    meta = {"source": str(path), "trial_vars": names, "align_event": ev_name or "raster start",
            "condition_column": cond_name or "struct column index"}
    if ev_name is not None:
        transition_from(cols, ev_name, events, meta)

    def cut(i, a, b, bw):
        a_i, b_i = int(round(a)), int(round(b))
        r = rasters[i]
        seg = np.zeros((r.shape[0], b_i - a_i), r.dtype)
        lo_i, hi_i = max(a_i, 0), min(b_i, r.shape[1])
        if hi_i > lo_i:
            seg[:, lo_i - a_i:hi_i - a_i] = r[:, lo_i:hi_i]
        return bin_spike_raster(seg.T, int(round(bw)))[0]

    data = bin_trials(path, None, events, labels, np.zeros(n_tr), lengths, window_ms=window_ms,
                       bin_ms=float(bin_ms), smooth_ms=smooth_ms, meta=meta, raster=cut)
    if t0_ms:
        meta = dict(data.meta, window_ms=[w + t0_ms for w in data.meta["window_ms"]])
        data = replace(data, t_ms=data.t_ms + t0_ms, meta=meta)
    return data


def _is_v73(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(128)
    return b"MATLAB 7.3" in head or head[:8] == b"\x89HDF\r\n\x1a\n"


def load_mat(path: str | Path, *, trial_vars: Sequence[str] | None = None, bin_ms: float | None = None,
             t0_ms: float = 0.0, align_event: str | None = None, condition_column: str | None = None,
             window_ms: tuple[float, float] | None = None, smooth_ms: float | None = None,
             units: str = "auto") -> PopulationData:
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
        data = population_from_arrays(arrays.__getitem__, list(arrays), path, units=units)
        return shape_binned(data, path, align_event=align_event, condition_column=condition_column,
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
        data = population_from_arrays(get, keys, path, units=units)
        return shape_binned(data, path, align_event=align_event, condition_column=condition_column,
                             window_ms=window_ms, bin_ms=bin_ms, smooth_ms=smooth_ms)
    data = _raster_structs(path, mat, trial_vars, bin_ms=bin_ms, t0_ms=t0_ms, align_event=align_event,
                           condition_column=condition_column, window_ms=window_ms, smooth_ms=smooth_ms)
    if data is None:
        raise ValueError(f"{path}: expected variables 'rates' and 't_ms' or a struct array of trials with a "
                         f"'spikes' field; found: {', '.join(sorted(keys)) or 'nothing'}")
    return data

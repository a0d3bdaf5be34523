"""Loaders into `PopulationData`: ``.npz``, MATLAB ``.mat`` (v5 via scipy.io, v7.3 via h5py), NWB.

Nothing is ever unpickled (``np.load(..., allow_pickle=False)``; MATLAB objects are read as arrays).
The ``.npz`` layout is documented in ``docs/data_format.md``:

``rates`` (C, T, N) float, ``t_ms`` (T,); optional ``condition`` (C,), ``counts`` (C, T, N),
``bin_ms`` (scalar), ``neuron`` and ``area`` (N,), ``condition_<name>`` (C,) table columns, and single
trials ``spikes`` (trials, T, N) in the units of ``rates`` with ``trial_condition`` (trials,).

``.mat`` files hold either the same named variables (v5 or v7.3), or (v5) a struct array of trials
whose elements have a ``spikes`` field, an N x T_ms 1-ms raster, indexed ``[trial, condition]`` (the
layout of the premotor delayed-reach teaching dataset); those rasters are causally binned.

NWB files are read with pynwb: the units table's spike times and the trials table, aligned to an event
column (e.g. ``go_cue_time``), cut to a window, causally binned and grouped by a condition column.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

from neurodyn._validate import fail, positive_int
from neurodyn.data.binning import bin_spike_raster, bin_spike_times
from neurodyn.data.population import PopulationData

__all__ = ["load", "load_mat", "load_npz", "load_nwb"]


def _from_arrays(get, keys: Sequence[str], path) -> PopulationData:
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
    table = {k[len("condition_"):]: np.asarray(get(k)).ravel() for k in keys if k.startswith("condition_")}
    cond = np.asarray(get("condition")).ravel() if "condition" in keys else None
    if "spikes" in keys:
        if "trial_condition" not in keys:
            raise ValueError(f"{path}: 'spikes' needs 'trial_condition' (one label per trial); found: "
                             f"{', '.join(sorted(keys))}")
        data = PopulationData.from_trials(np.asarray(get("spikes"), float), np.asarray(get("trial_condition")).ravel(),
                                          t, conditions=cond, condition_table=table, **opt)
        if "rates" in keys:
            data = PopulationData(np.asarray(get("rates"), float), t, bin_ms=data.bin_ms,
                                  counts=np.asarray(get("counts"), float) if "counts" in keys else data.counts,
                                  trials=data.trials, trial_mask=data.trial_mask, conditions=data.conditions,
                                  condition_table=table, **{k: v for k, v in opt.items() if k != "bin_ms"})
        return data
    counts = np.asarray(get("counts"), float) if "counts" in keys else None
    return PopulationData(np.asarray(get("rates"), float), t, counts=counts, conditions=cond,
                          condition_table=table, **opt)


def load_npz(path) -> PopulationData:
    """Read the documented ``.npz`` layout (no pickles)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path={str(path)!r}: expected an existing .npz file")
    try:
        with np.load(path, allow_pickle=False) as f:
            return _from_arrays(lambda k: f[k], f.files, path)
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        raise ValueError(f"path={str(path)!r}: expected a readable .npz file, the file is corrupt or truncated "
                         f"({type(exc).__name__}: {exc})") from None


def _is_v73(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(128)
    return b"MATLAB 7.3" in head or head[:8] == b"\x89HDF\r\n\x1a\n"


def _raster_structs(path, mat: dict, trial_vars, bin_ms: int):
    found = [k for k, v in mat.items() if not k.startswith("__") and isinstance(v, np.ndarray)
             and v.dtype.names is not None and "spikes" in v.dtype.names]
    names = list(trial_vars) if trial_vars is not None else found
    for name in names:
        if name not in found:
            raise ValueError(f"{path}: expected a struct array {name!r} with a 'spikes' field; found: "
                             f"{', '.join(sorted(k for k in mat if not k.startswith('__')))}")
    if not names:
        return None
    binned, labels, t = [], [], None
    for name in names:
        arr = mat[name]
        if arr.ndim == 1:
            arr = arr[:, None]
        for n in range(arr.shape[0]):
            for c in range(arr.shape[1]):
                raster = np.asarray(arr[n, c]["spikes"])
                while raster.dtype == object:
                    raster = np.asarray(raster.item())
                r, t = bin_spike_raster(raster.T, bin_ms)                  # (T, N)
                binned.append(r)
                labels.append(c)
    return PopulationData.from_trials(np.stack(binned), np.array(labels), t, bin_ms=float(bin_ms),
                                      meta={"source": str(path), "trial_vars": names})


def load_mat(path, *, trial_vars: Sequence[str] | None = None, bin_ms: int = 10,
             t0_ms: float = 0.0) -> PopulationData:
    """Read a MATLAB file (v5 with scipy.io, v7.3 with h5py) into `PopulationData`.

    Named variables as in the ``.npz`` layout are used when present; otherwise (v5) struct arrays with a
    ``spikes`` field (N x T_ms 1-ms rasters, indexed [trial, condition]) named in ``trial_vars`` (all
    such arrays by default) are binned causally into ``bin_ms`` bins, times ``t0_ms + (k+1) bin_ms``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path={str(path)!r}: expected an existing .mat file")
    bin_ms = positive_int("bin_ms", bin_ms)
    if _is_v73(path):
        import h5py
        try:
            fh = h5py.File(path, "r")
        except OSError as exc:
            raise ValueError(f"path={str(path)!r}: expected a readable MATLAB v7.3 (HDF5) file ({exc})") from None
        with fh as f:
            keys = [k for k in f.keys() if isinstance(f[k], h5py.Dataset) and not k.startswith("#")]
            # MATLAB writes column-major arrays: h5py sees the axes reversed
            return _from_arrays(lambda k: np.asarray(f[k][()]).T, keys, path)
    import scipy.io
    try:
        mat = scipy.io.loadmat(path, squeeze_me=False, struct_as_record=True, mat_dtype=False)
    except (ValueError, TypeError, OSError, EOFError) as exc:
        raise ValueError(f"path={str(path)!r}: expected a readable MATLAB .mat file, the file is corrupt, "
                         f"truncated or not a .mat file ({type(exc).__name__}: {exc})") from None
    keys = [k for k in mat if not k.startswith("__")]
    if "rates" in keys or "spikes" in keys:
        return _from_arrays(lambda k: np.squeeze(mat[k]) if k not in ("rates", "counts", "spikes") else mat[k],
                            keys, path)
    data = _raster_structs(path, mat, trial_vars, bin_ms)
    if data is None:
        raise ValueError(f"{path}: expected variables 'rates' and 't_ms' or a struct array of trials with a "
                         f"'spikes' field; found: {', '.join(sorted(keys)) or 'nothing'}")
    if t0_ms:
        from dataclasses import replace
        data = replace(data, t_ms=data.t_ms + t0_ms)
    return data


def load_nwb(path, *, event: str = "start_time", window_ms: tuple[float, float] = (-200.0, 500.0),
             bin_ms: float = 10.0, condition: str | None = None) -> PopulationData:
    """Read an NWB file with pynwb: units x trials, aligned to ``event``, binned causally.

    ``event`` is a column of the trials table (times in s); each trial's spikes in
    ``(event + window_ms[0], event + window_ms[1]]`` are binned into ``bin_ms`` bins; trials are grouped
    by the trials-table column ``condition`` (one condition when None).
    """
    import pynwb
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path={str(path)!r}: expected an existing .nwb file")
    lo, hi = float(window_ms[0]), float(window_ms[1])
    if not hi > lo:
        fail("window_ms", window_ms, "(start, stop) with stop > start")
    try:
        io = pynwb.NWBHDF5IO(str(path), "r")
        nwb = io.read()
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"path={str(path)!r}: expected a readable NWB file ({type(exc).__name__}: {exc})") from None
    with io:
        if nwb.units is None or nwb.trials is None:
            raise ValueError(f"{path}: expected a units table and a trials table; found units="
                             f"{nwb.units is not None}, trials={nwb.trials is not None}")
        cols = list(nwb.trials.colnames) + ["start_time", "stop_time"]
        if event not in cols:
            fail("event", event, f"a trials-table column, one of {', '.join(sorted(set(cols)))}")
        if condition is not None and condition not in cols:
            fail("condition", condition, f"a trials-table column, one of {', '.join(sorted(set(cols)))}")
        ev = np.asarray(nwb.trials[event][:], float) * 1000.0
        labels = (np.asarray(nwb.trials[condition][:]) if condition is not None else np.zeros(ev.size, int))
        spikes = [np.asarray(nwb.units["spike_times"][i], float) * 1000.0 for i in range(len(nwb.units))]
        unit_ids = np.asarray(nwb.units.id[:])
    if ev.size == 0:
        raise ValueError(f"{path}: expected at least one trial in the trials table; found none")
    trials = [bin_spike_times(spikes, e + lo, e + hi, bin_ms)[0] for e in ev]
    t = lo + bin_ms * (np.arange(trials[0].shape[0]) + 1.0)              # bin ends relative to the event
    return PopulationData.from_trials(np.stack(trials), labels, t, bin_ms=bin_ms,
                                      neurons=unit_ids, meta={"source": str(path), "event": event})


def load(path, **kwargs) -> PopulationData:
    """Dispatch on the suffix: ``.npz``, ``.mat``, ``.nwb``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        return load_npz(path, **kwargs)
    if suffix == ".mat":
        return load_mat(path, **kwargs)
    if suffix == ".nwb":
        return load_nwb(path, **kwargs)
    raise ValueError(f"path={str(path)!r}: expected a .npz, .mat or .nwb file")

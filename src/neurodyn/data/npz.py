"""The binned-array layout (``.npz``, or the same named variables in a ``.mat``) into `PopulationData`.

``rates`` (conditions, time, neurons), ``t_ms`` (time,); optional ``condition``, ``counts``, ``bin_ms``,
``neuron``, ``area``, ``condition_<name>`` table columns, ``units`` (``"spikes/s"``, ``"normalized"`` or
``"counts"``), ``transition_ms`` (the hold/go transition on the ``t_ms`` clock) and single trials
``spikes`` (trials, time, neurons) with ``trial_condition`` (trials,). Nothing is ever unpickled
(``np.load(..., allow_pickle=False)``); see ``docs/data_format.md``.
"""

from __future__ import annotations

import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from jaxtyping import Shaped

from neurodyn.validation import fail
from neurodyn.data.population import PopulationData
from neurodyn.data.shaping import reshape_bins
from neurodyn.data.units import check_layout, resolve_units

__all__ = ["load_npz", "population_from_arrays", "shape_binned"]


def population_from_arrays(get: Callable[[str], Shaped[np.ndarray, "..."]], keys: Sequence[str], path: str | Path,
                           *, units: str = "auto") -> PopulationData:
    """`PopulationData` from the named variables of the binned-array layout (module docstring); ``get(key)``
    reads one variable, ``keys`` lists those present; units resolved by `resolve_units`."""
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


def shape_binned(data: PopulationData, path: str | Path, *, align_event: str | None = None,
                 condition_column: str | None = None, window_ms: tuple[float, float] | None = None,
                 bin_ms: float | None = None, smooth_ms: float | None = None) -> PopulationData:
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


def load_npz(path: str | Path, *, units: str = "auto", window_ms: tuple[float, float] | None = None,
             bin_ms: float | None = None, smooth_ms: float | None = None, align_event: str | None = None,
             condition_column: str | None = None) -> PopulationData:
    """Read the documented ``.npz`` layout (no pickles); see the module docstring for ``units``.

    ``window_ms`` keeps the bins ending in ``(start, stop]``, ``bin_ms`` merges bins (a whole multiple of
    the file's), ``smooth_ms`` smooths in time; ``align_event`` and ``condition_column`` apply only to
    spike-time files and are refused here."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path={str(path)!r}: expected an existing .npz file")
    arrays = _read_npz(path)
    data = population_from_arrays(arrays.__getitem__, list(arrays), path, units=units)
    return shape_binned(data, path, align_event=align_event, condition_column=condition_column,
                         window_ms=window_ms, bin_ms=bin_ms, smooth_ms=smooth_ms)

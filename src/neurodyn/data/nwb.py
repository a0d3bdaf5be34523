"""NWB files into `PopulationData` (pynwb): the units table's spike times, trial by trial, aligned and
binned (``docs/data_format.md``)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from neurodyn.validation import fail
from neurodyn.data.population import PopulationData
from neurodyn.data.shaping import window_pair
from neurodyn.data.spike_trials import CONDITION_COLUMNS, bin_trials, first_column, transition_from
from neurodyn.data.units import units_name

__all__ = ["load_nwb"]


def load_nwb(path: str | Path, *, align_event: str | None = None, window_ms: tuple[float, float] | None = None,
             bin_ms: float | None = None,
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
    if units not in (None, "auto") and units_name(units) != "spikes/s":
        fail("units", units, "'auto' or 'spikes/s' for spike times (binned into spikes/s)")
    if window_ms is not None:
        window_pair(window_ms)
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
    ev_name = first_column(cols, align_event, "align_event", ("go_cue_time", "start_time"))
    cond_name = first_column(cols, condition_column, "condition_column", CONDITION_COLUMNS)
    meta = {"source": str(path), "align_event": ev_name, "condition_column": cond_name}
    if cond_name is None:
        others = sorted(c for c in cols if c not in ("start_time", "stop_time"))
        meta["condition_column"] = None
        warnings.warn(f"{path}: no condition column ({', '.join(CONDITION_COLUMNS)}) in the trials table; all "
                      f"trials form one condition (set condition_column to one of: {', '.join(others) or 'none'})",
                      UserWarning, stacklevel=2)
    events = np.asarray(cols[ev_name], float) * 1000.0
    transition_from({k: np.asarray(v, float) * 1000.0 for k, v in cols.items() if k == "go_cue_time"}, ev_name,
                     events, meta)
    labels = cols[cond_name] if cond_name is not None else np.zeros(n, int)
    def in_window(a, b):                           # sorted spike times: slice each unit's to [a, b]
        return [st[np.searchsorted(st, a):np.searchsorted(st, b, side="right")] for st in spikes]

    return bin_trials(path, in_window, events, labels, cols["start_time"] * 1000.0,
                       cols["stop_time"] * 1000.0, window_ms=window_ms, bin_ms=bin_ms, smooth_ms=smooth_ms,
                       meta=meta, neurons=unit_ids, areas=areas)

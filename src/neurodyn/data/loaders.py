"""Loaders into `PopulationData`: ``.npz``, MATLAB ``.mat`` (v5 via scipy.io, v7.3 via h5py), NWB.

Nothing is ever unpickled (``np.load(..., allow_pickle=False)``; MATLAB objects are read as arrays). A
file that cannot be read gives one line naming the file and what is wrong. The layouts and every
default are documented in ``docs/data_format.md``:

* **binned arrays** (``.npz``, or the same named variables in a ``.mat``): ``rates`` (conditions, time, neurons),
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

The loaders live one format a file (`neurodyn.data.npz`, `neurodyn.data.mat`, `neurodyn.data.nwb`), on
shared steps: units (`neurodyn.data.units`), re-binning and windows (`neurodyn.data.shaping`) and the
spike-time trial binning (`neurodyn.data.spike_trials`). This module dispatches on the suffix (`load`);
every public name stays importable from it.
"""

from __future__ import annotations

from pathlib import Path

from neurodyn.data.mat import load_mat
from neurodyn.data.npz import load_npz
from neurodyn.data.nwb import load_nwb
from neurodyn.data.population import PopulationData
from neurodyn.data.shaping import rebin, reshape_bins, smooth, window
from neurodyn.data.spike_trials import CONDITION_COLUMNS, DEFAULT_SPIKE_BIN_MS
from neurodyn.data.units import NORMALISED_MAX, UNITS, check_layout, resolve_units

__all__ = ["CONDITION_COLUMNS", "DEFAULT_SPIKE_BIN_MS", "NORMALISED_MAX", "UNITS", "check_layout", "load",
           "load_mat", "load_npz", "load_nwb", "rebin", "reshape_bins", "resolve_units", "smooth", "window"]


def load(path: str | Path, **kwargs) -> PopulationData:
    """Dispatch on the suffix: ``.npz``, ``.mat``, ``.nwb`` (keyword options as for each loader)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        return load_npz(path, **kwargs)
    if suffix == ".mat":
        return load_mat(path, **kwargs)
    if suffix == ".nwb":
        return load_nwb(path, **kwargs)
    raise ValueError(f"path={str(path)!r}: expected a .npz, .mat or .nwb file")
"""From a recording to the rates a model is fitted to, with defaults that come from the data.

One function for every fit (`prepare_fit_data`): load (bundled data when no path is given), cut the time
window, normalise according to the data's units and place the hold/go input transition, then print the
resolved settings once and return them (the fit experiments write them to ``config.json``).

Each ``"auto"`` setting resolves as follows (docs/data_format.md):

* window (``t_min_ms``, ``t_max_ms``): a user's file is used whole; the bundled dataset uses its own
  fit window (`example_settings`, or ``bundled_window_ms``). ``None`` keeps every bin.
* normalisation (``soft_norm``): soft normalisation ``r / (range(r) + 5)`` per neuron (seed 001 §6,
  the 5 spikes/s constant) only for rates in spikes/s; values already normalised are left as they are.
* transition (``transition_ms``): the file's own (a ``transition_ms`` entry, the NWB ``go_cue_time``
  relative to the alignment event), the bundled dataset's, else one input epoch. An explicit time must
  leave both epochs at least two bins; ``None`` means one epoch.

The piecewise-constant inputs of seed 001 §9 switch at the first bin of the go epoch,
``kappa(t) = hold for t < t_transition, go otherwise`` (`transition_bin`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from jaxtyping import Float

from neurodyn.fileio import update_json
from neurodyn.data.examples import example_settings, load_example
from neurodyn.data.loaders import load, reshape_bins
from neurodyn.data.population import PopulationData

__all__ = ["BUNDLED", "SOFT_NORM_SPIKES", "FitData", "prepare_fit_data", "prepare_from_config", "transition_bin"]

#: The dataset used when no ``data`` path is given.
BUNDLED = "hatsopoulos2007"
#: Soft-normalisation constant for rates in spikes/s (seed 001 §6: ``r / (range + 5)``).
SOFT_NORM_SPIKES = 5.0
#: The config keys `prepare_from_config` reads (those a config lacks keep their defaults).
KEYS = ("data", "t_min_ms", "t_max_ms", "transition_ms", "soft_norm", "units", "align_event", "condition_column",
        "window_ms", "bin_ms", "smooth_ms", "bundled_window_ms")


def transition_bin(t_ms: Float[np.ndarray, " time"], transition_ms: float | None) -> int | None:
    """Index of the first bin of the go epoch (piecewise-constant inputs of seed 001 §9).

    ``k = #{t in t_ms : t < transition_ms}``; both epochs must keep at least two bins (``2 <= k <= T-1``).
    """
    if transition_ms is None:
        return None
    k = int(np.searchsorted(t_ms, transition_ms))
    if k < 2 or k > t_ms.size - 1:
        lo = t_ms[2] if t_ms.size > 2 else t_ms[-1]
        raise ValueError(f"transition_ms={transition_ms}: expected a time inside the window "
                         f"({lo:.0f} to {t_ms[-1]:.0f} ms) so both epochs have bins")
    return k


@dataclass(frozen=True)
class FitData:
    """A recording prepared for fitting.

    ``data`` is the windowed recording in its own units; ``Y = data.rates / scale`` are the rates the
    model sees (``scale`` per neuron: ``range + soft_norm``, or ones); ``transition_bin`` is the first go
    bin (None: one input epoch); ``settings`` the resolved values, as printed.
    """

    data: PopulationData
    Y: Float[np.ndarray, "conditions time neurons"]
    scale: Float[np.ndarray, " neurons"]
    soft_norm: float | None
    transition_ms: float | None
    transition_bin: int | None
    settings: dict[str, Any] = field(default_factory=dict)

    def normalise(self, x: Float[np.ndarray, "*batch neurons"]) -> Float[np.ndarray, "*batch neurons"]:
        """Apply the same per-neuron normalisation to other arrays (e.g. single trials)."""
        return np.asarray(x, float) / self.scale


def prepare_fit_data(data: str | Path | None = None, *, t_min_ms: Any = "auto", t_max_ms: Any = "auto",
                     transition_ms: Any = "auto", soft_norm: Any = "auto", units: str = "auto",
                     align_event: str | None = None, condition_column: str | None = None,
                     window_ms: tuple[float, float] | None = None, bin_ms: float | None = None,
                     smooth_ms: float | None = None, bundled_window_ms: tuple[float, float] | None = None,
                     epochs: bool = True, normalise: bool = True, min_conditions: int = 1,
                     echo: Callable[[str], Any] | None = print) -> FitData:
    """Load, window, normalise and place the transition (module docstring); print the settings via
    ``echo`` (None: silent). ``epochs=False`` for models without hold/go inputs, ``normalise=False`` for
    models that take the values as they are (e.g. Poisson likelihoods of spikes/s); ``min_conditions``:
    fewer conditions is an error that says how to get more."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if data is None:
            for name, value in (("align_event", align_event), ("condition_column", condition_column)):
                if value is not None:
                    raise ValueError(f"{name}={value!r}: expected None for the bundled dataset (it applies to a "
                                     "spike-time file given with --data)")
            pop = reshape_bins(load_example(BUNDLED), bin_ms=bin_ms, window_ms=window_ms, smooth_ms=smooth_ms)
            source = f"bundled dataset {BUNDLED} (neurodyn.data.load_example)"
        else:
            opts = dict(align_event=align_event, condition_column=condition_column, window_ms=window_ms,
                        bin_ms=bin_ms, smooth_ms=smooth_ms)
            if units not in (None, "auto"):
                opts["units"] = units
            pop = load(data, **{k: v for k, v in opts.items() if v is not None})
            source = str(data)
    notes = [str(w.message) for w in caught]
    meta = pop.meta
    bundled = example_settings(BUNDLED) if data is None else {}
    # window
    full = (float(pop.t_ms[0]), float(pop.t_ms[-1]))
    lo, hi = t_min_ms, t_max_ms
    win_note = "as given"
    if lo == "auto" or hi == "auto":
        if data is None:
            bw = tuple(bundled_window_ms) if bundled_window_ms is not None else bundled["window_ms"]
            lo, hi = (bw[0] if lo == "auto" else lo), (bw[1] if hi == "auto" else hi)
            win_note = "the bundled dataset's fit window"
        else:
            lo, hi = (None if lo == "auto" else lo), (None if hi == "auto" else hi)
            win_note = "the whole recording" if (lo, hi) == (None, None) else "as given, else the whole recording"
    pop = pop.select_time(-np.inf if lo is None else lo, np.inf if hi is None else hi)
    # units and normalisation
    unit = meta.get("units", "spikes/s")
    if not normalise:
        soft, soft_note = None, "none (this model takes the values as they are)"
    elif soft_norm == "auto":
        soft = SOFT_NORM_SPIKES if unit == "spikes/s" else None
        soft_note = (f"soft normalisation r / (range + {SOFT_NORM_SPIKES:g}) per neuron (rates in spikes/s)"
                     if soft is not None else "none: the values are already normalised")
    else:
        soft = None if soft_norm is None else float(soft_norm)
        soft_note = "none (as given)" if soft is None else f"soft normalisation r / (range + {soft:g}) (as given)"
    N = pop.n_neurons
    flat = pop.rates.reshape(-1, N)
    scale = np.ones(N) if soft is None else np.ptp(flat, axis=0) + soft
    if np.any(scale <= 0):
        raise ValueError(f"soft_norm={soft}: expected > 0 when some neurons have zero range")
    Y = pop.rates / scale
    # transition
    tr, tb, tr_note = None, None, "none: one input epoch (as given)"
    if not epochs:
        tr_note = "not used by this model"
    elif transition_ms == "auto":
        cand = bundled.get("transition_ms", meta.get("transition_ms"))
        where = ("the bundled dataset's" if data is None else
                 f"from the file ({meta['transition_event']})" if "transition_event" in meta else "from the file")
        if cand is None:
            tr_note = "none: one input epoch (the file names no transition)"
        else:
            try:
                tb, tr = transition_bin(pop.t_ms, cand), float(cand)
                tr_note = f"{cand:g} ms, {where}"
            except ValueError:
                tr_note = (f"none: one input epoch (the transition {cand:g} ms {where} leaves an epoch of fewer "
                           f"than 2 bins in the window)")
    elif transition_ms is not None:
        tb, tr = transition_bin(pop.t_ms, float(transition_ms)), float(transition_ms)
        tr_note = f"{float(transition_ms):g} ms (as given)"
    n_cond, T, _ = pop.shape
    if n_cond < min_conditions:
        hint = ""
        if "condition_column" in meta and meta.get("condition_column") is None:
            hint = " (no condition column was found: set condition_column to a trials-table column)"
        elif "condition_column" in meta:
            hint = f" (grouped by {meta['condition_column']!r}; set condition_column to another column)"
        raise ValueError(f"data={source!r}: expected at least {min_conditions} conditions; found {n_cond}{hint}")
    settings: dict[str, Any] = {
        "data": None if data is None else str(data), "source": source,
        "n_conditions": int(n_cond), "n_time_bins": int(T), "n_neurons": int(N), "bin_ms": float(pop.bin_ms),
        "t_min_ms": float(pop.t_ms[0]), "t_max_ms": float(pop.t_ms[-1]), "window": win_note,
        "recording_t_ms": list(full), "units": unit, "units_note": meta.get("units_note", unit),
        "soft_norm": soft, "normalisation": soft_note,
        "transition_ms": tr, "transition_bin": tb, "transition": tr_note,
        "smooth_ms": None if smooth_ms is None else float(smooth_ms),
    }
    for k in ("align_event", "condition_column", "window_ms", "dropped_trials", "n_trials"):
        if k in meta:
            settings[k] = meta[k]
    settings["warnings"] = notes
    if echo is not None:
        echo(f"data settings ({source}):")
        echo(f"  shape          {n_cond} conditions x {T} time bins x {N} neurons, {pop.bin_ms:g}-ms bins")
        if "align_event" in meta:
            echo(f"  aligned to     {meta['align_event']}; conditions by {meta.get('condition_column')}; "
                 f"{meta.get('n_trials')} trials ({meta.get('dropped_trials', 0)} dropped)")
        echo(f"  window         {pop.t_ms[0]:g} to {pop.t_ms[-1]:g} ms (bin ends; {win_note})")
        echo(f"  units          {settings['units_note']}")
        echo(f"  normalisation  {soft_note}")
        echo(f"  transition     {tr_note}")
        if smooth_ms is not None:
            echo(f"  smoothing      Gaussian, SD {smooth_ms:g} ms")
        for n in notes:
            echo(f"  warning: {n}")
    return FitData(pop, Y, scale, soft, tr, tb, settings)


def prepare_from_config(cfg: Any, *, record: str | Path | None = None, **kwargs) -> FitData:
    """`prepare_fit_data` with the `KEYS` a config object has (others keep their defaults); the resolved
    settings are also written under ``"data_settings"`` into the JSON file ``record`` (a run's
    ``config.json``) when given."""
    opts = {k: getattr(cfg, k) for k in KEYS if hasattr(cfg, k)}
    if opts.get("window_ms") is not None:
        opts["window_ms"] = tuple(opts["window_ms"])
    fit = prepare_fit_data(opts.pop("data", None), **opts, **kwargs)
    if record is not None:
        update_json(record, "data_settings", fit.settings)
    return fit


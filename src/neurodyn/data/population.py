"""`PopulationData`: trial-averaged population activity with trial counts and optional single trials.

Layout (DESIGN.md: conditions and trials lead, time in ms, rates in spikes/s):

* ``rates``   ``(conditions, time, neurons)`` trial-averaged rates over conditions, T time bins and N neurons;
* ``counts``  ``(conditions, time, neurons)`` number of trials behind each entry. Neurons may be recorded sequentially,
  each on its own trials (seed 001 Methods §7.1), so counts may differ across neurons;
* ``trials``  optional ``(conditions, R_max, time, neurons)`` single-trial rates padded to the largest trial count, with
  ``trial_mask (conditions, R_max)`` marking real trials (ragged trial counts per condition);
* ``t_ms`` ``(T,)`` bin times (the end of each causal bin), ``bin_ms`` the bin width;
* ``conditions`` ``(conditions,)`` labels, ``condition_table`` dict of per-condition columns (direction, delay,
  stimulated, ...), ``neurons`` and ``areas`` ``(N,)`` labels;
* ``meta``: provenance. The loaders set ``units`` (``"spikes/s"`` or ``"normalized"``, with
  ``units_note`` saying how it was decided), ``transition_ms`` when the file names a hold/go transition,
  and for spike-time files ``align_event``, ``condition_column``, ``window_ms`` and ``dropped_trials``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from jaxtyping import Bool, Float, Int, Shaped

from neurodyn.validation import fail, finite_array, positive

__all__ = ["PopulationData"]


def _labels(name, value, n, default):
    if value is None:
        return default
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.shape[0] != n:
        fail(name, arr, f"{n} labels (one per entry of that axis)")
    return arr


@dataclass(frozen=True)
class PopulationData:
    """Validated population activity (see module docstring for the layout)."""

    rates: Float[np.ndarray, "conditions time neurons"]
    t_ms: Float[np.ndarray, " time"]
    bin_ms: float | None = None
    counts: Float[np.ndarray, "conditions time neurons"] | None = None
    trials: Float[np.ndarray, "conditions trials time neurons"] | None = None
    trial_mask: Bool[np.ndarray, "conditions trials"] | None = None
    conditions: Shaped[np.ndarray, " conditions"] | None = None
    condition_table: dict[str, Shaped[np.ndarray, " conditions"]] = field(default_factory=dict)
    neurons: Shaped[np.ndarray, " neurons"] | None = None
    areas: Shaped[np.ndarray, " neurons"] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        rates = finite_array("rates", self.rates)
        if rates.ndim != 3:
            hint = " (one condition? add a leading axis: rates[None])" if rates.ndim == 2 else ""
            fail("rates", rates, f"a 3-d array (conditions, time, neurons){hint}")
        n_cond, T, N = rates.shape
        if min(n_cond, T, N) == 0:
            fail("rates", rates, "a non-empty 3-d array (conditions, time, neurons): at least one condition, "
                 "time bin and neuron")
        t = finite_array("t_ms", self.t_ms)
        if t.shape != (T,):
            fail("t_ms", t, f"{T} times to match rates' time axis")
        if T > 1 and np.any(np.diff(t) <= 0):
            fail("t_ms", t, "strictly increasing times")
        bin_ms = self.bin_ms
        if bin_ms is None:
            bin_ms = float(np.median(np.diff(t))) if T > 1 else 1.0
        bin_ms = positive("bin_ms", bin_ms)
        trials, mask = self.trials, self.trial_mask
        if trials is not None:
            trials = finite_array("trials", trials)
            if trials.ndim != 4 or trials.shape[0] != n_cond or trials.shape[2:] != (T, N):
                fail("trials", trials, f"(conditions={n_cond}, max trials, T={T}, N={N})")
            mask = (np.ones(trials.shape[:2], bool) if mask is None else np.asarray(mask, bool))
            if mask.shape != trials.shape[:2]:
                fail("trial_mask", mask, f"shape {trials.shape[:2]} (conditions, max trials)")
            empty = np.flatnonzero(mask.sum(1) == 0)
            if empty.size:
                fail("trials", trials, f"at least one trial in every condition (none in condition {int(empty[0])})")
        elif mask is not None:
            fail("trial_mask", mask, "None when no single trials are given")
        counts = self.counts
        if counts is None:
            counts = (np.broadcast_to(mask.sum(1)[:, None, None], (n_cond, T, N)).astype(float)
                      if trials is not None else None)
        if counts is not None:
            counts = finite_array("counts", counts)
            if counts.shape != (n_cond, T, N):
                fail("counts", counts, f"shape {(n_cond, T, N)} like rates")
            if np.any(counts < 0):
                fail("counts", counts, "non-negative trial counts")
            zero = np.flatnonzero(counts.reshape(n_cond, -1).max(1) == 0)
            if zero.size:
                fail("counts", counts, f"at least one trial in every condition (none in condition {int(zero[0])})")
        table = {}
        for key, col in dict(self.condition_table).items():
            table[str(key)] = _labels(f"condition_table[{key!r}]", col, n_cond, None)
        object.__setattr__(self, "rates", rates)
        object.__setattr__(self, "t_ms", t)
        object.__setattr__(self, "bin_ms", bin_ms)
        object.__setattr__(self, "trials", trials)
        object.__setattr__(self, "trial_mask", mask)
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "conditions", _labels("conditions", self.conditions, n_cond, np.arange(n_cond)))
        object.__setattr__(self, "condition_table", table)
        object.__setattr__(self, "neurons", _labels("neurons", self.neurons, N, np.arange(N)))
        object.__setattr__(self, "areas", _labels("areas", self.areas, N, None))
        object.__setattr__(self, "meta", dict(self.meta))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_trials(cls, trials: Float[np.ndarray, "trials time neurons"],
                    trial_condition: Shaped[np.ndarray, " trials"],
                    t_ms: Float[np.ndarray, " time"], *, bin_ms: float | None = None,
                    conditions: Shaped[np.ndarray, " conditions"] | None = None, **kwargs) -> "PopulationData":
        """From single trials ``(n_trials, T, N)`` and each trial's condition label ``(n_trials,)``.

        Conditions are the sorted unique labels (or ``conditions``, in that order; a listed condition
        without trials is an error). Rates are trial averages.
        """
        x = finite_array("trials", trials)
        if x.ndim != 3:
            fail("trials", x, "single trials (n_trials, T, N)")
        lab = np.asarray(trial_condition)
        if lab.shape != (x.shape[0],):
            fail("trial_condition", lab, f"one condition label per trial ({x.shape[0]})")
        conds = np.unique(lab) if conditions is None else np.asarray(conditions)
        groups = [np.flatnonzero(lab == c) for c in conds]
        for c, g in zip(conds, groups):
            if g.size == 0:
                label = c.item() if hasattr(c, 'item') else c
                fail("trial_condition", lab, f"at least one trial of condition {label!r}")
        R = max(g.size for g in groups)
        padded = np.zeros((len(conds), R) + x.shape[1:])
        mask = np.zeros((len(conds), R), bool)
        for i, g in enumerate(groups):
            padded[i, :g.size] = x[g]
            mask[i, :g.size] = True
        rates = np.stack([x[g].mean(0) for g in groups])
        return cls(rates, t_ms, bin_ms=bin_ms, trials=padded, trial_mask=mask, conditions=conds, **kwargs)

    # ------------------------------------------------------------------ views
    @property
    def shape(self) -> tuple[int, int, int]:
        return self.rates.shape  # type: ignore[return-value]

    @property
    def n_conditions(self) -> int:
        return self.rates.shape[0]

    @property
    def n_neurons(self) -> int:
        return self.rates.shape[2]

    @property
    def has_trials(self) -> bool:
        return self.trials is not None

    def trial_list(self) -> list[Float[np.ndarray, "trials time neurons"]]:
        """Single trials per condition, ``[(n_c, T, N), ...]`` (requires trials)."""
        if self.trials is None:
            raise ValueError("trials=None: this PopulationData holds trial averages only; expected single trials")
        return [self.trials[c][self.trial_mask[c]] for c in range(self.n_conditions)]

    def n_trials(self) -> Int[np.ndarray, " conditions"]:
        """Trial count per condition (minimum over neurons and time when counts vary)."""
        if self.counts is None:
            raise ValueError("counts=None: trial counts unknown for this PopulationData")
        return self.counts.reshape(self.n_conditions, -1).min(1).astype(int)

    def select_time(self, t_min: float, t_max: float) -> "PopulationData":
        """Bins with ``t_min <= t_ms <= t_max``."""
        keep = (self.t_ms >= t_min) & (self.t_ms <= t_max)
        if keep.sum() == 0:
            fail("t_min", t_min, f"a window that overlaps t_ms [{self.t_ms[0]}, {self.t_ms[-1]}]")
        return replace(self, rates=self.rates[:, keep], t_ms=self.t_ms[keep],
                       counts=None if self.counts is None else self.counts[:, keep],
                       trials=None if self.trials is None else self.trials[:, :, keep])

    def select_conditions(self, index: Sequence[int] | Int[np.ndarray, " selected"]) -> "PopulationData":
        idx = np.asarray(index)
        return replace(self, rates=self.rates[idx],
                       counts=None if self.counts is None else self.counts[idx],
                       trials=None if self.trials is None else self.trials[idx],
                       trial_mask=None if self.trial_mask is None else self.trial_mask[idx],
                       conditions=self.conditions[idx],
                       condition_table={k: v[idx] for k, v in self.condition_table.items()})

    def save_npz(self, path: str | Path) -> None:
        """Write the documented ``.npz`` layout (docs/data_format.md), atomically."""
        from neurodyn.fileio import save_npz_atomic
        arrays = {"rates": self.rates, "t_ms": self.t_ms, "bin_ms": np.float64(self.bin_ms),
                  "condition": self.conditions, "neuron": self.neurons,
                  "units": np.str_(self.meta.get("units", "spikes/s"))}
        if "transition_ms" in self.meta:
            arrays["transition_ms"] = np.float64(self.meta["transition_ms"])
        if self.counts is not None:
            arrays["counts"] = self.counts
        if self.areas is not None:
            arrays["area"] = self.areas
        if self.trials is not None:
            c_idx, r_idx = np.nonzero(self.trial_mask)
            arrays["spikes"] = self.trials[c_idx, r_idx]
            arrays["trial_condition"] = self.conditions[c_idx]
        for k, v in self.condition_table.items():
            arrays[f"condition_{k}"] = v
        save_npz_atomic(path, **arrays)

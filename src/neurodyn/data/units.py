"""Units of binned rates (`resolve_units`): spikes/s, already normalised, or counts per bin converted to
spikes/s; and the check that a (conditions, time, neurons) array is not stored with its axes swapped.

A ``units`` entry in the file (or the ``units`` argument) wins; otherwise integer-valued single trials
whose maximum is below one spike per bin in spikes/s (``1000 / bin_ms``) are counts per bin and are
converted to spikes/s; rates with no value of magnitude above `NORMALISED_MAX` are taken to be already
normalised; other rates are spikes/s and must not be negative (``docs/data_format.md``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from neurodyn.validation import fail
from neurodyn.data.population import PopulationData

__all__ = ["NORMALISED_MAX", "UNITS", "check_layout", "resolve_units", "units_name"]

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


def units_name(value: str, name: str = "units") -> str:
    """The canonical name in `UNITS` of a units spelling (``"Hz"``, ``"z-score"``, ``"counts/bin"``, ...)."""
    key = str(value).strip().lower()
    if key not in _UNIT_ALIASES:
        fail(name, value, f"one of {', '.join(UNITS)} (or 'auto' to infer from the values)")
    return _UNIT_ALIASES[key]


def check_layout(shape: tuple[int, int, int], source: str = "rates") -> str | None:
    """A warning text when a (conditions, time, neurons) shape looks like swapped axes, else None.

    More conditions than neurons, or fewer than 5 time bins, is unusual for population recordings and is
    what an array stored neurons x time x conditions (or time-last) looks like.
    """
    n_cond, T, N = shape
    why = []
    if n_cond > N:
        why.append(f"more conditions ({n_cond}) than neurons ({N})")
    if T < 5:
        why.append(f"fewer than 5 time bins ({T})")
    if not why:
        return None
    return (f"{source} of shape {tuple(shape)}: {' and '.join(why)}; the axes may be swapped: expected "
            f"conditions x time x neurons (np.transpose the array if it is stored another way)")


def _is_count_like(x: np.ndarray, bin_ms: float) -> bool:
    return bool(x.size and np.all(x >= 0) and np.all(x == np.round(x)) and x.max() < 1000.0 / bin_ms)


def resolve_units(data: PopulationData, units: str = "auto", *, declared: str | None = None,
                  source: str = "rates") -> PopulationData:
    """Rates in spikes/s or marked normalised (``meta['units']``, with ``meta['units_note']`` saying why).

    ``units`` (``'auto'`` or one of `UNITS`) overrides ``declared`` (the file's own entry). Counts per
    bin become spikes/s, ``count * 1000 / bin_ms``. Negative values are refused for spikes/s.
    """
    chosen = None if units in (None, "auto") else units_name(units)
    how = "as given"
    if chosen is None and declared is not None:
        chosen, how = units_name(declared, f"{source} units"), "declared in the file"
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

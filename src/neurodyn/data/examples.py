"""Bundled example datasets (CC0), loaded without pickles.

``hatsopoulos2007``: macaque M1, 8-direction center-out reaching, 141 units, trial-averaged and
smoothed rates (spikes/s), 10-ms bins from -800 to +400 ms around movement onset. Provenance, license
(CC0 via Dryad doi:10.5061/dryad.xsj3tx9cm) and citation in ``neurodyn/datasets/hatsopoulos2007_co_m1.md``:
cite Suresh et al., eLife 9:e58848 (2020) and Hatsopoulos, Xu & Amit, J Neurosci 27:5105 (2007).
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from neurodyn.validation import fail
from neurodyn.data.population import PopulationData

__all__ = ["example_citation", "example_settings", "list_examples", "load_example"]

_EXAMPLES = {"hatsopoulos2007": ("hatsopoulos2007_co_m1.npz", "hatsopoulos2007_co_m1.md")}

#: Fit settings of each bundled dataset, used for that dataset only (a user's file gets defaults from
#: its own contents, `neurodyn.data.prepare`): the M1 rates (spikes/s, -800..400 ms from movement onset)
#: are fitted from -400 to 400 ms with the hold->go input switching 150 ms before movement onset.
_SETTINGS = {"hatsopoulos2007": {"window_ms": (-400.0, 400.0), "transition_ms": -150.0}}


def list_examples() -> list[str]:
    return sorted(_EXAMPLES)


def example_citation(name: str) -> str:
    """The provenance and citation file shipped with an example dataset."""
    if name not in _EXAMPLES:
        fail("name", name, f"one of {', '.join(list_examples())}")
    return resources.files("neurodyn").joinpath("datasets", _EXAMPLES[name][1]).read_text(encoding="utf-8")


def example_settings(name: str = "hatsopoulos2007") -> dict:
    """The fit settings of a bundled dataset (``window_ms``, ``transition_ms``)."""
    if name not in _EXAMPLES:
        fail("name", name, f"one of {', '.join(list_examples())}")
    return dict(_SETTINGS[name])


def load_example(name: str = "hatsopoulos2007") -> PopulationData:
    """Load a bundled dataset as `PopulationData` (conditions x time x neurons)."""
    if name not in _EXAMPLES:
        fail("name", name, f"one of {', '.join(list_examples())}")
    ref = resources.files("neurodyn").joinpath("datasets", _EXAMPLES[name][0])
    with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as f:
        rates = np.transpose(np.asarray(f["firing_rate"], float), (2, 1, 0))       # (8, 121, 141)
        t = np.asarray(f["t_ms"], float)
        direction = np.asarray(f["direction_deg"], float)
        duration = np.asarray(f["time_startmovement_to_endmovement_mean"], float)
        kin = {k: np.asarray(f[k], float) for k in ("xhandposition", "yhandposition", "xhandspeed",
                                                    "yhandspeed", "shoulderangle", "elbowangle")}
    return PopulationData(rates, t, bin_ms=10.0, conditions=direction,
                          condition_table={"direction_deg": direction, "movement_duration_ms": duration},
                          areas=np.full(rates.shape[2], "M1"),
                          meta={"name": name, "kinematics": kin, "units": "spikes/s",
                                "units_note": "spikes/s (bundled dataset)", "aligned_to": "movement onset",
                                "citation": "Suresh et al. 2020 eLife 9:e58848; Hatsopoulos et al. 2007 "
                                            "J Neurosci 27:5105; data CC0 (Dryad doi:10.5061/dryad.xsj3tx9cm)"})

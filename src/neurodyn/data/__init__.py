"""Layer 3 (data): `PopulationData`, loaders (npz, .mat, NWB), binning, bundled datasets, and the one
preparation step every fit shares (`prepare_fit_data`: window, units, normalisation, transition)."""

from neurodyn.data.binning import bin_spike_raster, bin_spike_times, gaussian_smooth, soft_normalize
from neurodyn.data.examples import example_citation, example_settings, list_examples, load_example
from neurodyn.data.loaders import load, load_mat, load_npz, load_nwb
from neurodyn.data.population import PopulationData
from neurodyn.data.prepare import FitData, prepare_fit_data, transition_bin

__all__ = ["FitData", "PopulationData", "bin_spike_raster", "bin_spike_times", "example_citation",
           "example_settings", "gaussian_smooth", "list_examples", "load", "load_example", "load_mat", "load_npz",
           "load_nwb", "prepare_fit_data", "soft_normalize", "transition_bin"]

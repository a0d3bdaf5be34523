"""Layer 3 (data): `PopulationData`, loaders (npz, .mat, NWB), binning and bundled datasets."""

from neurodyn.data.binning import bin_spike_raster, bin_spike_times, gaussian_smooth, soft_normalize
from neurodyn.data.examples import example_citation, list_examples, load_example
from neurodyn.data.loaders import load, load_mat, load_npz, load_nwb
from neurodyn.data.population import PopulationData

__all__ = ["PopulationData", "bin_spike_raster", "bin_spike_times", "example_citation", "gaussian_smooth",
           "list_examples", "load", "load_example", "load_mat", "load_npz", "load_nwb", "soft_normalize"]

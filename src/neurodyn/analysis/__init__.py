"""Layer 3 (analyse): stability, Gramians, non-normality, Schur form, Dale's-law SVD modes."""

from neurodyn.analysis.dale_svd import DaleModes, dale_svd_modes, sigma1_scaling_exponent
from neurodyn.analysis.gramians import (
    controllability_gramian,
    equal_energy_initial_conditions,
    evoked_energy,
    observability_gramian,
    preferred_initial_conditions,
)
from neurodyn.analysis.nonnormality import henrici, max_transient_gain, transient_gain_curve
from neurodyn.analysis.schur import OrderedSchur, ordered_schur
from neurodyn.analysis.stability import critical_gain, eigenvalues, spectral_abscissa

__all__ = [
    "DaleModes", "OrderedSchur", "controllability_gramian", "critical_gain", "dale_svd_modes",
    "eigenvalues", "equal_energy_initial_conditions", "evoked_energy", "henrici",
    "max_transient_gain", "observability_gramian", "ordered_schur", "preferred_initial_conditions",
    "sigma1_scaling_exponent", "spectral_abscissa", "transient_gain_curve",
]

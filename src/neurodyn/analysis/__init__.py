"""Layer 3 (analyse): stability, Gramians and Lyapunov solvers, non-normality, Schur form, Dale's-law SVD
modes, task activity spaces, unbiased distances, communication subspaces, fixed points."""

from neurodyn.analysis.communication import (
    RRRCrossValidation,
    one_minus_nse,
    predictive_alignment,
    rrr_cross_validate,
    rrr_fit_coefficients,
    synthetic_communication,
)
from neurodyn.analysis.dale_svd import DaleModes, dale_svd_modes, sigma1_scaling_exponent
from neurodyn.analysis.distances import (
    cv_distance_sq,
    cv_distance_sq_sequential,
    naive_distance_sq,
    task_space_diameter,
)
from neurodyn.analysis.fixed_points import (
    FixedPoints,
    find_fixed_points,
    flow_field,
    network_velocity,
    sample_initial_states,
)
from neurodyn.analysis.gramians import (
    controllability_gramian,
    equal_energy_initial_conditions,
    evoked_energy,
    observability_gramian,
    preferred_initial_conditions,
)
from neurodyn.analysis.lyapunov import (
    RealSchur,
    abscissa_from_schur,
    gramians_from_schur,
    real_schur,
    shifted_gramians,
    shifted_gramians_sign,
    smoothed_spectral_abscissa,
    smoothed_spectral_abscissa_gradient,
    solve_triangular_sylvester,
)
from neurodyn.analysis.metrics import gaussian_deviance, poisson_deviance, r2_score, signal_variance_explained
from neurodyn.analysis.nonnormality import henrici, max_transient_gain, transient_gain_curve
from neurodyn.analysis.schur import OrderedSchur, ordered_schur
from neurodyn.analysis.stability import critical_gain, eigenvalues, spectral_abscissa
from neurodyn.analysis.task_space import TaskSpace, noise_residual_matrix, task_space

__all__ = [
    "DaleModes", "FixedPoints", "OrderedSchur", "RRRCrossValidation", "RealSchur", "ReducedRankRegression",
    "TaskSpace", "abscissa_from_schur", "controllability_gramian", "critical_gain", "cv_distance_sq",
    "cv_distance_sq_sequential", "dale_svd_modes", "eigenvalues", "equal_energy_initial_conditions",
    "evoked_energy", "find_fixed_points", "gaussian_deviance", "poisson_deviance", "r2_score",
    "signal_variance_explained", "flow_field", "gramians_from_schur", "henrici",
    "max_transient_gain", "naive_distance_sq", "network_velocity", "noise_residual_matrix",
    "observability_gramian", "ordered_schur", "predictive_alignment", "preferred_initial_conditions",
    "real_schur", "rrr_cross_validate", "rrr_fit_coefficients", "sample_initial_states", "shifted_gramians",
    "shifted_gramians_sign", "sigma1_scaling_exponent", "smoothed_spectral_abscissa",
    "smoothed_spectral_abscissa_gradient", "solve_triangular_sylvester", "spectral_abscissa", "synthetic_communication", "task_space",
    "task_space_diameter", "transient_gain_curve", "one_minus_nse",
]


def __getattr__(name):
    # the estimator `ReducedRankRegression` lives in the fit layer (neurodyn.models.rrr); resolved lazily
    if name == "ReducedRankRegression":
        from neurodyn.models.rrr import ReducedRankRegression
        return ReducedRankRegression
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Latent linear dynamical system (seed 001 Methods §9; seed 000): inference, EM, the estimator and its selection.

`inference` (Kalman filter and RTS smoother), `conditions` (input groups and epochs shared with the E/I
subspace network), `em` (the EM step), `latent` (estimator methods shared by the latent models), `model`
(the `LDS` estimator) and `selection` (cross-validated choice of K and transition, bootstrap).
"""

from neurodyn.analysis.metrics import signal_variance_explained
from neurodyn.models.lds.conditions import (
    ConditionDesign,
    check_latent_data,
    condition_design,
    epoch_inputs,
    epochs,
    input_groups,
)
from neurodyn.models.lds.inference import (
    FilterResult,
    LDSParams,
    SmootherResult,
    kalman_filter,
    kalman_filter_batch,
    kalman_smoother,
    kalman_smoother_batch,
    symmetrize,
)
from neurodyn.models.lds.em import (
    data_stats,
    em_step,
    em_stop_reason,
    emission_update,
    emission_update_jit,
    initial_state_update,
    warn_stop,
)
from neurodyn.models.lds.latent import LatentLDSEstimator
from neurodyn.models.lds.model import LDS
from neurodyn.models.lds.selection import (
    bootstrap_eigenvalues,
    condition_folds,
    cross_validated_co_smoothing,
    eigenvalue_density,
    grid_search_lds,
    latent_grid,
    select_latent_dimension,
)

__all__ = ["LDS", "ConditionDesign", "FilterResult", "LDSParams", "LatentLDSEstimator", "SmootherResult",
           "bootstrap_eigenvalues", "check_latent_data", "condition_design", "condition_folds",
           "cross_validated_co_smoothing", "data_stats", "eigenvalue_density", "em_step", "em_stop_reason",
           "emission_update", "emission_update_jit", "epoch_inputs", "epochs", "grid_search_lds", "latent_grid",
           "select_latent_dimension", "initial_state_update",
           "input_groups", "kalman_filter", "kalman_filter_batch", "kalman_smoother", "kalman_smoother_batch",
           "signal_variance_explained", "symmetrize", "warn_stop"]

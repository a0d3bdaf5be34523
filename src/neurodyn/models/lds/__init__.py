"""Latent linear dynamical system (seed 001 Methods §9; seed 000): inference and the EM estimator."""

from neurodyn.models.lds.inference import (
    FilterResult,
    LDSParams,
    SmootherResult,
    kalman_filter,
    kalman_filter_batch,
    kalman_smoother,
    kalman_smoother_batch,
)

__all__ = ["FilterResult", "LDSParams", "SmootherResult", "kalman_filter", "kalman_filter_batch",
           "kalman_smoother", "kalman_smoother_batch"]
from neurodyn.models.lds.latent import LatentLDSEstimator  # noqa: E402
from neurodyn.models.lds.model import (  # noqa: E402
    LDS,
    bootstrap_eigenvalues,
    condition_folds,
    cross_validated_co_smoothing,
    eigenvalue_density,
    epoch_inputs,
    grid_search_lds,
    signal_variance_explained,
)

__all__ += ["LDS", "bootstrap_eigenvalues", "condition_folds", "cross_validated_co_smoothing", "eigenvalue_density", "epoch_inputs", "grid_search_lds",
            "signal_variance_explained"]
__all__ += ["LatentLDSEstimator"]

"""Layer 4 (fit): estimators with fit / score / predict (scikit-learn conventions)."""

from neurodyn.models.lds import (
    LDS,
    LDSParams,
    bootstrap_eigenvalues,
    grid_search_lds,
    kalman_filter,
    kalman_smoother,
)

__all__ = ["LDS", "LDSParams", "bootstrap_eigenvalues", "grid_search_lds", "kalman_filter", "kalman_smoother"]
from neurodyn.models.multi_area_lds import (  # noqa: E402
    CommunicationSubspace,
    MultiAreaLDS,
    communication_subspace,
    multi_area_lds_params,
    random_two_area_params,
    simulate_multi_area_lds,
)

__all__ += ["CommunicationSubspace", "MultiAreaLDS", "communication_subspace", "multi_area_lds_params",
            "random_two_area_params", "simulate_multi_area_lds"]
from neurodyn.models.rnn import DaleRNN, Relu, RNNStructure, dale_rnn_structure, psth_fit  # noqa: E402
from neurodyn.models.tasks import DelayedReachTask, delayed_reach_task, minimum_jerk_velocity  # noqa: E402

__all__ += ["DaleRNN", "DelayedReachTask", "RNNStructure", "Relu", "dale_rnn_structure", "delayed_reach_task",
            "minimum_jerk_velocity", "psth_fit"]
from neurodyn.models.ei_subspace import EISubspaceNetwork  # noqa: E402

__all__ += ["EISubspaceNetwork"]
from neurodyn.models.stim_lvm import StimLVM  # noqa: E402

__all__ += ["StimLVM"]
from neurodyn.models.base import NeurodynEstimator, NotFittedError, check_rates, load_model  # noqa: E402

__all__ += ["NeurodynEstimator", "NotFittedError", "check_rates", "load_model"]
from neurodyn.models.rrr import ReducedRankRegression  # noqa: E402

__all__ += ["ReducedRankRegression"]
from neurodyn.models.heldout import (  # noqa: E402
    co_smoothing,
    forward_prediction,
    heldout_neuron_split,
    initial_state_heldout,
    pca_ridge_baseline,
)

__all__ += ["co_smoothing", "forward_prediction", "heldout_neuron_split", "initial_state_heldout",
            "pca_ridge_baseline"]

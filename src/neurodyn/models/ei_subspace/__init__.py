"""E/I network with a self-contained low-dimensional subspace, fit by penalised EM (seed 001 Methods §10-§12, §15).

Model (seed 001 §10.1; its equations were images and are restored here from the prose). On condition
i, the difference-from-baseline rates ``nu`` of N excitatory and inhibitory units evolve in 10-ms steps

    nu^i_{t+1} = W nu^i_t + J^+ b_{c(i), kappa(t)} + noise                                   (§10.1)

with ``W`` obeying Dale's law (column j >= 0 if unit j is excitatory, <= 0 if inhibitory; eq. 41:
``W = [[W^EE, -W^EI], [W^IE, -W^II]]`` with non-negative blocks), E/I balance (each unit's summed E
input equals its summed I input, i.e. every row sums to zero, ``W 1 = 0``) and 75% of the entries fixed
at zero (random mask; the diagonal is always free). ``J`` is a fixed random K x N projection
(``J_kn ~ N(0, 1/N)``), ``J^+ = J^T (J J^T)^{-1}`` its pseudo-inverse, and the *task-dynamics space* is
the row space of J. The self-containment constraint (eq. 43)

    J W (I - J^+ J) = 0

makes ``x = J nu`` evolve on its own: ``x_{t+1} = J W (J^+ J + I - J^+ J) nu_t = (J W J^+) x_t``, i.e. by
the K x K matrix ``A = J W J^+``. Observations depend on x only and inputs arrive in the
J-space, so in x-space the model is a latent LDS::

    x_{t+1} = A x_t + B u_t + w_t,  w ~ N(0, Q);      y_t = C x_t + d + v_t,  v ~ N(0, R diagonal)

with one-hot ``u_t`` selecting the input vector of condition group c(i) and epoch kappa(t) (hold / go).

A consequence of the two linear constraints that the text does not state: balance gives ``W 1 = 0`` and
self-containment gives ``J W = A J``, hence ``A (J 1) = J W 1 = 0``: when both hold exactly, the direction
``J 1`` of the task-dynamics space is a zero-eigenvalue (input-driven, non-dynamical) mode of A. The
penalised fit (`estimator`) approaches this limit as the penalty weights grow.

One idea per module: `constraints` (J, the mask, cell types, the initial balanced E/I matrix and the
constraint residuals), `w_solver` (the bounded W update), `stability` (the spectral-radius safeguard),
`em` (E-step moments, sufficient statistics, the M-step), `estimator` (`EISubspaceNetwork`) and
`simulate` (a known ground-truth network of this class with Poisson readouts, for the perturbation
analyses). In this package N (dimension ``neurons``) counts network units and the recorded neurons read
out through ``C`` are ``readouts``.
"""

from neurodyn.models.ei_subspace.constraints import (
    balance_residual,
    chance_projection,
    dale_violations,
    excitatory_units,
    projection_fraction,
    random_balanced_ei,
    self_containment_residual,
    sparsity_mask,
    subspace_projection,
)
from neurodyn.models.ei_subspace.em import (
    MStep,
    SubspaceParams,
    SubspaceStructure,
    SufficientStats,
    data_curvature,
    m_step,
    penalty,
    smoothed_moments,
    sufficient_stats,
)
from neurodyn.models.ei_subspace.estimator import EISubspaceNetwork, align_reflection
from neurodyn.models.ei_subspace.simulate import (
    SubspaceGroundTruth,
    make_ground_truth,
    poisson_trials,
    subspace_dynamics_matrix,
)
from neurodyn.models.ei_subspace.stability import clip_spectral_radius, shrink_to_radius, stabilised_w
from neurodyn.models.ei_subspace.w_solver import fit_w, w_objective_grad

__all__ = ["EISubspaceNetwork", "MStep", "SubspaceGroundTruth", "SubspaceParams", "SubspaceStructure",
           "SufficientStats", "align_reflection", "balance_residual", "chance_projection", "clip_spectral_radius",
           "dale_violations", "data_curvature", "excitatory_units", "fit_w", "m_step", "make_ground_truth",
           "penalty", "poisson_trials", "projection_fraction", "random_balanced_ei", "self_containment_residual",
           "shrink_to_radius", "smoothed_moments", "sparsity_mask", "stabilised_w", "subspace_dynamics_matrix",
           "subspace_projection", "sufficient_stats", "w_objective_grad"]

"""Perturbation design: stimulation patterns that reach (or avoid) the task-dynamics space (seeds 000, 001).

Seed 000 ("Manipulating neural dynamics") names the open problem: "perturb a population of neurons with
spatiotemporal patterns that activate the circuit 'within-manifold'", which "generally require[s] the
ability to deliver precise excitation and inhibition to individual neurons"; perturbations that ignore the
manifold are "outside-manifold". Seed 001 (Results, "E/I network model establishes mechanism"; Methods
§10.1, §11, §14) makes it quantitative for the self-contained-subspace E/I network: the task-dynamics
space is the row space of a fixed random K x N projection J, and an additive random input projects onto it
only by chance, with expected length ``sqrt(K/N)`` of a unit input (the expression is lost from the text
and restored here: for a fixed unit u and a uniformly random K-dimensional subspace with projector P,
``E ||P u||^2 = K/N``; the exact mean length is `neurodyn.models.ei_subspace.chance_projection`), so
random optogenetic excitation decays fast and leaves behaviour alone. This package designs input patterns
under the constraints real actuators have, and predicts their effects; one idea per module:

* `feasible`: `FeasibleSet`, the constraints ``u = B v``, ``lo <= v <= hi``, at most k active controls;
* `actuators`: optogenetic, holographic, bidirectional-opsin and electrical actuators -> feasible sets;
* `response`: `LinearResponseModel`, the linear(ised) network and its window operator (eq. 1 below);
* `solvers`: the convex solvers (`maximize_linear`, `bounded_least_squares`);
* `static`: held patterns, `maximize_subspace_effect`, `minimize_subspace_effect`, `reach_state`;
* `spatiotemporal`: time-varying patterns through the input-restricted Gramian;
* `nonlinear`: `design_nonlinear`, projected gradient ascent through the simulator;
* `effects`: `predict_effects`, `decay_time`.

Model (`response`; seed 001 §10.1, §11; seed 003 eq. 2.1 for continuous time): a linear(ised) network
``nu_{t+1} = F nu_t + Gamma u_t`` driven by an input held for ``n_on`` steps; at the end of the window the
deviation from the unstimulated trajectory is ``G u`` (eq. 1 of `response`, ``G = sum_{k<n_on} F^k Gamma``),
its task-dynamics coordinates ``L u`` with ``L = Q^T G`` (Q: orthonormal basis of row(J)). Actuators act
through controls ``v`` and an input map ``B`` (`feasible`): ``u = B v`` (B selects the addressable cells for
optical stimulation, or holds the spatial current kernels of electrodes), within per-control bounds
``lo <= v <= hi`` and, for patterned light, at most k non-zero controls.

Objectives (the derivations are given in each function's docstring):

(a) `maximize_subspace_effect`: ``max ||L B v|| / ||B v||`` (displacement in the target space per unit input
    norm). Unconstrained: the generalised symmetric eigenproblem ``(B^T L^T L B) w = lambda (B^T B) w``.
    Constrained: maximising a convex function over a convex set is not convex; since
    ``||y|| = max_{||d||=1} d^T y``, the problem is ``max_d h(d)`` with the support function
    ``h(d) = max {d^T L B v : v feasible, ||B v|| <= norm}``, a second-order-cone programme in v for
    each d with a closed form for box constraints. The outer maximisation over the K-sphere is done by
    alternating (generalised power) ascent ``d <- L B v / ||L B v||`` with restarts.
(b) `minimize_subspace_effect`: the feasible pattern closest to a reference (by default a random feasible
    pattern) with zero displacement in the target space: ``min ||v - r||^2 s.t. L B v = 0``, bounds — a
    convex QP (method of multipliers over bounded least squares, `scipy.optimize.lsq_linear`).
(c) `reach_state`: reach ``Q^T Delta nu(n_on) = x*`` with the least response outside the space,
    ``min ||(I - Q Q^T) G B v||^2 + eps ||v||^2 s.t. L B v = x*``, bounds — a convex QP (same solver);
    closed form from its KKT system when unconstrained.
(d) `spatiotemporal_design`: time-varying inputs ``u_t`` (seed 000's "spatiotemporal patterns"), through
    the input-restricted finite-horizon controllability Gramian projected on the target space.
(e) `design_nonlinear`: networks with a nonlinear gain function, by projected gradient ascent on JAX gradients
    through `neurodyn.dynamics.simulate`.

Predictions (`predict_effects`): response trajectory to each pattern, its projections on the task-dynamics
and task-activity spaces, its decay time after offset, and the change of a linear readout ``C J nu``.
"""

from neurodyn.perturb.design.feasible import FeasibleSet
from neurodyn.perturb.design.actuators import (
    Actuator,
    BidirectionalOpsins,
    ElectricalStimulation,
    HolographicStimulation,
    OptogeneticExcitation,
)
from neurodyn.perturb.design.response import LinearResponseModel, subspace_basis
from neurodyn.perturb.design.solvers import bounded_least_squares, maximize_linear
from neurodyn.perturb.design.static import Design, maximize_subspace_effect, minimize_subspace_effect, reach_state
from neurodyn.perturb.design.spatiotemporal import SpatiotemporalDesign, spatiotemporal_design
from neurodyn.perturb.design.nonlinear import design_nonlinear
from neurodyn.perturb.design.effects import (
    PatternEffects,
    decay_time,
    predict_effects,
    subspace_trajectory_operators,
)

__all__ = [
    "Actuator", "BidirectionalOpsins", "Design", "ElectricalStimulation", "FeasibleSet", "HolographicStimulation",
    "LinearResponseModel", "OptogeneticExcitation", "PatternEffects", "SpatiotemporalDesign",
    "bounded_least_squares", "decay_time", "design_nonlinear", "maximize_linear", "maximize_subspace_effect",
    "minimize_subspace_effect", "predict_effects", "reach_state", "spatiotemporal_design", "subspace_basis",
    "subspace_trajectory_operators",
]

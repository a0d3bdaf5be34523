"""Layer 3 (perturb): declarative perturbations of neural states and of network dynamics (seed 000 Fig. 1d-e).

Each perturbation is a small frozen dataclass with an ``apply`` method: state perturbations act on a
state vector ``x`` (``apply(x)``), dynamics perturbations on a `neurodyn.Network` (``apply(network)``).
`neurodyn.perturb.design` designs stimulation patterns under actuator constraints and predicts their effects.
"""

from neurodyn.perturb.inputs import ICMSStimulation, InputPerturbation, OptogeneticStimulation, stimulated_response
from neurodyn.perturb.dynamics import Cooling, Lesion, SilenceProjection, slowing_factor
from neurodyn.perturb.state import (
    StateDisplacement,
    manifold_basis,
    outside_manifold_displacement,
    within_manifold_displacement,
)
from neurodyn.perturb.design import (
    Actuator,
    BidirectionalOpsins,
    Design,
    ElectricalStimulation,
    FeasibleSet,
    HolographicStimulation,
    LinearResponseModel,
    OptogeneticExcitation,
    PatternEffects,
    SpatiotemporalDesign,
    decay_time,
    design_nonlinear,
    maximize_subspace_effect,
    minimize_subspace_effect,
    predict_effects,
    reach_state,
    spatiotemporal_design,
)

__all__ = ["Cooling", "Lesion", "SilenceProjection", "StateDisplacement", "manifold_basis",
           "outside_manifold_displacement", "slowing_factor", "within_manifold_displacement"]
__all__ += ["ICMSStimulation", "InputPerturbation", "OptogeneticStimulation", "stimulated_response"]
__all__ += ["Actuator", "BidirectionalOpsins", "Design", "ElectricalStimulation", "FeasibleSet",
            "HolographicStimulation", "LinearResponseModel", "OptogeneticExcitation", "PatternEffects",
            "SpatiotemporalDesign", "decay_time", "design_nonlinear", "maximize_subspace_effect",
            "minimize_subspace_effect", "predict_effects", "reach_state", "spatiotemporal_design"]

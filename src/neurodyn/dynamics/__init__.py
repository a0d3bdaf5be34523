"""Layer 2 (run): gain functions, batched simulation, exact linear solutions and the discrete linear rollout."""

from neurodyn.dynamics.gain import GainFunction, Linear, PositiveTanh, Tanh, positive_rate_input
from neurodyn.dynamics.linear import linear_dynamics_matrix, linear_solution
from neurodyn.dynamics.rollout import linear_response_from_rest, linear_rollout
from neurodyn.dynamics.simulate import integrate, piecewise_constant_input, simulate, time_grid, zero_input

__all__ = ["GainFunction", "Linear", "PositiveTanh", "Tanh", "linear_dynamics_matrix",
           "integrate", "linear_response_from_rest", "linear_rollout", "linear_solution", "piecewise_constant_input",
           "positive_rate_input", "simulate", "time_grid", "zero_input"]

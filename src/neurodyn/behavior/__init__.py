"""Behaviour and per-unit effect sizes of stimulation experiments (seed 001 Methods §5, §7)."""

from neurodyn.behavior.effects import stim_delta_pca, unit_effects
from neurodyn.behavior.kinematics import (covariance_ellipse, lowpass_position, reach_endpoints, reaction_times,
                                          rt_effect, speed, velocity, velocity_distance)

__all__ = ["covariance_ellipse", "lowpass_position", "reach_endpoints", "reaction_times", "rt_effect", "speed",
           "velocity", "velocity_distance", "stim_delta_pca", "unit_effects"]

"""Config bases shared by several experiments (each experiment module subclasses one)."""

from __future__ import annotations

from pydantic import Field

from neurodyn.runner.config import ExperimentConfig

__all__ = ["SOCGroupsConfig"]


class SOCGroupsConfig(ExperimentConfig):
    """Keys shared by the chapter-6 experiments: a 400-neuron SOC with 40 random modulatory groups."""

    n: int = Field(400, ge=4, description="neurons of the SOC (even)")
    soc_target: float = Field(0.15, gt=0, description="spectral abscissa the SOC optimisation stops below")
    n_groups: int = Field(40, ge=1, description="random modulatory groups")

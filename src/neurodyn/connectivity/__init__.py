"""Layer 2 (build): connectivity constructors returning `neurodyn.Network` objects."""

from neurodyn.connectivity.gaussian import gaussian
from neurodyn.connectivity.low_rank import low_rank
from neurodyn.connectivity.random_ei import random_ei, random_ei_w0

__all__ = ["gaussian", "low_rank", "random_ei", "random_ei_w0"]

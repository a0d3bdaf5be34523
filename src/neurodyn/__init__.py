"""neurodyn: build, simulate, perturb, fit and analyse models of neural population dynamics.

JAX runs in 64-bit mode by default so that simulations agree with the NumPy/SciPy float64 linear
algebra of `neurodyn.analysis`; set the environment variable ``NEURODYN_X64=0`` before import to keep
JAX's 32-bit default (faster on GPUs). Pass float32 arrays to run a single simulation in 32-bit.
"""

import os as _os

import jax as _jax

if _os.environ.get("NEURODYN_X64", "1") != "0":
    _jax.config.update("jax_enable_x64", True)

from neurodyn.network import Network  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Network", "__version__"]

"""Output error ``1 - R^2`` (thesis, seed 003, Appendix D, eq. D.1; also eq. 2.8)::

    eps = 1 - R^2 = sum_t (z(t) - y(t))^2 / sum_t (y(t) - ybar)^2,     ybar = (1/T) sum_t y(t),

between a network output ``z`` and a target ``y``, arrays ``(..., time, readouts)`` (the package's
time-before-units order). eps = 1 is as bad as outputting the target's mean; with several readout units
the error is the mean over readouts.
Written with `jax.numpy` so that it runs inside jitted learning loops and can be differentiated.

A constant target has no variance and eps is undefined (0/0 or x/0). Called on concrete arrays,
`r2_error` raises ``ValueError`` naming ``y``; inside a jitted loop the values are traced and cannot be
inspected, so the learning code validates its targets once at the boundary (`GainTask`,
`learn_combination`, `combine_library`) with the same test, ``ptp(y) == 0`` along time (axis -2).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from neurodyn.validation import fail

__all__ = ["output_error", "r2_error"]


def r2_error(z: Float[Array, "*batch time readouts"],
             y: Float[Array, "*batch time readouts"]) -> Float[Array, "*batch readouts"]:
    """``1 - R^2`` per readout: arrays ``(..., T, readouts)`` -> ``(..., readouts)`` (eq. D.1).

    Raises ``ValueError`` when ``y`` is concrete and constant in time along some readout.
    """
    # the sums run along the last axis of the time-last view (the same reduction as before the
    # package moved time before units, so the learning rules keep their numbers)
    z = jnp.swapaxes(jnp.asarray(z), -1, -2)
    y = jnp.swapaxes(jnp.asarray(y), -1, -2)
    if not isinstance(y, jax.core.Tracer) and y.size and np.any(np.ptp(np.asarray(y), axis=-1) == 0):
        fail("y", y, "a target that varies in time (1 - R^2 divides by its variance; this target is constant)")
    resid = jnp.sum((z - y) ** 2, axis=-1)
    total = jnp.sum((y - jnp.mean(y, axis=-1, keepdims=True)) ** 2, axis=-1)
    return resid / total


def output_error(z: Float[Array, "*batch time readouts"],
                 y: Float[Array, "*batch time readouts"]) -> Float[Array, "*batch"]:
    """Mean of ``1 - R^2`` over the readouts: arrays ``(..., T, readouts)`` -> ``(...)`` (Appendix D)."""
    return jnp.mean(r2_error(z, y), axis=-1)

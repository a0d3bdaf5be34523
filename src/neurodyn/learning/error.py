"""Output error ``1 - R^2`` (thesis, seed 003, Appendix D, eq. D.1; also eq. 2.8)::

    eps = 1 - R^2 = sum_t (z(t) - y(t))^2 / sum_t (y(t) - ybar)^2,     ybar = (1/T) sum_t y(t),

between a network output ``z`` and a target ``y`` (time on the last axis). eps = 1 is as bad as
outputting the target's mean; with several readout units the error is the mean over outputs.
Written with `jax.numpy` so that it runs inside jitted learning loops and can be differentiated.
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["output_error", "r2_error"]


def r2_error(z, y):
    """``1 - R^2`` per output: arrays ``(..., T)`` -> ``(...)`` (eq. D.1)."""
    z = jnp.asarray(z)
    y = jnp.asarray(y)
    resid = jnp.sum((z - y) ** 2, axis=-1)
    total = jnp.sum((y - jnp.mean(y, axis=-1, keepdims=True)) ** 2, axis=-1)
    return resid / total


def output_error(z, y):
    """Mean of ``1 - R^2`` over the outputs: arrays ``(..., K, T)`` -> ``(...)`` (Appendix D)."""
    return jnp.mean(r2_error(z, y), axis=-1)

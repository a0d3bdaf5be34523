"""The noise-free discrete linear rollout shared by every linear model and design.

Every discrete-time linear system of the package, the latent LDS of seed 001 §9 (``x_t = A x_{t-1} +
B u_t``), the linearised E/I network of §10-§11 (``nu_t = W nu_{t-1} + h_t``) and the stimulation
response model of the perturbation designs (``nu_t = F nu_{t-1} + u_{t-1}`` from rest), runs the same
recursion, written once here:

    x_0 given,    x_t = A x_{t-1} + drive_t,    t = 1, ..., T - 1.

A response from rest to inputs ``u_0, ..., u_{T-1}`` applied one step earlier is the same recursion
with ``x_0 = 0`` and ``drive = (0, u_0, ..., u_{T-1})``, returning T + 1 states
(`linear_response_from_rest`). The loop is a `jax.lax.scan`, compiled once per shape.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = ["linear_response_from_rest", "linear_rollout"]


@jax.jit
def linear_rollout(A: Float[Array, "K K"], x0: Float[Array, "*batch K"],
                   drive: Float[Array, "*batch T K"]) -> Float[Array, "*batch T K"]:
    """States ``x_0, ..., x_{T-1}`` of ``x_t = A x_{t-1} + drive_t`` (``drive_0`` is not used).

    ``x0`` is ``(..., K)`` and ``drive`` ``(..., T, K)`` with the same leading batch shape; the result
    has the shape of ``drive`` and starts with ``x0``.
    """
    def step(x, d):
        x = x @ A.T + d
        return x, x

    _, xs = jax.lax.scan(step, x0, jnp.moveaxis(drive, -2, 0)[1:])
    return jnp.concatenate([x0[..., None, :], jnp.moveaxis(xs, 0, -2)], axis=-2)


@jax.jit
def linear_response_from_rest(A: Float[Array, "K K"], inputs: Float[Array, "*batch T K"]) -> Float[Array, "*batch T+1 K"]:
    """``x_0 = 0``, ``x_t = A x_{t-1} + u_{t-1}``: the T + 1 states of the response to ``inputs``."""
    x0 = jnp.zeros(inputs.shape[:-2] + inputs.shape[-1:], inputs.dtype)
    drive = jnp.concatenate([jnp.zeros_like(inputs[..., :1, :]), inputs], axis=-2)
    return linear_rollout(A, x0, drive)

"""Neuronal input-output gain functions ``f(x; g)`` (thesis, seed 003).

* `Tanh`: the piecewise tanh of eq. (3.2) (also eqs. 1.12, 2.2), firing rate relative to baseline r0::

      f(x_i; g_i) = r0 tanh(g_i x_i / r0)                     if x_i < 0
                    (rmax - r0) tanh(g_i x_i / (rmax - r0))    if x_i >= 0

  Its slope at x = 0 is g_i; it saturates at -r0 (silence) and rmax - r0.
* `PositiveTanh`: the strictly positive form of eq. (1.14): the same plus r0. With the constant input
  ``h_i = -r0 sum_j W_ij`` of eq. (1.13) (`positive_rate_input`) it produces exactly the dynamics of
  eq. (3.2) with rates shifted by r0, because ``W (f + r0 1) + h = W f``.
* `Linear`: ``f_l(x; g) = g x`` (thesis §1.2.1.1, §2.2), for which the dynamics are solvable exactly.

Each is an immutable, hashable dataclass, so it can be a static argument of a jitted simulation.
"""

from __future__ import annotations

import abc

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from neurodyn.validation import fail

__all__ = ["GainFunction", "Linear", "PositiveTanh", "Tanh", "positive_rate_input"]


class GainFunction(abc.ABC):
    """Base class: ``f(x, g)`` elementwise, slope ``g`` at x = 0."""

    linear: bool = False

    @abc.abstractmethod
    def __call__(self, x: Float[Array, "*batch neurons"], g: float | Float[Array, " neurons"] = 1.0
                 ) -> Float[Array, "*batch neurons"]:
        """Firing rate (relative to baseline) of activity ``x`` at gain ``g``."""


@dataclass(frozen=True)
class Tanh(GainFunction):
    """Piecewise tanh gain function, thesis eq. (3.2); rates relative to baseline ``r0`` (Hz)."""

    r0: float = 20.0
    rmax: float = 100.0

    def __post_init__(self):
        if not (np.isfinite(self.r0) and self.r0 > 0):
            fail("r0", self.r0, "a baseline rate > 0 (Hz)")
        if not (np.isfinite(self.rmax) and self.rmax > self.r0):
            fail("rmax", self.rmax, f"a maximum rate > r0={self.r0} (Hz)")

    def __call__(self, x: Float[Array, "*batch neurons"], g: float | Float[Array, " neurons"] = 1.0
                 ) -> Float[Array, "*batch neurons"]:
        gx = g * x
        return jnp.where(x < 0, self.r0 * jnp.tanh(gx / self.r0),
                         (self.rmax - self.r0) * jnp.tanh(gx / (self.rmax - self.r0)))


@dataclass(frozen=True)
class PositiveTanh(Tanh):
    """Strictly positive gain function, thesis eq. (1.14): `Tanh` plus r0 (absolute rate, Hz)."""

    def __call__(self, x: Float[Array, "*batch neurons"], g: float | Float[Array, " neurons"] = 1.0
                 ) -> Float[Array, "*batch neurons"]:
        return Tanh.__call__(self, x, g) + self.r0


@dataclass(frozen=True)
class Linear(GainFunction):
    """Linear gain function ``f_l(x; g) = g x`` (thesis §2.2)."""

    linear = True

    def __call__(self, x: Float[Array, "*batch neurons"], g: float | Float[Array, " neurons"] = 1.0
                 ) -> Float[Array, "*batch neurons"]:
        return g * x


def positive_rate_input(W: Float[Array, "*batch neurons neurons"], r0: float) -> Float[Array, "*batch neurons"]:
    """Constant input ``h_i = -r0 sum_j W_ij`` that pairs with `PositiveTanh` (thesis eq. 1.13)."""
    return -r0 * jnp.sum(jnp.asarray(W), axis=-1)

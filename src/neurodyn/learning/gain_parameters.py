"""Three linear ways of setting the neuronal gains, the parameters of the reward rule (thesis, seed 003).

Each object maps a session's parameter vector theta (Q,) to the per-neuron gains that the network runs
with, ``g = A theta``, inside the jitted rule (`gains`), and maps the learned parameters of all sessions
back to neuronal gains (`neuron_gains`):

* `NeuronGains` (§3.4): g = theta, Q = N (eqs. 3.5-3.6 act on the gains themselves);
* `GroupGains` (§4.1.1, §4.2): g = M_b gamma with M_b (N x n) the 0/1 membership matrix of session b's
  modulatory groups (one group per neuron), Q = n;
* `CoefficientGains` (§6.6, Appendix 6.A.4): g_s = B_s c at every condition s (the basis
  B_s = M diag(gamma_s) Gamma^T of `neurodyn.learning.primitives.primitive_bases`), Q shape patterns;
  the bases may differ per problem p.

Because the maps are linear, a step Delta theta of the rule moves the gains by A Delta theta, and the
low-pass filter thetabar maps to the filter of the gains (gbar = A thetabar).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

__all__ = ["CoefficientGains", "GroupGains", "NeuronGains"]


@dataclass(frozen=True, eq=False)
class NeuronGains:
    """``g = theta``: one gain per neuron (thesis §3.4)."""

    def gains(self, theta: Float[Array, "neurons"], b: Int[Array, ""], p: Int[Array, ""]) -> Float[Array, "neurons"]:
        return theta

    def neuron_gains(self, theta: Float[np.ndarray, "batch neurons"]) -> Float[np.ndarray, "batch neurons"]:
        return np.asarray(theta)


@dataclass(frozen=True, eq=False)
class GroupGains:
    """``g = M_b gamma``: tied gains of modulatory groups, ``membership`` ``(B, N, n)`` one per session (§4.2)."""

    membership: Float[np.ndarray, "batch neurons groups"]

    def __post_init__(self):
        object.__setattr__(self, "_membership", jnp.asarray(self.membership))

    def gains(self, theta: Float[Array, "groups"], b: Int[Array, ""], p: Int[Array, ""]) -> Float[Array, "neurons"]:
        return self._membership[b] @ theta

    def neuron_gains(self, theta: Float[np.ndarray, "batch groups"]) -> Float[np.ndarray, "batch neurons"]:
        return np.einsum("bnk,bk->bn", self.membership, np.asarray(theta))


@dataclass(frozen=True, eq=False)
class CoefficientGains:
    """``g_s = B_s c`` at each condition s: ``bases`` ``(1 or P, C, N, Q)``, shared or one per problem (§6.6)."""

    bases: Float[np.ndarray, "problems conditions neurons patterns"]

    def __post_init__(self):
        object.__setattr__(self, "_bases", jnp.asarray(self.bases))

    def gains(self, theta: Float[Array, "patterns"], b: Int[Array, ""],
              p: Int[Array, ""]) -> Float[Array, "conditions neurons"]:
        basis = self._bases[0] if self.bases.shape[0] == 1 else self._bases[p]
        return basis @ theta

    def neuron_gains(self, theta: Float[np.ndarray, "batch patterns"],
                     problems: Int[np.ndarray, "batch"]) -> Float[np.ndarray, "batch conditions neurons"]:
        basis = np.broadcast_to(self.bases, (int(np.max(problems)) + 1,) + self.bases.shape[1:])[problems]
        return np.einsum("bsnq,bq->bsn", basis, np.asarray(theta))

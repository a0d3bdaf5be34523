"""Declarative input perturbations: cell-type-targeted optogenetic and untargeted ICMS-like (seed 001 §11, §15).

Optogenetic stimulation (seed 001 Methods §11; the equation was lost and is restored from the prose):
each unit of the targeted type (excitatory for the opsin used) is hit with probability ``p_stim`` and the
hit units receive an amplitude ``gamma`` with multiplicative noise from opsin expression,

    s_i = gamma * o_i * max(0, 1 + sigma xi_i),   o_i ~ Bernoulli(p_stim) for targeted units, 0 otherwise,
    xi_i ~ N(0, 1)

(clipped at zero because the opsin only excites). The input is constant, ``h_t = s`` while
``onset <= t < onset + duration`` (200 ms in §11) and 0 otherwise.

ICMS-like stimulation (§15) is untargeted: every unit, E or I, is a candidate (same formula with all units
targeted), so the input has no cell-type structure.

The effect of a stimulation is the deviation from the unstimulated run, ``Delta nu = nu_s - nu_0``
(`stimulated_response`, the §11 analysis).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from neurodyn.validation import fail, in_range, positive

__all__ = ["ICMSStimulation", "InputPerturbation", "OptogeneticStimulation", "stimulated_response"]


@dataclass(frozen=True)
class InputPerturbation:
    """A constant input vector on a time window; see the module docstring for ``vector``'s formula.

    Attributes:
        amplitude: gamma (input units, e.g. rate per step).
        p_stim: probability that a targeted unit is hit.
        noise_sd: sigma of the multiplicative expression noise.
        onset_ms, duration_ms: the stimulation window ``[onset, onset + duration)``.
        target: ``"E"``, ``"I"`` or ``"all"``.
    """

    amplitude: float = 1.0
    p_stim: float = 0.75
    noise_sd: float = 0.3
    onset_ms: float = 0.0
    duration_ms: float = 200.0
    target: str = "E"

    def __post_init__(self):
        positive("amplitude", self.amplitude)
        in_range("p_stim", self.p_stim, 0.0, 1.0, lo_open=True)
        in_range("noise_sd", self.noise_sd, 0.0, np.inf)
        in_range("onset_ms", self.onset_ms, -np.inf, np.inf)
        positive("duration_ms", self.duration_ms)
        if self.target not in ("E", "I", "all"):
            fail("target", self.target, "'E', 'I' or 'all'")

    def targeted(self, is_excitatory: Bool[np.ndarray, "neurons"]) -> Bool[np.ndarray, "neurons"]:
        """The units this perturbation targets (E, I or all) among cell types ``is_excitatory``."""
        e = np.asarray(is_excitatory, bool)
        if e.ndim != 1:
            fail("is_excitatory", e, "a boolean vector (one entry per unit)")
        return e if self.target == "E" else (~e if self.target == "I" else np.ones_like(e))

    def vector(self, is_excitatory: Bool[np.ndarray, "neurons"], seed: int = 0) -> Float[np.ndarray, "neurons"]:
        """One stimulation vector ``s`` (N,): ``gamma o_i max(0, 1 + sigma xi_i)`` on targeted units."""
        tgt = self.targeted(is_excitatory)
        rng = np.random.default_rng(seed)
        o = (rng.random(tgt.size) < self.p_stim) & tgt
        xi = rng.standard_normal(tgt.size)
        return self.amplitude * o * np.maximum(0.0, 1.0 + self.noise_sd * xi)

    def vectors(self, is_excitatory: Bool[np.ndarray, "neurons"], n: int,
                seed: int = 0) -> Float[np.ndarray, "patterns neurons"]:
        """``n`` independent vectors ``(n, N)``."""
        rng = np.random.default_rng(seed)
        return np.stack([self.vector(is_excitatory, int(s)) for s in rng.integers(0, 2**31 - 1, int(n))])

    def window(self, t_ms: Float[np.ndarray, "time"]) -> Bool[np.ndarray, "time"]:
        """Booleans: True where ``onset <= t < onset + duration``."""
        t = np.asarray(t_ms, float)
        return (t >= self.onset_ms) & (t < self.onset_ms + self.duration_ms)

    def input_array(self, t_ms: Float[np.ndarray, "time"],
                    s: Float[np.ndarray, "neurons"]) -> Float[np.ndarray, "time neurons"]:
        """The input ``h (T, N)``: ``s`` inside the window, 0 outside."""
        return self.window(t_ms)[:, None] * np.asarray(s, float)[None, :]

    def input_fn(self, s: Float[Array, "*batch neurons"]
                 ) -> Callable[[Float[Array, ""]], Float[Array, "*batch neurons"]]:
        """A traceable ``h(t_ms)`` for `neurodyn.dynamics.simulate` (``s`` in the window, else 0)."""
        s = jnp.asarray(s)
        lo, hi = float(self.onset_ms), float(self.onset_ms + self.duration_ms)

        def h(t):
            return jnp.where((t >= lo) & (t < hi), 1.0, 0.0) * s

        return h


@dataclass(frozen=True)
class OptogeneticStimulation(InputPerturbation):
    """Cell-type-targeted stimulation (seed 001 §11): E units, p_stim = 0.75, 200-ms window by default."""


@dataclass(frozen=True)
class ICMSStimulation(InputPerturbation):
    """Untargeted ICMS-like stimulation (seed 001 §15): every unit is a candidate, whatever its type."""

    target: str = "all"


def stimulated_response(net_run: Callable[..., Float[np.ndarray, "*batch time neurons"]],
                        stim_vectors: Float[np.ndarray, "patterns neurons"], window: Bool[np.ndarray, "time"]
                        ) -> tuple[Float[np.ndarray, "*batch time neurons"],
                                   Float[np.ndarray, "patterns *batch time neurons"]]:
    """The unstimulated run ``nu_0 = net_run(None, None)`` and ``Delta nu = net_run(s, window) - nu_0`` for
    each stimulation vector s (seed 001 §11); ``net_run(s, window)`` runs the network with the input s on
    the bins where ``window`` is True."""
    base = net_run(None, None)
    return base, np.stack([net_run(s, window) - base for s in stim_vectors])

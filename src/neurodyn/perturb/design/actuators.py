"""Actuation technologies as constraints on the stimulation input (seed 000; seed 001 §2, §11, §15).

Seed 000 asks for "precise excitation and inhibition to individual neurons"; real actuators allow less.
Each actuator turns the cell types of a network (and unit positions, if any) into a `FeasibleSet`
``u = B v``, ``lo <= v <= hi``, at most ``max_active`` non-zero controls:

* `OptogeneticExcitation`: an excitatory opsin expressed by a random fraction of one cell type
  (seed 001 §2, §11): ``B`` selects the expressing cells, ``0 <= v <= max_amplitude``;
* `HolographicStimulation`: the same with at most ``max_targets`` cells at once (patterned light);
* `BidirectionalOpsins`: an excitatory and an inhibitory opsin, each on its own random subset;
* `ElectricalStimulation`: one current per electrode through spatial kernels (ICMS-like, §15).

The cell types are always passed explicitly (``is_excitatory``, one boolean per unit): no actuator assumes
which units are excitatory.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np
from jaxtyping import Bool, Float

from neurodyn.perturb.design.feasible import FeasibleSet
from neurodyn.validation import fail, finite_array, in_range, positive, positive_int

__all__ = ["Actuator", "BidirectionalOpsins", "ElectricalStimulation", "HolographicStimulation",
           "OptogeneticExcitation"]


def _targets(is_excitatory, target: str, name: str) -> np.ndarray:
    """The units of ``target`` ('E', 'I', 'all', 'none') among cell types ``is_excitatory``."""
    e = np.asarray(is_excitatory, bool)
    if e.ndim != 1 or e.size < 1:
        fail("is_excitatory", e, "a boolean vector (one entry per unit)")
    if target == "E":
        return e.copy()
    if target == "I":
        return ~e
    if target == "all":
        return np.ones_like(e)
    if target == "none":
        return np.zeros_like(e)
    fail(name, target, "'E', 'I', 'all' or 'none'")


def _expressing(targets: np.ndarray, fraction: float, rng) -> np.ndarray:
    """A random subset of exactly ``round(fraction * n_targets)`` (at least 1) of the target units."""
    idx = np.flatnonzero(targets)
    out = np.zeros_like(targets)
    if idx.size == 0:
        return out
    n = max(1, int(round(fraction * idx.size)))
    out[rng.choice(idx, size=n, replace=False)] = True
    return out


class Actuator(abc.ABC):
    """An actuation technology; `feasible_set` turns it into constraints for a given network."""

    @abc.abstractmethod
    def feasible_set(self, is_excitatory: Bool[np.ndarray, "neurons"],
                     positions: Float[np.ndarray, "neurons ..."] | None = None) -> FeasibleSet:
        """Constraints on ``u = B v`` for a network with these cell types (and unit positions, if any)."""

    def random_patterns(self, is_excitatory: Bool[np.ndarray, "neurons"], n: int, norm: float, seed: int = 0,
                        positions: Float[np.ndarray, "neurons ..."] | None = None
                        ) -> Float[np.ndarray, "patterns neurons"]:
        """``n`` random feasible unit inputs ``(n, N)`` of norm ``norm`` (the baseline)."""
        fs = self.feasible_set(is_excitatory, positions)
        return fs.inputs(fs.random(n, norm, seed))


def _amplitude(name, value) -> float:
    if value is None:
        return np.inf
    return positive(name, value) if np.isfinite(value) else float(value)


@dataclass(frozen=True)
class OptogeneticExcitation(Actuator):
    """Excitatory opsin on one cell type (seed 001 §2, §11): non-negative inputs, only on expressing cells.

    A random fraction ``expression`` of the ``target`` cells (E by default) expresses the opsin (the mask
    is drawn with ``seed``); an expressing cell can receive any input in ``[0, max_amplitude]``.
    """

    expression: float = 0.75
    max_amplitude: float = np.inf
    target: str = "E"
    seed: int = 0

    def __post_init__(self):
        in_range("expression", self.expression, 0.0, 1.0, lo_open=True)
        _amplitude("max_amplitude", self.max_amplitude)
        _targets(np.array([True, False]), self.target, "target")

    def expression_mask(self, is_excitatory: Bool[np.ndarray, "neurons"]) -> Bool[np.ndarray, "neurons"]:
        tgt = _targets(is_excitatory, self.target, "target")
        return _expressing(tgt, self.expression, np.random.default_rng(self.seed))

    def feasible_set(self, is_excitatory: Bool[np.ndarray, "neurons"],
                     positions: Float[np.ndarray, "neurons ..."] | None = None) -> FeasibleSet:
        mask = self.expression_mask(is_excitatory)
        units = np.flatnonzero(mask)
        if units.size == 0:
            fail("target", self.target, "a cell type present in the network")
        N = mask.size
        B = np.eye(N)[:, units]
        return FeasibleSet(B, 0.0, _amplitude("max_amplitude", self.max_amplitude), None, units)


@dataclass(frozen=True)
class HolographicStimulation(OptogeneticExcitation):
    """Patterned (holographic, two-photon) excitation: at most ``max_targets`` expressing cells at once."""

    max_targets: int = 10
    expression: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        positive_int("max_targets", self.max_targets)

    def feasible_set(self, is_excitatory: Bool[np.ndarray, "neurons"],
                     positions: Float[np.ndarray, "neurons ..."] | None = None) -> FeasibleSet:
        fs = super().feasible_set(is_excitatory, positions)
        return FeasibleSet(fs.B, fs.lo, fs.hi, self.max_targets, fs.units)


@dataclass(frozen=True)
class BidirectionalOpsins(Actuator):
    """An excitatory and an inhibitory opsin (seed 000: "precise excitation and inhibition").

    Each opsin is expressed by a random fraction of its target cells (``"E"``, ``"I"``, ``"all"`` or
    ``"none"``). A cell with the excitatory opsin accepts inputs up to ``max_excitation``; with the
    inhibitory one, down to ``-max_inhibition``; with both, the whole interval.
    """

    excitatory_target: str = "E"
    inhibitory_target: str = "all"
    excitatory_expression: float = 0.75
    inhibitory_expression: float = 0.75
    max_excitation: float = np.inf
    max_inhibition: float = np.inf
    seed: int = 0

    def __post_init__(self):
        for name in ("excitatory_target", "inhibitory_target"):
            _targets(np.array([True, False]), getattr(self, name), name)
        in_range("excitatory_expression", self.excitatory_expression, 0.0, 1.0, lo_open=True)
        in_range("inhibitory_expression", self.inhibitory_expression, 0.0, 1.0, lo_open=True)
        _amplitude("max_excitation", self.max_excitation)
        _amplitude("max_inhibition", self.max_inhibition)

    def feasible_set(self, is_excitatory: Bool[np.ndarray, "neurons"],
                     positions: Float[np.ndarray, "neurons ..."] | None = None) -> FeasibleSet:
        rng = np.random.default_rng(self.seed)
        exc = _expressing(_targets(is_excitatory, self.excitatory_target, "excitatory_target"),
                          self.excitatory_expression, rng)
        inh = _expressing(_targets(is_excitatory, self.inhibitory_target, "inhibitory_target"),
                          self.inhibitory_expression, rng)
        units = np.flatnonzero(exc | inh)
        if units.size == 0:
            fail("excitatory_target", self.excitatory_target, "at least one expressing cell")
        hi = np.where(exc[units], _amplitude("max_excitation", self.max_excitation), 0.0)
        lo = np.where(inh[units], -_amplitude("max_inhibition", self.max_inhibition), 0.0)
        return FeasibleSet(np.eye(exc.size)[:, units], lo, hi, None, units)


@dataclass(frozen=True)
class ElectricalStimulation(Actuator):
    """Untargeted electrical stimulation (ICMS-like, seed 001 §15): one control (current) per electrode.

    With unit ``positions`` (N x d), electrode e drives unit i by ``exp(-||p_i - q_e||^2 / (2 radius^2))``
    (a Gaussian spatial kernel around the electrode position ``q_e``; electrodes at ``electrodes`` or at
    random units' positions); without positions the pattern of each electrode is a random Gaussian vector
    (every unit a candidate, whatever its type, as the additive ICMS component of §15.1). Currents are
    bounded by ``max_current`` and may have either sign when ``bipolar``.
    """

    n_electrodes: int = 1
    radius: float = 1.0
    max_current: float = np.inf
    bipolar: bool = True
    electrodes: tuple | None = None
    seed: int = 0

    def __post_init__(self):
        positive_int("n_electrodes", self.n_electrodes)
        positive("radius", self.radius)
        _amplitude("max_current", self.max_current)

    def kernels(self, n_units: int,
                positions: Float[np.ndarray, "neurons ..."] | None = None) -> Float[np.ndarray, "neurons inputs"]:
        rng = np.random.default_rng(self.seed)
        if positions is None:
            return rng.standard_normal((n_units, self.n_electrodes))
        P = finite_array("positions", positions)
        if P.ndim == 1:
            P = P[:, None]
        if P.shape[0] != n_units:
            fail("positions", P, f"one position per unit ({n_units} rows)")
        if self.electrodes is None:
            E = P[rng.choice(n_units, size=self.n_electrodes, replace=False)]
        else:
            E = finite_array("electrodes", self.electrodes)
            if E.size != self.n_electrodes * P.shape[1]:
                fail("electrodes", self.electrodes, f"{self.n_electrodes} positions of dimension {P.shape[1]}")
            E = E.reshape(self.n_electrodes, P.shape[1])
        d2 = np.sum((P[:, None, :] - E[None, :, :]) ** 2, axis=-1)
        return np.exp(-0.5 * d2 / self.radius ** 2)

    def feasible_set(self, is_excitatory: Bool[np.ndarray, "neurons"],
                     positions: Float[np.ndarray, "neurons ..."] | None = None) -> FeasibleSet:
        n = np.asarray(is_excitatory).size
        amp = _amplitude("max_current", self.max_current)
        return FeasibleSet(self.kernels(n, positions), -amp if self.bipolar else 0.0, amp, None, None)

"""Perturbation design: stimulation patterns that reach (or avoid) the task-dynamics space (seeds 000, 001).

Seed 000 ("Manipulating neural dynamics") names the open problem: "perturb a population of neurons with
spatiotemporal patterns that activate the circuit 'within-manifold'", which "generally require[s] the
ability to deliver precise excitation and inhibition to individual neurons"; perturbations that ignore the
manifold are "outside-manifold". Seed 001 (Results, "E/I network model establishes mechanism"; Methods
§10.1, §11, §14) makes it quantitative for the self-contained-subspace E/I network: the task-dynamics
space is the row space of a fixed random K x N projection J, and an additive random input projects onto it
only by chance, with expected length ``sqrt(K/N)`` of a unit input (the expression is lost from the text
and restored here: for a fixed unit u and a uniformly random K-dimensional subspace with projector P,
``E ||P u||^2 = K/N``; the exact mean length is `neurodyn.models.ei_subspace.chance_projection`), so
random optogenetic excitation decays fast and leaves behaviour alone. This module designs input patterns under the constraints real
actuators have, and predicts their effects.

Model (seed 001 §10.1, §11; seed 003 eq. 2.1 for continuous time). A linear(ised) network driven by an
input ``u`` held during a window of ``n_on`` steps of ``dt`` and then released::

    nu_{t+1} = F nu_t + Gamma u_t,      (discrete, §10.1/§11: F = W, Gamma = I, 10-ms steps)
    tau dnu/dt = -nu + W nu + u  =>  F = e^{A dt}, Gamma = A^{-1} (e^{A dt} - I) diag(1/tau),
                                     A = diag(1/tau) (W diag(g) - I)            (exact zero-order hold)

The deviation from the unstimulated trajectory at the end of the window is linear in u,

    Delta nu(n_on) = G u,   G = sum_{k=0}^{n_on-1} F^k Gamma,                                   (1)

so the displacement inside the task-dynamics space, in an orthonormal basis Q (N x K) of row(J), is
``L u`` with ``L = Q^T G`` (K x N), and the part outside it is ``(I - Q Q^T) G u``. Actuators act through
controls ``v`` (m) and an input map ``B`` (N x m): ``u = B v`` (B selects the addressable cells for
optical stimulation, or holds the spatial current kernels of electrodes), within per-control bounds
``lo <= v <= hi`` and, for patterned light, at most k non-zero controls.

Objectives (the derivations are given in each function's docstring):

(a) `maximize_subspace_effect`: ``max ||L B v|| / ||B v||`` (displacement in the target space per unit input
    norm). Unconstrained: the generalised symmetric eigenproblem ``(B^T L^T L B) w = lambda (B^T B) w``.
    Constrained: maximising a convex function over a convex set is not convex; since
    ``||y|| = max_{||d||=1} d^T y``, the problem is ``max_d h(d)`` with the support function
    ``h(d) = max {d^T L B v : v feasible, ||B v|| <= norm}``, a second-order-cone programme in v for
    each d with a closed form for box constraints. The outer maximisation over the K-sphere is done by
    alternating (generalised power) ascent ``d <- L B v / ||L B v||`` with restarts.
(b) `minimize_subspace_effect`: the feasible pattern closest to a reference (by default a random feasible
    pattern) with zero displacement in the target space: ``min ||v - r||^2 s.t. L B v = 0``, bounds — a
    convex QP (method of multipliers over bounded least squares, `scipy.optimize.lsq_linear`).
(c) `reach_state`: reach ``Q^T Delta nu(n_on) = x*`` with the least response outside the space,
    ``min ||(I - Q Q^T) G B v||^2 + eps ||v||^2 s.t. L B v = x*``, bounds — a convex QP (same solver);
    closed form from its KKT system when unconstrained.
(d) `spatiotemporal_design`: time-varying inputs ``u_t`` (seed 000's "spatiotemporal patterns"), through
    the input-restricted finite-horizon controllability Gramian projected on the target space.
(e) `design_nonlinear`: networks with a nonlinear gain function, by projected gradient ascent on JAX gradients
    through `neurodyn.dynamics.simulate`.

Predictions (`predict_effects`): response trajectory to each pattern, its projections on the task-dynamics
and task-activity spaces, its decay time after offset, and the change of a linear readout ``C J nu``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg as sla
from scipy.optimize import lsq_linear, minimize

from neurodyn.validation import fail, finite_array, in_range, positive, positive_int, square_matrix
from neurodyn.progress import progress

__all__ = [
    "Actuator", "BidirectionalOpsins", "Design", "ElectricalStimulation", "FeasibleSet", "HolographicStimulation",
    "LinearResponseModel", "OptogeneticExcitation", "PatternEffects", "SpatiotemporalDesign", "decay_time",
    "design_nonlinear", "maximize_subspace_effect", "minimize_subspace_effect", "predict_effects",
    "reach_state", "spatiotemporal_design", "subspace_basis", "subspace_trajectory_operators",
]


# =========================================================================== helpers
def subspace_basis(J) -> np.ndarray:
    """Orthonormal basis Q (N x K) of the row space of ``J`` (K x N), the task-dynamics space (seed 001 §10.1)."""
    J = finite_array("J", J, ndim=2)
    if J.shape[0] > J.shape[1]:
        fail("J", J, "a K x N projection with K <= N")
    Q, R = np.linalg.qr(J.T)
    if np.min(np.abs(np.diag(R))) <= 1e-12 * max(np.max(np.abs(np.diag(R))), 1e-300):
        fail("J", J, "full row rank")
    return Q


def decay_time(dist, dt_ms: float) -> float:
    """Time for ``dist`` (from the offset sample on) to fall to ``dist[0]/e``, linearly interpolated;
    the window length if it never does (the convention of the seed 001 §11 analysis of stimulation decay)."""
    dist = np.asarray(dist, float)
    if dist.size == 0 or dist[0] <= 0:
        return 0.0
    target = dist[0] / np.e
    below = np.flatnonzero(dist <= target)
    if below.size == 0:
        return float((dist.size - 1) * dt_ms)
    k = int(below[0])
    frac = (dist[k - 1] - target) / max(dist[k - 1] - dist[k], 1e-300)
    return float((k - 1 + frac) * dt_ms)


def _targets(is_excitatory, target: str, name: str) -> np.ndarray:
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


# =========================================================================== feasible sets
@dataclass(frozen=True, eq=False)
class FeasibleSet:
    """The constraints an actuator puts on the input ``u = B v`` (see the module docstring).

    Attributes:
        B: (N, m) input map from controls to unit inputs.
        lo, hi: (m,) bounds per control (``-inf``/``inf`` allowed; ``lo <= 0 <= hi``).
        max_active: at most this many non-zero controls (None: no cardinality limit).
        units: (m,) unit index of each control when B selects single units (columns of the identity),
            else None.
    """

    B: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    max_active: int | None = None
    units: np.ndarray | None = None

    def __post_init__(self):
        B = finite_array("B", self.B, ndim=2)
        m = B.shape[1]
        if m < 1:
            fail("B", B, "at least one control (no unit can be stimulated)")
        lo = np.broadcast_to(np.asarray(self.lo, float), (m,)).copy()
        hi = np.broadcast_to(np.asarray(self.hi, float), (m,)).copy()
        if np.any(np.isnan(lo)) or np.any(np.isnan(hi)) or np.any(lo > 0) or np.any(hi < 0):
            fail("lo/hi", (lo, hi), "bounds with lo <= 0 <= hi for every control")
        if np.all((lo == 0) & (hi == 0)):
            fail("lo/hi", (lo, hi), "at least one control with a non-zero range")
        if self.max_active is not None:
            positive_int("max_active", self.max_active)
        object.__setattr__(self, "B", B)
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)
        if self.units is not None:
            units = np.asarray(self.units, int)
            if (units.shape != (m,) or np.unique(units).size != m or units.min() < 0 or units.max() >= B.shape[0]
                    or np.count_nonzero(B) != m or not np.all(B[units, np.arange(m)] == 1.0)):
                fail("units", units, "distinct unit indices matching B = identity columns (one per control)")
            object.__setattr__(self, "units", units)

    @property
    def n_units(self) -> int:
        return self.B.shape[0]

    @property
    def n_controls(self) -> int:
        return self.B.shape[1]

    @property
    def is_selection(self) -> bool:
        """True when each control drives one distinct unit (then ``||B v|| = ||v||``)."""
        return self.units is not None

    @property
    def unconstrained(self) -> bool:
        return bool(np.all(np.isinf(self.lo)) and np.all(np.isinf(self.hi)) and self.max_active is None)

    def inputs(self, v) -> np.ndarray:
        """Unit inputs ``u = B v`` for controls ``v`` of shape ``(..., m)``."""
        v = np.asarray(v, float)
        if self.is_selection:
            u = np.zeros(v.shape[:-1] + (self.n_units,))
            u[..., self.units] = v
            return u
        return v @ self.B.T

    def input_norm(self, v) -> np.ndarray:
        return np.linalg.norm(self.inputs(v), axis=-1)

    def violations(self, v, tol: float = 1e-9) -> dict:
        """Largest bound violation and number of active controls (for checks and tests)."""
        v = np.asarray(v, float)
        scale = max(1.0, float(np.max(np.abs(v))) if v.size else 1.0)
        over = np.maximum(v - self.hi, self.lo - v)
        active = np.sum(np.abs(v) > tol * scale, axis=-1)
        card = 0 if self.max_active is None else int(np.max(np.maximum(active - self.max_active, 0)))
        return {"bound": float(np.max(over)), "cardinality": card, "active": active}

    def max_norm(self) -> float:
        """Largest input norm ``||B v||`` reachable inside the bounds (selection sets; inf if unbounded)."""
        if not self.is_selection:
            return np.inf
        reach = np.maximum(np.abs(self.lo), np.abs(self.hi))
        if self.max_active is not None:
            reach = np.sort(reach)[::-1][:self.max_active]
        return float(np.sqrt(np.sum(reach ** 2)))

    def scale_to_norm(self, v, norm: float) -> np.ndarray:
        """Controls with the sign pattern of ``v`` scaled to ``||B v|| = norm`` within the bounds.

        Selection sets: water-filling (scale, clip the controls that hit a bound, rescale the others, until the
        norm is met); other sets: plain scaling, which must stay inside the bounds.
        """
        norm = positive("norm", norm)
        v = np.asarray(v, float).copy()
        if np.linalg.norm(v) == 0:
            fail("v", v, "a non-zero pattern to scale")
        if not self.is_selection:
            s = norm / max(float(self.input_norm(v)), 1e-300)
            out = v * s
            if np.any(out > self.hi * (1 + 1e-9)) or np.any(out < self.lo * (1 + 1e-9)):
                fail("norm", norm, "a norm reachable within the control bounds")
            return out
        bound = np.where(v > 0, self.hi, np.where(v < 0, -self.lo, 0.0))
        fixed = np.zeros(v.size, bool)
        out = np.zeros_like(v)
        for _ in range(v.size + 1):
            rest = norm ** 2 - np.sum(out[fixed] ** 2)
            free = (~fixed) & (v != 0)
            nf = np.linalg.norm(v[free])
            if rest <= 0 or nf == 0:
                break
            s = np.sqrt(rest) / nf
            cand = np.abs(v) * s
            hit = free & (cand > bound)
            if not hit.any():
                out[free] = v[free] * s
                return out
            out[hit] = np.sign(v[hit]) * bound[hit]
            fixed |= hit
        fail("norm", norm, f"at most the largest norm reachable with this sign pattern and these bounds "
                           f"({np.linalg.norm(out):.4g})")

    def random(self, n: int, norm: float, seed: int = 0, noise_sd: float = 0.3) -> np.ndarray:
        """``n`` random feasible control patterns ``(n, m)`` with input norm ``norm`` (the baseline).

        Each draw follows the seed 001 §11 stimulation model on the addressable controls: magnitude
        ``max(0, 1 + sigma xi)``, ``xi ~ N(0, 1)`` (expression noise), sign fixed by the bounds (random where
        both signs are allowed), on all controls or on ``max_active`` random ones; then scaled to the norm.
        """
        n = positive_int("n", n)
        in_range("noise_sd", noise_sd, 0.0, np.inf)
        rng = np.random.default_rng(seed)
        m = self.n_controls
        usable = (self.hi > 0) | (self.lo < 0)
        out = np.zeros((n, m))
        for i in range(n):
            mag = np.maximum(0.0, 1.0 + noise_sd * rng.standard_normal(m)) * usable
            sign = np.where(self.lo >= 0, 1.0, np.where(self.hi <= 0, -1.0, rng.choice([-1.0, 1.0], m)))
            v = mag * sign
            if self.max_active is not None and np.count_nonzero(v) > self.max_active:
                keep = rng.choice(np.flatnonzero(v), size=self.max_active, replace=False)
                mask = np.zeros(m, bool)
                mask[keep] = True
                v = np.where(mask, v, 0.0)
            if not np.any(v):                  # all magnitudes clipped to zero: one random control
                j = rng.choice(np.flatnonzero(usable))
                v[j] = 1.0 if self.hi[j] > 0 else -1.0
            out[i] = self.scale_to_norm(v, norm)
        return out

    def project(self, v, norm: float | None = None) -> np.ndarray:
        """Feasible controls near ``v``: clip to the bounds, keep the ``max_active`` largest, scale to ``norm``.

        For the non-negative orthant with no upper bound this is the exact Euclidean projection onto
        ``{v >= 0, ||v|| = norm}``; otherwise a feasible point used by the projected-gradient designer.
        """
        v = np.clip(np.asarray(v, float), self.lo, self.hi)
        if self.max_active is not None and np.count_nonzero(v) > self.max_active:
            keep = np.argsort(-np.abs(v))[:self.max_active]
            w = np.zeros_like(v)
            w[keep] = v[keep]
            v = w
        if norm is not None and np.any(v):
            v = self.scale_to_norm(v, norm)
        return v


# =========================================================================== actuation models
class Actuator(abc.ABC):
    """An actuation technology; `feasible_set` turns it into constraints for a given network."""

    @abc.abstractmethod
    def feasible_set(self, is_excitatory, positions=None) -> FeasibleSet:
        """Constraints on ``u = B v`` for a network with these cell types (and unit positions, if any)."""

    def random_patterns(self, is_excitatory, n: int, norm: float, seed: int = 0, positions=None) -> np.ndarray:
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

    def expression_mask(self, is_excitatory) -> np.ndarray:
        tgt = _targets(is_excitatory, self.target, "target")
        return _expressing(tgt, self.expression, np.random.default_rng(self.seed))

    def feasible_set(self, is_excitatory, positions=None) -> FeasibleSet:
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

    def feasible_set(self, is_excitatory, positions=None) -> FeasibleSet:
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

    def feasible_set(self, is_excitatory, positions=None) -> FeasibleSet:
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

    def kernels(self, n_units: int, positions=None) -> np.ndarray:
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

    def feasible_set(self, is_excitatory, positions=None) -> FeasibleSet:
        n = np.asarray(is_excitatory).size
        amp = _amplitude("max_current", self.max_current)
        return FeasibleSet(self.kernels(n, positions), -amp if self.bipolar else 0.0, amp, None, None)


# =========================================================================== linear response model
@dataclass(frozen=True, eq=False)
class LinearResponseModel:
    """``nu_{t+1} = F nu_t + Gamma u_t`` with task-dynamics projection J and readout C (module docstring).

    Attributes:
        F: (N, N) one-step propagator; Gamma: (N, N) input map per step (None: identity);
        J: (K, N) task-dynamics projection (its row space is the target space);
        C: (D, K) readout from ``x = J nu`` (the recorded / behavioural readout ``y = C J nu``), or None;
        is_excitatory: (N,) cell types; dt_ms: step (ms).
    """

    F: np.ndarray
    J: np.ndarray
    C: np.ndarray | None = None
    is_excitatory: np.ndarray | None = None
    Gamma: np.ndarray | None = None
    dt_ms: float = 10.0
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        F = square_matrix("F", self.F)
        N = F.shape[0]
        J = finite_array("J", self.J, ndim=2)
        if J.shape[1] != N:
            fail("J", J, f"a K x {N} projection")
        C = None if self.C is None else finite_array("C", self.C, ndim=2)
        if C is not None and C.shape[1] != J.shape[0]:
            fail("C", C, f"a D x {J.shape[0]} readout of the task-dynamics coordinates")
        e = np.arange(N) < N // 2 if self.is_excitatory is None else np.asarray(self.is_excitatory, bool)
        if e.shape != (N,):
            fail("is_excitatory", e, f"{N} booleans")
        G = None if self.Gamma is None else square_matrix("Gamma", self.Gamma)
        if G is not None and G.shape != (N, N):
            fail("Gamma", G, f"an {N} x {N} matrix")
        positive("dt_ms", self.dt_ms)
        for k, v in (("F", F), ("J", J), ("C", C), ("is_excitatory", e), ("Gamma", G)):
            object.__setattr__(self, k, v)

    # ------------------------------------------------------------- constructors
    @classmethod
    def discrete(cls, W, J, C=None, is_excitatory=None, dt_ms: float = 10.0) -> "LinearResponseModel":
        """The network of seed 001 §10.1/§11: ``nu_{t+1} = W nu_t + s`` in steps of ``dt_ms``."""
        return cls(W, J, C, is_excitatory, None, dt_ms)

    @classmethod
    def continuous(cls, network, J, C=None, gains=None, dt_ms: float = 10.0) -> "LinearResponseModel":
        """Exact zero-order-hold discretisation of ``tau dnu/dt = -nu + W diag(g) nu + u`` (seed 003 eq. 2.1
        with the linear gain, or the linearisation of a nonlinear network with the slopes as gains)."""
        from neurodyn.dynamics import linear_dynamics_matrix

        positive("dt_ms", dt_ms)
        A = linear_dynamics_matrix(network, gains)
        N = A.shape[0]
        tau = np.broadcast_to(np.asarray(network.tau, float), (N,))
        Phi = sla.expm(A * dt_ms)
        Gam = np.linalg.solve(A, Phi - np.eye(N)) / tau[None, :]
        return cls(Phi, J, C, network.is_excitatory, Gam, dt_ms)

    @classmethod
    def from_fit(cls, model) -> "LinearResponseModel":
        """The network of a fitted self-contained-subspace E/I model (seed 001 §10.1, §11).

        ``model`` is a fitted `neurodyn.models.EISubspaceNetwork` (e.g. from
        ``neurodyn.models.load_model("RUN/model.npz")``): its ``W_``, ``J_``, ``C_``, ``is_excitatory_`` and
        time step ``dt_ms`` are used.
        """
        missing = [k for k in ("W_", "J_", "C_", "is_excitatory_") if not hasattr(model, k)]
        if missing:
            fail("model", type(model).__name__, f"a fitted E/I network with {missing} (EISubspaceNetwork)",
                 TypeError)
        dt = float(getattr(model, "dt_ms", 10.0) or 10.0)
        return cls.discrete(np.asarray(model.W_), np.asarray(model.J_), np.asarray(model.C_),
                            np.asarray(model.is_excitatory_, bool), dt)

    # ------------------------------------------------------------- operators
    @property
    def n(self) -> int:
        return self.F.shape[0]

    @property
    def basis(self) -> np.ndarray:
        """Orthonormal basis Q (N x K) of the task-dynamics space row(J)."""
        if "Q" not in self._cache:
            self._cache["Q"] = subspace_basis(self.J)
        return self._cache["Q"]

    def window_operator(self, n_on: int, target=None) -> np.ndarray:
        """``target @ G`` with ``G = sum_{k<n_on} F^k Gamma`` (eq. 1): the response at the end of a window of
        ``n_on`` steps to a held unit input; ``target`` (r x N) defaults to Q^T (rows of the task-dynamics
        basis); ``target="full"`` gives G itself. Computed backward, ``R_{k+1} = R_k F``, in O(r N^2 n_on)."""
        n_on = positive_int("n_on", n_on)
        R = self.basis.T if target is None else (np.eye(self.n) if isinstance(target, str) and target == "full"
                                                else finite_array("target", target, ndim=2))
        if R.shape[1] != self.n:
            fail("target", R, f"rows of length {self.n}")
        acc = R.copy()
        cur = R
        for _ in range(n_on - 1):
            cur = cur @ self.F
            acc = acc + cur
        return acc if self.Gamma is None else acc @ self.Gamma

    def readout_operator(self) -> np.ndarray:
        """``C J`` (D x N): the linear readout of network states (seed 001 §10.1, ``y = C x + d``)."""
        if self.C is None:
            fail("C", None, "a readout matrix for readout predictions")
        return self.C @ self.J

    def responses(self, inputs, n_on: int, n_post: int, chunk: int = 64) -> np.ndarray:
        """Deviation trajectories ``(P, n_on + n_post + 1, N)``: ``Delta nu_0 = 0``, then
        ``Delta nu_t = F Delta nu_{t-1} + Gamma u [t <= n_on]`` (the input ``u`` held for ``n_on`` steps).

        Inputs may also be spatiotemporal, ``(P, n_on, N)`` (``u_t`` on step t). Runs `jax.lax.scan`.
        """
        U = finite_array("inputs", inputs)
        n_on = positive_int("n_on", n_on)
        n_post = positive_int("n_post", n_post, 0)
        if U.ndim == 1:
            U = U[None]
        if U.shape[-1] != self.n or U.ndim not in (2, 3) or (U.ndim == 3 and U.shape[1] != n_on):
            fail("inputs", U, f"(P, {self.n}) held patterns or (P, {n_on}, {self.n}) spatiotemporal inputs")
        T = n_on + n_post
        F = jnp.asarray(self.F)
        Gm = None if self.Gamma is None else jnp.asarray(self.Gamma)
        out = []
        for s in range(0, U.shape[0], chunk):
            u = jnp.asarray(U[s:s + chunk])
            if u.ndim == 2:
                drive = jnp.where((jnp.arange(T) < n_on)[None, :, None], u[:, None, :], 0.0)
            else:
                drive = jnp.concatenate([u, jnp.zeros((u.shape[0], n_post, self.n))], axis=1)
            if Gm is not None:
                drive = drive @ Gm.T
            out.append(np.asarray(_scan_linear(F, drive)))
        return np.concatenate(out, axis=0)


@jax.jit
def _scan_linear(F, drive):
    """``nu_t = F nu_{t-1} + drive_{t-1}`` from ``nu_0 = 0`` for a batch ``drive`` (P, T, N) (lax.scan)."""
    def step(nu, h):
        nu = nu @ F.T + h
        return nu, nu

    nu0 = jnp.zeros((drive.shape[0], F.shape[0]), drive.dtype)
    _, out = jax.lax.scan(step, nu0, jnp.swapaxes(drive, 0, 1))
    return jnp.concatenate([nu0[:, None], jnp.swapaxes(out, 0, 1)], axis=1)


# =========================================================================== designs
@dataclass(frozen=True)
class Design:
    """A designed pattern: ``controls`` (m,), unit ``inputs`` (N,) = B controls, the objective value
    and solver information (``info``)."""

    controls: np.ndarray
    inputs: np.ndarray
    objective: float
    kind: str
    info: dict = field(default_factory=dict)


def _op(L, fs: FeasibleSet) -> np.ndarray:
    L = finite_array("L", L, ndim=2)
    if L.shape[1] != fs.n_units:
        fail("L", L, f"an operator with {fs.n_units} columns (one per unit)")
    return L[:, fs.units] if fs.is_selection else L @ fs.B


def _max_linear(c, fs: FeasibleSet, norm: float) -> np.ndarray:
    """``argmax c^T v`` s.t. ``lo <= v <= hi``, ``||B v|| <= norm``, at most ``max_active`` non-zeros.

    Selection sets (``||B v|| = ||v||``), derivation: the Lagrangian ``-c^T v + mu/2 (||v||^2 - norm^2)``
    separates over controls, and the minimiser of ``-c_i v_i + mu/2 v_i^2`` on ``[lo_i, hi_i]`` is
    ``v_i = clip(c_i / mu, lo_i, hi_i)``; with ``t = 1/mu``, ``||v(t)||^2`` is increasing and piecewise
    quadratic between the saturation points ``t_i = bound_i / c_i``, so sorting them and solving
    ``t^2 sum_unsat c_i^2 + sum_sat bound_i^2 = norm^2`` on the right piece gives t exactly in
    O(m log m) (``mu = 0`` when the saturated pattern already has norm <= ``norm``). This is the exact
    solution of the SOCP. Cardinality: with equal bounds, an exchange argument shows that the
    optimal support is the ``max_active`` controls of largest usable coefficient
    ``max(c_i [hi_i > 0], -c_i [lo_i < 0])`` (exact); with unequal bounds the same rule is a greedy choice.
    Other input maps (electrode kernels): SLSQP on the same SOCP (smooth, m small).
    """
    m = c.size
    lo, hi = fs.lo.copy(), fs.hi.copy()
    if fs.max_active is not None and fs.max_active < m:
        score = np.maximum(np.where(hi > 0, c, -np.inf), np.where(lo < 0, -c, -np.inf))
        keep = np.argsort(-score)[:fs.max_active]
        drop = np.ones(m, bool)
        drop[keep] = False
        lo[drop], hi[drop] = 0.0, 0.0
    if fs.is_selection:
        sat = np.where(c > 0, hi, np.where(c < 0, lo, 0.0))
        if np.all(np.isfinite(sat)) and np.linalg.norm(sat) <= norm:
            return sat
        # breakpoints t_i = bound_i / c_i where control i saturates; between breakpoints
        # ||v(t)||^2 = t^2 sum_{unsaturated} c_i^2 + sum_{saturated} bound_i^2: walk them in order
        live = (c != 0) & (sat != 0)
        if not live.any():
            return np.zeros(m)
        idx = np.flatnonzero(live)
        tb = sat[idx] / c[idx]
        order = np.argsort(tb)
        tb, idx = tb[order], idx[order]
        S_u = float(np.sum(c[idx] ** 2))
        S_s = 0.0
        t_lo = 0.0
        t = None
        for j in range(idx.size + 1):
            t_hi = tb[j] if j < idx.size else np.inf
            if S_u > 0:
                cand = np.sqrt(max(norm ** 2 - S_s, 0.0) / S_u)
                if t_lo <= cand <= t_hi:
                    t = cand
                    break
            if j < idx.size:
                S_u -= c[idx[j]] ** 2
                S_s += sat[idx[j]] ** 2
                t_lo = t_hi
        if t is None:                       # every live control saturated below the norm
            return sat
        v = np.clip(c * t, lo, hi)
        nv = np.linalg.norm(v)
        return v * (norm / nv) if nv > norm else v
    # general input map: SLSQP on the (convex) SOCP
    Mb = fs.B.T @ fs.B
    x0 = np.clip(np.linalg.lstsq(Mb + 1e-12 * np.trace(Mb) * np.eye(m), c, rcond=None)[0], lo, hi)
    nx = np.sqrt(max(x0 @ Mb @ x0, 1e-300))
    x0 = x0 * (0.5 * norm / nx) if nx > 0 else x0
    res = minimize(lambda v: -c @ v, x0, jac=lambda v: -c, method="SLSQP",
                   bounds=list(zip(np.where(np.isinf(lo), None, lo), np.where(np.isinf(hi), None, hi))),
                   constraints=[{"type": "ineq", "fun": lambda v: norm ** 2 - v @ Mb @ v,
                                 "jac": lambda v: -2.0 * Mb @ v}],
                   options={"maxiter": 500, "ftol": 1e-12})
    return np.clip(res.x, lo, hi)


def maximize_subspace_effect(L, feasible: FeasibleSet, *, norm: float = 1.0, direction=None,
                             n_restarts: int = 16, max_iter: int = 500, tol: float = 1e-12,
                             seed: int = 0) -> Design:
    """Pattern of input norm ``norm`` maximising the displacement ``||L u||`` in the target space.

    ``L`` (K x N) maps a held unit input to the target coordinates at the end of the window, e.g.
    ``model.window_operator(n_on)`` (= Q^T G, eq. 1; seed 001 §10.1: the task-dynamics space), or a chosen
    readout ``C J G``. With ``M = L B`` (``u = B v``):

    * unconstrained (``feasible.unconstrained``): ``max ||M v||^2 / ||B v||^2`` is the Rayleigh quotient of
      the pencil ``(M^T M, B^T B)``; its maximiser is the top generalised eigenvector (`scipy.linalg.eigh`
      with ``b = B^T B``); for a chosen direction d in the space, ``max d^T M v / ||B v||`` is attained at
      ``v ∝ (B^T B)^{-1} M^T d`` (Cauchy-Schwarz in the ``B^T B`` metric).
    * constrained (signs, bounds, expression mask through B, cardinality): the displacement norm is convex
      in v, and maximising it over a convex set is not a convex problem. Writing
      ``||M v|| = max_{||d||=1} d^T M v``,
      ``max_v ||M v|| = max_{||d||=1} h(d)``, ``h(d) = max {d^T M v : lo <= v <= hi, ||B v|| <= norm}``;
      for each d the inner problem is a convex SOCP solved exactly by `_max_linear` (closed form for
      selection sets). With a chosen ``direction`` the answer is that single SOCP. Otherwise the outer
      maximisation over the K-sphere is done by alternating ascent (the generalised power method,
      Journee et al. 2010): ``v <- argmax_v d^T M v``, ``d <- M v / ||M v||``; each step cannot decrease
      ``||M v||`` (``||M v_new|| >= d^T M v_new >= d^T M v_old = ||M v_old||``). Restarts: the top left
      singular vector of M, then ``n_restarts - 1`` random directions (``seed``); the best is kept. Each
      restart reaches a stationary point; K is small (K = N/100 in seed 001), so restarts cover the sphere.
    """
    fs = feasible
    norm = positive("norm", norm)
    M = _op(L, fs)
    K, m = M.shape
    positive_int("n_restarts", n_restarts)
    d_given = None
    if direction is not None:
        d_given = finite_array("direction", direction, ndim=1)
        if d_given.size != K or np.linalg.norm(d_given) == 0:
            fail("direction", d_given, f"a non-zero vector of length {K} (target coordinates)")
        d_given = d_given / np.linalg.norm(d_given)
    if fs.unconstrained:
        Bm = np.eye(m) if fs.is_selection else fs.B.T @ fs.B
        Bm = Bm + 1e-12 * np.trace(Bm) / m * np.eye(m)
        if d_given is None:
            lam, w = sla.eigh(M.T @ M, Bm, subset_by_index=[m - 1, m - 1])
            v = w[:, 0]
        else:
            v = np.linalg.solve(Bm, M.T @ d_given)
        v = v * (norm / float(fs.input_norm(v)))
        if d_given is None and (M @ v).sum() < 0:
            v = -v
        obj = float(np.linalg.norm(M @ v)) if d_given is None else float(d_given @ M @ v)
        return Design(v, fs.inputs(v), obj, "max-unconstrained", {"solver": "scipy.linalg.eigh (pencil)"})
    if d_given is not None:
        v = _max_linear(M.T @ d_given, fs, norm)
        return Design(v, fs.inputs(v), float(d_given @ M @ v), "max-direction", {"solver": "SOCP closed form"})
    rng = np.random.default_rng(seed)
    U, _, _ = np.linalg.svd(M, full_matrices=False)
    starts = [U[:, 0], -U[:, 0]] + [d / np.linalg.norm(d) for d in rng.standard_normal((n_restarts - 1, K))]
    best, best_val, iters = None, -np.inf, []
    for d in starts:
        val, v = -np.inf, None
        for it in range(max_iter):
            vn = _max_linear(M.T @ d, fs, norm)
            y = M @ vn
            ny = float(np.linalg.norm(y))
            if ny == 0:
                break
            v, d = vn, y / ny
            if ny - val <= tol * max(ny, 1e-300):
                val = ny
                break
            val = ny
        iters.append(it + 1)
        if v is not None and val > best_val:
            best, best_val = v, val
    if best is None:
        fail("feasible", fs, "controls that can move the target space (M = L B is zero on the feasible set)")
    return Design(best, fs.inputs(best), best_val, "max-constrained",
                  {"solver": "alternating SOCP (generalised power method)", "restarts": len(starts),
                   "iterations": iters})


def _alm_bounded_lsq(P, p, E, e, lo, hi, *, rho: float | None = None, max_outer: int = 60,
                     tol: float = 1e-10):
    """``min ||P v - p||^2`` s.t. ``E v = e``, ``lo <= v <= hi`` (convex QP) by the method of multipliers.

    Each inner problem ``min ||P v - p||^2 + rho ||E v - e + lambda / rho||^2`` over the box is a bounded
    least-squares problem (`scipy.optimize.lsq_linear`, bounded-variable least squares, an active-set
    method); the multipliers are updated by ``lambda <- lambda + rho (E v - e)`` (Hestenes-Powell), which
    converges to the KKT point of the QP for any fixed rho > 0 when the constraints are feasible. Controls
    pinned by ``lo == hi`` are eliminated first. Returns ``(v, residual ||E v - e||)``.
    """
    lo = np.asarray(lo, float)
    hi = np.asarray(hi, float)
    fixed = lo >= hi                     # controls pinned to a value (e.g. outside the allowed support)
    if fixed.any():
        vf = np.where(fixed, lo, 0.0)
        v_free, res = _alm_bounded_lsq(P[:, ~fixed], p - P @ vf, E[:, ~fixed], e - E @ vf, lo[~fixed],
                                       hi[~fixed], rho=rho, max_outer=max_outer, tol=tol)
        out = vf.copy()
        out[~fixed] = v_free
        return out, res
    # equivalent constraint with orthonormal rows, E = U S V^T  ->  V^T v = S^{-1} U^T e: the multiplier
    # iteration then converges at the same rate in every constrained direction (E is often ill-conditioned:
    # slow and fast task modes are amplified very differently by the window operator)
    Uu, S, Vt = np.linalg.svd(E, full_matrices=False)
    keep = S > 1e-12 * S[0]
    e_full = e
    E, e = Vt[keep], (Uu[:, keep].T @ e) / S[keep]
    E_orig = Uu[:, keep] * S[keep] @ Vt[keep]
    if rho is None:
        rho = 10.0 * max(np.linalg.norm(P, 2) ** 2, 1e-12)
    lam = np.zeros(E.shape[0])
    sr = np.sqrt(rho)
    v = np.clip(np.zeros(P.shape[1]), lo, hi)
    # residual scale: the target norm, or ||E|| times the size of the unconstrained solution
    scale = max(np.linalg.norm(e_full), S[0] * np.linalg.norm(p) / max(np.linalg.norm(P, 2), 1e-300))
    res_norm = np.inf
    for _ in range(max_outer):
        A = np.vstack([P, sr * E])
        b = np.concatenate([p, sr * (e - lam / rho)])
        v = lsq_linear(A, b, bounds=(lo, hi), method="bvls", tol=1e-13, max_iter=5000).x
        r = E @ v - e
        lam = lam + rho * r
        res_norm = float(np.linalg.norm(E_orig @ v - e_full))
        if res_norm <= tol * max(scale, 1e-300):
            break
    return v, res_norm


def minimize_subspace_effect(L, feasible: FeasibleSet, *, reference=None, norm: float = 1.0, seed: int = 0,
                             noise_sd: float = 0.3) -> Design:
    """Outside-manifold pattern: the feasible pattern closest to ``reference`` that leaves the target space
    unmoved at the end of the window (seed 000 Fig. 1d "outside-manifold"; seed 001 §14).

    ``min ||v - r||^2  s.t.  L B v = 0,  lo <= v <= hi`` — a convex QP (projection of r onto a polytope).
    ``r`` defaults to a random feasible pattern of norm ``norm`` (`FeasibleSet.random`, ``seed``), so the
    design reads "the nearest stimulation to a random one that avoids the task-dynamics space". The result
    is scaled uniformly to the norm (scaling preserves ``L B v = 0`` and the signs; if a bound stops the
    scaling first, ``info['norm']`` is the norm reached and ``info['norm_reached']`` is False). Unconstrained
    sets: the closed
    form ``v = r - M^T (M M^T)^+ M r``; otherwise the method of multipliers over bounded least squares
    (`_alm_bounded_lsq`). A cardinality limit keeps the reference's support.

    When is zero leak feasible for a non-negative pattern? By Gordan's alternative, a non-zero ``v >= 0``
    with ``M v = 0`` exists unless some y has ``M^T y > 0`` entrywise, i.e. unless all m columns of M lie in
    an open half-space. For m columns in general position with a symmetric distribution in R^K (random J,
    seed 001 §10.1), Wendel's theorem gives that probability as ``2^{1-m} sum_{k<K} C(m-1, k)``, which is
    negligible for m >> K (e.g. 1e-4 for m = 25, K = 4): outside designs with zero leak exist.
    """
    fs = feasible
    norm = positive("norm", norm)
    M = _op(L, fs)
    m = M.shape[1]
    r = fs.random(1, norm, seed, noise_sd)[0] if reference is None else finite_array("reference", reference,
                                                                                       ndim=1)
    if r.size != m:
        fail("reference", r, f"{m} controls")
    lo, hi = fs.lo.copy(), fs.hi.copy()
    if fs.max_active is not None:
        off = np.abs(r) == 0
        lo[off], hi[off] = 0.0, 0.0
    if fs.unconstrained:
        v = r - M.T @ np.linalg.lstsq(M @ M.T, M @ r, rcond=None)[0]
        resid = float(np.linalg.norm(M @ v))
        solver = "closed form (projection on null(M))"
    else:
        v, resid = _alm_bounded_lsq(np.eye(m), r, M, np.zeros(M.shape[0]), lo, hi)
        solver = "method of multipliers + bounded least squares"
    if not np.any(v):
        fail("feasible", fs, "a non-zero feasible pattern with no displacement in the target space")
    qp_distance = float(np.linalg.norm(v - r))
    # uniform scaling keeps L B v = 0 (clipping would not); bounds may cap it below the requested norm
    s = norm / float(fs.input_norm(v))
    with np.errstate(divide="ignore", invalid="ignore"):
        cap = np.min(np.where(v > 0, fs.hi / v, np.where(v < 0, fs.lo / v, np.inf)))
    v = v * min(s, float(cap))
    leak = float(np.linalg.norm(M @ v) / max(np.linalg.norm(M, 2) * norm, 1e-300))
    return Design(v, fs.inputs(v), float(np.linalg.norm(M @ v)), "min-leak",
                  {"solver": solver, "relative_leak": leak, "reference": r, "norm": float(fs.input_norm(v)),
                   "norm_reached": bool(s <= cap), "residual": float(resid), "qp_distance": qp_distance,
                   "distance_to_reference": float(np.linalg.norm(v - r) / norm)})


def reach_state(L_in, L_out, feasible: FeasibleSet, x_target, *, energy_weight: float = 1e-6) -> Design:
    """Reach ``L_in u = x_target`` (a within-manifold state at the end of the window) with the least
    response outside the space (seed 000: within-manifold perturbations; seed 001 §10.1, §14).

    With ``M_in = L_in B`` (e.g. ``Q^T G``) and ``M_out = L_out B`` (e.g. ``(I - Q Q^T) G``)::

        min ||M_out v||^2 + eps ||v||^2   s.t.  M_in v = x*,  lo <= v <= hi

    (eps = ``energy_weight`` times ``||M_out||^2``: a small input-energy term that makes the QP strictly
    convex). Unconstrained: the KKT system ``H v = M_in^T lambda``, ``M_in v = x*`` with
    ``H = M_out^T M_out + eps I`` gives ``v = H^{-1} M_in^T (M_in H^{-1} M_in^T)^{-1} x*``. Constrained:
    the method of multipliers over bounded least squares (`_alm_bounded_lsq`); a target outside the
    reachable cone is met in the least-squares sense (``info['residual']`` says how closely).
    """
    fs = feasible
    Mi, Mo = _op(L_in, fs), _op(L_out, fs)
    x = finite_array("x_target", x_target, ndim=1)
    if x.size != Mi.shape[0]:
        fail("x_target", x, f"{Mi.shape[0]} target coordinates")
    in_range("energy_weight", energy_weight, 0.0, np.inf, lo_open=True)
    m = Mi.shape[1]
    eps = energy_weight * max(np.linalg.norm(Mo, 2) ** 2, 1e-300)
    if fs.unconstrained:
        H = Mo.T @ Mo + eps * np.eye(m)
        cf = sla.cho_factor(H)
        HiMt = sla.cho_solve(cf, Mi.T)
        v = HiMt @ np.linalg.solve(Mi @ HiMt, x)
        solver = "KKT closed form"
    else:
        P = np.vstack([Mo, np.sqrt(eps) * np.eye(m)])
        v, _ = _alm_bounded_lsq(P, np.zeros(P.shape[0]), Mi, x, fs.lo, fs.hi)
        solver = "method of multipliers + bounded least squares"
    resid = float(np.linalg.norm(Mi @ v - x) / max(np.linalg.norm(x), 1e-300))
    return Design(v, fs.inputs(v), float(np.linalg.norm(Mo @ v) ** 2), "reach",
                  {"solver": solver, "residual": resid, "off_energy": float(np.linalg.norm(Mo @ v) ** 2)})


# =========================================================================== spatiotemporal (Gramian)
@dataclass(frozen=True)
class SpatiotemporalDesign:
    """Input-restricted Gramian design: ``gramian`` (K x K), its eigenvalues (descending) and the
    spatiotemporal input ``inputs`` (n_on, N) of unit energy ``sum_t ||u_t||^2 = 1`` along the top one, or
    the least-energy input reaching ``x_target`` (then ``energy`` is its energy)."""

    gramian: np.ndarray
    eigenvalues: np.ndarray
    inputs: np.ndarray
    energy: float


def spatiotemporal_design(model: LinearResponseModel, n_on: int, feasible: FeasibleSet | None = None, *,
                          target=None, x_target=None) -> SpatiotemporalDesign:
    """Time-varying inputs ``u_t = B v_t`` (t = 0..n_on-1) through the input-restricted controllability Gramian.

    The displacement of ``x = T nu`` (``T`` = ``target``, default Q^T) at the end of the window is
    ``x(n_on) = sum_t T F^{n_on-1-t} Gamma B v_t``, so the finite-horizon Gramian restricted to the
    actuator's input directions and projected on the target space is

        W_T = sum_{k=0}^{n_on-1} (T F^k Gamma B)(T F^k Gamma B)^T            (K x K).

    Standard minimum-energy control (Kalman): the largest displacement per unit input energy
    ``sum_t ||v_t||^2`` is ``sqrt(lambda_max(W_T))``, attained by ``v_t = (T F^{n_on-1-t} Gamma B)^T e /
    sqrt(lambda_max)`` (e: top eigenvector), and the least energy reaching ``x*`` is ``x*^T W_T^{-1} x*``
    with ``v_t = (T F^{n_on-1-t} Gamma B)^T W_T^{-1} x*``. Bounds and signs are not imposed here (the
    static designers handle them); the feasible set only restricts the input directions (B).
    """
    n_on = positive_int("n_on", n_on)
    R = model.basis.T if target is None else finite_array("target", target, ndim=2)
    Bm = np.eye(model.n) if feasible is None else feasible.B
    blocks = []
    cur = R
    for _ in range(n_on):
        op = cur if model.Gamma is None else cur @ model.Gamma
        blocks.append(op @ Bm)
        cur = cur @ model.F
    blocks = blocks[::-1]                       # blocks[t] = T F^{n_on-1-t} Gamma B
    Wg = sum(b @ b.T for b in blocks)
    Wg = 0.5 * (Wg + Wg.T)
    lam, V = np.linalg.eigh(Wg)
    lam, V = lam[::-1], V[:, ::-1]
    if x_target is None:
        e = V[:, 0]
        V_t = np.stack([b.T @ e for b in blocks]) / np.sqrt(max(lam[0], 1e-300))
        energy = 1.0
    else:
        x = finite_array("x_target", x_target, ndim=1)
        if x.size != Wg.shape[0]:
            fail("x_target", x, f"{Wg.shape[0]} target coordinates")
        y = np.linalg.solve(Wg, x)
        V_t = np.stack([b.T @ y for b in blocks])
        energy = float(x @ y)
    return SpatiotemporalDesign(Wg, lam, V_t @ Bm.T, energy)


# =========================================================================== nonlinear networks
def design_nonlinear(network, feasible: FeasibleSet, target, *, x0=None, onset_ms: float = 0.0,
                     duration_ms: float = 200.0, t_end_ms: float | None = None, gain_fn=None, gains=None,
                     dt: float = 1.0, norm: float = 1.0, n_steps: int = 200, learning_rate: float = 0.05,
                     init=None, seed: int = 0) -> Design:
    """Maximise ``||T (x_u(t_end) - x_0(t_end))||^2`` for a nonlinear rate network (seed 003 eq. 2.1,
    ``tau dx/dt = -x + W f(x; g) + h(t)``) with the held input ``h = B v`` on ``[onset, onset + duration)``.

    The response is differentiated through `neurodyn.dynamics.simulate` (JAX, RK4; ``jax.value_and_grad``)
    and v is updated by projected gradient ascent: ``v <- Proj(v + s norm grad / ||grad||)`` with
    `FeasibleSet.project` onto the bounds, the cardinality and the sphere ``||B v|| = norm`` (exact for
    non-negative, unbounded patterns; a feasible retraction otherwise). A step is accepted only if the
    objective does not decrease (then s grows by 1.5, else it shrinks by 0.3), so the ascent is monotone;
    its fixed points are the points where the gradient is normal to the feasible set, i.e. the stationary
    points of the constrained problem. (A per-coordinate adaptive optimiser such as Adam is not used: its
    preconditioned step is not the gradient, so its projected fixed points are not stationary points.)
    ``init`` (controls) defaults to a random feasible pattern (``seed``); the linear design on the
    linearised network is a good start. ``learning_rate`` is the initial relative step s.
    """
    from neurodyn.dynamics import simulate

    fs = feasible
    norm = positive("norm", norm)
    n_steps = positive_int("n_steps", n_steps)
    positive("learning_rate", learning_rate)
    positive("duration_ms", duration_ms)
    T = finite_array("target", target, ndim=2)
    N = network.n
    if T.shape[1] != N or fs.n_units != N:
        fail("target", T, f"rows of length {N} and a feasible set for {N} units")
    t_off = onset_ms + duration_ms
    t_end = t_off if t_end_ms is None else float(t_end_ms)
    if t_end < t_off:
        fail("t_end_ms", t_end_ms, f"a time at or after the stimulation offset ({t_off} ms)")
    positive("dt", dt)
    for name, val in (("onset_ms", onset_ms), ("duration_ms", duration_ms), ("t_end_ms", t_end)):
        if abs(val / dt - round(val / dt)) > 1e-9 * max(1.0, abs(val / dt)):
            fail(name, val, f"a multiple of dt={dt} ms")
    x0 = np.zeros(N) if x0 is None else finite_array("x0", x0, ndim=1)
    kw = {"dt": dt, "gain_fn": gain_fn, "gains": gains}
    # three segments, so that the input enters simulate as a constant array (a traced argument of its
    # jitted integrator) rather than as a new closure per step: rest -> onset, stimulated window, free decay
    x_on = np.asarray(simulate(network, x0, [onset_ms], t0=0.0, **kw)[-1]) if onset_ms > 0 else x0
    base = simulate(network, x_on, [t_end], t0=onset_ms, **kw)[-1]
    Bj = jnp.asarray(fs.B)
    Tj = jnp.asarray(T)

    def objective(v):
        x = simulate(network, x_on, [t_off], t0=onset_ms, h=Bj @ v, **kw)[-1]
        if t_end > t_off:
            x = simulate(network, x, [t_end], t0=t_off, **kw)[-1]
        y = Tj @ (x - base)
        return jnp.sum(y * y)

    val_grad = jax.value_and_grad(objective)     # simulate's integrator is jitted inside
    v = fs.project(fs.random(1, norm, seed)[0] if init is None else finite_array("init", init, ndim=1), norm)
    val, g = val_grad(jnp.asarray(v))
    val, g = float(val), np.asarray(g)
    step, history = float(learning_rate), [val]
    for _ in progress(range(n_steps), n_steps, "nonlinear pattern design"):
        ng = np.linalg.norm(g)
        if ng == 0 or step < 1e-12:
            break
        cand = fs.project(v + step * norm * g / ng, norm)
        cval, cg = val_grad(jnp.asarray(cand))
        cval = float(cval)
        if cval >= val:                     # accept: monotone ascent, grow the step
            v, val, g = cand, cval, np.asarray(cg)
            step *= 1.5
        else:                               # reject: shrink the step
            step *= 0.3
        history.append(val)
    best_v, best_val = v, val
    return Design(best_v, fs.inputs(best_v), float(np.sqrt(best_val)), "max-nonlinear",
                  {"solver": "projected gradient ascent on JAX gradients", "history": np.asarray(history)})


# =========================================================================== predictions
@dataclass(frozen=True)
class PatternEffects:
    """Predicted effects of P patterns (arrays of shape (P,); trajectories (P, T) of norms).

    ``dynamics_projection``: ``||Q^T Delta nu||`` at the end of the window (absolute displacement in the
    task-dynamics space); ``dynamics_decay_time_ms``: 1/e decay time of ``||Q^T Delta nu_t||`` after offset;
    ``readout_change``: mean over the post-offset steps of ``||C J Delta nu_t||`` (the effect on the
    readout, i.e. on behaviour); ``readout_change_end``: at the end of the window; ``dynamics_norm``,
    ``readout_norm``: trajectories (P, T). Computed for every pattern from the K-dimensional operators.

    With ``full=True`` (simulation of the N-dimensional response) also: ``dynamics_fraction`` =
    ``dynamics_projection / ||Delta nu||`` (seed 001 §11, §14), ``activity_fraction`` (the same for the
    task activity space, if a basis was given), ``decay_time_ms`` (1/e decay of ``||Delta nu||`` after
    offset) and ``response_norm`` (P, T); otherwise these are None.
    """

    dynamics_projection: np.ndarray
    dynamics_decay_time_ms: np.ndarray
    readout_change: np.ndarray
    readout_change_end: np.ndarray
    dynamics_norm: np.ndarray
    readout_norm: np.ndarray
    dynamics_fraction: np.ndarray | None = None
    activity_fraction: np.ndarray | None = None
    decay_time_ms: np.ndarray | None = None
    response_norm: np.ndarray | None = None


def subspace_trajectory_operators(model: LinearResponseModel, n_on: int, n_post: int) -> np.ndarray:
    """Operators ``P_t`` (T+1, K, N) with ``Q^T Delta nu_t = P_t u`` for a held input u (t = 0..n_on+n_post).

    With ``R_k = Q^T F^k Gamma`` and prefix sums ``S_t = sum_{k<t} R_k``: during the window
    ``Q^T Delta nu_t = S_t u`` (t <= n_on) and after it ``Q^T Delta nu_t = sum_{k<n_on} Q^T F^{t-n_on+k}
    Gamma u = (S_t - S_{t-n_on}) u``. Cost O((n_on + n_post) K N^2), against O(P (n_on + n_post) N^2)
    for simulating P patterns in full.
    """
    n_on = positive_int("n_on", n_on)
    n_post = positive_int("n_post", n_post, 0)
    T = n_on + n_post
    R = model.basis.T
    S = np.zeros((T + 1,) + R.shape)
    cur = R
    for k in range(T):
        S[k + 1] = S[k] + (cur if model.Gamma is None else cur @ model.Gamma)
        cur = cur @ model.F
    P = S.copy()
    P[n_on + 1:] = S[n_on + 1:] - S[1:T - n_on + 1]
    return P


def predict_effects(model: LinearResponseModel, inputs, n_on: int, n_post: int, *, activity_basis=None,
                    full: bool = True, chunk: int = 64) -> PatternEffects:
    """Predicted effects of held input patterns ``inputs`` (P, N) on ``model`` (see `PatternEffects`).

    The deviation from the unstimulated trajectory (held for ``n_on`` steps, then ``n_post`` free steps;
    seed 001 §11: 200 ms of stimulation) does not depend on the condition in a linear model. Its
    task-dynamics coordinates come from `subspace_trajectory_operators`, the readout from them through
    ``C J nu = C (J Q) (Q^T nu)`` (J's rows lie in span Q); with ``full`` the N-dimensional response is
    simulated (`LinearResponseModel.responses`, lax.scan) for the full-space quantities.
    ``activity_basis`` (N x k, orthonormal columns) spans the task activity space (PCA, seed 001 §6).
    """
    U = finite_array("inputs", inputs)
    U = U[None] if U.ndim == 1 else U
    if U.ndim != 2 or U.shape[1] != model.n:
        fail("inputs", U, f"(P, {model.n}) held input patterns")
    Q = model.basis
    P = subspace_trajectory_operators(model, n_on, n_post)
    X = np.einsum("tkn,pn->ptk", P, U)                        # (P, T+1, K) task-dynamics coordinates
    dn = np.linalg.norm(X, axis=-1)
    if model.C is not None:
        ron = np.linalg.norm(X @ (model.C @ model.J @ Q).T, axis=-1)
    else:
        ron = np.zeros_like(dn)
    end = n_on
    dp = dn[:, end]
    taud = np.array([decay_time(r[end:], model.dt_ms) for r in dn])
    rc = ron[:, end + 1:].mean(1) if n_post > 0 else ron[:, end]
    extra = {}
    if full:
        Va = None if activity_basis is None else finite_array("activity_basis", activity_basis, ndim=2)
        if Va is not None and Va.shape[0] != model.n:
            fail("activity_basis", Va, f"{model.n} rows (one per unit)")
        rn, af = [], []
        for s in range(0, U.shape[0], chunk):
            d = model.responses(U[s:s + chunk], n_on, n_post)   # (p, T+1, N)
            rn.append(np.linalg.norm(d, axis=-1))
            if Va is not None:
                af.append(np.linalg.norm(d[:, end] @ Va, axis=-1) / np.maximum(rn[-1][:, end], 1e-300))
        rn = np.concatenate(rn)
        extra = {"dynamics_fraction": dp / np.maximum(rn[:, end], 1e-300),
                 "activity_fraction": np.concatenate(af) if Va is not None else None,
                 "decay_time_ms": np.array([decay_time(r[end:], model.dt_ms) for r in rn]),
                 "response_norm": rn}
    return PatternEffects(dp, taud, rc, ron[:, end], dn, ron, **extra)

"""Feasible sets: the constraints an actuator puts on the input ``u = B v`` (seed 000; seed 001 §11, §14).

Actuators act through controls ``v`` (``inputs`` of them) and an input map ``B`` (neurons x inputs):
``u = B v`` (B selects the addressable cells for optical stimulation, or holds the spatial current kernels
of electrodes), within per-control bounds ``lo <= v <= hi`` and, for patterned light, at most
``max_active`` non-zero controls. Seed 001 §11 gives the random stimulation model (`FeasibleSet.random`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int

from neurodyn.validation import fail, finite_array, in_range, positive, positive_int

__all__ = ["FeasibleSet"]


@dataclass(frozen=True, eq=False)
class FeasibleSet:
    """The constraints an actuator puts on the input ``u = B v`` (see the module docstring).

    Attributes:
        B: (neurons, inputs) input map from the m controls to unit inputs.
        lo, hi: (inputs,) bounds per control (``-inf``/``inf`` allowed; ``lo <= 0 <= hi``).
        max_active: at most this many non-zero controls (None: no cardinality limit).
        units: (inputs,) unit index of each control when B selects single units (columns of the identity),
            else None.
    """

    B: Float[np.ndarray, "neurons inputs"]
    lo: Float[np.ndarray, "inputs"]
    hi: Float[np.ndarray, "inputs"]
    max_active: int | None = None
    units: Int[np.ndarray, "inputs"] | None = None

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

    def inputs(self, v: Float[np.ndarray, "*batch inputs"]) -> Float[np.ndarray, "*batch neurons"]:
        """Unit inputs ``u = B v`` for controls ``v`` of shape ``(..., m)``."""
        v = np.asarray(v, float)
        if self.is_selection:
            u = np.zeros(v.shape[:-1] + (self.n_units,))
            u[..., self.units] = v
            return u
        return v @ self.B.T

    def input_norm(self, v: Float[np.ndarray, "*batch inputs"]) -> Float[np.ndarray, "*batch"]:
        return np.linalg.norm(self.inputs(v), axis=-1)

    def violations(self, v: Float[np.ndarray, "*batch inputs"], tol: float = 1e-9) -> dict:
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

    def scale_to_norm(self, v: Float[np.ndarray, "inputs"], norm: float) -> Float[np.ndarray, "inputs"]:
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

    def random(self, n: int, norm: float, seed: int = 0,
               noise_sd: float = 0.3) -> Float[np.ndarray, "patterns inputs"]:
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

    def project(self, v: Float[np.ndarray, "inputs"], norm: float | None = None) -> Float[np.ndarray, "inputs"]:
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

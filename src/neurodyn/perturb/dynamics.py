"""Perturbations of the dynamics (seed 000, Fig. 1e): cooling, lesions, silencing a projection.

Seed 000 (section "Manipulating neural dynamics"): one can "alter the dynamics matrix A by
experimentally changing the neural circuit", e.g. by cooling, which "appears to slow down trajectories
within-manifold", or by lesioning, which "may change the manifold and its dynamics by permanently
removing neurons from a circuit"; and (section on multi-area models) inter-area connections implement
communication subspaces, which one can cut.

For the rate network ``tau dx/dt = -x + W f(x; g) + h`` (thesis, seed 003, eq. 2.1):

* `Cooling(factor=c)`: ``tau -> c tau`` (optionally in one area). Then ``dx/dt`` is divided by c, so
  the cooled trajectory from the same state with the same constant input is ``x_c(t) = x(t / c)``:
  trajectories slow by exactly c (for a linear network ``x(t) = exp((W - I) t / (c tau)) x0``). Seed 000
  gives no formula; this is the time-constant reading of "cooling slows trajectories".
* `Lesion(units)`: the listed units are removed: ``W`` loses their rows and columns, ``tau``, gains,
  cell types and areas their entries. ``kept_indices(n)`` maps the new units to the old ones.
* `SilenceProjection(source, target)`: ``W[target, source] = 0`` for the two areas' blocks (the
  communication matrix ``B_{source->target}`` of seed 000 set to zero); local weights are untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int

from neurodyn.validation import fail, positive
from neurodyn.network import Network

__all__ = ["Cooling", "Lesion", "SilenceProjection", "slowing_factor"]


def _check_network(network) -> Network:
    if not isinstance(network, Network):
        fail("network", network, "a neurodyn.Network", TypeError)
    return network


@dataclass(frozen=True)
class Cooling:
    """Scale the time constants by ``factor`` (> 1 slows), in every unit or only in ``area``."""

    factor: float
    area: str | None = None

    def __post_init__(self):
        positive("factor", self.factor)

    def apply(self, network: Network) -> Network:
        net = _check_network(network)
        tau = np.broadcast_to(np.asarray(net.tau, float), (net.n,)).copy()
        idx = np.arange(net.n) if self.area is None else net.area_indices(self.area)
        tau[idx] *= self.factor
        return net.replace(tau=tau)


@dataclass(frozen=True)
class Lesion:
    """Remove the units ``units`` (indices into the network) from the circuit."""

    units: tuple[int, ...]

    def __post_init__(self):
        try:
            units = tuple(sorted({int(u) for u in np.atleast_1d(self.units)}))
        except (TypeError, ValueError):
            fail("units", self.units, "a sequence of integer unit indices", TypeError)
        object.__setattr__(self, "units", units)

    def kept_indices(self, n: int) -> Int[np.ndarray, "neurons"]:
        """Indices (into the original network of n units) of the units that remain."""
        if self.units and (self.units[0] < 0 or self.units[-1] >= n):
            fail("units", self.units, f"indices in [0, {n - 1}]")
        if len(self.units) >= n:
            fail("units", self.units, f"fewer than all {n} units")
        return np.setdiff1d(np.arange(n), np.asarray(self.units, dtype=int))

    def apply(self, network: Network) -> Network:
        net = _check_network(network)
        keep = self.kept_indices(net.n)
        W = np.asarray(net.W)[np.ix_(keep, keep)]
        tau = np.asarray(net.tau, float)
        return Network(W=W, cell_types=None if net.cell_types is None else [net.cell_types[i] for i in keep],
                       tau=tau if tau.ndim == 0 else tau[keep], gains=np.asarray(net.gains)[keep],
                       areas=None if net.areas is None else [net.areas[i] for i in keep], dale=net.dale)


@dataclass(frozen=True)
class SilenceProjection:
    """Set the inter-area block ``W[target area, source area]`` to zero."""

    source: str
    target: str

    def __post_init__(self):
        if self.source == self.target:
            fail("target", self.target, "an area different from source (use Lesion for local circuits)")

    def apply(self, network: Network) -> Network:
        net = _check_network(network)
        src, tgt = net.area_indices(self.source), net.area_indices(self.target)
        W = np.array(net.W, dtype=float)
        W[np.ix_(tgt, src)] = 0.0
        return net.replace(W=W)


def slowing_factor(t: Float[np.ndarray, "time"], reference: Float[np.ndarray, "time neurons"],
                   perturbed: Float[np.ndarray, "time neurons"], *, t_start: float | None = None,
                   bounds: tuple[float, float] = (0.1, 10.0)) -> float:
    """Time-warp factor s with ``perturbed(t_start + s u) ~= reference(t_start + u)`` (least squares).

    Measures how much a perturbation (e.g. `Cooling`) slows a trajectory: ``s = c`` for a network cooled by
    c (module docstring). ``reference``, ``perturbed``: (T, N) trajectories sampled at times ``t`` (T,);
    the fit uses the reference times ``u >= 0`` whose warped time stays inside ``t``, with linear
    interpolation of the perturbed trajectory (scipy ``minimize_scalar``, bounded).
    """
    from scipy.optimize import minimize_scalar

    from neurodyn.validation import finite_array

    t = finite_array("t", t, ndim=1)
    R = finite_array("reference", reference, ndim=2)
    P = finite_array("perturbed", perturbed, ndim=2)
    if R.shape != P.shape or R.shape[0] != t.size:
        fail("perturbed", P, f"the shape of reference {R.shape} with {t.size} time points")
    t0 = float(t[0]) if t_start is None else float(t_start)
    ref_mask = t >= t0
    u = t[ref_mask] - t0
    Rm = R[ref_mask]

    def cost(s):
        tw = t0 + s * u
        ok = tw <= t[-1]
        if ok.sum() < 3:
            return np.inf
        Pi = np.stack([np.interp(tw[ok], t, P[:, j]) for j in range(P.shape[1])], axis=1)
        return float(np.mean(np.sum((Pi - Rm[ok]) ** 2, axis=1)))

    res = minimize_scalar(cost, bounds=bounds, method="bounded", options={"xatol": 1e-6})
    return float(res.x)

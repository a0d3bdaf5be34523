"""Layer 1: the `Network`, the object every other layer builds, runs, perturbs or analyses.

A rate network (thesis, seed 003, eq. 2.1)

    tau dx/dt = -x + W f(x; g) + h(t)

is described by its weights ``W`` (``W[i, j]`` is the connection from neuron j to neuron i, eq. 1.7),
the cell type of each neuron (``"E"`` or ``"I"``; Dale's law, eq. 1.15, asks E columns >= 0 and
I columns <= 0), optional area labels (seed 000's multi-area models), the time constant ``tau`` in
milliseconds (a scalar or one value per neuron) and the per-neuron gains ``g`` (eq. 3.2, default 1).

`Network` is immutable and registered as a JAX pytree whose leaves are ``W``, ``tau`` and ``gains``;
cell types and areas are static metadata. Construction validates; pytree reconstruction inside JAX
transformations skips validation (leaves may be tracers there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jaxtyping import Bool, Float, Int

from neurodyn.fileio import save_npz_atomic
from neurodyn.validation import fail, finite_array, square_matrix

__all__ = ["Network", "cell_types_ei", "weight_matrix"]


@jax.tree_util.register_pytree_node_class
@dataclass(frozen=True, eq=False)
class Network:
    """A recurrent rate network: ``tau dx/dt = -x + W f(x; g) + h(t)`` (thesis eq. 2.1).

    Parameters
    ----------
    W : (N, N) array
        Weights; ``W[i, j]`` is the connection from neuron j onto neuron i.
    cell_types : sequence of "E"/"I", optional
        One label per neuron. With ``dale=True`` (the default when cell types are given), every E
        column must be >= 0 and every I column <= 0 (Dale's law, thesis eq. 1.15).
    tau : float or (N,) array
        Time constant(s) in ms, > 0. Default 200 ms (thesis §2.2).
    gains : (N,) array, optional
        Per-neuron gains ``g_i`` of the gain function (thesis eq. 3.2); default all ones.
    areas : sequence of str, optional
        Area label per neuron (multi-area networks).
    dale : bool, optional
        Whether Dale's law is declared. Defaults to ``cell_types is not None``.
    """

    W: Float[np.ndarray, "neurons neurons"]
    cell_types: tuple[str, ...] | None = None
    tau: float | Float[np.ndarray, " neurons"] = 200.0
    gains: Float[np.ndarray, " neurons"] | None = None
    areas: tuple[str, ...] | None = None
    dale: bool | None = None

    def __post_init__(self) -> None:
        W = square_matrix("W", self.W)
        n = W.shape[0]
        cell_types = None
        if self.cell_types is not None:
            cell_types = tuple(str(c) for c in self.cell_types)
            if len(cell_types) != n:
                fail("cell_types", f"{len(cell_types)} labels", f"{n} labels (one per neuron of W)")
            bad = sorted(set(cell_types) - {"E", "I"})
            if bad:
                fail("cell_types", bad, "only 'E' and 'I'")
        dale = bool(cell_types is not None) if self.dale is None else bool(self.dale)
        if dale and cell_types is None:
            fail("dale", True, "cell_types to be given when Dale's law is declared")
        tau = finite_array("tau", self.tau)
        if tau.ndim not in (0, 1) or (tau.ndim == 1 and tau.shape[0] != n):
            fail("tau", tau, f"a scalar or a vector of length {n}")
        if np.any(tau <= 0):
            fail("tau", self.tau, "values > 0 (ms)")
        gains = np.ones(n) if self.gains is None else finite_array("gains", self.gains)
        if gains.shape != (n,):
            fail("gains", gains, f"a vector of length {n}")
        areas = None
        if self.areas is not None:
            areas = tuple(str(a) for a in self.areas)
            if len(areas) != n:
                fail("areas", f"{len(areas)} labels", f"{n} labels (one per neuron of W)")
        if dale:
            is_e = np.array([c == "E" for c in cell_types])
            bad_e = np.where(is_e & np.any(W < 0, axis=0))[0]
            bad_i = np.where(~is_e & np.any(W > 0, axis=0))[0]
            if bad_e.size or bad_i.size:
                parts = []
                if bad_e.size:
                    parts.append(f"E columns with negative weights {bad_e[:10].tolist()}")
                if bad_i.size:
                    parts.append(f"I columns with positive weights {bad_i[:10].tolist()}")
                raise ValueError("W violates Dale's law: " + "; ".join(parts))
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "cell_types", cell_types)
        object.__setattr__(self, "tau", tau)
        object.__setattr__(self, "gains", gains)
        object.__setattr__(self, "areas", areas)
        object.__setattr__(self, "dale", dale)

    # ---- pytree protocol -------------------------------------------------------------------
    def tree_flatten(self) -> tuple[tuple[Any, Any, Any], tuple[Any, Any, Any]]:
        return (self.W, self.tau, self.gains), (self.cell_types, self.areas, self.dale)

    @classmethod
    def tree_unflatten(cls, aux: tuple[Any, Any, Any], leaves: tuple[Any, Any, Any]) -> "Network":
        obj = object.__new__(cls)
        W, tau, gains = leaves
        cell_types, areas, dale = aux
        for name, value in (("W", W), ("tau", tau), ("gains", gains), ("cell_types", cell_types),
                            ("areas", areas), ("dale", dale)):
            object.__setattr__(obj, name, value)
        return obj

    # ---- derived quantities ----------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of neurons N."""
        return int(np.shape(self.W)[0])

    @property
    def is_excitatory(self) -> Bool[np.ndarray, " neurons"]:
        """Boolean mask of excitatory neurons (all False when no cell types are given)."""
        if self.cell_types is None:
            return np.zeros(self.n, dtype=bool)
        return np.array([c == "E" for c in self.cell_types])

    @property
    def n_excitatory(self) -> int:
        return int(self.is_excitatory.sum())

    def replace(self, **changes: Any) -> "Network":
        """A new validated `Network` with some fields changed (``W``, ``tau``, ``gains``, ...)."""
        fields = dict(W=self.W, cell_types=self.cell_types, tau=self.tau, gains=self.gains,
                      areas=self.areas, dale=self.dale)
        unknown = set(changes) - set(fields)
        if unknown:
            fail("changes", sorted(unknown), f"field names among {sorted(fields)}")
        fields.update(changes)
        return Network(**{k: np.asarray(v) if k in ("W", "tau", "gains") and v is not None else v
                          for k, v in fields.items()})

    def area_indices(self, area: str) -> Int[np.ndarray, " area_neurons"]:
        if self.areas is None:
            fail("area", area, "a network with area labels")
        idx = np.where(np.asarray(self.areas) == area)[0]
        if idx.size == 0:
            fail("area", area, f"one of {sorted(set(self.areas))}")
        return idx

    # ---- persistence -----------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Save to ``.npz`` (atomic write). Load back with `Network.load`."""
        arrays: dict[str, Any] = {"W": np.asarray(self.W), "tau": np.asarray(self.tau),
                                  "gains": np.asarray(self.gains), "dale": np.asarray(self.dale)}
        if self.cell_types is not None:
            arrays["cell_types"] = np.asarray(self.cell_types, dtype="U1")
        if self.areas is not None:
            arrays["areas"] = np.asarray(self.areas, dtype=str)
        return save_npz_atomic(path, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Network":
        """Load a network saved by `Network.save` (never unpickles)."""
        path = Path(path)
        if not path.is_file():
            fail("path", str(path), "an existing .npz file", FileNotFoundError)
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except Exception as exc:  # zipfile.BadZipFile, OSError, ValueError
            raise ValueError(f"path={str(path)!r}: expected a readable .npz file ({exc})") from None
        if "W" not in data:
            fail("path", str(path), f"an .npz with key 'W' (found {sorted(data)})")
        return cls(
            W=data["W"],
            cell_types=None if "cell_types" not in data else [str(c) for c in data["cell_types"]],
            tau=data.get("tau", 200.0),
            gains=data.get("gains"),
            areas=None if "areas" not in data else [str(a) for a in data["areas"]],
            dale=bool(data["dale"]) if "dale" in data else None,
        )

    def __repr__(self) -> str:
        ne = self.n_excitatory
        tau = np.asarray(self.tau)
        tau_s = f"{float(tau):g}" if tau.ndim == 0 else f"[{tau.min():g}..{tau.max():g}]"
        return (f"Network(N={self.n}, E={ne}, I={self.n - ne if self.cell_types else 0}, "
                f"tau={tau_s} ms, dale={self.dale}, areas={None if self.areas is None else sorted(set(self.areas))})")


def cell_types_ei(n_e: int, n_i: int) -> tuple[str, ...]:
    """Cell-type labels for ``n_e`` excitatory neurons followed by ``n_i`` inhibitory ones."""
    return ("E",) * n_e + ("I",) * n_i


def weight_matrix(W: Float[np.ndarray, "neurons neurons"] | Network) -> Float[np.ndarray, "neurons neurons"]:
    """The weights of a `Network`, or a given array, as a finite square float matrix (``W[i, j]``: from
    neuron j onto neuron i, eq. 1.7); the one entry point of the analyses that accept either."""
    return square_matrix("W", W.W if isinstance(W, Network) else W)

"""Architecture of Dale-constrained multi-area rate RNNs (seed 000, Fig. 2b; Song, Yang & Wang 2016, eq. 8).

Dale's law and anatomy by fixed masks: ``W = |W_free| * M * S`` with a 0/1 connection mask M and
``S_ij = +1`` for E columns j, ``-1`` for I columns. Within an area, E and I units connect with
probability ``p_local``; between areas only E units project (long-range cortical projections are
excitatory), with the connection proportion ``proportions[target, source]`` (default 0.1 feedforward,
0.05 feedback, Kleinman, Chandrasekaran & Kao 2021). Inputs reach only the ``input_areas``; the readout
takes the output area's E units (`dale_rnn_structure`). The rate function is the rectified-linear
``r = [x]_+`` (`Relu`), so the signs of W are the signs of synapses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from neurodyn.validation import fail, finite_array, in_range, positive, positive_int
from neurodyn.dynamics.gain import GainFunction

__all__ = ["RNNStructure", "Relu", "dale_rnn_structure"]


@dataclass(frozen=True)
class Relu(GainFunction):
    """Rectified-linear gain ``f(x; g) = max(g x, 0)`` (the rate function of Dale RNNs, Song et al. 2016)."""

    def __call__(self, x: Float[Array, "*batch"], g: Float[Array, "*#batch"] | float = 1.0) -> Float[Array, "*batch"]:
        return jnp.maximum(g * x, 0.0)


@dataclass(frozen=True, eq=False)
class RNNStructure:
    """Fixed architecture: cell types, areas, sign vector, masks and time constants (module docstring)."""

    area_sizes: tuple[int, ...]
    area_names: tuple[str, ...]
    cell_types: tuple[str, ...]
    areas: tuple[str, ...]
    sign: Float[np.ndarray, "neurons"]                 # +1 E, -1 I
    mask: Float[np.ndarray, "neurons neurons"]         # 0/1 connection mask, [post, pre]
    input_mask: Float[np.ndarray, "neurons inputs"]
    output_mask: Float[np.ndarray, "readouts neurons"]
    tau: Float[np.ndarray, "neurons"]                  # ms

    @property
    def n(self) -> int:
        """Number of units N."""
        return int(self.sign.size)

    def area_index(self, area: int) -> Int[np.ndarray, "area_neurons"]:
        """Indices of the units of area ``area`` (its position in ``area_names``)."""
        return np.where(np.asarray(self.areas) == self.area_names[area])[0]


def dale_rnn_structure(area_sizes: Sequence[int] = (100, 100), n_inputs: int = 3, n_outputs: int = 2, *, e_fraction: float = 0.8,
                       p_local: float = 1.0, proportions: Float[np.ndarray, "areas areas"] | None = None,
                       input_areas: Sequence[int] = (0,), output_area: int = -1,
                       taus_ms: Float[np.ndarray, "areas"] | float = 50.0, names: Sequence[str] | None = None,
                       seed: int = 0) -> RNNStructure:
    """Sign vector and masks of a multi-area Dale RNN (module docstring). Areas list E units first."""
    sizes = tuple(positive_int(f"area_sizes[{i}]", s, 2) for i, s in enumerate(area_sizes))
    n_areas = len(sizes)
    if n_areas == 0:
        fail("area_sizes", area_sizes, "at least one area")
    e_fraction = in_range("e_fraction", e_fraction, 0.0, 1.0, lo_open=True, hi_open=True)
    p_local = in_range("p_local", p_local, 0.0, 1.0, lo_open=True)
    names = tuple(f"A{i + 1}" for i in range(n_areas)) if names is None else tuple(map(str, names))
    if len(names) != n_areas:
        fail("names", names, f"{n_areas} area labels")
    if proportions is None:
        prop = np.zeros((n_areas, n_areas))
        for s in range(n_areas - 1):
            prop[s + 1, s], prop[s, s + 1] = 0.1, 0.05
    else:
        prop = finite_array("proportions", proportions)
        if prop.shape != (n_areas, n_areas) or np.any(prop < 0) or np.any(prop > 1):
            fail("proportions", prop, f"an ({n_areas}, {n_areas}) matrix [target, source] of values in [0, 1]")
    taus = np.broadcast_to(finite_array("taus_ms", taus_ms), (n_areas,))
    output_area = int(output_area) % n_areas
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    off = np.concatenate([[0], np.cumsum(sizes)])
    n_e = [max(1, int(round(e_fraction * s))) for s in sizes]
    sign = np.zeros(n)
    cell, areas, tau = [], [], np.zeros(n)
    for a, s in enumerate(sizes):
        sign[off[a]:off[a] + n_e[a]] = 1.0
        sign[off[a] + n_e[a]:off[a + 1]] = -1.0
        cell += ["E"] * n_e[a] + ["I"] * (s - n_e[a])
        areas += [names[a]] * s
        tau[off[a]:off[a + 1]] = positive(f"taus_ms[{a}]", float(taus[a]))
    mask = np.zeros((n, n))
    for t in range(n_areas):
        for s in range(n_areas):
            rows = slice(off[t], off[t + 1])
            if s == t:
                mask[rows, off[s]:off[s + 1]] = rng.random((sizes[t], sizes[s])) < p_local
            elif prop[t, s] > 0:
                mask[rows, off[s]:off[s] + n_e[s]] = rng.random((sizes[t], n_e[s])) < prop[t, s]
    np.fill_diagonal(mask, 0.0)
    in_mask = np.zeros((n, positive_int("n_inputs", n_inputs)))
    for a in input_areas:
        a = int(a) % n_areas
        in_mask[off[a]:off[a + 1]] = 1.0
    out_mask = np.zeros((positive_int("n_outputs", n_outputs), n))
    out_mask[:, off[output_area]:off[output_area] + n_e[output_area]] = 1.0
    return RNNStructure(sizes, names, tuple(cell), tuple(areas), sign, mask, in_mask, out_mask, tau)

"""Conditions, input groups and epochs of the latent models with piecewise-constant inputs (seed 001 §9-§10).

The latent LDS (`neurodyn.models.LDS`) and the E/I subspace network (`neurodyn.models.EISubspaceNetwork`)
drive condition i by a one-hot input in its input group ``c(i)`` and the epoch ``kappa(t)``::

    x^i_t = A x^i_{t-1} + B u_{c(i), kappa(t)} + w_t,     kappa(t) = 0 ('hold') for t < transition, 1 ('go') after,

so column ``2 c + kappa`` of B is the input vector of group c in epoch kappa. This module holds, once for
both models, the relabelling of the conditions' group labels to indices (`input_groups`), the epoch of
each bin (`epochs`), the one-hot inputs (`epoch_inputs`, `condition_design`) and the check of the data and
of the latent dimension and transition bin against them (`check_latent_data`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from jaxtyping import Float, Int

from neurodyn.models.base import check_rates
from neurodyn.validation import fail, positive_int

__all__ = ["ConditionDesign", "check_latent_data", "condition_design", "epoch_inputs", "epochs", "input_groups"]


def epochs(T: int, transition: int | None) -> Int[np.ndarray, "time"]:
    """Epoch index ``kappa(t)`` per bin: 0 ('hold') before ``transition``, 1 ('go') from it on."""
    return np.zeros(T, int) if transition is None else (np.arange(T) >= transition).astype(int)


def input_groups(groups, n_conditions: int) -> tuple[Int[np.ndarray, "conditions"], np.ndarray]:
    """(group index per condition, sorted unique labels) of input-group labels ``groups`` (None: each
    condition its own group)."""
    if groups is None:
        return np.arange(n_conditions), np.arange(n_conditions)
    g = np.asarray(groups)
    if g.shape != (n_conditions,):
        fail("groups", g, f"one input-group label per condition ({n_conditions})")
    labels, inv = np.unique(g, return_inverse=True)
    if labels.dtype == object:
        labels = labels.astype(str)
    return inv, labels


def epoch_inputs(groups: Int[np.ndarray, "conditions"], n_groups: int, T: int,
                 transition: int | None) -> Float[np.ndarray, "conditions time inputs"]:
    """One-hot inputs ``(conditions, T, 2 n_groups)``: column ``2 g + kappa(t)`` is 1 for a condition of group g.

    ``kappa(t) = 0`` ('hold') for ``t < transition`` and 1 ('go') otherwise; with ``transition=None``
    only the 'hold' columns are used (one constant input per group).
    """
    groups = np.asarray(groups, dtype=int)
    U = np.zeros((groups.size, T, 2 * n_groups))
    kappa = epochs(T, transition)
    for i, g in enumerate(groups):
        U[i, np.arange(T), 2 * g + kappa] = 1.0
    return U


class ConditionDesign(NamedTuple):
    """The fitted conditions' input groups and one-hot inputs (`condition_design`)."""

    groups: Int[np.ndarray, "conditions"]              # group index per condition
    labels: np.ndarray                                 # sorted unique group labels
    inputs: Float[np.ndarray, "conditions time inputs"]  # one-hot inputs u_t (epoch_inputs)
    active: Float[np.ndarray, "inputs"]                # 1 for input columns used at some t >= 1, else 0

    @property
    def n_groups(self) -> int:
        return int(len(self.labels))


def condition_design(groups, n_conditions: int, T: int, transition: int | None) -> ConditionDesign:
    """Input groups (`input_groups`), one-hot inputs (`epoch_inputs`) and the input columns they use.

    ``active`` marks the columns of B that some bin ``t >= 1`` uses (``u_0`` never drives the state); the
    M-steps keep the other columns unchanged.
    """
    g, labels = input_groups(groups, n_conditions)
    U = epoch_inputs(g, int(len(labels)), T, transition)
    active = (U[:, 1:].sum((0, 1)) > 0).astype(float)
    return ConditionDesign(g, labels, U, active)


def check_latent_data(X, n_latents: int, transition: int | None) -> Float[np.ndarray, "conditions time neurons"]:
    """Trial-averaged rates ``X`` (conditions, time, neurons) or `PopulationData` checked for a latent fit.

    At least 3 time bins, ``n_latents`` at most the number of neurons and the transition bin in
    ``[2, T - 1]`` so that both epochs have bins. Returns the rates as a float array.
    """
    X = check_rates(X, "X", min_times=3)
    if n_latents > X.shape[2]:
        fail("n_latents", n_latents, f"at most the number of neurons ({X.shape[2]})")
    if transition is not None:
        positive_int("transition", transition, 2)
        if transition > X.shape[1] - 1:
            fail("transition", transition,
                 f"a bin index in [2, {X.shape[1] - 1}] so both epochs have time bins (T={X.shape[1]})")
    return X

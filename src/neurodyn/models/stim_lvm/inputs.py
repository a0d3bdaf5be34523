"""Checks of the data `StimLVM` is fitted to (seed 001 Methods §8, first paragraphs).

Data are paired trial-averaged rates ``xhat`` (non-stimulated) and ``yhat`` (stimulated), both
``(conditions, time, neurons)`` in spikes/s, with the trial counts ``n_x``, ``n_y`` behind each entry
(a scalar, one per condition or one per entry; 0 marks a missing entry), and the weights
``phi^x``, ``phi^y`` of the additive term in each data set (§8.3).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

from neurodyn.validation import fail, finite_array

__all__ = ["broadcast_counts", "delta_weights", "paired_data"]


def broadcast_counts(name: str, n: Float[np.ndarray, "..."] | float,
                     shape: tuple[int, int, int]) -> Float[np.ndarray, "conditions time neurons"]:
    """Non-negative trial counts ``n`` (a scalar, ``(conditions,)`` or ``shape``) broadcast to ``shape``."""
    arr = finite_array(name, n)
    try:
        arr = np.broadcast_to(arr if arr.ndim != 1 else arr[:, None, None], shape).astype(float)
    except ValueError:
        fail(name, arr, f"trial counts broadcastable to {shape} (a scalar, (conditions,) or "
                        "(conditions, time, neurons))")
    if np.any(arr < 0):
        fail(name, arr, "non-negative trial counts")
    return arr


def delta_weights(name: str, phi: Float[np.ndarray, "..."] | float, n_conditions: int,
                  n_neurons: int) -> Float[np.ndarray, "conditions 1 #neurons"]:
    """Weights of Delta per condition (and neuron), shaped ``(conditions, 1, 1)`` or
    ``(conditions, 1, neurons)`` to broadcast over time (§8.3 shuffle null)."""
    arr = np.asarray(finite_array(name, phi), float)
    c, d = n_conditions, n_neurons
    if arr.ndim == 0:
        return np.full((c, 1, 1), float(arr))
    if arr.shape == (c,):
        return arr[:, None, None]
    if arr.shape == (c, d):
        return arr[:, None, :]
    if arr.shape in ((c, 1, 1), (c, 1, d)):
        return arr
    fail(name, arr, f"a scalar, ({c},) or ({c}, {d}) fractions of the additive term")


def paired_data(X: Float[np.ndarray, "conditions time neurons"] | dict,
                yhat: Float[np.ndarray, "conditions time neurons"] | None, n_x: Float[np.ndarray, "..."] | float | None,
                n_y: Float[np.ndarray, "..."] | float | None) -> tuple:
    """``(xhat, yhat, n_x, n_y)`` from arrays or from a dict with those keys (as `stimulated_dataset`,
    `shuffle_labels`, `poisson_null_data` and `StimLVM.sample` return); missing counts are 1."""
    if isinstance(X, dict):
        missing = [k for k in ("xhat", "yhat") if k not in X]
        if missing:
            fail("X", sorted(X), "a dict with 'xhat', 'yhat' (and 'n_x', 'n_y') entries")
        return X["xhat"], X["yhat"], X.get("n_x", 1.0), X.get("n_y", 1.0)
    if yhat is None:
        fail("yhat", yhat, "the stimulated rates paired with X (or X as a dict with 'xhat' and 'yhat')")
    return X, yhat, 1.0 if n_x is None else n_x, 1.0 if n_y is None else n_y

"""Within-manifold and outside-manifold displacements of the neural state (seed 000, Fig. 1d).

Seed 000 (section "Manipulating neural dynamics"): within-manifold perturbations "alter neural
activity in a manner consistent with the circuit's natural activations" and "can therefore be viewed as
displacements of the neural state in the activity's low-dimensional manifold", whereas an
outside-manifold perturbation "would result in neural activity that the circuit would not naturally
exhibit", i.e. moves the state "along dimensions outside the plane spanned by x1 and x2".

With the manifold spanned by the orthonormal columns of ``M`` (N x k, the top k principal components of
natural activity, `manifold_basis`), a displacement of size s is

    within:   delta = s M z / ||z||,               z ~ N(0, I_k)
    outside:  delta = s P z / ||P z||,  P = I - M M^T,   z ~ N(0, I_N)

so both have exactly ``||delta|| = s`` and the outside one is orthogonal to the manifold
(``M^T delta = 0``). ``apply(x) = x + delta``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.decomposition import PCA

from neurodyn.validation import fail, finite_array, in_range, positive_int

__all__ = ["StateDisplacement", "manifold_basis", "outside_manifold_displacement", "within_manifold_displacement"]


def manifold_basis(activity, k: int) -> np.ndarray:
    """Orthonormal basis (N x k) of the top-k principal components of activity (..., T, N) (scikit-learn PCA)."""
    X = finite_array("activity", activity)
    if X.ndim < 2:
        fail("activity", X, "an array (..., T, N)")
    X = X.reshape(-1, X.shape[-1])
    k = positive_int("k", k)
    if k >= X.shape[1]:
        fail("k", k, f"fewer dimensions than neurons ({X.shape[1]}) so that an outside-manifold space exists")
    return PCA(n_components=k, svd_solver="full").fit(X).components_.T.copy()


@dataclass(frozen=True, eq=False)
class StateDisplacement:
    """A state perturbation ``x -> x + delta`` (seed 000 Fig. 1d); ``kind`` is 'within' or 'outside'."""

    delta: Any
    kind: str = "custom"

    def __post_init__(self):
        d = finite_array("delta", self.delta, ndim=1)
        object.__setattr__(self, "delta", d)

    @property
    def size(self) -> float:
        return float(np.linalg.norm(self.delta))

    def apply(self, x):
        """``x + delta`` for a state (..., N)."""
        x = np.asarray(x, dtype=float)
        if x.shape[-1] != self.delta.size:
            fail("x", x, f"states with {self.delta.size} entries (one per neuron)")
        return x + self.delta


def _check_basis(basis) -> np.ndarray:
    M = finite_array("basis", basis, ndim=2)
    if M.shape[1] >= M.shape[0] or not np.allclose(M.T @ M, np.eye(M.shape[1]), atol=1e-8):
        fail("basis", M, "an N x k matrix (k < N) with orthonormal columns (see manifold_basis)")
    return M


def within_manifold_displacement(basis, size: float, seed: int = 0) -> StateDisplacement:
    """Random displacement of norm ``size`` inside span(basis) (module docstring)."""
    M = _check_basis(basis)
    size = in_range("size", size, 0.0, np.inf)
    z = np.random.default_rng(seed).standard_normal(M.shape[1])
    return StateDisplacement(size * (M @ z) / np.linalg.norm(z), "within")


def outside_manifold_displacement(basis, size: float, seed: int = 0) -> StateDisplacement:
    """Random displacement of norm ``size`` orthogonal to span(basis) (module docstring)."""
    M = _check_basis(basis)
    size = in_range("size", size, 0.0, np.inf)
    z = np.random.default_rng(seed).standard_normal(M.shape[0])
    v = z - M @ (M.T @ z)
    return StateDisplacement(size * v / np.linalg.norm(v), "outside")

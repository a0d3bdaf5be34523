"""Within-manifold and outside-manifold displacements of the neural state (seed 000, Fig. 1d).

Seed 000 (section "Manipulating neural dynamics"): within-manifold perturbations "alter neural
activity in a manner consistent with the circuit's natural activations" and "can therefore be viewed as
displacements of the neural state in the activity's low-dimensional manifold", whereas an
outside-manifold perturbation "would result in neural activity that the circuit would not naturally
exhibit", i.e. moves the state "along dimensions outside the plane spanned by x1 and x2".

With the manifold spanned by the orthonormal columns of ``Q`` (N x k, the top k principal components of
natural activity, `manifold_basis`), a displacement of size s is

    within:   delta = s Q z / ||z||,               z ~ N(0, I_k)
    outside:  delta = s P z / ||P z||,  P = I - Q Q^T,   z ~ N(0, I_N)

so both have exactly ``||delta|| = s`` and the outside one is orthogonal to the manifold
(``Q^T delta = 0``). ``apply(x) = x + delta``.

The manifold is either the top k components (k given) or, as the task activity space of seed 001 §6,
the fewest components that hold a fraction ``threshold`` (95 %) of the variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float
from sklearn.decomposition import PCA

from neurodyn.validation import fail, finite_array, in_range, positive_int

__all__ = ["StateDisplacement", "manifold_basis", "outside_manifold_displacement", "within_manifold_displacement"]


def manifold_basis(activity: Float[np.ndarray, "*batch time neurons"], k: int | None = None, *,
                   threshold: float = 0.95) -> Float[np.ndarray, "neurons latents"]:
    """Orthonormal basis (N x k) of the top-k principal components of ``activity`` (..., T, N) (scikit-learn PCA).

    With ``k`` given, k < N (so that an outside-manifold space exists). With ``k=None`` the task activity
    space of seed 001 §6: the fewest components holding ``threshold`` of the variance,
    ``k = min {k : sum_{i<=k} lambda_i / sum_i lambda_i >= threshold}`` (lambda_i: PCA variances of the
    samples pooled over the leading axes).
    """
    X = finite_array("activity", activity)
    if X.ndim < 2:
        fail("activity", X, "an array (..., T, N)")
    X = X.reshape(-1, X.shape[-1])
    if k is None:
        threshold = in_range("threshold", threshold, 0.0, 1.0, lo_open=True)
        pca = PCA(n_components=min(X.shape), svd_solver="full").fit(X)
        k = int(np.searchsorted(np.cumsum(pca.explained_variance_ratio_), threshold) + 1)
        return pca.components_[:k].T.copy()
    k = positive_int("k", k)
    if k >= X.shape[1]:
        fail("k", k, f"fewer dimensions than neurons ({X.shape[1]}) so that an outside-manifold space exists")
    return PCA(n_components=k, svd_solver="full").fit(X).components_.T.copy()


@dataclass(frozen=True, eq=False)
class StateDisplacement:
    """A state perturbation ``x -> x + delta`` (seed 000 Fig. 1d); ``kind`` is 'within' or 'outside'."""

    delta: Float[np.ndarray, "neurons"]
    kind: str = "custom"

    def __post_init__(self):
        d = finite_array("delta", self.delta, ndim=1)
        object.__setattr__(self, "delta", d)

    @property
    def size(self) -> float:
        return float(np.linalg.norm(self.delta))

    def apply(self, x: Float[np.ndarray, "*batch neurons"]) -> Float[np.ndarray, "*batch neurons"]:
        """``x + delta`` for a state (..., N)."""
        x = np.asarray(x, dtype=float)
        if x.shape[-1] != self.delta.size:
            fail("x", x, f"states with {self.delta.size} entries (one per neuron)")
        return x + self.delta


def _check_basis(basis) -> np.ndarray:
    Q = finite_array("basis", basis, ndim=2)
    if Q.shape[1] >= Q.shape[0] or not np.allclose(Q.T @ Q, np.eye(Q.shape[1]), atol=1e-8):
        fail("basis", Q, "an N x k matrix (k < N) with orthonormal columns (see manifold_basis)")
    return Q


def within_manifold_displacement(basis: Float[np.ndarray, "neurons latents"], size: float,
                                 seed: int = 0) -> StateDisplacement:
    """Random displacement of norm ``size`` inside span(basis) (module docstring)."""
    Q = _check_basis(basis)
    size = in_range("size", size, 0.0, np.inf)
    z = np.random.default_rng(seed).standard_normal(Q.shape[1])
    return StateDisplacement(size * (Q @ z) / np.linalg.norm(z), "within")


def outside_manifold_displacement(basis: Float[np.ndarray, "neurons latents"], size: float,
                                  seed: int = 0) -> StateDisplacement:
    """Random displacement of norm ``size`` orthogonal to span(basis) (module docstring)."""
    Q = _check_basis(basis)
    size = in_range("size", size, 0.0, np.inf)
    z = np.random.default_rng(seed).standard_normal(Q.shape[0])
    v = z - Q @ (Q.T @ z)
    return StateDisplacement(size * v / np.linalg.norm(v), "outside")

"""`SOCResult`: the outcome of a stability optimisation (thesis, seed 003, Appendix C.1; `soc`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from jaxtyping import Float

from neurodyn.network import Network
from neurodyn.validation import fail, positive, positive_int

__all__ = ["SOCResult"]


@dataclass(frozen=True)
class SOCResult:
    """Outcome of `soc` (thesis Appendix C.1).

    Attributes
    ----------
    network : Network
        The optimised (or, without convergence, the best) Dale network, E first then I, ``tau`` set.
    alpha_history : (iterations + 1,) array
        ``alpha(W)`` of the initial matrix followed by its value after each iteration.
    alpha : float
        Spectral abscissa of ``network.W``.
    iterations : int
        Number of gradient iterations run.
    converged : bool
        Whether ``alpha < target`` was reached within ``max_iter``.
    initial_W : (N, N) array
        The random starting matrix (``random_ei``).
    target, eta : float
        Stopping threshold and learning rate used.
    best_iteration : int
        Index into ``alpha_history`` of the returned matrix.
    device : str
        ``"cpu"`` (shared-Schur SciPy path) or ``"jax-<backend>"`` (sign-iteration JAX path).
    seconds : float
        Wall time of the optimisation loop.
    """

    network: Network
    alpha_history: Float[np.ndarray, " iterations_plus_one"]
    alpha: float
    iterations: int
    converged: bool
    initial_W: Float[np.ndarray, "neurons neurons"]
    target: float = float("nan")
    eta: float = float("nan")
    best_iteration: int = 0
    device: str = "cpu"
    seconds: float = 0.0
    gamma: float = float("nan")
    extra: dict = field(default_factory=dict)

    @property
    def W(self) -> Float[np.ndarray, "neurons neurons"]:
        return np.asarray(self.network.W)

    @property
    def initial_alpha(self) -> float:
        return float(self.alpha_history[0])

    @property
    def inhibitory_density(self) -> float:
        """Share of nonzero weights among the ``N x M`` inhibitory (presynaptic I) entries."""
        inh = ~self.network.is_excitatory
        return float(np.count_nonzero(self.W[:, inh]) / self.W[:, inh].size)

    def preferred_initial_condition(self, k: int = 1, norm: float | None = None) -> Float[np.ndarray, " neurons"]:
        """Preferred initial condition a_k (thesis Appendix C.2) scaled to ``||x0|| = norm``.

        a_k is the eigenvector of the k-th largest eigenvalue of the observability Gramian Q of
        ``W - I`` (``(W - I)^T Q + Q (W - I) = -2I``, eq. C.11); it maximises the evoked energy
        ``eps(a) = a^T Q a`` (eq. C.21) on the unit sphere orthogonal to a_1..a_{k-1}. The default norm is
        ``1.5 sqrt(N)`` (Appendix C.2, following Hennequin et al. 2014). Needs ``alpha(W) < 1``.
        """
        from neurodyn.analysis.gramians import preferred_initial_conditions

        k = positive_int("k", k, 1)
        if k > self.network.n:
            fail("k", k, f"an index in 1..{self.network.n}")
        norm = 1.5 * math.sqrt(self.network.n) if norm is None else positive("norm", norm)
        _, V = preferred_initial_conditions(self.W)
        return norm * V[:, k - 1]

    @property
    def ie_ratio(self) -> tuple[float, float]:
        """``(-mean(W_EI)/mean(W_EE), -mean(W_II)/mean(W_IE))``: gamma after step 7 (thesis C.1)."""
        e = self.network.is_excitatory
        W = self.W
        return (float(-W[np.ix_(e, ~e)].mean() / W[np.ix_(e, e)].mean()),
                float(-W[np.ix_(~e, ~e)].mean() / W[np.ix_(~e, e)].mean()))

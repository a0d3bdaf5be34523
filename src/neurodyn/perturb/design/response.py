"""The linear response model of a stimulated network (seed 001 §10.1, §11; seed 003 eq. 2.1).

A linear(ised) network driven by an input ``u`` held during a window of ``n_on`` steps of ``dt`` and then
released::

    nu_{t+1} = F nu_t + Gamma u_t,      (discrete, §10.1/§11: F = W, Gamma = I, 10-ms steps)
    tau dnu/dt = -nu + W nu + u  =>  F = e^{A dt}, Gamma = A^{-1} (e^{A dt} - I) diag(1/tau),
                                     A = diag(1/tau) (W diag(g) - I)            (exact zero-order hold)

The deviation from the unstimulated trajectory at the end of the window is linear in u,

    Delta nu(n_on) = G u,   G = sum_{k=0}^{n_on-1} F^k Gamma,                                   (1)

so the displacement inside the task-dynamics space, in an orthonormal basis Q (N x K) of row(J), is
``L u`` with ``L = Q^T G`` (K x N), and the part outside it is ``(I - Q Q^T) G u``. The response
trajectories run the package's one discrete linear rollout (`neurodyn.dynamics.linear_response_from_rest`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax.numpy as jnp
import numpy as np
import scipy.linalg as sla
from jaxtyping import Bool, Float

from neurodyn.dynamics import linear_dynamics_matrix, linear_response_from_rest
from neurodyn.network import Network
from neurodyn.validation import fail, finite_array, positive, positive_int, square_matrix

__all__ = ["LinearResponseModel", "subspace_basis"]


def subspace_basis(J: Float[np.ndarray, "latents neurons"]) -> Float[np.ndarray, "neurons latents"]:
    """Orthonormal basis Q (N x K) of the row space of ``J`` (K x N), the task-dynamics space (seed 001 §10.1)."""
    J = finite_array("J", J, ndim=2)
    if J.shape[0] > J.shape[1]:
        fail("J", J, "a K x N projection with K <= N")
    Q, R = np.linalg.qr(J.T)
    if np.min(np.abs(np.diag(R))) <= 1e-12 * max(np.max(np.abs(np.diag(R))), 1e-300):
        fail("J", J, "full row rank")
    return Q


@dataclass(frozen=True, eq=False)
class LinearResponseModel:
    """``nu_{t+1} = F nu_t + Gamma u_t`` with task-dynamics projection J and readout C (module docstring).

    Attributes:
        F: (N, N) one-step propagator;
        J: (K, N) task-dynamics projection (its row space is the target space);
        C: (readouts, K) emission matrix from ``x = J nu`` (the recorded / behavioural readout
            ``y = C J nu``), or None;
        is_excitatory: (N,) cell types, required (the actuators target cell types; no default is assumed);
        Gamma: (N, N) input map per step (None: identity); dt_ms: step (ms).
    """

    F: Float[np.ndarray, "neurons neurons"]
    J: Float[np.ndarray, "latents neurons"]
    C: Float[np.ndarray, "readouts latents"] | None
    is_excitatory: Bool[np.ndarray, "neurons"]
    Gamma: Float[np.ndarray, "neurons neurons"] | None = None
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
        if self.is_excitatory is None:
            fail("is_excitatory", None, f"{N} booleans, the cell type of each unit (True: excitatory)")
        e = np.asarray(self.is_excitatory, bool)
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
    def discrete(cls, W: Float[np.ndarray, "neurons neurons"], J: Float[np.ndarray, "latents neurons"],
                 C: Float[np.ndarray, "readouts latents"] | None, is_excitatory: Bool[np.ndarray, "neurons"],
                 dt_ms: float = 10.0) -> "LinearResponseModel":
        """The network of seed 001 §10.1/§11: ``nu_{t+1} = W nu_t + s`` in steps of ``dt_ms``."""
        return cls(W, J, C, is_excitatory, None, dt_ms)

    @classmethod
    def continuous(cls, network: Network, J: Float[np.ndarray, "latents neurons"],
                   C: Float[np.ndarray, "readouts latents"] | None = None,
                   gains: Float[np.ndarray, "neurons"] | None = None, dt_ms: float = 10.0) -> "LinearResponseModel":
        """Exact zero-order-hold discretisation of ``tau dnu/dt = -nu + W diag(g) nu + u`` (seed 003 eq. 2.1
        with the linear gain, or the linearisation of a nonlinear network with the slopes as gains); the cell
        types are the network's."""
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
    def basis(self) -> Float[np.ndarray, "neurons latents"]:
        """Orthonormal basis Q (N x K) of the task-dynamics space row(J)."""
        if "Q" not in self._cache:
            self._cache["Q"] = subspace_basis(self.J)
        return self._cache["Q"]

    def window_operator(self, n_on: int, target: Float[np.ndarray, "readouts neurons"] | str | None = None
                        ) -> Float[np.ndarray, "readouts neurons"]:
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

    def readout_operator(self) -> Float[np.ndarray, "readouts neurons"]:
        """``C J`` (D x N): the linear readout of network states (seed 001 §10.1, ``y = C x + d``)."""
        if self.C is None:
            fail("C", None, "a readout matrix for readout predictions")
        return self.C @ self.J

    def responses(self, inputs: Float[np.ndarray, "patterns neurons"] | Float[np.ndarray, "patterns time neurons"],
                  n_on: int, n_post: int, chunk: int = 64) -> Float[np.ndarray, "patterns _ neurons"]:
        """Deviation trajectories ``(P, n_on + n_post + 1, N)`` (patterns, time, neurons): ``Delta nu_0 = 0``, then
        ``Delta nu_t = F Delta nu_{t-1} + Gamma u [t <= n_on]`` (the input ``u`` held for ``n_on`` steps).

        Inputs may also be spatiotemporal, ``(P, n_on, N)`` (``u_t`` on step t). The recursion is
        `neurodyn.dynamics.linear_response_from_rest` (one `jax.lax.scan`), in chunks of ``chunk`` patterns.
        """
        U = finite_array("inputs", inputs)
        n_on = positive_int("n_on", n_on)
        n_post = positive_int("n_post", n_post, 0)
        if U.ndim == 1:
            U = U[None]
        if U.shape[-1] != self.n or U.ndim not in (2, 3) or (U.ndim == 3 and U.shape[1] != n_on):
            fail("inputs", U, f"(P, {self.n}) held patterns or (P, {n_on}, {self.n}) spatiotemporal inputs")
        n_steps = n_on + n_post
        F = jnp.asarray(self.F)
        Gm = None if self.Gamma is None else jnp.asarray(self.Gamma)
        out = []
        for s in range(0, U.shape[0], chunk):
            u = jnp.asarray(U[s:s + chunk])
            if u.ndim == 2:
                drive = jnp.where((jnp.arange(n_steps) < n_on)[None, :, None], u[:, None, :], 0.0)
            else:
                drive = jnp.concatenate([u, jnp.zeros((u.shape[0], n_post, self.n))], axis=1)
            if Gm is not None:
                drive = drive @ Gm.T
            out.append(np.asarray(linear_response_from_rest(F, drive)))
        return np.concatenate(out, axis=0)

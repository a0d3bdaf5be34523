"""Ground-truth generator for the self-contained-subspace E/I network (seed 001 Methods §10, §11, §15).

There are no stimulation recordings bundled, so the perturbation analyses of seed 001 are scored against a
known network of the model class of §10.1::

    nu_{t+1} = W nu_t + J^+ b_{c, kappa(t+1)} + s delta_{t+1 in stim},   x = J nu,   rate = C x + d

with W Dale-signed, row-balanced, 25% dense and (to penalty precision) self-contained, ``J W = A J``.
The task-dynamics matrix is built with prescribed eigenvalues: slow rotations ``r e^{+-i theta}``
(r in [r_min, r_max], theta in [theta_min, theta_max] rad per step) on K - 1 dimensions and the
eigenvalue 0 on the direction ``J 1``, which balance and self-containment together force
(``A J 1 = J W 1 = 0``, see `neurodyn.models.ei_subspace`). W is obtained from a random balanced E/I
matrix ``W0`` (spectral radius 0.85) by the bounded penalised solver `fit_w` with ``P = I``, ``M = A``,
``Q = I``, large penalty weights and a weak pull ``anchor_weight/2 ||W - W0||^2`` that keeps the
dynamics outside the task-dynamics space close to the stable random network; the truth's dynamics are
then those of the resulting W (``A = J W J^+``).

Recorded neurons fire as inhomogeneous Poisson processes with rate ``max(C x_t + H nu_out + d, 0)`` (spikes/s),
where ``nu_out = (I - J^+ J) nu`` is the activity outside the task-dynamics space and ``H`` (zero by
default) reads it from ``direct_units`` random units per neuron with weight ``direct_hz``, so that
perturbations outside the task space can show up in recordings as in the experiments; binned
at ``dt_ms``; trial averages of the spike counts / dt give the PSTHs. Perturbations (§11, §15):

* opto-like: an input vector s (`neurodyn.perturb.inputs.OptogeneticStimulation`) added during a window;
* ICMS-like contraction: during the window the task-space state is pulled toward the condition-average
  state, ``x <- x - c (x - xbar)`` applied once at the end of the window (the contraction of §8.2), plus
  an additive untargeted input vector (`neurodyn.perturb.inputs.ICMSStimulation`).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from jaxtyping import Bool, Float

from neurodyn.dynamics import linear_rollout
from neurodyn.models.ei_subspace.constraints import (
    excitatory_units,
    random_balanced_ei,
    sparsity_mask,
    subspace_projection,
)
from neurodyn.models.ei_subspace.w_solver import fit_w
from neurodyn.models.lds.conditions import epoch_inputs
from neurodyn.validation import fail, finite_array, in_range, positive, positive_int

__all__ = ["SubspaceGroundTruth", "make_ground_truth", "poisson_trials", "subspace_dynamics_matrix"]


def subspace_dynamics_matrix(J: Float[np.ndarray, "latents neurons"], seed: int = 0, r_range=(0.9, 0.97),
                             theta_range=(0.03, 0.15)) -> Float[np.ndarray, "latents latents"]:
    """K x K matrix with eigenvalue 0 on ``J 1`` and slow rotations ``r e^{+-i theta}`` elsewhere.

    ``A = V Lambda V^{-1}`` in real block form: the first column of V is ``J 1 / ||J 1||`` (eigenvalue 0),
    the others are random unit vectors; each 2 x 2 block is ``r [[cos th, -sin th], [sin th, cos th]]``,
    and a leftover single dimension gets the real eigenvalue ``r``.
    """
    J = finite_array("J", J, ndim=2)
    K = J.shape[0]
    rng = np.random.default_rng(seed)
    V = rng.normal(size=(K, K))
    j1 = J.sum(1)
    V[:, 0] = j1 / np.linalg.norm(j1)
    L = np.zeros((K, K))
    k = 1
    while k < K:
        r = rng.uniform(*r_range)
        if k + 1 < K:
            th = rng.uniform(*theta_range)
            L[k:k + 2, k:k + 2] = r * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
            k += 2
        else:
            L[k, k] = r
            k += 1
    return V @ L @ np.linalg.inv(V)


@dataclass(frozen=True)
class SubspaceGroundTruth:
    """A known self-contained-subspace E/I network with recorded-neuron readout (see module docstring)."""

    W: Float[np.ndarray, "neurons neurons"]
    J: Float[np.ndarray, "latents neurons"]
    is_excitatory: Bool[np.ndarray, "neurons"]
    mask: Bool[np.ndarray, "neurons neurons"]
    A_target: Float[np.ndarray, "latents latents"]  # prescribed task dynamics
    B: Float[np.ndarray, "latents inputs"]          # hold/go input vectors per condition (2 per condition)
    C: Float[np.ndarray, "readouts latents"]
    d: Float[np.ndarray, "readouts"]                # baseline rates (spikes/s)
    m0: Float[np.ndarray, "conditions latents"]     # initial task states
    H: Float[np.ndarray, "readouts neurons"]        # direct readout of units outside the task space (Hz per unit)
    transition: int
    n_times: int
    dt_ms: float

    @property
    def J_pinv(self) -> Float[np.ndarray, "neurons latents"]:
        return np.linalg.pinv(self.J)

    @property
    def A(self) -> Float[np.ndarray, "latents latents"]:
        """Task-dynamics matrix of the network, ``J W J^+``."""
        return self.J @ self.W @ self.J_pinv

    @property
    def n_conditions(self) -> int:
        return self.m0.shape[0]

    def inputs(self) -> Float[np.ndarray, "conditions time inputs"]:
        return epoch_inputs(np.arange(self.n_conditions), self.n_conditions, self.n_times, self.transition)

    def initial_states(self) -> Float[np.ndarray, "conditions neurons"]:
        """Network initial states ``J^+ m0`` (conditions, N)."""
        return self.m0 @ self.J_pinv.T

    def run(self, stim: Float[np.ndarray, "*conditions neurons"] | None = None,
            stim_mask: Bool[np.ndarray, "time"] | None = None,
            nu0: Float[np.ndarray, "*conditions neurons"] | None = None
            ) -> Float[np.ndarray, "conditions time neurons"]:
        """Noise-free network trajectories ``(conditions, T, N)`` with an optional input ``stim``."""
        U = self.inputs()
        drive = np.einsum("btu,ku,nk->btn", U, self.B, self.J_pinv)
        if stim is not None:
            stim = np.broadcast_to(finite_array("stim", stim), (self.n_conditions, self.W.shape[0]))
            sm = np.asarray(stim_mask, bool)
            if sm.shape != (self.n_times,):
                fail("stim_mask", sm, f"{self.n_times} booleans")
            drive = drive + sm[None, :, None] * stim[:, None, :]
        nu0 = self.initial_states() if nu0 is None else np.atleast_2d(finite_array("nu0", nu0))
        return np.asarray(linear_rollout(jnp.asarray(self.W), jnp.asarray(nu0), jnp.asarray(drive)))

    def rates(self, nu: Float[np.ndarray, "*batch neurons"]) -> Float[np.ndarray, "*batch readouts"]:
        """Recorded-neuron rates ``max(C J nu + H (I - J^+ J) nu + d, 0)`` (spikes/s)."""
        nu = np.asarray(nu)
        out = nu - (nu @ self.J.T) @ self.J_pinv.T
        return np.maximum(nu @ (self.C @ self.J).T + out @ self.H.T + self.d, 0.0)

    def run_contraction(self, contraction: float, stim: Float[np.ndarray, "*conditions neurons"],
                        stim_mask: Bool[np.ndarray, "time"]) -> Float[np.ndarray, "conditions time neurons"]:
        """ICMS-like run: additive ``stim`` during the window, then at its last step the task state is
        contracted toward the condition average, ``x <- x - c (x - xbar)`` (seed 001 §8.2, §15)."""
        c = in_range("contraction", contraction, 0.0, 1.0)
        sm = np.asarray(stim_mask, bool)
        if sm.shape != (self.n_times,) or not sm.any():
            fail("stim_mask", sm, f"{self.n_times} booleans with at least one True")
        end = int(np.flatnonzero(sm)[-1])
        nu = self.run(stim, sm)
        x = nu[:, end] @ self.J.T
        nu_end = nu[:, end] - c * (x - x.mean(0)) @ self.J_pinv.T
        U = self.inputs()[:, end:]
        drive = np.einsum("btu,ku,nk->btn", U, self.B, self.J_pinv)
        tail = np.asarray(linear_rollout(jnp.asarray(self.W), jnp.asarray(nu_end), jnp.asarray(drive)))
        return np.concatenate([nu[:, :end], tail], axis=1)


def make_ground_truth(n_units: int = 200, n_latents: int = 4, n_neurons: int = 40, n_conditions: int = 8,
                      n_times: int = 60, transition: int = 20, *, dt_ms: float = 10.0, density: float = 0.25,
                      frac_excitatory: float = 0.5, baseline_hz=(5.0, 15.0), gain_hz: float = 4.0,
                      seed: int = 0, penalty: float = 1e5, w_iter: int = 1000,
                      anchor_weight: float = 1e-3, anchor_radius: float = 0.5, direct_hz: float = 0.0,
                      direct_units: int = 5) -> SubspaceGroundTruth:
    """Build a `SubspaceGroundTruth` (see module docstring). Sizes are the generator's, not the model's."""
    N = positive_int("n_units", n_units, 4)
    K = positive_int("n_latents", n_latents, 2)
    D = positive_int("n_neurons", n_neurons)
    nc = positive_int("n_conditions", n_conditions)
    T = positive_int("n_times", n_times, 3)
    transition = positive_int("transition", transition, 2)
    if transition > T - 1:
        fail("transition", transition, f"a bin index below n_times={T}")
    positive("dt_ms", dt_ms)
    positive("gain_hz", gain_hz)
    rng = np.random.default_rng(seed)
    s = [int(v) for v in rng.integers(0, 2**31 - 1, 5)]
    J = subspace_projection(K, N, s[0])
    e = excitatory_units(N, frac_excitatory)
    mask = sparsity_mask(N, density, s[1])
    W0 = random_balanced_ei(mask, e, anchor_radius, s[2])
    W = W0
    A = subspace_dynamics_matrix(J, s[3])
    eps = 1.0
    while True:
        W = fit_w(W, mask, e, J, np.eye(K), A, np.eye(K), eps, eps, max_iter=w_iter, anchor=W0,
                  anchor_weight=anchor_weight)
        if eps >= penalty:
            break
        eps = min(eps * 10.0, penalty)
    r2 = np.random.default_rng(s[4])
    # task states of order 1; inputs steer hold toward condition-specific preparatory states
    B = r2.normal(0.0, 0.15, (K, 2 * nc))
    C = r2.normal(0.0, gain_hz, (D, K))
    d = r2.uniform(*baseline_hz, D)
    m0 = r2.normal(0.0, 1.0, (nc, K))
    H = np.zeros((D, N))
    if direct_hz > 0:
        for i in range(D):
            H[i, r2.choice(N, size=min(direct_units, N), replace=False)] = direct_hz
    rho = float(np.max(np.abs(np.linalg.eigvals(W))))
    if rho >= 1.0:
        raise ValueError(f"seed={seed}: the generated W has spectral radius {rho:.3f}; expected a stable "
                         "network (< 1): try another seed, a larger n_units or a smaller anchor_radius")
    return SubspaceGroundTruth(W, J, e, mask, A, B, C, d, m0, H, transition, T, float(dt_ms))


def poisson_trials(rates: Float[np.ndarray, "conditions time readouts"], n_trials: int, dt_ms: float,
                   seed: int = 0) -> Float[np.ndarray, "conditions trials time readouts"]:
    """Single-trial rate estimates ``(conditions, trials, T, D)``: Poisson counts of ``rates * dt`` divided by dt."""
    rates = finite_array("rates", rates)
    if np.any(rates < 0):
        fail("rates", rates, "non-negative firing rates (spikes/s)")
    n_tr = positive_int("n_trials", n_trials)
    dt_s = positive("dt_ms", dt_ms) / 1000.0
    rng = np.random.default_rng(seed)
    counts = rng.poisson(np.broadcast_to(rates[:, None] * dt_s, (rates.shape[0], n_tr) + rates.shape[1:]))
    return counts / dt_s

"""EM statistics and the M-step of the E/I subspace network (seed 001 Methods §10.2-10.5).

EM on the penalised lower bound

    F*(q, Theta) = <log p(x, y | Theta)>_q + H[q]
                   - eps/2 ||J W (I - J^+ J)||_F^2 - beta/2 ||W 1||^2                         (§10.2)

* E-step (§10.3): the posterior over x is a Kalman (RTS) smoother with dynamics ``J W J^+``
  (`neurodyn.models.lds.kalman_smoother_batch`), giving ``E[x_t]``, ``E[x_t x_t^T]``, ``E[x_{t+1} x_t^T]``
  (`smoothed_moments`, summed by `sufficient_stats`).
* M-step (§10.4; the update equations were lost and are derived here from the expected complete-data
  log-likelihood, as for the classic LDS, with sums over conditions and t = 1..T-1 and n their count;
  `m_step`):

  - input vectors given A:  ``B = (S_{x u} - A S_{x- u}) S_{uu}^{-1}``, with ``S_{xu} = sum E[x_t] u_t^T``,
    ``S_{x- u} = sum E[x_{t-1}] u_t^T``, ``S_uu = sum u_t u_t^T`` (one column per condition group and epoch);
  - W by bounded gradient steps on ``-F*`` (`neurodyn.models.ei_subspace.w_solver.fit_w`) with
    ``P = (1/n) sum E[x_{t-1} x_{t-1}^T]``, ``M = (1/n) sum E[(x_t - B u_t) x_{t-1}^T]`` and the penalty
    weights ``eps' = eps s``, ``beta' = beta s`` relative to the data term's curvature ``s = tr(Q^{-1} P) / K``
    (`data_curvature`), then the stability safeguard (`neurodyn.models.ei_subspace.stability.stabilised_w`);
  - ``Q = (1/n) sum E[(x_t - A x_{t-1} - B u_t)(...)^T]`` (with the new A, B);
  - ``[C d] = (sum y_t E[s_t]^T)(sum E[s_t s_t^T])^{-1}``, ``s_t = [x_t; 1]``;
    ``R = diag((1/(n_c T)) sum E[(y_t - C x_t - d)(...)^T])`` (`neurodyn.models.lds.emission_update`,
    shared with the LDS);
  - initial states (§10.5): ``m0_i = E[x^i_0]`` per condition, ``S0 = Cov(x_0 | y)``
    (`neurodyn.models.lds.initial_state_update`).

`penalty` is the penalty part of ``F*`` in log-likelihood units, ``n (eps'/2 ||Z||^2 + beta'/(2 n_row) ||W 1||^2)``
(``n_row``: average number of free entries per row, the balance weight's scaling in `fit_w`).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from neurodyn.models.ei_subspace.stability import stabilised_w
from neurodyn.models.ei_subspace.w_solver import fit_w
from neurodyn.models.lds import LDSParams, emission_update_jit, initial_state_update, kalman_smoother_batch, symmetrize

__all__ = ["MStep", "SubspaceParams", "SubspaceStructure", "SufficientStats", "data_curvature", "m_step", "penalty",
           "smoothed_moments", "sufficient_stats"]


class SubspaceStructure(NamedTuple):
    """The fixed parts of the network: projection J, its pseudo-inverse, sparsity mask and cell types."""

    J: Float[np.ndarray, "latents neurons"]
    J_pinv: Float[np.ndarray, "neurons latents"]
    mask: Bool[np.ndarray, "neurons neurons"]
    is_excitatory: Bool[np.ndarray, "neurons"]

    def dynamics(self, W: Float[np.ndarray, "neurons neurons"]) -> Float[np.ndarray, "latents latents"]:
        """Task dynamics ``A = J W J^+`` (seed 001 §10.1)."""
        return self.J @ W @ self.J_pinv


class SubspaceParams(NamedTuple):
    """Learned parameters: the network ``W`` and its x-space LDS ``A = J W J^+, B, C, d, Q, R, m0, S0``."""

    W: Float[np.ndarray, "neurons neurons"]
    A: Float[np.ndarray, "latents latents"]
    B: Float[np.ndarray, "latents inputs"]
    C: Float[np.ndarray, "readouts latents"]
    d: Float[np.ndarray, "readouts"]
    Q: Float[np.ndarray, "latents latents"]
    R: Float[np.ndarray, "readouts"]
    m0: Float[np.ndarray, "conditions latents"]
    S0: Float[np.ndarray, "latents latents"]

    def lds(self) -> LDSParams:
        """The x-space `LDSParams` (JAX arrays) of these parameters."""
        return LDSParams(*(jnp.asarray(a) for a in (self.A, self.B, self.C, self.d, self.Q, self.R, self.m0, self.S0)))


class SufficientStats(NamedTuple):
    """Sums of smoothed moments over conditions and t = 1..T-1 (``p``: x_{t-1}, ``n``: x_t, ``u``: inputs)."""

    n: int                                  # number of transitions summed
    Spp: Float[np.ndarray, "latents latents"]  # sum E[x_{t-1} x_{t-1}^T]
    Snp: Float[np.ndarray, "latents latents"]  # sum E[x_t x_{t-1}^T]
    Snn: Float[np.ndarray, "latents latents"]  # sum E[x_t x_t^T]
    Snu: Float[np.ndarray, "latents inputs"]   # sum E[x_t] u_t^T
    Spu: Float[np.ndarray, "latents inputs"]   # sum E[x_{t-1}] u_t^T
    Suu: Float[np.ndarray, "inputs inputs"]    # sum u_t u_t^T


def smoothed_moments(params: LDSParams, Y: Float[Array, "conditions time neurons"],
                     U: Float[Array, "conditions time inputs"]
                     ) -> tuple[Float[np.ndarray, "conditions time latents"], Float[np.ndarray, "time latents latents"],
                                Float[np.ndarray, "time-1 latents latents"], float]:
    """E-step (§10.3): smoothed means, covariances, lag-one cross-covariances and the total log-likelihood."""
    sm = kalman_smoother_batch(params, Y, U)
    return np.asarray(sm.means), np.asarray(sm.covs), np.asarray(sm.cross_covs), float(np.sum(sm.loglik))


def sufficient_stats(m: Float[np.ndarray, "conditions time latents"], P: Float[np.ndarray, "time latents latents"],
                     Pc: Float[np.ndarray, "time-1 latents latents"], U: Float[np.ndarray, "conditions time inputs"],
                     active: Float[np.ndarray, "inputs"]) -> SufficientStats:
    """The sums of the M-step (module docstring); inactive input columns are zeroed."""
    nb, T, _ = m.shape
    Ua = U[:, 1:] * active
    mp, mn = m[:, :-1], m[:, 1:]
    return SufficientStats(
        nb * (T - 1),
        np.einsum("bti,btj->ij", mp, mp) + nb * P[:-1].sum(0),
        np.einsum("bti,btj->ij", mn, mp) + nb * Pc.sum(0),
        np.einsum("bti,btj->ij", mn, mn) + nb * P[1:].sum(0),
        np.einsum("bti,btu->iu", mn, Ua),
        np.einsum("bti,btu->iu", mp, Ua),
        np.einsum("btu,btv->uv", Ua, Ua),
    )


def data_curvature(stats: SufficientStats, Q: Float[np.ndarray, "latents latents"]
                   ) -> tuple[Float[np.ndarray, "latents latents"], Float[np.ndarray, "latents latents"], float]:
    """``(P, Q^{-1}, s)``: mean ``E[x_{t-1} x_{t-1}^T]``, the inverse noise covariance, ``s = tr(Q^{-1} P) / K``."""
    Pm = stats.Spp / stats.n
    Qi = np.linalg.inv(Q)
    return Pm, Qi, float(np.trace(Qi @ Pm)) / Q.shape[0]


def penalty(W: Float[np.ndarray, "neurons neurons"], A: Float[np.ndarray, "latents latents"],
            J: Float[np.ndarray, "latents neurons"], n: int, eps: float, beta: float, s: float, n_row: float) -> float:
    """Penalty part of ``F*`` (§10.2) in log-likelihood units (module docstring), ``Z = J W - A J``."""
    Z = J @ W - A @ J
    wb = W.sum(1)
    return n * (0.5 * eps * s * float(np.sum(Z * Z)) + 0.5 * beta * s / n_row * float(wb @ wb))


class MStep(NamedTuple):
    """Result of `m_step`: new parameters, the safeguard's last shrink factor and whether the bound was
    exceeded (None without a bound), and the seconds spent on the W update."""

    params: SubspaceParams
    shrink: float | None
    bound_active: bool | None
    w_seconds: float


def m_step(params: SubspaceParams, structure: SubspaceStructure, stats: SufficientStats,
           m: Float[np.ndarray, "conditions time latents"], P: Float[np.ndarray, "time latents latents"],
           Y: Float[Array, "conditions time readouts"], Syy: Float[Array, "readouts readouts"],
           active: Float[np.ndarray, "inputs"], eps: float, beta: float, *, w_iter: int,
           max_spectral_radius: float | None, stability_weight: float) -> MStep:
    """One M-step of the penalised EM (module docstring) from the current ``params`` and the E-step's moments."""
    K = params.A.shape[0]
    Pm, Qi, s = data_curvature(stats, params.Q)
    # input vectors given A
    Suu = stats.Suu + np.diag(1.0 - active)
    Bn = np.linalg.solve(Suu.T, (stats.Snu - params.A @ stats.Spu).T).T
    B = np.where(active[None, :] > 0, Bn, params.B)
    # W by bounded gradient steps on the penalised objective, then the stability safeguard
    Mm = (stats.Snp - B @ stats.Spu.T) / stats.n
    t0 = time.perf_counter()
    W = fit_w(params.W, structure.mask, structure.is_excitatory, structure.J, Pm, Mm, Qi, eps * s, beta * s,
              max_iter=w_iter)
    shrink = active_bound = None
    if max_spectral_radius is not None:
        W, shrink, active_bound = stabilised_w(W, structure.mask, structure.is_excitatory, structure.J,
                                               structure.J_pinv, Pm, Mm, Qi, eps * s, beta * s, max_spectral_radius,
                                               weight=stability_weight, max_iter=w_iter)
    w_seconds = time.perf_counter() - t0
    A = structure.dynamics(W)
    # noise covariance with the new A, B
    G = np.concatenate([A, B], axis=1)
    Szz = np.block([[stats.Spp, stats.Spu], [stats.Spu.T, stats.Suu]])
    Szx = np.concatenate([stats.Snp.T, stats.Snu.T], axis=0)
    Q = (stats.Snn - G @ Szx - Szx.T @ G.T + G @ Szz @ G.T) / stats.n
    Q = symmetrize(Q) + 1e-9 * np.trace(Q) / K * np.eye(K)
    # emissions and initial states, as for the LDS
    C, d, R = (np.asarray(a) for a in emission_update_jit(jnp.asarray(m), jnp.asarray(P), Y, Syy,
                                                           jnp.zeros(Y.shape[-1], Y.dtype), diagonal_R=True))
    m0, S0 = initial_state_update(m, P)
    new = SubspaceParams(W, A, B, C, d, Q, R, np.array(m0), np.asarray(S0))
    return MStep(new, shrink, active_bound, w_seconds)

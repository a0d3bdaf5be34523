"""EM for the latent LDS with epoch inputs (seed 001 Methods §9; Shumway & Stoffer 1982; Ghahramani & Hinton 1996).

The E-step is the RTS smoother of `neurodyn.models.lds.inference` (one covariance pass shared by all
conditions); the M-step solves the expected least-squares problems in closed form, with ``E[.]`` the
smoothed moments::

    [A B] = (sum_t E[x_t z_t^T]) (sum_t E[z_t z_t^T])^{-1},   z_t = [x_{t-1}; u_t]
    Q     = mean_t E[(x_t - [A B] z_t)(x_t - [A B] z_t)^T]
    [C d] = (sum_t y_t E[s_t]^T) (sum_t E[s_t s_t^T])^{-1},    s_t = [x_t; 1]              (`emission_update`)
    R     = diag( mean_t E[(y_t - [C d] s_t)(y_t - [C d] s_t)^T] )   (full matrix if diagonal_R=False)
    m0_i  = E[x^i_0],   S0 = Cov(x_0 | y)                         (initial="per_condition", `initial_state_update`)
    m0    = mean_i E[x^i_0], S0 = Cov(x_0 | y) + Cov_i(E[x^i_0])  (initial="shared")

The emission and initial-state updates are shared with the E/I subspace network (seed 001 §10.4-§10.5),
whose latent part is the same model. `em_stop_reason` and `warn_stop` are the stopping rule of both EM
loops.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float
from sklearn.exceptions import ConvergenceWarning

from neurodyn.models.lds.inference import LDSParams, kalman_smoother_batch, symmetrize

__all__ = ["data_stats", "em_step", "em_stop_reason", "emission_update", "emission_update_jit",
           "initial_state_update", "warn_stop"]


@jax.jit
def _regression(Szz, Szx, Sxx, n):
    """W = Szx^T Szz^{-1}; residual covariance (Sxx - W Szx - Szx^T W^T + W Szz W^T) / n."""
    W = jnp.linalg.solve(Szz, Szx).T
    Sig = (Sxx - W @ Szx - Szx.T @ W.T + W @ Szz @ W.T) / n
    return W, symmetrize(Sig)


@jax.jit
def data_stats(Y: Float[Array, "conditions time neurons"], U: Float[Array, "conditions time inputs"],
               active: Float[Array, "inputs"]) -> tuple[Float[Array, "neurons neurons"], Float[Array, "inputs inputs"]]:
    """Data-only sums reused by every EM iteration: ``sum y y^T`` and ``sum u_t u_t^T`` (t >= 1; inactive
    input columns get 1 on the diagonal, so their rows of the regressions are identities)."""
    flat = Y.reshape(-1, Y.shape[-1])
    Ua = (U[:, 1:, :] * active).reshape(U.shape[0] * (U.shape[1] - 1), U.shape[-1])
    return flat.T @ flat, Ua.T @ Ua + jnp.diag(1.0 - active)


def emission_update(m: Float[Array, "conditions time latents"], P: Float[Array, "time latents latents"],
                    Y: Float[Array, "conditions time neurons"], Syy: Float[Array, "neurons neurons"],
                    r_floor: Float[Array, "neurons"], diagonal_R: bool = True
                    ) -> tuple[Float[Array, "neurons latents"], Float[Array, "neurons"], Float[Array, "..."]]:
    """M-step of the emissions (seed 001 §9, §10.4): ``[C d] = (sum y_t E[s_t]^T)(sum E[s_t s_t^T])^{-1}``.

    ``s_t = [x_t; 1]``, the sums over conditions and bins of the smoothed means ``m`` and the shared
    covariances ``P``; ``R`` is the expected residual covariance
    ``(sum y y^T - [C d] S_sy - S_sy^T [C d]^T + [C d] S_ss [C d]^T) / (n_conditions T)``, its diagonal
    floored at ``max(r_floor, 1e-8)`` with ``diagonal_R`` (the M-step of a bounded variance), else full.
    ``Syy = sum y y^T`` (`data_stats`). Returns ``(C, d, R)``.
    """
    nb, T, _ = Y.shape
    K = m.shape[-1]
    Sxx = jnp.einsum("bti,btj->ij", m, m) + nb * P.sum(0)
    sx = m.sum((0, 1))
    Sss = jnp.block([[Sxx, sx[:, None]], [sx[None, :], jnp.array([[nb * T]], dtype=Y.dtype)]])
    Ssy = jnp.concatenate([jnp.einsum("bti,btn->in", m, Y), Y.sum((0, 1))[None]], axis=0)
    Cd, Rn = _regression(Sss, Ssy, Syy, nb * T)
    R = jnp.maximum(jnp.diag(Rn), jnp.maximum(r_floor, 1e-8)) if diagonal_R else Rn
    return Cd[:, :K], Cd[:, K], R


#: `emission_update` compiled on its own, for M-steps written in NumPy (the E/I subspace network)
emission_update_jit = jax.jit(emission_update, static_argnames=("diagonal_R",))


def initial_state_update(m: Float[Array, "conditions time latents"], P: Float[Array, "time latents latents"],
                         initial: str = "per_condition"
                         ) -> tuple[Float[Array, "*conditions latents"], Float[Array, "latents latents"]]:
    """M-step of the initial state (seed 001 §9, §10.5): ``m0_i = E[x^i_0]``, ``S0 = Cov(x_0 | y)``.

    With ``initial="shared"`` one mean for all conditions, ``m0 = mean_i E[x^i_0]`` and
    ``S0 = Cov(x_0 | y) + Cov_i(E[x^i_0])``. NumPy or JAX arrays.
    """
    x0 = m[:, 0]
    if initial == "shared":
        m0 = x0.mean(0)
        dx = x0 - m0
        return m0, symmetrize(P[0] + dx.T @ dx / m.shape[0])
    return x0, symmetrize(P[0])


def _em_step_impl(params: LDSParams, Y, U, active, stats, r_floor, diagonal_R: bool, initial: str):
    """One EM iteration; returns (new params, log-likelihood of ``params``). ``active`` masks B columns."""
    drive = jnp.einsum("btu,ku->btk", U, params.B)
    sm = kalman_smoother_batch(params._replace(B=jnp.eye(params.A.shape[0], dtype=Y.dtype)), Y, drive)
    nb, T, _ = Y.shape
    K = params.A.shape[0]
    m, P, Pc = sm.means, sm.covs, sm.cross_covs
    # dynamics: z_t = [x_{t-1}; u_t], target x_t, t = 1..T-1 (only active input columns)
    Ua = U[:, 1:, :] * active
    mp, mn = m[:, :-1], m[:, 1:]
    Sxx_p = jnp.einsum("bti,btj->ij", mp, mp) + nb * P[:-1].sum(0)
    Sxu = jnp.einsum("bti,btu->iu", mp, Ua)
    Syy, Suu = stats                      # Suu: inactive input columns get identity (B kept as is)
    Szz = jnp.block([[Sxx_p, Sxu], [Sxu.T, Suu]])
    Sz_xn = jnp.concatenate([jnp.einsum("bti,btj->ij", mp, mn) + nb * jnp.swapaxes(Pc, 1, 2).sum(0),
                             jnp.einsum("btu,btj->uj", Ua, mn)], axis=0)
    Sxn = jnp.einsum("bti,btj->ij", mn, mn) + nb * P[1:].sum(0)
    AB, Qn = _regression(Szz, Sz_xn, Sxn, nb * (T - 1))
    B_new = jnp.where(active[None, :] > 0, AB[:, K:], params.B)
    C_new, d_new, R_new = emission_update(m, P, Y, Syy, r_floor, diagonal_R)
    m0_new, S0_new = initial_state_update(m, P, initial)
    new = LDSParams(AB[:, :K], B_new, C_new, d_new, Qn, R_new, m0_new, S0_new)
    return new, sm.loglik.sum()


_em_step_jit = jax.jit(_em_step_impl, static_argnames=("diagonal_R", "initial"))


def em_step(params: LDSParams, Y: Float[Array, "conditions time neurons"], U: Float[Array, "conditions time inputs"],
            active: Float[Array, "inputs"], *, diagonal_R: bool, initial: str, stats=None,
            r_floor: Float[Array, "neurons"] | None = None) -> tuple[LDSParams, Float[Array, ""]]:
    """One EM iteration (jitted core; module docstring): ``(new params, log-likelihood of params)``.

    ``stats`` from `data_stats` can be passed to skip recomputing them; ``r_floor`` floors the diagonal of R.
    """
    if stats is None:
        stats = data_stats(Y, U, active)
    r_floor = jnp.zeros(Y.shape[-1], Y.dtype) if r_floor is None else jnp.asarray(r_floor, Y.dtype)
    return _em_step_jit(params, Y, U, active, stats, r_floor, diagonal_R=diagonal_R, initial=initial)


def em_stop_reason(values, tol: float) -> str | None:
    """Stopping rule of the EM loops (LDS, E/I subspace network) on the recorded objective ``values``.

    ``"decrease"`` when the last change is a decrease larger than ``tol * |value|`` (EM cannot decrease
    its objective, so this signals numerical trouble or an inexact M-step), ``"converged"`` when the gain is
    below ``tol * |value|``, None to go on.
    """
    if len(values) < 2:
        return None
    gain = values[-1] - values[-2]
    scale = tol * abs(values[-1])
    if gain < -scale:
        return "decrease"
    if gain < scale:
        return "converged"
    return None


def warn_stop(name: str, reason: str, n_iter: int) -> None:
    """`ConvergenceWarning` when an EM loop ended for another reason than convergence."""
    if reason == "max_iter":
        warnings.warn(f"{name}: EM stopped at max_iter={n_iter} before converging; raise max_iter",
                      ConvergenceWarning, stacklevel=3)
    elif reason == "decrease":
        warnings.warn(f"{name}: EM objective decreased at iteration {n_iter}; stopped and kept the previous "
                      "parameters", ConvergenceWarning, stacklevel=3)

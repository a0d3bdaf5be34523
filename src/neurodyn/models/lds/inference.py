"""Kalman filter and Rauch-Tung-Striebel smoother for the latent LDS (seed 001 Methods §9; seed 000's LDS).

Pure JAX functions in the style of dynamax's ``linear_gaussian_ssm.inference``. The model is::

    x_0     ~ N(m0, S0)
    x_t     = A x_{t-1} + B u_t + w_t,   w_t ~ N(0, Q),   t = 1 .. T-1
    y_t     = C x_t + d + v_t,           v_t ~ N(0, R),   t = 0 .. T-1

with latent ``x_t`` (K), emissions ``y_t`` (N) and inputs ``u_t`` (U). The input row ``u_t`` drives
the transition *into* step t (``u_0`` is not used), the convention of dynamax's ``lgssm_filter``; seed
001 writes the same model as ``x_{t+1} = A x_t + B u_{c(i), kappa(t)}``, i.e. with the index shifted by
one. ``R`` is either a vector (diagonal emission noise, the usual choice for neurons) or a full
matrix.

Filter (one step, information form, K x K work per step plus O(NK) for the data)::

    predicted   m^-_t = A m_{t-1} + B u_t,             P^-_t = A P_{t-1} A^T + Q    (m^-_0 = m0, P^-_0 = S0)
    innovation  r_t   = y_t - C m^-_t - d,             S_t   = C P^-_t C^T + R
    update      P_t   = (P^-_t^{-1} + C^T R^{-1} C)^{-1}
                m_t   = m^-_t + P_t C^T R^{-1} r_t      (= m^-_t + K_t r_t, K_t = P^-_t C^T S_t^{-1})
    log-lik     log p(y_t | y_{<t}) = -1/2 (N log 2 pi + log|S_t| + r_t^T S_t^{-1} r_t)

The N x N innovation covariance is never formed: with ``P^-_t = L L^T`` and
``M = I + L^T C^T R^{-1} C L``, ``log|S_t| = log|R| + log|M|`` (matrix determinant lemma) and
``r^T S^{-1} r = r^T R^{-1} r - b^T P_t b`` with ``b = C^T R^{-1} r`` (Woodbury).

Smoother (RTS, backwards from ``t = T-2``)::

    G_t       = P_t A^T (P^-_{t+1})^{-1}
    mhat_t    = m_t + G_t (mhat_{t+1} - m^-_{t+1})
    Phat_t    = P_t + G_t (Phat_{t+1} - P^-_{t+1}) G_t^T
    Cov(x_{t+1}, x_t | y) = Phat_{t+1} G_t^T                (lag-one cross-covariance)

Because the covariance recursions do not depend on the data, a batch of sequences with the same
length and parameters shares one covariance pass; `kalman_smoother_batch` runs the means of all
sequences together (the EM of `neurodyn.models.LDS` uses it). `kalman_smoother` is the single-sequence
form of the same code.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jaxtyping import Array, Float

__all__ = ["FilterResult", "LDSParams", "SmootherResult", "kalman_filter", "kalman_filter_batch",
           "kalman_smoother", "kalman_smoother_batch", "symmetrize"]

_LOG2PI = 1.8378770664093453


class LDSParams(NamedTuple):
    r"""Parameters of the linear-Gaussian latent dynamical system.

    ``x_0 ~ N(m0, S0)``; ``x_t = A x_{t-1} + B u_t + w_t``, ``w_t ~ N(0, Q)``;
    ``y_t = C x_t + d + v_t``, ``v_t ~ N(0, R)``.

    Attributes:
        A: ``(K, K)`` dynamics matrix.
        B: ``(K, U)`` input matrix (``U`` may be 0).
        C: ``(N, K)`` emission (loading) matrix.
        d: ``(N,)`` emission offset.
        Q: ``(K, K)`` innovation covariance.
        R: ``(N,)`` diagonal or ``(N, N)`` full emission-noise covariance.
        m0: ``(K,)`` initial mean.
        S0: ``(K, K)`` initial covariance.
    """

    A: Float[Array, "latents latents"]
    B: Float[Array, "latents inputs"]
    C: Float[Array, "neurons latents"]
    d: Float[Array, "neurons"]
    Q: Float[Array, "latents latents"]
    R: Float[Array, "..."]
    m0: Float[Array, "*batch latents"]
    S0: Float[Array, "latents latents"]


class FilterResult(NamedTuple):
    """Kalman filter output: total log-likelihood, filtered and one-step predicted moments."""

    loglik: Float[Array, "*batch"]            # scalar (or (batch,) for the batch form)
    means: Float[Array, "*batch time latents"]     # filtered means E[x_t | y_0..t]
    covs: Float[Array, "time latents latents"]     # filtered covariances (shared by a batch)
    pred_means: Float[Array, "*batch time latents"]  # predicted means E[x_t | y_0..t-1]
    pred_covs: Float[Array, "time latents latents"]  # predicted covariances


class SmootherResult(NamedTuple):
    """RTS smoother output.

    ``means[t] = E[x_t | y]``, ``covs[t] = Cov(x_t | y)``, ``cross_covs[t] = Cov(x_{t+1}, x_t | y)``
    (so ``E[x_{t+1} x_t^T | y] = cross_covs[t] + outer(means[t+1], means[t])``).
    """

    loglik: Float[Array, "*batch"]
    means: Float[Array, "*batch time latents"]
    covs: Float[Array, "time latents latents"]
    cross_covs: Float[Array, "time-1 latents latents"]
    filtered_means: Float[Array, "*batch time latents"]
    filtered_covs: Float[Array, "time latents latents"]


def symmetrize(P: Float[Array, "*batch latents latents"]) -> Float[Array, "*batch latents latents"]:
    """``(P + P^T) / 2`` over the last two axes (NumPy or JAX arrays; exact for a symmetric ``P``)."""
    return 0.5 * (P + P.swapaxes(-1, -2))


def _emission_terms(params: LDSParams):
    """``R^{-1} C``, ``C^T R^{-1} C``, ``log|R|`` and a function ``r -> R^{-1} r`` (diagonal or full R)."""
    C, R = params.C, params.R
    if R.ndim == 1:
        RinvC = C / R[:, None]
        logdetR = jnp.sum(jnp.log(R))
        rinv = lambda r: r / R  # noqa: E731
    else:
        cf = jsl.cho_factor(R, lower=True)
        RinvC = jsl.cho_solve(cf, C)
        logdetR = 2.0 * jnp.sum(jnp.log(jnp.diag(cf[0])))
        rinv = lambda r: jsl.cho_solve(cf, r.T).T  # noqa: E731
    return RinvC, C.T @ RinvC, logdetR, rinv


def _inputs(params: LDSParams, n_batch: int, T: int, inputs):
    K = params.A.shape[0]
    if inputs is None or params.B.shape[-1] == 0:
        return jnp.zeros((n_batch, T, K))
    return jnp.einsum("btu,ku->btk", inputs, params.B)


@jax.jit
def _filter_batch(params: LDSParams, emissions, drive):
    """Batched filter; ``drive[b, t] = B u_t`` (row 0 unused)."""
    n_batch, T, N = emissions.shape
    K = params.A.shape[0]
    RinvC, CtRinvC, logdetR, rinv = _emission_terms(params)
    A, C, d, Q = params.A, params.C, params.d, params.Q
    eye = jnp.eye(K, dtype=A.dtype)

    def update(m_pred, P_pred, y):
        L = jnp.linalg.cholesky(P_pred)
        M = eye + L.T @ CtRinvC @ L
        Mf = jsl.cho_factor(M, lower=True)
        P = symmetrize(L @ jsl.cho_solve(Mf, L.T))
        r = y - m_pred @ C.T - d                      # (B, N)
        b = r @ RinvC                                 # (B, K)  = C^T R^{-1} r
        m = m_pred + b @ P                            # P symmetric
        quad = jnp.sum(r * rinv(r), axis=-1) - jnp.sum(b * (b @ P), axis=-1)
        logdetS = logdetR + 2.0 * jnp.sum(jnp.log(jnp.diag(Mf[0])))
        ll = -0.5 * (N * _LOG2PI + logdetS + quad)
        return m, P, ll

    def step(carry, xs):
        m_prev, P_prev, ll = carry
        y, u = xs
        m_pred = m_prev @ A.T + u
        P_pred = symmetrize(A @ P_prev @ A.T + Q)
        m, P, ll_t = update(m_pred, P_pred, y)
        return (m, P, ll + ll_t), (m, P, m_pred, P_pred)

    m0 = jnp.broadcast_to(params.m0, (n_batch, K))
    m_first, P_first, ll0 = update(m0, params.S0, emissions[:, 0])
    ys = jnp.swapaxes(emissions[:, 1:], 0, 1)
    us = jnp.swapaxes(drive[:, 1:], 0, 1)
    (_, _, ll), (ms, Ps, mps, Pps) = jax.lax.scan(step, (m_first, P_first, ll0), (ys, us))
    means = jnp.concatenate([m_first[None], ms], axis=0).swapaxes(0, 1)
    covs = jnp.concatenate([P_first[None], Ps], axis=0)
    pred_means = jnp.concatenate([m0[None], mps], axis=0).swapaxes(0, 1)
    pred_covs = jnp.concatenate([symmetrize(params.S0)[None], Pps], axis=0)
    return FilterResult(ll, means, covs, pred_means, pred_covs)


@jax.jit
def _smoother_batch(params: LDSParams, emissions, drive):
    filt = _filter_batch(params, emissions, drive)
    A = params.A

    def step(carry, xs):
        m_next, P_next = carry                                   # smoothed at t+1
        m_f, P_f, m_pred_next, P_pred_next = xs
        cf = jsl.cho_factor(P_pred_next, lower=True)
        G = jsl.cho_solve(cf, A @ P_f).T                         # P_f A^T P^-_{t+1}^{-1}
        m = m_f + (m_next - m_pred_next) @ G.T
        P = symmetrize(P_f + G @ (P_next - P_pred_next) @ G.T)
        cross = P_next @ G.T                                     # Cov(x_{t+1}, x_t)
        return (m, P), (m, P, cross)

    mf = filt.means.swapaxes(0, 1)                               # (T, B, K)
    mp = filt.pred_means.swapaxes(0, 1)
    xs = (mf[:-1], filt.covs[:-1], mp[1:], filt.pred_covs[1:])
    _, (ms, Ps, cross) = jax.lax.scan(step, (mf[-1], filt.covs[-1]), xs, reverse=True)
    means = jnp.concatenate([ms, mf[-1][None]], axis=0).swapaxes(0, 1)
    covs = jnp.concatenate([Ps, filt.covs[-1][None]], axis=0)
    return SmootherResult(filt.loglik, means, covs, cross, filt.means, filt.covs)


def _prepare(params: LDSParams, emissions, inputs):
    params = LDSParams(*(jnp.asarray(p) for p in params))
    emissions = jnp.asarray(emissions)
    if emissions.ndim != 3:
        raise ValueError(f"emissions=array of shape {emissions.shape}: expected (batch, T, N)")
    n_batch, T, N = emissions.shape
    if params.C.shape[0] != N:
        raise ValueError(f"emissions=array of shape {emissions.shape}: expected N={params.C.shape[0]} "
                         "columns to match C")
    if inputs is not None:
        inputs = jnp.asarray(inputs, dtype=emissions.dtype)
        if inputs.ndim == 2:
            inputs = jnp.broadcast_to(inputs, (n_batch,) + inputs.shape)
        if inputs.shape[:2] != (n_batch, T) or inputs.shape[-1] != params.B.shape[-1]:
            raise ValueError(f"inputs=array of shape {inputs.shape}: expected ({n_batch}, {T}, "
                             f"{params.B.shape[-1]}) to match emissions and B")
    return params, emissions, _inputs(params, n_batch, T, inputs)


def kalman_filter_batch(params: LDSParams, emissions: Float[Array, "batch time neurons"],
                        inputs: Float[Array, "*batch time inputs"] | None = None) -> FilterResult:
    """Kalman filter for a batch of equal-length sequences (see module docstring for the equations).

    Args:
        params: `LDSParams`.
        emissions: ``(B, T, N)``.
        inputs: ``(B, T, U)`` or ``(T, U)`` shared by all sequences, or None.

    Returns:
        `FilterResult` with ``loglik (B,)``, ``means (B, T, K)``, shared ``covs (T, K, K)``,
        ``pred_means (B, T, K)``, ``pred_covs (T, K, K)``.
    """
    return _filter_batch(*_prepare(params, emissions, inputs))


def kalman_smoother_batch(params: LDSParams, emissions: Float[Array, "batch time neurons"],
                          inputs: Float[Array, "*batch time inputs"] | None = None) -> SmootherResult:
    """RTS smoother for a batch of equal-length sequences sharing parameters.

    Returns `SmootherResult` with ``loglik (B,)``, ``means (B, T, K)`` and the covariances
    ``covs (T, K, K)``, ``cross_covs (T-1, K, K)``, which are the same for every sequence.
    """
    return _smoother_batch(*_prepare(params, emissions, inputs))


def kalman_filter(params: LDSParams, emissions: Float[Array, "time neurons"],
                  inputs: Float[Array, "time inputs"] | None = None) -> FilterResult:
    """Kalman filter of one sequence: ``emissions (T, N)``, ``inputs (T, U)`` or None.

    Returns `FilterResult`: ``loglik`` = log p(y_0..T-1), filtered ``means (T, K)``, ``covs (T, K, K)``
    and the one-step predicted moments.
    """
    emissions = jnp.asarray(emissions)
    if emissions.ndim != 2:
        raise ValueError(f"emissions=array of shape {emissions.shape}: expected (T, N)")
    res = kalman_filter_batch(params, emissions[None], None if inputs is None else jnp.asarray(inputs)[None])
    return FilterResult(res.loglik[0], res.means[0], res.covs, res.pred_means[0], res.pred_covs)


def kalman_smoother(params: LDSParams, emissions: Float[Array, "time neurons"],
                    inputs: Float[Array, "time inputs"] | None = None) -> SmootherResult:
    """Kalman (RTS) smoother of one sequence.

    ``kalman_smoother(params, emissions, inputs=None)`` with `LDSParams`
    ``(A, B, C, d, Q, R, m0, S0)`` for the model ``x_0 ~ N(m0, S0)``,
    ``x_t = A x_{t-1} + B u_t + w_t`` (w ~ N(0, Q)), ``y_t = C x_t + d + v_t`` (v ~ N(0, R), R a
    vector for diagonal noise or a matrix), ``emissions (T, N)``, ``inputs (T, U)`` or None.

    Returns `SmootherResult` with ``loglik`` (log p(y), scalar), ``means (T, K)`` = E[x_t | y],
    ``covs (T, K, K)`` = Cov(x_t | y), ``cross_covs (T-1, K, K)`` = Cov(x_{t+1}, x_t | y), plus the
    filtered moments.
    """
    emissions = jnp.asarray(emissions)
    if emissions.ndim != 2:
        raise ValueError(f"emissions=array of shape {emissions.shape}: expected (T, N)")
    res = kalman_smoother_batch(params, emissions[None], None if inputs is None else jnp.asarray(inputs)[None])
    return SmootherResult(res.loglik[0], res.means[0], res.covs, res.cross_covs, res.filtered_means[0],
                          res.filtered_covs)

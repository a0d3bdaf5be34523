"""Benchmark: per-iteration cost of fitting `neurodyn.models.EISubspaceNetwork` (seed 001 §10).

Full scale: N = 2000 units, K = 20, on the bundled M1 data (8 conditions, -400..400 ms, 10-ms bins,
141 neurons). One EM iteration is an E-step (Kalman/RTS smoother in x-space with A = J W J^+, via
`neurodyn.models.lds.kalman_smoother_batch`) plus the M-step, dominated by the W update (``w_iter``
projected accelerated-gradient steps on the N x N masked matrix, jitted JAX). The baseline is the same
W update written in plain NumPy (the same gradient, projection and FISTA momentum, step for step), so
the ratio measures what jit/XLA buys on this machine; the E-step is reported in absolute time. The
in-fit W-update time includes the stability safeguard (``max_spectral_radius``, default 0.99: a second
bounded solve towards the eigenvalue-clipped A in the iterations where rho(A) exceeds the bound).

Medians of ``--repeats`` timings after a warm-up. BLAS threads are limited with threadpoolctl
(``--threads``, default 1, applied to the NumPy baseline and SciPy); XLA's CPU thread pool is left at its
default. ``--quick``: N = 400, K = 4, 50 W steps. Usage:
``python benchmarks/bench_ei_subspace.py [--quick] [--threads N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import neurodyn  # noqa: F401  (64-bit JAX)
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, median_time  # noqa: E402

from neurodyn.data import load_example, soft_normalize  # noqa: E402
from neurodyn.models.ei_subspace import (  # noqa: E402
    EISubspaceNetwork,
    excitatory_units,
    fit_w,
    random_balanced_ei,
    sparsity_mask,
    smoothed_moments,
    subspace_projection,
)
from neurodyn.models.lds import LDSParams, epoch_inputs  # noqa: E402
from neurodyn.progress import set_quiet  # noqa: E402


def numpy_w_update(W0, mask, e, J, P, M, Qi, eps, beta, n_steps):
    """Plain NumPy version of `fit_w` (same objective, step size, projection and FISTA restart)."""
    Jp = np.linalg.pinv(J)
    N = mask.shape[0]
    beta = beta / max(mask.sum() / N, 1.0)
    lo = np.where(mask & e[None, :], 0.0, np.where(mask, -np.inf, 0.0))
    hi = np.where(mask & ~e[None, :], 0.0, np.where(mask, np.inf, 0.0))
    mk = mask.astype(float)

    def grad(W):
        JW = J @ W
        A = JW @ Jp
        Z = JW - A @ J
        return mk * (J.T @ (Qi @ (A @ P - M)) @ Jp.T + eps * (J.T @ Z) + beta * W.sum(1)[:, None])

    g0 = grad(np.zeros_like(W0))
    V = mk * np.random.default_rng(0).standard_normal(W0.shape)
    for _ in range(30):
        H = grad(V) - g0
        V = H / np.linalg.norm(H)
    L = 1.05 * np.sum(V * (grad(V) - g0)) + 1e-12
    W = np.clip(W0, lo, hi)
    Wp, tk = W.copy(), 1.0
    for _ in range(n_steps):
        tn = 0.5 * (1 + np.sqrt(1 + 4 * tk * tk))
        Y = W + ((tk - 1) / tn) * (W - Wp)
        G = grad(Y)
        Wn = np.clip(Y - G / L, lo, hi)
        tk = 1.0 if np.sum(G * (Wn - W)) > 0 else tn
        Wp, W = W, Wn
    return W


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    set_quiet(True)
    N, K, steps = (400, 4, 50) if args.quick else (2000, 20, 200)
    data = load_example("hatsopoulos2007").select_time(-400.0, 400.0)
    Y = soft_normalize(data.rates, 5.0)
    tb = int(np.searchsorted(data.t_ms, -150.0))
    print(f"machine: {machine()}; BLAS threads: {args.threads}")
    print(f"N = {N}, K = {K}, W steps per update = {steps}, data {Y.shape}")
    with threadpool_limits(limits=args.threads):
        # a short real fit (also gives realistic sufficient statistics and parameters)
        m = EISubspaceNetwork(N, K, tb, max_iter=3, w_iter=steps, lds_iter=50, seed=0).fit(Y)
        U = epoch_inputs(m.groups_, m.n_groups_, Y.shape[1], tb)
        params = LDSParams(*(jnp.asarray(a) for a in (m.A_, m.B_, m.C_, m.d_, m.Q_, m.R_, m.m0_, m.S0_)))
        t_e = median_time(lambda: smoothed_moments(params, jnp.asarray(Y), jnp.asarray(U)), args.repeats)
        e = excitatory_units(N, 0.5)
        J = subspace_projection(K, N, 1)
        mask = sparsity_mask(N, 0.25, 2)
        W0 = random_balanced_ei(mask, e, 0.85, 3)
        rng = np.random.default_rng(4)
        X = rng.normal(size=(K, K))
        P = X @ X.T / K + np.eye(K)
        Mm = 0.9 * P
        Qi = np.eye(K)
        t_w = median_time(lambda: fit_w(W0, mask, e, J, P, Mm, Qi, 10.0, 10.0, max_iter=steps), args.repeats)
        t_np = median_time(lambda: numpy_w_update(W0, mask, e, J, P, Mm, Qi, 10.0, 10.0, steps),
                           max(1, args.repeats - 1), warmup=0)
        Wj = fit_w(W0, mask, e, J, P, Mm, Qi, 10.0, 10.0, max_iter=steps)
        Wn = numpy_w_update(W0, mask, e, J, P, Mm, Qi, 10.0, 10.0, steps)
    print(f"E-step (RTS smoother + moments), per EM iteration: {t_e * 1e3:.1f} ms")
    print(f"W update, JAX (jit, {steps} steps):   {t_w:.3f} s")
    print(f"W update, NumPy baseline:            {t_np:.3f} s   ratio NumPy/JAX = {t_np / t_w:.2f}")
    print(f"max |W_jax - W_numpy| = {np.max(np.abs(Wj - Wn)):.2e} (same algorithm; the power-iteration start, "
          "hence the step 1/L, differs slightly)")
    print(f"fit: in-fit E-step mean {np.mean(m.estep_seconds_[1:]) * 1e3:.1f} ms, "
          f"W update mean {np.mean(m.wstep_seconds_[1:]):.3f} s per iteration")


if __name__ == "__main__":
    main()

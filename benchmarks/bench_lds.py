"""Benchmark: seconds per EM iteration of `neurodyn.models.LDS` vs dynamax's ``fit_em`` (seed 001 §9).

Same model and data for both: 108 conditions x 61 bins x 218 neurons, K = 20 latents (full scale),
simulated from a random stable LDS. The model both libraries fit identically is dynamax's
``LinearGaussianSSM(K, N, 0, has_dynamics_bias=False, has_emissions_bias=True)``: no inputs, emission
offset, full emission covariance, one learned initial mean and covariance; neurodyn runs its EM step
with ``diagonal_R=False, initial="shared"`` (the test suite checks both follow the same EM path).
The neurodyn default model (diagonal R, hold/go inputs per condition, per-condition initial states)
is timed too.

Timing: neurodyn's jitted EM step is called after a warm-up, median of repeats. dynamax's ``fit_em``
builds a new jitted function on every call (the data become compile-time constants), so JAX's
persistent compilation cache (a temporary folder) is switched on, each iteration count is run once to
fill it, and the per-iteration time is ``(t(fit_em, n2 iters) - t(fit_em, n1 iters)) / (n2 - n1)``,
median over repeats (cache loading cancels).
BLAS threads are limited with threadpoolctl (``--threads``, default 1); XLA's CPU thread pool is left
at its default.

Usage: ``python benchmarks/bench_lds.py [--quick] [--threads N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
from threadpoolctl import threadpool_limits

import neurodyn  # noqa: F401  (64-bit JAX)
import jax
import jax.numpy as jnp

from neurodyn.models.lds import LDSParams, epoch_inputs
from neurodyn.models.lds.em import data_stats, em_step


def simulate(n_cond, T, N, K, seed=0):
    rng = np.random.default_rng(seed)
    A = 0.97 * np.linalg.qr(rng.normal(size=(K, K)))[0]
    Cm = rng.normal(size=(N, K)) / np.sqrt(K)
    X = np.zeros((n_cond, T, K))
    # x_0 = 0: dynamax's batched initial-covariance update (sum E[x0 x0^T] - outer(sum m, sum m)) / n
    # subtracts n times the outer product of the mean initial state; starting near 0 keeps it positive
    X[:, 0] = 0.0
    for t in range(1, T):
        X[:, t] = X[:, t - 1] @ A.T + 0.3 * rng.normal(size=(n_cond, K))
    Y = X @ Cm.T + rng.uniform(2, 10, N) + 0.5 * rng.normal(size=(n_cond, T, N))
    start = LDSParams(*map(jnp.asarray, (0.9 * np.eye(K), np.zeros((K, 0)), rng.normal(size=(N, K)) / np.sqrt(K),
                                         Y.mean((0, 1)), 0.1 * np.eye(K), np.eye(N), np.zeros(K), np.eye(K))))
    return Y, start


def time_ours(params, Y, U, active, diagonal_R, initial, repeats, iters):
    stats = data_stats(Y, U, active)      # data-only sums, computed once per fit as LDS.fit does
    p, ll = em_step(params, Y, U, active, diagonal_R=diagonal_R, initial=initial, stats=stats)
    jax.block_until_ready(p)
    out = []
    for _ in range(repeats):
        q = params
        t0 = time.perf_counter()
        for _ in range(iters):
            q, ll = em_step(q, Y, U, active, diagonal_R=diagonal_R, initial=initial, stats=stats)
        jax.block_until_ready(q)
        out.append((time.perf_counter() - t0) / iters)
    return float(np.median(out))


def time_dynamax(params, Y, repeats, n1, n2):
    from dynamax.linear_gaussian_ssm import LinearGaussianSSM
    K, N = params.A.shape[0], params.C.shape[0]
    model = LinearGaussianSSM(K, N, 0, has_dynamics_bias=False, has_emissions_bias=True)
    dp, props = model.initialize(initial_mean=params.m0, initial_covariance=params.S0, dynamics_weights=params.A,
                                 dynamics_covariance=params.Q, emission_weights=params.C, emission_bias=params.d,
                                 emission_covariance=params.R)

    def run(n):
        t0 = time.perf_counter()
        out, lps = model.fit_em(dp, props, Y, num_iters=n, verbose=False)
        jax.block_until_ready(out)
        return time.perf_counter() - t0, lps

    run(n1)
    run(n2)
    per = []
    for _ in range(repeats):
        t1, _ = run(n1)
        t2, lps = run(n2)
        per.append((t2 - t1) / (n2 - n1))
    return float(np.median(per)), np.asarray(lps)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run (16 x 61 x 50, K = 5)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (threadpoolctl)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    import tempfile
    jax.config.update("jax_compilation_cache_dir", tempfile.mkdtemp(prefix="neurodyn-bench-jax-"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    n_cond, T, N, K = (16, 61, 50, 5) if args.quick else (108, 61, 218, 20)
    n1, n2 = (2, 42) if args.quick else (1, 6)
    Y, start = simulate(n_cond, T, N, K)
    Yj = jnp.asarray(Y)
    print(f"machine: {platform.machine()} {platform.processor() or ''}, JAX {jax.__version__} on "
          f"{jax.default_backend()}, BLAS threads = {args.threads}")
    print(f"data: {n_cond} conditions x {T} bins x {N} neurons, K = {K}; medians of {args.repeats} repeats")
    with threadpool_limits(limits=args.threads, user_api="blas"):
        U0 = jnp.zeros((n_cond, T, 0))
        ours = time_ours(start, Yj, U0, jnp.zeros(0), False, "shared", args.repeats, 5)
        ref, lps = time_dynamax(start, Yj, args.repeats, n1, n2)
        # neurodyn default model: diagonal R, hold/go inputs per condition, per-condition initial states
        U = epoch_inputs(np.arange(n_cond), n_cond, T, T // 2)
        pd = start._replace(B=jnp.zeros((K, U.shape[-1])), R=jnp.ones(N), m0=jnp.zeros((n_cond, K)))
        ours_default = time_ours(pd, Yj, jnp.asarray(U), jnp.ones(U.shape[-1]), True, "per_condition",
                                 args.repeats, 5)
    print(f"EM s/iteration, same model (full R, shared initial state, no inputs):")
    print(f"  neurodyn LDS EM step : {ours:.4g} s")
    print(f"  dynamax fit_em       : {ref:.4g} s")
    print(f"  ratio dynamax / neurodyn = {ref / ours:.1f}x")
    print(f"neurodyn default model (diagonal R, hold/go inputs, per-condition x0): {ours_default:.4g} s/iteration")
    print(f"(dynamax final log-likelihood after {n2} iterations: {lps[-1]:.6g}"
          + ("; NaN from its batched initial-covariance update, see simulate()" if not np.isfinite(lps[-1]) else "")
          + ")")


if __name__ == "__main__":
    main()

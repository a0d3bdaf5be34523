"""Benchmark: stability-optimised circuit (thesis, seed 003, Appendix C.1) to alpha < target.

Runs, in one process and from the same initial matrix, to ``alpha(W) < target`` (default N = 200,
target 0.15):

* default: `neurodyn.connectivity.soc` with its default bold-driver step schedule (shared real Schur
  decomposition per iteration: alpha and both Gramians by triangular Sylvester solves);
* thesis: the same code with ``schedule="thesis"`` (fixed eta = 10, Appendix C.1 as written);
* plain SciPy: ``np.linalg.eigvals`` for alpha and two ``scipy.linalg.solve_continuous_lyapunov`` calls
  per iteration, the identical constraint steps 5-8, fixed eta = 10, one BLAS thread;

and prints the time to target of each and the ratios. The thesis schedule and plain SciPy produce the same
iterates (tests/test_soc.py checks this to 1e-9), hence the same iteration count. BLAS threads are pinned
to 1 for the whole run (threadpoolctl; `--threads` changes it), also for `soc` itself.

    python benchmarks/bench_soc.py            # N = 200, target 0.15
    python benchmarks/bench_soc.py --quick    # N = 60, target 0.5 (smoke run)
    python benchmarks/bench_soc.py --sizes 400 --no-baseline

It also times one triangular Lyapunov solve in the Schur basis, recursive blocked
(`neurodyn.analysis.solve_triangular_sylvester`) against LAPACK ``dtrsyl`` alone, at each size.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("NEURODYN_QUIET", "1")

import numpy as np  # noqa: E402
import scipy.linalg as sla  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import neurodyn  # noqa: E402,F401
from neurodyn.connectivity import random_ei  # noqa: E402
from neurodyn.connectivity.soc_step import constrain_inhibition  # noqa: E402
from neurodyn.connectivity.soc import soc_from_matrix  # noqa: E402
from neurodyn.analysis.lyapunov import abscissa_from_schur, real_schur, solve_triangular_sylvester  # noqa: E402
from scipy.linalg import lapack  # noqa: E402


def plain_step(W, eta, gamma):
    n = W.shape[0]
    m = n // 2
    alpha = float(np.max(np.linalg.eigvals(W).real))
    s = max(1.5 * alpha, alpha + 0.2)
    A = W - s * np.eye(n)
    Q = sla.solve_continuous_lyapunov(A.T, -2.0 * np.eye(n))
    P = sla.solve_continuous_lyapunov(A, -2.0 * np.eye(n))
    G = Q @ P[:, m:] / np.trace(Q @ P)
    return constrain_inhibition(W, G, m, eta, gamma), alpha


def plain_soc(W, target, eta, gamma, max_iter):
    t0 = time.perf_counter()
    for it in range(max_iter + 1):
        alpha = float(np.max(np.linalg.eigvals(W).real))
        if alpha < target:
            return it, alpha, time.perf_counter() - t0
        W, _ = plain_step(W, eta, gamma)
    return max_iter, alpha, time.perf_counter() - t0


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_sylvester(W0, repeats):
    n = W0.shape[0]
    T = real_schur(W0).T
    Ts = np.asfortranarray(T - (abscissa_from_schur(T) + 1.0) * np.eye(n))
    C = -2.0 * np.eye(n)
    t_rec = median_time(lambda: solve_triangular_sylvester(Ts, Ts, C, "TN"), repeats)
    t_lap = median_time(lambda: lapack.dtrsyl(Ts, Ts, C, trana="T", tranb="N"), repeats)
    print(f"N={n:5d}: one Schur-basis Lyapunov solve: recursive blocked {1e3 * t_rec:.1f} ms vs LAPACK dtrsyl "
          f"{1e3 * t_lap:.1f} ms (median of {repeats}); ratio dtrsyl/recursive = {t_lap / t_rec:.2f}", flush=True)


def bench(n, target, args):
    W0 = random_ei(n, 0.1, 10.0, 3.0, seed=args.seed).W
    bench_sylvester(W0, args.repeats)
    runs = {}
    for name in ("bold-driver", "thesis"):
        res = soc_from_matrix(W0, target=target, eta=10.0, gamma=3.0, max_iter=args.max_iter, device=args.device,
                              schedule=name, threads=args.threads)
        runs[name] = (res.iterations, res.seconds)
        print(f"N={n:5d} target={target:g} schedule={name}: {res.iterations} iterations, converged={res.converged}, "
              f"alpha {res.alpha_history[0]:.3f} -> {res.alpha:.4f}, {res.seconds:.1f} s to target "
              f"({1e3 * res.seconds / max(res.iterations, 1):.1f} ms per iteration, {res.device})", flush=True)
    if not args.no_baseline:
        it, alpha, secs = plain_soc(W0, target, 10.0, 3.0, args.max_iter)
        runs["plain SciPy"] = (it, secs)
        print(f"N={n:5d} target={target:g} plain SciPy (fixed eta): {it} iterations, alpha -> {alpha:.4f}, "
              f"{secs:.1f} s to target ({1e3 * secs / max(it, 1):.1f} ms per iteration)", flush=True)
    t_new = runs["bold-driver"][1]
    ratios = ", ".join(f"{k} / bold-driver = {v[1] / t_new:.1f}x" for k, v in runs.items() if k != "bold-driver")
    print(f"N={n:5d}: time-to-target ratios: {ratios}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: N = 60, target 0.5")
    ap.add_argument("--sizes", type=int, nargs="*", help="explicit sizes (target 0.15)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (threadpoolctl), default 1")
    ap.add_argument("--repeats", type=int, default=5, help="repeats of the Sylvester-solve timing")
    ap.add_argument("--max-iter", type=int, default=10000)
    ap.add_argument("--device", default="cpu", choices=["auto", "cpu", "gpu"], help="fast path device")
    ap.add_argument("--no-baseline", action="store_true", help="skip the plain SciPy run")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import jax

    print(f"machine: {platform.machine()} {os.cpu_count()} CPU(s), {platform.processor() or 'cpu'}; "
          f"BLAS threads = {args.threads}; jax backend = {jax.default_backend()}")
    if args.quick:
        runs = [(60, 0.5)]
        args.repeats = min(args.repeats, 3)
    elif args.sizes:
        runs = [(n, 0.15) for n in args.sizes]
    else:
        runs = [(200, 0.15)]
    with threadpool_limits(limits=args.threads):
        for n, target in runs:
            bench(n, target, args)


if __name__ == "__main__":
    main()

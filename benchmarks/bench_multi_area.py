"""Benchmark: fixed-point search of `neurodyn.analysis.find_fixed_points` against a SciPy baseline.

Both minimise q(x) = 1/2 ||F(x)||^2 (Sussillo & Barak 2013; seed 000 "fixed point structure") for the
rate network F(x) = (-x + W f(x; g) + h) / tau (thesis eq. 2.1, random E/I W of eq. 1.15, piecewise tanh
f of eq. 3.2) from the same starts:

* neurodyn: all starts at once in JAX (vmap), Adam then Levenberg-Marquardt polish, jit-compiled
  (the first call, which compiles, is timed separately; later calls on networks of the same size reuse
  the compiled code);
* baseline: `scipy.optimize.minimize(method="L-BFGS-B")` on q with its analytic gradient J^T F, one start
  after another (NumPy float64).

Reports medians over repeats of the wall time, the ratio baseline / neurodyn, the number of distinct
fixed points (q < 1e-14) each finds and the largest q among them. BLAS threads are limited to 1
(`threadpoolctl.threadpool_limits(1)`) so the comparison does not depend on other load on the machine.

    python benchmarks/bench_multi_area.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

import neurodyn  # noqa: F401  (float64 JAX)
from neurodyn.analysis import find_fixed_points
from neurodyn.connectivity import random_ei
from neurodyn.dynamics import Tanh


def scipy_fixed_points(W, tau, h, starts, r0=20.0, rmax=100.0):
    def f(x):
        return np.where(x < 0, r0 * np.tanh(x / r0), (rmax - r0) * np.tanh(x / (rmax - r0)))

    def fprime(x):
        return np.where(x < 0, 1 - np.tanh(x / r0) ** 2, 1 - np.tanh(x / (rmax - r0)) ** 2)

    def q_and_grad(x):
        F = (-x + W @ f(x) + h) / tau
        J = (-np.eye(x.size) + W * fprime(x)[None, :]) / tau
        return 0.5 * F @ F, J.T @ F

    pts, qs = [], []
    for x0 in starts:
        res = minimize(q_and_grad, x0, jac=True, method="L-BFGS-B", options={"maxiter": 5000, "gtol": 1e-14,
                                                                          "ftol": 1e-20})
        pts.append(res.x)
        qs.append(res.fun)
    return np.array(pts), np.array(qs)


def distinct(points, q, tol=1e-14, dedup=1e-4):
    kept = []
    for i in np.argsort(q):
        if q[i] < tol and all(np.linalg.norm(points[i] - points[j]) > dedup * (1 + np.linalg.norm(points[j]))
                              for j in kept):
            kept.append(i)
    return len(kept), float(max((q[i] for i in kept), default=float("nan")))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    args = ap.parse_args()
    n, n_starts, repeats = (40, 8, 2) if args.quick else (200, 64, 3)
    net = random_ei(n, p=0.2, rho=3.0, gamma=2.0, seed=0, tau=50.0)
    rng = np.random.default_rng(0)
    h = rng.standard_normal(n)
    starts = 20.0 * rng.standard_normal((n_starts, n))
    W, tau = np.asarray(net.W), 50.0
    with threadpool_limits(1):
        t0 = time.perf_counter()
        find_fixed_points(net, starts, gain_fn=Tanh(), h=h, n_steps=2000)
        compile_s = time.perf_counter() - t0  # first call: tracing + XLA compilation + run; later calls reuse it
        t_nd, t_sp = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fp = find_fixed_points(net, starts, gain_fn=Tanh(), h=h, n_steps=2000)
            t_nd.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            pts, qs = scipy_fixed_points(W, tau, h, starts)
            t_sp.append(time.perf_counter() - t0)
    k_nd, qmax_nd = int(fp.is_fixed.sum()), float(fp.q[fp.is_fixed].max()) if fp.is_fixed.any() else float("nan")
    k_sp, qmax_sp = distinct(pts, qs)
    med_nd, med_sp = float(np.median(t_nd)), float(np.median(t_sp))
    print(f"fixed points of a random E/I tanh network: N={n}, {n_starts} starts, {repeats} repeats, BLAS threads=1")
    print(f"  neurodyn (JAX vmap, Adam+LM, compiled): median {med_nd:.2f} s "
          f"(first call with compilation {compile_s:.2f} s); {k_nd} fixed points, max q {qmax_nd:.1e}")
    print(f"  scipy L-BFGS-B per start:                median {med_sp:.2f} s; "
          f"{k_sp} fixed points, max q {qmax_sp:.1e}")
    print(f"  ratio scipy / neurodyn: {med_sp / med_nd:.2f}")


if __name__ == "__main__":
    main()

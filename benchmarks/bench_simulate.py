"""Simulation throughput: neurodyn's jitted, batched RK4 (`neurodyn.dynamics.simulate`) against a plain
NumPy loop of the same integrator (same equation, same steps, float64).

Throughput = network steps x batch per second, for N in {200, 400, 1000} and batch in {1, 100}.
BLAS threads for NumPy are limited with threadpoolctl to --threads (default 2, this machine's cores);
XLA uses its default CPU thread pool. Medians of --repeats runs.

    python benchmarks/bench_simulate.py [--quick] [--threads 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, median_time  # noqa: E402

import neurodyn  # noqa: E402,F401
from neurodyn.connectivity import random_ei  # noqa: E402
from neurodyn.dynamics import Tanh, simulate  # noqa: E402


def numpy_rk4(W, x0, gains, tau, dt, n_steps, r0=20.0, rmax=100.0):
    """Reference: the same RK4 of tau dx/dt = -x + W f(x; g) (thesis eq. 2.1, eq. 3.2) in NumPy."""
    WT = W.T

    def f(x):
        gx = gains * x
        return np.where(x < 0, r0 * np.tanh(gx / r0), (rmax - r0) * np.tanh(gx / (rmax - r0)))

    def rhs(x):
        return (-x + f(x) @ WT) / tau

    x = x0.copy()
    for _ in range(n_steps):
        k1 = rhs(x)
        k2 = rhs(x + 0.5 * dt * k1)
        k3 = rhs(x + 0.5 * dt * k2)
        k4 = rhs(x + dt * k3)
        x = x + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    sizes = [200] if args.quick else [200, 400, 1000]
    batches = [1, 100]
    n_steps = 200 if args.quick else 1000
    dt, tau = 1.0, 200.0
    print(f"# machine: {machine()}")
    print(f"# NumPy BLAS threads: {args.threads}; float64; RK4, dt = {dt} ms, {n_steps} steps; median of {args.repeats}")
    print(f"{'N':>6} {'batch':>6} {'neurodyn steps*batch/s':>24} {'numpy steps*batch/s':>22} {'speed-up':>9}")
    with threadpool_limits(limits=args.threads):
        for n in sizes:
            net = random_ei(n, 0.1, 0.9, 1.0, seed=0, tau=tau)
            for b in batches:
                rng = np.random.default_rng(0)
                x0 = rng.uniform(-10, 10, (b, n))
                gains = np.ones(n)
                t_eval = [n_steps * dt]
                fn = Tanh()

                def run_jax():
                    simulate(net, x0, t_eval, dt=dt, gain_fn=fn, gains=gains).block_until_ready()

                def run_np():
                    numpy_rk4(net.W, x0, gains, tau, dt, n_steps)

                out_j = np.asarray(simulate(net, x0, t_eval, dt=dt, gain_fn=fn, gains=gains))[:, -1]
                out_n = numpy_rk4(net.W, x0, gains, tau, dt, n_steps)
                assert np.allclose(out_j, out_n, atol=1e-8), "implementations disagree"
                tj = median_time(run_jax, args.repeats)
                tn = median_time(run_np, max(1, args.repeats // 2 if n >= 1000 else args.repeats))
                rj, rn = n_steps * b / tj, n_steps * b / tn
                print(f"{n:>6} {b:>6} {rj:>24.4g} {rn:>22.4g} {tn / tj:>8.2f}x")


if __name__ == "__main__":
    main()

"""Benchmark: one W update of the E/I subspace fit (seed 001 §10.4) on realistic statistics.

The statistics (P, M, Q^-1, penalty weights, warm-start W) are those of a real fit: an
`EISubspaceNetwork` is fit to the bundled M1 data (training conditions of `ei-subspace-fit`) for
``--em`` EM iterations and the arguments of its last W update are captured. That update is
then re-run and timed (wall and CPU seconds, medians of ``--repeats`` after a compile run) with

* current: `neurodyn.models.ei_subspace.fit_w` (gradient ``mask * (J^T R + beta (W 1) 1^T)`` with one
  K x N matrix R, gradient at zero computed once in the power iteration, no anchor term);
* previous: the same FISTA written with the textbook gradient
  ``J^T Q^-1 (A P - M) J^{+T} + eps J^T Z + beta (W 1) 1^T + mu (W - Wref)`` (two N x N products, the
  anchor term with mu = 0, gradient at zero recomputed in every power step), as the code had it before;

and the objective values of both results are printed (they agree to rounding: the iterates are the same).
Usage: ``python benchmarks/bench_ei_w_update.py [--n 2000] [--k 20] [--em 1] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from functools import partial

os.environ.setdefault("NEURODYN_QUIET", "1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import neurodyn  # noqa: E402,F401  (64-bit JAX)
import neurodyn.models.ei_subspace as ei  # noqa: E402
from neurodyn.experiments.fits.ei_subspace_fit import EISubspaceFitConfig, load_rates  # noqa: E402


def _grad_previous(W, J, Jp, P, M, Qi, eps, beta, mask, Wref, mu):
    JW = J @ W
    A = JW @ Jp
    Z = JW - A @ J
    b = W.sum(1)
    G = J.T @ (Qi @ (A @ P - M)) @ Jp.T + eps * (J.T @ Z) + beta * b[:, None] + mu * (W - Wref)
    return G * mask


@partial(jax.jit, static_argnames=("n_steps",))
def _fista_previous(W0, J, Jp, P, M, Qi, eps, beta, mask, lo, hi, n_steps: int):
    def hess(V):
        return (_grad_previous(V, J, Jp, P, M, Qi, eps, beta, mask, W0, 0.0)
                - _grad_previous(jnp.zeros_like(V), J, Jp, P, M, Qi, eps, beta, mask, W0, 0.0))

    def power(_, V):
        H = hess(V)
        return H / jnp.linalg.norm(H)

    V = jax.lax.fori_loop(0, 30, power, mask * jax.random.normal(jax.random.PRNGKey(0), W0.shape, W0.dtype))
    L = 1.05 * jnp.sum(V * hess(V)) + 1e-12

    def step(_, carry):
        W, Wp, tk = carry
        tn = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * tk * tk))
        Yv = W + ((tk - 1.0) / tn) * (W - Wp)
        G = _grad_previous(Yv, J, Jp, P, M, Qi, eps, beta, mask, W0, 0.0)
        Wn = jnp.clip(Yv - G / L, lo, hi)
        return Wn, W, jnp.where(jnp.sum(G * (Wn - W)) > 0, 1.0, tn)

    W0c = jnp.clip(W0, lo, hi)
    return jax.lax.fori_loop(0, n_steps, step, (W0c, W0c, jnp.asarray(1.0, W0.dtype)))[0]


def previous_fit_w(W0, mask, e, J, P, M, Qi, eps, beta, max_iter=200):
    N = mask.shape[0]
    lo = np.where(mask & e[None, :], 0.0, np.where(mask, -np.inf, 0.0))
    hi = np.where(mask & ~e[None, :], 0.0, np.where(mask, np.inf, 0.0))
    beta = float(beta) / max(float(mask.sum()) / N, 1.0)
    return np.asarray(_fista_previous(jnp.asarray(W0), jnp.asarray(J), jnp.asarray(np.linalg.pinv(J)),
                                      jnp.asarray(P), jnp.asarray(M), jnp.asarray(Qi), float(eps), beta,
                                      jnp.asarray(mask, float), jnp.asarray(lo), jnp.asarray(hi),
                                      n_steps=int(max_iter)))


def capture(n, k, em):
    """Arguments of the last W update of an `n`-unit, `k`-latent fit run for `em` EM iterations (the
    stabilised update towards the clipped target when the spectral-radius bound was active)."""
    calls = []
    original = ei.fit_w

    def spy(*args, **kw):
        calls.append((args, kw))
        return original(*args, **kw)

    cfg = EISubspaceFitConfig()
    _, Y, tb = load_rates(cfg)
    test = np.arange(Y.shape[0]) % cfg.test_every == 1
    ei.fit_w = spy
    try:
        ei.EISubspaceNetwork(n, k, tb, max_iter=em, seed=0).fit(Y[~test])
    finally:
        ei.fit_w = original
    return calls[-1]


def objective(W, args):
    W0, mask, e, J, P, M, Qi, eps, beta = args
    N = mask.shape[0]
    b = float(beta) / max(float(mask.sum()) / N, 1.0)
    return float(ei.w_objective_grad(jnp.asarray(W), J, np.linalg.pinv(J), P, M, Qi, float(eps), b,
                                     jnp.asarray(mask, float), None, 0.0)[1])


def timed(fn, repeats):
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--em", type=int, default=1, help="EM iterations before the captured W update")
    ap.add_argument("--steps", type=int, default=200, help="FISTA steps (w_iter)")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}; N={a.n}, K={a.k}", flush=True)
    args, _ = capture(a.n, a.k, a.em)
    args = tuple(np.asarray(x) if not np.isscalar(x) else x for x in args)
    f0 = objective(args[0], args)
    res = {}
    for name, fn in (("current", lambda: ei.fit_w(*args, max_iter=a.steps)),
                     ("previous", lambda: previous_fit_w(*args, max_iter=a.steps))):
        wall, cpu, W = timed(fn, a.repeats)
        res[name] = (wall, cpu, objective(W, args))
        print(f"{name:8s}: {wall:.2f} s wall, {cpu:.2f} s CPU per W update ({a.steps} steps); "
              f"objective decrease {f0 - res[name][2]:.6g}", flush=True)
    print(f"previous / current: {res['previous'][0] / res['current'][0]:.2f}x wall, "
          f"{res['previous'][1] / res['current'][1]:.2f}x CPU; objective difference "
          f"{res['current'][2] - res['previous'][2]:.3g} (eps' = {float(args[7]):.3g})", flush=True)


if __name__ == "__main__":
    main()

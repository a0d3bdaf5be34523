"""Benchmark: reward-rule learning of slow-variant gain patterns (thesis, seed 003, §6.3.1) and the wall time
of the `speed-slow` and `library` experiments (ch. 5-6).

Part (a), batched rule against a plain NumPy loop. Task of §6.3.1: a slow target of 2.5 s sampled at 200 Hz
(500 samples, RK4 with dt = 2.5 ms: 1000 steps per trial), 40 random modulatory groups (§4.1.1), one
readout per movement fit on noisy trials to the 5x faster variant; the group-tied rule of eqs. (3.5)-(3.6)
learns the gain pattern that plays the slow variant.

* neurodyn, movements x sessions in ONE jitted call: `neurodyn.learning.primitives.learn_combination`
  with the membership matrix M as basis, c(t_0) = 1 and one readout per movement (exactly the group
  rule of `learn_group_gains`, same random draws; module docstring of `primitives`);
* neurodyn, one call per movement with its sessions vmapped: `learn_group_gains`, the route the
  `speed-slow` experiment takes;
* baseline: the same rule and RK4 rollout in NumPy, movements and sessions one after another, timed on
  a slice of the iterations and scaled per iteration (its cost per iteration is constant; the trial at
  gains 1 that each session runs first counts as one more iteration).

Each neurodyn call builds (and compiles) its jitted scan afresh, so a warm-up call does not remove the
compile time from later calls. The cost per iteration is therefore taken from two iteration counts,
``(t(I) - t(I0)) / (I - I0)`` (medians over ``--repeats``), which cancels compilation and the fixed
per-call work; that fixed part, ``t(I0) - I0 * per-iteration``, is printed too.

Part (b), experiment wall times. MEASURED: `run_experiment(name, tmp, quick=True)` for `speed-slow` and
`library` (their ``--quick`` scale, SOC optimisation and compilation included). EXTRAPOLATED to the
thesis scale from per-iteration / per-problem costs MEASURED at full network size (N = 400, 40 groups):

* speed-slow: 10 movements x 10 sessions x 60,000 rule iterations (per iteration of one
  `learn_group_gains` call of 10 sessions, as the experiment makes them) + 10 x 500 Adam steps of
  `train_speed_backprop`; readout fits and noisy-trial tests (about 1,200 trials per movement) are
  priced at 1/10 of a 10-session iteration per trial. Also measured: the same 100 sessions of the rule in
  ONE `learn_combination` call (all movements batched), and its extrapolation to 60,000 iterations;
* library: 100 targets x 1 session x 5000 rule iterations (500 ms at 400 Hz, 200 RK4 steps per trial,
  one `learn_group_gains` call of 100 problems) + 50 library sizes x 100 libraries x 100 novel targets
  through `combine_library` (priced at l = 25, the mean of l = 1..50: marginal cost per problem from
  two batch sizes, plus the fixed cost per call once per library size).

The SOC optimisation at N = 400 is not included in the extrapolations (it is a one-off per seed). A
random E/I matrix scaled to be stable (`random_ei(n, 0.1, 0.5, 1.0)`) replaces the SOC in the timed
learning (same cost per step). BLAS threads are limited with threadpoolctl (``--threads``, default 1)
for NumPy and SciPy; JAX/XLA uses its own thread pool. ``--quick``: a small smoke run (N = 100, 10
groups, 2 movements x 2 sessions, fewer repeats), no full-size extrapolation unless ``--extrapolate``.
"""

from __future__ import annotations

import sys
from pathlib import Path
import argparse
import os
import platform
import statistics
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits

os.environ.setdefault("NEURODYN_QUIET", "1")

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, median_time, numpy_reward_sessions, numpy_trial_error  # noqa: E402
import neurodyn  # noqa: E402,F401
from neurodyn.connectivity import random_ei  # noqa: E402
from neurodyn.learning import (GainTask, Readout, TrialDynamics, emg_targets, fit_readout_on_trials,  # noqa: E402
                               learn_combination, preferred_x0, rate_amplitude, sample_times, slow_fast_targets)
from neurodyn.learning.groups import learn_group_gains, membership_matrix, random_groups  # noqa: E402
from neurodyn.learning.library import combine_library, convex_coefficients_batch  # noqa: E402
from neurodyn.learning.speed import train_speed_backprop  # noqa: E402


def numpy_strided_error(W, x0, m, b, y, stride, **kw):
    """`_common.numpy_trial_error` sampled every ``stride`` RK4 steps (the 200 Hz targets of §6.2.2)."""
    return numpy_trial_error(W, x0, m, b, y, stride=stride, **kw)


def numpy_group_rule(W, x0, readouts, ys, M, sessions, iterations, seed, *, stride, sd=0.001, alpha=0.3):
    """Plain NumPy group-tied eqs. (3.5)-(3.6) (§4.1.1), movements and sessions one after another (own RNG:
    timing only)."""
    rng = np.random.default_rng(seed)
    for (m, b), y in zip(readouts, ys):
        numpy_reward_sessions(numpy_strided_error(W, x0, m, b, y, stride), M.shape[1], sessions, iterations,
                              rng, M=M, sd=sd, alpha=alpha)


def per_iteration(fn, i0, i1, repeats):
    """Median wall times of ``fn(i0)`` and ``fn(i1)``; returns (per-iteration cost, fixed cost per call)."""
    t0 = statistics.median(_times(lambda: fn(i0), repeats))
    t1 = statistics.median(_times(lambda: fn(i1), repeats))
    if t1 <= t0:  # the difference drowned in timing noise: report the upper bound t(I) / I instead
        print(f"    (timing noise: t({i1}) = {t1:.2f} s <= t({i0}) = {t0:.2f} s; per-iteration cost taken as "
              f"t({i1}) / {i1}, an upper bound)")
        return t1 / i1, 0.0
    per = (t1 - t0) / (i1 - i0)
    return per, max(t0 - i0 * per, 0.0)


def _times(fn, repeats):
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def speed_setup(n, n_groups, movements, n_trials, seed=0):
    """Stable stand-in network, preferred x0, slow/fast targets of §6.2.2 and one readout per movement fit to the
    fast variant (as `speed-slow` does)."""
    net = random_ei(n, 0.1, 0.5, 1.0, seed=seed)
    t, _, _ = slow_fast_targets(1, seed)
    dyn = TrialDynamics(net, preferred_x0(net), t, dt=2.5)
    _, slow, fast = slow_fast_targets(movements, seed, amplitude=rate_amplitude(dyn))
    labels = random_groups(n, n_groups, seed=seed)
    readouts = [fit_readout_on_trials(dyn, fast[q], n_trials=n_trials, seed=seed + q) for q in range(movements)]
    return net, dyn, slow, fast, labels, readouts


def fmt(s):
    if s >= 86400:
        return f"{s:.0f} s ({s / 86400:.1f} days)"
    if s >= 3600:
        return f"{s:.0f} s ({s / 3600:.1f} h)"
    return f"{s:.1f} s"


def part_a(args, n, n_groups, movements, sessions, i0, i1, base_it):
    net, dyn, slow, fast, labels, readouts = speed_setup(n, n_groups, movements, n_trials=20)
    M = membership_matrix(labels, n_groups)
    W, x0 = np.asarray(net.W), np.asarray(dyn.x0)
    stride = int(round((dyn.t_ms[1] - dyn.t_ms[0]) / dyn.step_ms))
    ro_np = [(np.asarray(r.m)[0], float(np.asarray(r.b)[0])) for r in readouts]
    # the baseline computes the same error as neurodyn (checked at random group gains)
    gam = 1.0 + 0.01 * np.random.default_rng(0).standard_normal(n_groups)
    e_nd = float(np.asarray(GainTask(dyn, readouts[0], slow[0]).errors(M @ gam))[0])
    e_np = numpy_strided_error(W, x0, *ro_np[0], slow[0], stride)(M @ gam)
    print(f"(a) N = {n}, {n_groups} groups, {movements} movements x {sessions} sessions, T = {slow.shape[1]} samples, "
          f"{stride * (slow.shape[1] - 1)} RK4 steps per trial; same error from both routes: neurodyn {e_nd:.10g}, "
          f"NumPy - neurodyn {e_np - e_nd:.1e}")
    m_all = np.stack([np.asarray(r.m) for r in readouts])                     # (P, 1, M)
    b_all = np.stack([np.asarray(r.b) for r in readouts])                     # (P, 1)
    one_call = lambda it: learn_combination(dyn, Readout(m_all, b_all), M[None], slow[:, None], sessions, it,  # noqa: E731
                                            c0=np.ones(n_groups), seed=0, n_chunks=1)

    def per_movement(it):
        for q in range(movements):
            learn_group_gains(GainTask(dyn, readouts[q], slow[q]), labels, sessions, it, seed=q, n_chunks=1)

    with threadpool_limits(limits=args.threads):
        one_call(1)                                                            # first-use costs (excluded)
        per_one, fix_one = per_iteration(one_call, i0, i1, args.repeats)
        per_mov, fix_mov = per_iteration(per_movement, i0, i1, args.repeats)
        t_np = median_time(lambda: numpy_group_rule(W, x0, ro_np, slow, M, sessions, base_it, 0, stride=stride),
                           repeats=args.repeats, warmup=0)
    per_np = t_np / (base_it + 1)   # each session also runs one trial at gains 1 before its first iteration
    print(f"    neurodyn learn_combination (movements x sessions in one jitted call): {per_one * 1e3:.1f} ms per "
          f"iteration of all {movements * sessions} sessions (fixed per call, compile included: {fix_one:.2f} s)")
    print(f"    neurodyn learn_group_gains (one call per movement, as speed-slow): {per_mov * 1e3:.1f} ms per "
          f"iteration (fixed, {movements} calls: {fix_mov:.2f} s)")
    print(f"    NumPy loop: {t_np:.2f} s for {base_it} iterations (+ the initial trial) of all sessions (measured) -> "
          f"{per_np * 1e3:.1f} ms per iteration")
    print(f"    speed-up per iteration, NumPy / one call: {per_np / per_one:.1f}x; NumPy / per movement: "
          f"{per_np / per_mov:.1f}x; per movement / one call: {per_mov / per_one:.2f}")
    it_full = 60000
    print(f"    scaled to {it_full} iterations (extrapolated): one call {fmt(per_one * it_full + fix_one)}, "
          f"NumPy {fmt(per_np * it_full)}")


def part_b_quick(args):
    import matplotlib

    matplotlib.use("Agg")
    from neurodyn.runner import run_experiment

    for name in ("speed-slow", "library"):
        walls, secs = [], []
        for r in range(args.exp_repeats):
            with tempfile.TemporaryDirectory() as tmp:
                t = time.perf_counter()
                metrics = run_experiment(name, Path(tmp) / "run", quick=True)
                walls.append(time.perf_counter() - t)
                secs.append(metrics["seconds"])
        print(f"(b) {name} --quick on CPU (measured, median of {args.exp_repeats}): {statistics.median(walls):.1f} s "
              f"wall ({statistics.median(secs):.1f} s inside the experiment, files excluded)")


def part_b_full(args):
    n, n_groups = 400, 40
    reps = max(1, args.repeats - 1)
    with threadpool_limits(limits=args.threads):
        # speed-slow: one learn_group_gains call of 10 sessions per movement
        net, dyn, slow, fast, labels, readouts = speed_setup(n, n_groups, 1, n_trials=20)
        task = GainTask(dyn, readouts[0], slow[0])
        rule = lambda it: learn_group_gains(task, labels, 10, it, seed=0, n_chunks=1)  # noqa: E731
        per_rule, fix_rule = per_iteration(rule, 1, 4, reps)
        bp = lambda it: train_speed_backprop(dyn, labels, fast[0], slow[0], readouts[0], iterations=it)  # noqa: E731
        per_bp, fix_bp = per_iteration(bp, 1, 4, reps)
        # the alternative: all 10 movements x 10 sessions in one learn_combination call (same rule and draws)
        _, dyn10, slow10, _, labels10, ro10 = speed_setup(n, n_groups, 10, n_trials=20)
        M10 = membership_matrix(labels10, n_groups)
        ro_all = Readout(np.stack([np.asarray(r.m) for r in ro10]), np.stack([np.asarray(r.b) for r in ro10]))
        allq = lambda it: learn_combination(dyn10, ro_all, M10[None], slow10[:, None], 10, it,  # noqa: E731
                                            c0=np.ones(n_groups), seed=0, n_chunks=1)
        per_all, fix_all = per_iteration(allq, 1, 4, reps)
    trial = per_rule / 10
    t_rule = 10 * (60000 * per_rule + fix_rule)
    t_bp = 10 * (500 * per_bp + fix_bp)
    t_misc = 10 * 1200 * trial
    print(f"(b) speed-slow at full size, N = {n}, {n_groups} groups, 1000 RK4 steps per trial (measured): "
          f"rule {per_rule:.2f} s per iteration of 10 sessions (+{fix_rule:.1f} s per call), back-propagation "
          f"{per_bp:.2f} s per Adam step (+{fix_bp:.1f} s per call)")
    print(f"    extrapolated to 10 movements x 10 sessions x 60,000 iterations: rule {fmt(t_rule)}; backprop 10 x 500 "
          f"steps {fmt(t_bp)}; readout fits and noisy tests {fmt(t_misc)}; total {fmt(t_rule + t_bp + t_misc)} "
          f"(SOC optimisation excluded)")
    print(f"    alternative, 10 movements x 10 sessions in one learn_combination call (measured): {per_all:.2f} s per "
          f"iteration of all 100 sessions (+{fix_all:.1f} s per call) -> rule extrapolated to "
          f"{fmt(60000 * per_all + fix_all)} ({t_rule / (60000 * per_all + fix_all):.1f}x less than one call per "
          f"movement)")

    with threadpool_limits(limits=args.threads):
        net = random_ei(n, 0.1, 0.5, 1.0, seed=0)
        dyn = TrialDynamics(net, preferred_x0(net), sample_times(500.0, 400.0), dt=2.5)
        _, Y = emg_targets(101, seed=0, amplitude=rate_amplitude(dyn))
        ro = fit_readout_on_trials(dyn, Y[0], n_trials=20)
        labels = random_groups(n, n_groups, seed=0)
        task = GainTask(dyn, ro, Y[1:, :, None])
        lib = lambda it: learn_group_gains(task, labels, 1, it, seed=0, n_chunks=1)  # noqa: E731
        per_lib, fix_lib = per_iteration(lib, 1, 4, reps)
        res = learn_group_gains(task, labels, 1, 1, seed=0, n_chunks=1)
        G = res.best_gains[:, 0]
        F = np.asarray(task.output(G))
        rng = np.random.default_rng(1)
        l = 25

        def fits(B):
            idx = np.stack([rng.choice(100, l, replace=False) for _ in range(B)])
            combine_library(task, G[idx], F[idx], Y[rng.integers(1, 101, B), :, None])

        per_fit, fix_fit = per_iteration(fits, 256, 512, reps)
        idx = np.stack([rng.choice(100, l, replace=False) for _ in range(256)])
        t_cc = median_time(lambda: convex_coefficients_batch(F[idx], Y[rng.integers(1, 101, 256), :, None]),
                           repeats=reps, warmup=0) / 256
    t_learn = 5000 * per_lib + fix_lib
    t_fits = 50 * (10000 * per_fit + fix_fit)
    print(f"(b) library at full size, N = {n}, {n_groups} groups, 200 RK4 steps per trial (measured): rule "
          f"{per_lib:.2f} s per iteration of 100 targets (+{fix_lib:.1f} s per call); combine_library at l = {l}: "
          f"{per_fit * 1e3:.2f} ms per problem (+{fix_fit:.1f} s per call), of which the convex fit "
          f"(convex_coefficients_batch, NNLS + KKT) {t_cc * 1e3:.2f} ms")
    print(f"    extrapolated to 100 targets x 5000 iterations and 50 sizes x 100 libraries x 100 novel targets: rule "
          f"{fmt(t_learn)}; fits and rollouts {fmt(t_fits)}; total {fmt(t_learn + t_fits)} (SOC optimisation "
          f"excluded)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per timing (median); default 3, quick 2")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (threadpoolctl) for NumPy/SciPy")
    ap.add_argument("--exp-repeats", type=int, default=1, help="repeats of each --quick experiment run")
    ap.add_argument("--baseline-iterations", type=int, default=None, help="iterations of the NumPy slice")
    ap.add_argument("--extrapolate", action="store_true", help="with --quick: also measure at full size")
    ap.add_argument("--skip-experiments", action="store_true", help="skip the --quick experiment runs")
    args = ap.parse_args()
    args.repeats = args.repeats or (2 if args.quick else 3)
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs ({machine()}); BLAS threads = {args.threads}")
    if args.quick:
        part_a(args, 100, 10, 2, 2, 2, 20, args.baseline_iterations or 2)
    else:
        part_a(args, 400, 40, 2, 5, 2, 10, args.baseline_iterations or 2)
    if not args.skip_experiments:
        part_b_quick(args)
    if not args.quick or args.extrapolate:
        part_b_full(args)


if __name__ == "__main__":
    main()

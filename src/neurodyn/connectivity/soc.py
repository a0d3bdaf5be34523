"""Stability-optimised circuits (SOCs): thesis (seed 003) §1.2.4 and Appendix C.1 (Hennequin et al. 2014).

Start from the random Dale's-law matrix of Appendix C.1 / eq. (1.15) (`random_ei`: N = 2M neurons, M
excitatory then M inhibitory, connection probability p, nonzero weights ``w0/sqrt(N)`` (E) and
``-gamma w0/sqrt(N)`` (I), ``w0^2 = 2 rho^2 / (p (1-p) (1+gamma^2))``, no self-loops), whose spectral
abscissa is about rho. Excitatory weights stay fixed. Repeat steps 1-8 until ``alpha(W) < target``:

1. ``alpha = alpha(W) = max Re lambda(W)``.
2. ``s = max(1.5 alpha, alpha + 0.2)`` (so that the smoothed abscissa exceeds alpha).
3. Solve ``(W - sI)^T Q + Q (W - sI) = -2I`` (C.15) and ``(W - sI) P + P (W - sI)^T = -2I`` (C.16).
4. Gradient of the smoothed spectral abscissa ``G = Q P / tr(Q P)`` (C.18).
5. For every inhibitory presynaptic neuron j and every postsynaptic i: ``W_ij <- W_ij - eta G_ij`` (C.19).
6. Set positive inhibitory weights to 0 (Dale's law).
7. Rescale the inhibitory blocks so that inhibition is on average gamma times excitation:
   ``W_EI <- -gamma mean(W_EE) / mean(W_EI) * W_EI`` and ``W_II <- -gamma mean(W_IE) / mean(W_II) * W_II``
   (thesis block notation ``W = [[W_EE, W_EI], [W_IE, W_II]]``, rows = postsynaptic; W_EI holds the
   I -> E weights, W_IE the E -> I weights; means over all entries of a block, zeros included).
8. Keep the inhibitory density <= 0.4: zero all but the ``floor(0.4 N M)`` largest-magnitude inhibitory
   weights (the "60 % smallest" of the text), and remove self-loops (``W_ii = 0``).

Step-size schedules (``schedule``). ``"thesis"`` is Appendix C.1 as written: a fixed learning rate eta
in step 5 (iterates identical to the code before schedules existed). ``"bold-driver"`` (default) keeps
steps 1-8 and changes only the eta of step 5 from one iteration to the next (Battiti's "bold driver"):

    eta_eff,k = max(eta, min(eta_k, c * rms(W_I) / ||G_I||_F)),     rms(W_I) = ||W_I||_F / sqrt(N),
    eta_{k+1} = 1.3 eta_eff,k  if alpha(W_{k+1}) < alpha(W_k),  else  max(eta, 0.5 eta_eff,k),

with G_I the gradient's inhibitory columns and c = ``max_step`` = 0.8: a step never moves the inhibitory
weights by more than 0.8 times the inhibitory input norm of a typical neuron, and never by less than
the thesis's fixed step. Why the cap: ``||G_I||_F`` falls roughly like 1/N at a fixed rms weight (measured
at the initial matrices: ``||G_I|| / ||W_I||`` = 2.2e-3, 7.6e-4, 4.7e-4, 1.8e-4 at N = 100, 200, 400,
1000), so the uncapped bold driver must grow eta with N and, at N = 1000, overshoots (eta about 270 ->
alpha oscillating between 0.27 and 0.99); the cap expresses the step in units of the weights, which is
independent of N. Both schedules apply steps 5-8 after every update, so every iterate obeys Dale's law,
the inhibitory density bound, the I/E ratio and has no self-loops. Measured iterations to alpha < 0.15
(p = 0.1, rho = 10, seed 0; fixed eta = 10 in brackets): N = 60 (target 0.5) 44 (126); N = 100 415
(1248); N = 200 298 (1666); N = 400 218 (1833); N = 1000 204 (about 2,400 extrapolated). Seed 001 §13
(p = 0.25, R = 10, gamma = 1, target 0.5): N = 200 187, N = 1000 540 (docs/benchmarks.md). Caps tried at N = 200 (seeds 0 / 1):
c = 0.3: 615 / 516, 0.5: 348 / 415, 0.8: 298 / 315, 1.2: 243 (seed 0), 2.0: 534 (seed 0), none: 222;
0.8 is the largest that converged at N = 1000. A schedule with memory (eta_k) is no longer memoryless,
so checkpoints store eta_k next to W.

BLAS threads (``threads``; default chosen by `soc`): one thread below N = 1000, beyond that the cores the
1-minute load average leaves idle. Measured on the 2-core development machine at load average 11
(wall ms per iteration, 1 thread vs 2): N = 200 58-83 vs 766-1335, N = 400 249-354 vs 3202-7306:
a multi-threaded BLAS on busy cores waits for its slowest thread and is 9-29x slower.

The thesis uses eta = 5; the authors' public code (and the default here) eta = 10. Because step 8
follows step 7, the mean I/E ratio after an iteration is gamma up to the small pruned mass (reported
by `SOCResult.ie_ratio`).

Seed 001 §13 builds its comparison SOC with the same procedure (Hennequin et al. 2014) from p = 0.25,
initial spectral radius R = 10 (that is rho = 10 here) and stops at spectral abscissa 0.5:
``soc(n, p=0.25, rho=10, target=0.5)``.

Speed. Steps 1 and 3 share one real Schur decomposition ``W = U T U^T`` per iteration (see
`neurodyn.analysis.lyapunov`): alpha is ``max diag T``; ``W - sI`` has the same Schur vectors, so both
Lyapunov equations become triangular Sylvester equations solved by LAPACK ``dtrsyl``; the gradient's
inhibitory columns are ``U (Q~ P~) U[I, :]^T / tr(Q~ P~)``. No N^2 x N^2 Kronecker system is formed.
The JAX path (``device="gpu"``, or ``"auto"`` when JAX's default backend is a GPU) solves both Gramians
with one matrix-sign Newton iteration and applies steps 4-8 on the device; alpha (step 1) is computed
by LAPACK ``dgeev`` on the host, since JAX has no general GPU eigensolver it can rely on.

The iteration itself (steps 1-8, CPU and JAX) is `neurodyn.connectivity.soc_step`; its result type
`neurodyn.connectivity.soc_result.SOCResult`. Both names stay importable from here.
"""

from __future__ import annotations

import os
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from threadpoolctl import threadpool_limits
from jaxtyping import Float

from neurodyn.fileio import save_npz_atomic
from neurodyn.validation import fail, in_range, positive, positive_int
from neurodyn.analysis.lyapunov import abscissa_from_schur, real_schur
from neurodyn.connectivity.random_ei import random_ei
from neurodyn.connectivity.soc_result import SOCResult
from neurodyn.connectivity.soc_step import (INHIBITORY_DENSITY, capped_eta, constrain_inhibition, ei_split,
                                            inhibitory_gradient, n_keep, soc_step, soc_step_jax)
from neurodyn.network import Network
from neurodyn.progress import progress

__all__ = ["SOCResult", "soc", "soc_from_matrix", "soc_step", "INHIBITORY_DENSITY", "SCHEDULES"]

#: Step-size schedules of `soc`: the default bold driver and the thesis's fixed learning rate.
SCHEDULES = ("bold-driver", "thesis")
#: Bold-driver factors: eta grows by STEP_GROWTH after an iteration that lowers alpha(W) and shrinks by
#: STEP_SHRINK (never below the thesis eta) after one that raises it.
STEP_GROWTH, STEP_SHRINK = 1.3, 0.5
#: Cap on one step, ``eta ||G_I||_F <= MAX_STEP ||W_I||_F / sqrt(N)`` (never below the thesis eta).
MAX_STEP = 0.8
#: Smallest N at which `soc` may run BLAS on more than one core (measured, module docstring).
PARALLEL_MIN_N = 1000


def _resolve_device(device: str) -> str:
    if device not in ("auto", "cpu", "gpu"):
        fail("device", device, "'auto', 'cpu' or 'gpu'")
    backend = jax.default_backend()
    if device == "auto":
        return "jax" if backend in ("gpu", "cuda", "rocm") else "cpu"
    if device == "gpu":
        if backend not in ("gpu", "cuda", "rocm"):
            warnings.warn(f"device='gpu' but JAX's default backend is {backend!r}: running the JAX "
                          "(matrix-sign) path there", RuntimeWarning, stacklevel=3)
        return "jax"
    return "cpu"


def _blas_threads(n: int) -> int:
    """BLAS threads for an N x N SOC iteration, from N and the idle cores (measured, module docstring).

    One thread below ``PARALLEL_MIN_N``; from there on, the cores left idle by the 1-minute load average
    (at least one), since a busy core makes a multi-threaded BLAS wait for its slowest thread.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if n < PARALLEL_MIN_N:
        return 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, min(cores, int(cores - load)))


def soc_from_matrix(W0: Float[np.ndarray, "neurons neurons"] | Network, *, target: float = 0.15, eta: float = 10.0,
                    gamma: float = 3.0, tau: float = 200.0, max_iter: int = 5000, device: str = "auto",
                    sign_tol: float = 1e-10, schedule: str = "bold-driver", max_step: float = MAX_STEP,
                    threads: int | None = None, description: str = "SOC",
                    checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 50) -> SOCResult:
    """Run steps 1-8 of Appendix C.1 from a given Dale matrix ``W0`` (E first then I, N = 2M).

    See `soc` for the parameters; ``W0`` may be an array or a `Network` with E-then-I cell types.

    ``checkpoint`` (a ``.npz`` path) makes long optimisations resumable: every ``checkpoint_every``
    iterations the current W, the alpha history, the schedule's step size and the run's settings are
    written atomically; a later call with the same ``W0``, eta, gamma, target, schedule and max_step
    resumes from the stored iterate and step size (step k+1 depends only on W_k and eta_k), and a
    checkpoint written for different inputs is refused with an error rather than silently reused.
    ``max_iter`` counts all iterations, those before the resume included.
    """
    if isinstance(W0, Network):
        W0 = np.asarray(W0.W)
    W0 = np.array(W0, dtype=float)
    n = W0.shape[0]
    if W0.ndim != 2 or W0.shape[1] != n:
        fail("W0", W0, "a square (N x N) matrix")
    m = ei_split(W0)                    # the SOC layout: M excitatory then M inhibitory (soc_step)
    network0 = Network(W=W0, cell_types=("E",) * m + ("I",) * m, tau=tau)  # checks Dale's law
    if float(W0[:m, :m].mean()) <= 0 or float(W0[m:, :m].mean()) <= 0:
        fail("W0", W0, "nonzero excitatory blocks W_EE and W_IE (step 7 rescales inhibition to them)")
    eta = positive("eta", eta)
    gamma = positive("gamma", gamma)
    target = in_range("target", target, -np.inf, np.inf, lo_open=True, hi_open=True)
    max_iter = positive_int("max_iter", max_iter, 0)
    checkpoint_every = positive_int("checkpoint_every", checkpoint_every, 1)
    if schedule not in SCHEDULES:
        fail("schedule", schedule, f"one of {', '.join(repr(x) for x in SCHEDULES)}")
    max_step = positive("max_step", max_step)
    threads = _blas_threads(n) if threads is None else positive_int("threads", threads)
    adaptive = schedule == "bold-driver"
    step_cap = max_step if adaptive else np.inf
    path = _resolve_device(device)

    t0 = time.perf_counter()
    W = W0.copy()
    settings = np.array([eta, gamma, target, float(np.sum(W0)), float(np.sum(W0 * W0))])
    if adaptive:    # thesis checkpoints keep the layout they had before the schedule existed
        settings = np.concatenate([settings, [1.0, max_step]])
    eta_k = eta
    with threadpool_limits(limits=threads, user_api="blas"):
        resumed = _load_checkpoint(checkpoint, W0.shape, settings) if checkpoint is not None else None
        if resumed is not None:
            resumed_history, W, eta_k = resumed
            eta_k = eta if eta_k is None else eta_k
        if path == "cpu":
            schur = real_schur(W)
            alpha = abscissa_from_schur(schur.T)
        else:
            alpha = float(np.max(np.linalg.eigvals(W).real))
        if not alpha > target and resumed is None:
            fail("target", target, f"a value below the initial spectral abscissa alpha(W)={alpha:.6g}")
        history = [alpha] if resumed is None else list(resumed_history)
        etas = []
        best_alpha, best_W, best_it = alpha, W, len(history) - 1
        sign_failures = 0
        if path == "jax":
            Wj = jnp.asarray(W)
            k_keep = n_keep(n, m)
        it = start = len(history) - 1
        if checkpoint is not None and alpha < target:
            max_iter = start            # a finished checkpoint: nothing left to do
        for it in progress(range(start + 1, max_iter + 1), total=max(max_iter - start, 0),
                           description=description):
            alpha_prev = alpha
            if path == "cpu":
                grad_inh, _, _ = inhibitory_gradient(W, schur, m)                          # steps 1-4
                eta_eff = float(capped_eta(eta_k, eta, step_cap, W[:, m:], grad_inh))
                W = constrain_inhibition(W, grad_inh, m, eta_eff, gamma)                # steps 5-8
                schur = real_schur(W)
                alpha = abscissa_from_schur(schur.T)
            else:
                Wj, k, err, eta_j = soc_step_jax(Wj, alpha, eta_k, eta, step_cap, gamma, sign_tol, m=m,
                                              k_keep=k_keep, max_iter=100)
                W = np.asarray(Wj)
                eta_eff = float(eta_j)
                if not float(err) <= sign_tol:
                    sign_failures += 1
                alpha = float(np.max(np.linalg.eigvals(W).real))
            if not np.isfinite(alpha):
                raise FloatingPointError(f"SOC iteration {it}: alpha(W) is not finite; try a smaller "
                                         f"eta={eta_eff:g}")
            history.append(alpha)
            etas.append(eta_eff)
            if adaptive:        # bold driver: grow after a decrease of alpha, shrink (not below eta) after a rise
                eta_k = eta_eff * STEP_GROWTH if alpha < alpha_prev else max(eta, eta_eff * STEP_SHRINK)
            if alpha < best_alpha:
                best_alpha, best_W, best_it = alpha, W, it
            if checkpoint is not None and (it % checkpoint_every == 0 or alpha < target):
                save_npz_atomic(checkpoint, W=W, alpha_history=np.asarray(history), settings=settings,
                                eta=np.asarray(eta_k))
            if alpha < target:
                break
    seconds = time.perf_counter() - t0
    converged = bool(history[-1] < target)
    iterations = len(history) - 1
    if not converged:
        warnings.warn(f"SOC did not reach alpha < target={target:g} within max_iter={max_iter} iterations "
                      f"(alpha went from {history[0]:.4g} to {history[-1]:.4g}); returning the best matrix, "
                      f"alpha={best_alpha:.4g} at iteration {best_it} (SOCResult.converged=False)",
                      RuntimeWarning, stacklevel=2)
    else:
        best_alpha, best_W, best_it = history[-1], W, iterations
    extra = {"schedule": schedule, "threads": threads, "eta_history": np.asarray(etas)}
    if path == "jax":
        extra["sign_failures"] = sign_failures
    return SOCResult(
        network=network0.replace(W=best_W),
        alpha_history=np.asarray(history),
        alpha=float(best_alpha),
        iterations=iterations,
        converged=converged,
        initial_W=W0,
        target=float(target),
        eta=float(eta),
        best_iteration=int(best_it),
        device="cpu" if path == "cpu" else f"jax-{jax.default_backend()}",
        seconds=float(seconds),
        gamma=float(gamma),
        extra=extra,
    )


def _load_checkpoint(checkpoint, shape, settings):
    from pathlib import Path

    p = Path(checkpoint)
    if not p.exists():
        return None
    try:
        with np.load(p) as z:
            W, history, stored = np.array(z["W"]), np.array(z["alpha_history"]), np.array(z["settings"])
            eta = float(z["eta"]) if "eta" in z.files else None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported the same way
        raise ValueError(f"checkpoint={str(p)!r}: not a readable SOC checkpoint ({exc})") from None
    if W.shape != shape or stored.shape != settings.shape or not np.allclose(stored, settings, rtol=1e-12):
        fail("checkpoint", str(p), "a checkpoint written for the same W0, eta, gamma, target and schedule "
                                   "(delete it to start afresh)")
    return history, W, eta


def soc(n: int = 200, p: float = 0.1, rho: float = 10.0, gamma: float = 3.0, target: float = 0.15,
        eta: float = 10.0, seed: int = 0, *, tau: float = 200.0, max_iter: int = 5000,
        device: str = "auto", schedule: str = "bold-driver", max_step: float = MAX_STEP,
        threads: int | None = None, checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int = 50) -> SOCResult:
    """Stability-optimised circuit of thesis Appendix C.1 (steps 1-8; see the module docstring).

    Parameters
    ----------
    n : int
        Number of neurons N = 2M (even); M excitatory followed by M inhibitory.
    p : float in (0, 1)
        Connection probability of the initial matrix (thesis 0.1; seed 001 §13 uses 0.25).
    rho : float > 0
        Approximate spectral radius (and abscissa) of the initial matrix (thesis 10; seed 001's R).
    gamma : float > 0
        Inhibition/excitation ratio, kept by step 7 (thesis 3).
    target : float
        Stop when ``alpha(W) < target`` (thesis 0.15; seed 001 §13 uses 0.5). Must be below the
        initial spectral abscissa.
    eta : float > 0
        Learning rate of step 5 (eq. C.19): fixed for ``schedule="thesis"``, the smallest step of the
        bold driver.
    seed : int
        Seed of the initial random matrix.
    tau : float
        Time constant (ms) stored on the returned network.
    max_iter : int
        Iteration cap. Without convergence a RuntimeWarning is issued and the best matrix (lowest
        alpha) is returned with ``converged=False``.
    device : "auto", "cpu" or "gpu"
        "cpu": shared-Schur SciPy path; "gpu": JAX matrix-sign path on JAX's default device (a warning
        when that is not a GPU); "auto": "gpu" when ``jax.default_backend()`` is a GPU, else "cpu".
    schedule : "bold-driver" or "thesis"
        Step-size schedule (module docstring): the capped bold driver (default) or the fixed eta of
        Appendix C.1.
    max_step : float > 0
        Cap c of the bold driver: ``eta ||G_I||_F <= c ||W_I||_F / sqrt(N)`` (default 0.8).
    threads : int or None
        BLAS threads (threadpoolctl) for the run; None: chosen from N and the idle cores.
    checkpoint : path or None
        ``.npz`` file that makes the run resumable (see `soc_from_matrix`); written every
        ``checkpoint_every`` iterations.
    """
    n = positive_int("n", n, 2)
    if n % 2:
        fail("n", n, "an even number N = 2M (M excitatory then M inhibitory neurons)")
    p = in_range("p", p, 0.0, 1.0, lo_open=True)
    rho = positive("rho", rho)
    gamma = positive("gamma", gamma)
    W0 = random_ei(n, p, rho, gamma, seed=seed, tau=tau).W
    return soc_from_matrix(W0, target=target, eta=eta, gamma=gamma, tau=tau, max_iter=max_iter,
                           device=device, schedule=schedule, max_step=max_step, threads=threads,
                           checkpoint=checkpoint, checkpoint_every=checkpoint_every)
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
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from threadpoolctl import threadpool_limits

from neurodyn.fileio import save_npz_atomic
from neurodyn.validation import fail, in_range, positive, positive_int
from neurodyn.analysis.lyapunov import _sign_gramians, abscissa_from_schur, gramians_from_schur, real_schur
from neurodyn.connectivity.random_ei import random_ei
from neurodyn.network import Network
from neurodyn.progress import progress

__all__ = ["SOCResult", "soc", "soc_from_matrix", "soc_step", "INHIBITORY_DENSITY", "SCHEDULES"]

#: Maximal density of inhibitory connections kept by step 8 (thesis Appendix C.1).
INHIBITORY_DENSITY = 0.4

#: Step-size schedules of `soc`: the default bold driver and the thesis's fixed learning rate.
SCHEDULES = ("bold-driver", "thesis")
#: Bold-driver factors: eta grows by STEP_GROWTH after an iteration that lowers alpha(W) and shrinks by
#: STEP_SHRINK (never below the thesis eta) after one that raises it.
STEP_GROWTH, STEP_SHRINK = 1.3, 0.5
#: Cap on one step, ``eta ||G_I||_F <= MAX_STEP ||W_I||_F / sqrt(N)`` (never below the thesis eta).
MAX_STEP = 0.8
#: Smallest N at which `soc` may run BLAS on more than one core (measured, module docstring).
PARALLEL_MIN_N = 1000


@dataclass(frozen=True)
class SOCResult:
    """Outcome of `soc` (thesis Appendix C.1).

    Attributes
    ----------
    network : Network
        The optimised (or, without convergence, the best) Dale network, E first then I, ``tau`` set.
    alpha_history : (iterations + 1,) array
        ``alpha(W)`` of the initial matrix followed by its value after each iteration.
    alpha : float
        Spectral abscissa of ``network.W``.
    iterations : int
        Number of gradient iterations run.
    converged : bool
        Whether ``alpha < target`` was reached within ``max_iter``.
    initial_W : (N, N) array
        The random starting matrix (``random_ei``).
    target, eta : float
        Stopping threshold and learning rate used.
    best_iteration : int
        Index into ``alpha_history`` of the returned matrix.
    device : str
        ``"cpu"`` (shared-Schur SciPy path) or ``"jax-<backend>"`` (sign-iteration JAX path).
    seconds : float
        Wall time of the optimisation loop.
    """

    network: Network
    alpha_history: np.ndarray
    alpha: float
    iterations: int
    converged: bool
    initial_W: np.ndarray
    target: float = float("nan")
    eta: float = float("nan")
    best_iteration: int = 0
    device: str = "cpu"
    seconds: float = 0.0
    gamma: float = float("nan")
    extra: dict = field(default_factory=dict)

    @property
    def W(self) -> np.ndarray:
        return np.asarray(self.network.W)

    @property
    def initial_alpha(self) -> float:
        return float(self.alpha_history[0])

    @property
    def inhibitory_density(self) -> float:
        """Share of nonzero weights among the ``N x M`` inhibitory (presynaptic I) entries."""
        inh = ~self.network.is_excitatory
        return float(np.count_nonzero(self.W[:, inh]) / self.W[:, inh].size)

    def preferred_initial_condition(self, k: int = 1, norm: float | None = None) -> np.ndarray:
        """Preferred initial condition a_k (thesis Appendix C.2) scaled to ``||x0|| = norm``.

        a_k is the eigenvector of the k-th largest eigenvalue of the observability Gramian Q of
        ``W - I`` (``(W - I)^T Q + Q (W - I) = -2I``, eq. C.11); it maximises the evoked energy
        ``eps(a) = a^T Q a`` (eq. C.21) on the unit sphere orthogonal to a_1..a_{k-1}. The default norm is
        ``1.5 sqrt(N)`` (Appendix C.2, following Hennequin et al. 2014). Needs ``alpha(W) < 1``.
        """
        from neurodyn.analysis.gramians import preferred_initial_conditions

        k = positive_int("k", k, 1)
        if k > self.network.n:
            fail("k", k, f"an index in 1..{self.network.n}")
        norm = 1.5 * math.sqrt(self.network.n) if norm is None else positive("norm", norm)
        _, V = preferred_initial_conditions(self.W)
        return norm * V[:, k - 1]

    @property
    def ie_ratio(self) -> tuple[float, float]:
        """``(-mean(W_EI)/mean(W_EE), -mean(W_II)/mean(W_IE))``: gamma after step 7 (thesis C.1)."""
        e = self.network.is_excitatory
        W = self.W
        return (float(-W[np.ix_(e, ~e)].mean() / W[np.ix_(e, e)].mean()),
                float(-W[np.ix_(~e, ~e)].mean() / W[np.ix_(~e, e)].mean()))


def _n_keep(n: int, m: int) -> int:
    return int(math.floor(INHIBITORY_DENSITY * n * m + 1e-9))


def _constrain_numpy(W: np.ndarray, grad_inh: np.ndarray, m: int, eta: float, gamma: float) -> np.ndarray:
    """Steps 5-8 of Appendix C.1 on a copy of W (``grad_inh``: the gradient's inhibitory columns)."""
    n = W.shape[0]
    W = W.copy()
    WI = W[:, m:] - eta * grad_inh                                  # step 5 (C.19)
    np.minimum(WI, 0.0, out=WI)                                     # step 6
    mean_ee, mean_ie_block = W[:m, :m].mean(), W[m:, :m].mean()     # W_EE and W_IE (E -> I)
    for rows, mean_exc in ((slice(0, m), mean_ee), (slice(m, n), mean_ie_block)):   # step 7
        mean_inh = WI[rows].mean()
        if mean_inh < 0:
            WI[rows] *= -gamma * mean_exc / mean_inh
    flat = WI.ravel()                                               # step 8
    k = _n_keep(n, m)
    if k < flat.size:
        drop = np.argpartition(np.abs(flat), flat.size - k)[: flat.size - k]
        flat[drop] = 0.0
    W[:, m:] = WI
    np.fill_diagonal(W, 0.0)
    return W


def _gradient_inh(W: np.ndarray, schur, m: int) -> tuple[np.ndarray, float, float]:
    """Steps 1-4: ``(G[:, I], alpha, s)`` from the real Schur form of W (shared-Schur path)."""
    T, U = schur
    alpha = abscissa_from_schur(T)                                  # step 1
    s = max(1.5 * alpha, alpha + 0.2)                               # step 2
    Qt, Pt = gramians_from_schur(T, s)                              # step 3 (shared Schur basis)
    M = Qt @ Pt                                                     # step 4: U M U^T / tr M
    return (U @ M) @ U[m:, :].T / np.trace(M), alpha, s


def _effective_eta(eta: float, eta_floor: float, max_step: float, W_inh, grad_inh, xp=np):
    """``max(eta_floor, min(eta, max_step (||W_I||_F / sqrt N) / ||G_I||_F))``: the schedule's step cap.

    ``||W_I||_F / sqrt N`` is the root-mean-square norm of a row of the inhibitory block, so the cap bounds
    ``||eta G_I||_F`` by ``max_step`` times the inhibitory input of a typical neuron.
    """
    scale = xp.linalg.norm(W_inh) / math.sqrt(W_inh.shape[0])
    cap = max_step * scale / xp.maximum(xp.linalg.norm(grad_inh), 1e-300)
    return xp.maximum(eta_floor, xp.minimum(eta, cap))


def soc_step(W, eta: float = 10.0, gamma: float = 3.0, *, schur=None) -> tuple[np.ndarray, float, float]:
    """One iteration (steps 1-8 of Appendix C.1) on a Dale matrix with E first then I (N = 2M).

    Returns ``(W_new, alpha, s)`` where alpha and s are the spectral abscissa and shift used.
    """
    W = np.asarray(W, dtype=float)
    m = W.shape[0] // 2
    grad_inh, alpha, s = _gradient_inh(W, real_schur(W) if schur is None else schur, m)
    return _constrain_numpy(W, grad_inh, m, eta, gamma), alpha, s


@partial(jax.jit, static_argnames=("m", "k_keep", "max_iter"))
def _jax_step(W, alpha, eta, eta_floor, max_step, gamma, tol, *, m: int, k_keep: int, max_iter: int):
    n = W.shape[0]
    s = jnp.maximum(1.5 * alpha, alpha + 0.2)                       # step 2
    Q, P, k, err = _sign_gramians(W - s * jnp.eye(n, dtype=W.dtype), tol, max_iter)   # step 3
    QP_inh = Q @ P[:, m:]
    grad_inh = QP_inh / jnp.trace(Q @ P)                            # step 4
    eta = _effective_eta(eta, eta_floor, max_step, W[:, m:], grad_inh, jnp)
    WI = jnp.minimum(W[:, m:] - eta * grad_inh, 0.0)                # steps 5-6
    top = WI[:m].mean()
    bot = WI[m:].mean()
    WI = WI.at[:m].multiply(jnp.where(top < 0, -gamma * W[:m, :m].mean() / top, 1.0))   # step 7
    WI = WI.at[m:].multiply(jnp.where(bot < 0, -gamma * W[m:, :m].mean() / bot, 1.0))
    flat = WI.ravel()                                               # step 8
    keep = jax.lax.top_k(jnp.abs(flat), k_keep)[1]
    mask = jnp.zeros(flat.shape, dtype=bool).at[keep].set(True)
    WI = jnp.where(mask, flat, 0.0).reshape(WI.shape)
    W = W.at[:, m:].set(WI)
    W = W * (1.0 - jnp.eye(n, dtype=W.dtype))
    return W, k, err, eta


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


def soc_from_matrix(W0, *, target: float = 0.15, eta: float = 10.0, gamma: float = 3.0, tau: float = 200.0,
                    max_iter: int = 5000, device: str = "auto", sign_tol: float = 1e-10,
                    schedule: str = "bold-driver", max_step: float = MAX_STEP,
                    threads: int | None = None, description: str = "SOC", checkpoint=None,
                    checkpoint_every: int = 50) -> SOCResult:
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
    if n % 2 or n < 2:
        fail("n", n, "an even number N = 2M (M excitatory then M inhibitory neurons)")
    m = n // 2
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
            k_keep = _n_keep(n, m)
        it = start = len(history) - 1
        if checkpoint is not None and alpha < target:
            max_iter = start            # a finished checkpoint: nothing left to do
        for it in progress(range(start + 1, max_iter + 1), total=max(max_iter - start, 0),
                           description=description):
            alpha_prev = alpha
            if path == "cpu":
                grad_inh, _, _ = _gradient_inh(W, schur, m)                          # steps 1-4
                eta_eff = float(_effective_eta(eta_k, eta, step_cap, W[:, m:], grad_inh))
                W = _constrain_numpy(W, grad_inh, m, eta_eff, gamma)                # steps 5-8
                schur = real_schur(W)
                alpha = abscissa_from_schur(schur.T)
            else:
                Wj, k, err, eta_j = _jax_step(Wj, alpha, eta_k, eta, step_cap, gamma, sign_tol, m=m,
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
        threads: int | None = None, checkpoint=None, checkpoint_every: int = 50) -> SOCResult:
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

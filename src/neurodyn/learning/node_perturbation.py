"""Reward-based node-perturbation learning of neuronal gains (thesis, seed 003, §3.4 and Appendix 3.B).

Rule of eqs. (3.5)-(3.6): after each training iteration t_n (n = 1, 2, ...)

    g_i(t_n)   = g_i(t_{n-1}) + R(t_{n-1}) (g_i(t_{n-1}) - gbar_i(t_{n-1})) + xi_i(t_n),       (3.5)
    R(t_n)     = sgn(epsbar(t_{n-1}) - eps(t_n)),                                               (3.6)
    epsbar(t_n) = alpha epsbar(t_{n-1}) + (1 - alpha) eps(t_n),
    gbar_i(t_n) = alpha gbar_i(t_{n-1}) + (1 - alpha) g_i(t_n),

with xi_i ~ N(0, 0.001^2), alpha = 0.3, eps = 1 - R^2 of the output (Appendix D), R(t_0) = 0,
epsbar(t_0) = eps(t_0) (the error with all gains 1) and gbar_i(t_0) = g_i(t_0) = 1. The order of §3.4:
update the gains by (3.5), run the network with g(t_n), compute eps(t_n), then R(t_n), epsbar(t_n) and
gbar(t_n) by (3.6).

Alternative rule of eqs. (3.8)-(3.9) (Appendix 3.B): the noise moves inside the bracket and sgn becomes
a tanh of slope eta = 50,000,

    g_i(t_n) = g_i(t_{n-1}) + R(t_{n-1}) (g_i(t_{n-1}) - gbar_i(t_{n-1}) + xi_i(t_n)),         (3.8)
    R(t_n)   = tanh(eta (epsbar(t_{n-1}) - eps(t_n))),                                          (3.9)

and the same low-pass filters. Derivation note: with the literal initial condition R(t_0) = 0 this
rule never moves (g(t_1) = g(t_0), so eps(t_1) = epsbar(t_0) and R(t_1) = tanh(0) = 0, forever); the
text's Fig. 3.5a shows it learning, so the first step must explore. We therefore start the alternative
rule from R(t_0) = 1 (a pure perturbation step ``g(t_1) = g(t_0) + xi(t_1)``); ``r_init`` overrides it.

Batching: P problems (targets) x S sessions run as ONE jitted computation: `jax.vmap` over the P*S
sessions of a `jax.lax.scan` over iterations, each iteration integrating eq. (3.1) with the session's
gains (`TrialDynamics`). Session b = p*S + s draws ``xi(t_n) = sd * N(0, I)`` from
``jax.random.normal(fold_in(fold_in(key, b), n), (N,))`` so results do not depend on batch size or on
how iterations are chunked (chunks only serve the progress bar).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from neurodyn.validation import fail, finite_array, in_range, positive, positive_int
from neurodyn.learning.error import output_error
from neurodyn.learning.task import GainTask, check_stability
from neurodyn.progress import progress

__all__ = ["LearningResult", "NodePerturbation", "learn_gains", "perturbation_noise"]


@dataclass(frozen=True)
class NodePerturbation:
    """Parameters of the rule: ``"reward"`` = eqs. (3.5)-(3.6), ``"alternative"`` = eqs. (3.8)-(3.9)."""

    rule: str = "reward"
    noise_sd: float = 0.001
    alpha: float = 0.3
    eta: float = 50_000.0
    r_init: float | None = None

    def __post_init__(self):
        if self.rule not in ("reward", "alternative"):
            fail("rule", self.rule, "'reward' (eqs. 3.5-3.6) or 'alternative' (eqs. 3.8-3.9)")
        positive("noise_sd", self.noise_sd)
        in_range("alpha", self.alpha, 0.0, 1.0, hi_open=True)
        positive("eta", self.eta)
        if self.r_init is not None:
            in_range("r_init", self.r_init, -1.0, 1.0)

    @property
    def initial_signal(self) -> float:
        if self.r_init is not None:
            return float(self.r_init)
        return 0.0 if self.rule == "reward" else 1.0


class LearningResult(NamedTuple):
    """errors ``(P, S, I+1)`` (index 0 = before training); final gains ``(P, S, N)``;
    traces ``(P, S, I+1, k)`` of the gains of the ``trace_neurons``."""

    errors: np.ndarray
    gains: np.ndarray
    traces: np.ndarray


def perturbation_noise(key, session: int, iteration: int, n: int, noise_sd: float = 0.001):
    """The draw ``xi(t_n)`` of session ``session`` (= p*S + s) at iteration ``n >= 1``: shape ``(n,)``."""
    k = jax.random.fold_in(jax.random.fold_in(key, session), iteration)
    return noise_sd * jax.random.normal(k, (n,))


def _make_chunk(task: GainTask, params: NodePerturbation, trace_idx: tuple[int, ...]):
    targets = jnp.asarray(task.targets)
    alpha, sd, eta = params.alpha, params.noise_sd, params.eta
    alternative = params.rule == "alternative"
    tidx = jnp.asarray(trace_idx, dtype=jnp.int32)

    def session_error(g, p):
        z = task.output(g)
        return output_error(z, targets[p])

    def one_session(carry, p, skey, n_start, length):
        def body(c, n):
            g, gbar, ebar, R = c
            xi = sd * jax.random.normal(jax.random.fold_in(skey, n), g.shape, g.dtype)
            if alternative:
                g_new = g + R * (g - gbar + xi)                       # eq. (3.8)
            else:
                g_new = g + R * (g - gbar) + xi                       # eq. (3.5)
            e = session_error(g_new, p)
            d = ebar - e
            R_new = jnp.tanh(eta * d) if alternative else jnp.sign(d)  # eqs. (3.9) / (3.6)
            ebar_new = alpha * ebar + (1.0 - alpha) * e
            gbar_new = alpha * gbar + (1.0 - alpha) * g_new
            return (g_new, gbar_new, ebar_new, R_new), (e, g_new[tidx])

        ns = n_start + jnp.arange(length)
        return jax.lax.scan(body, carry, ns)

    @partial(jax.jit, static_argnames=("length",))
    def chunk(carry, p_idx, skeys, n_start, *, length):
        return jax.vmap(lambda c, p, k: one_session(c, p, k, n_start, length))(carry, p_idx, skeys)

    @jax.jit
    def initial_errors(g0):
        return jax.vmap(lambda p: session_error(g0, p))(jnp.arange(targets.shape[0]))

    return chunk, initial_errors


def learn_gains(task: GainTask, sessions: int = 10, iterations: int = 5000, *, seed: int = 0, key=None,
                rule: NodePerturbation | str = "reward", g0=None, trace_neurons=(), n_chunks: int = 20,
                description: str = "learning gains") -> LearningResult:
    """Run ``sessions`` independent training sessions for each of the task's P targets (thesis §3.4-3.5).

    Parameters
    ----------
    task : GainTask
        Fixed network, x0 and readout; targets ``(P, K, T)``.
    sessions, iterations : int
        S sessions per target; I iterations of the rule (the thesis uses 10 sessions, 5000 iterations).
    seed / key : int / jax key
        Randomness of the perturbations xi (``key`` wins when given).
    rule : NodePerturbation or "reward" / "alternative"
    g0 : (N,) array, optional
        Initial gains (default all 1, as in §3.4).
    trace_neurons : sequence of int
        Neurons whose gains are recorded at every iteration (Fig. 3.3c).
    """
    if not isinstance(task, GainTask):
        fail("task", task, "a GainTask", TypeError)
    params = NodePerturbation(rule) if isinstance(rule, str) else rule
    if not isinstance(params, NodePerturbation):
        fail("rule", rule, "a NodePerturbation or 'reward'/'alternative'", TypeError)
    S = positive_int("sessions", sessions)
    I = positive_int("iterations", iterations)
    n_chunks = positive_int("n_chunks", n_chunks)
    n = task.dynamics.n
    g0 = np.ones(n) if g0 is None else finite_array("g0", g0)
    if g0.shape != (n,):
        fail("g0", g0, f"a vector of N={n} initial gains")
    trace_idx = tuple(int(i) for i in trace_neurons)
    if any(i < 0 or i >= n for i in trace_idx):
        fail("trace_neurons", trace_idx, f"neuron indices in [0, {n})")
    check_stability(task.dynamics.network.W, g0)
    key = jax.random.PRNGKey(seed) if key is None else key
    P = task.n_problems
    B = P * S
    chunk, initial_errors = _make_chunk(task, params, trace_idx)
    e0 = jnp.asarray(initial_errors(jnp.asarray(g0)))  # (P,)
    p_idx = jnp.repeat(jnp.arange(P), S)
    skeys = jax.vmap(lambda b: jax.random.fold_in(key, b))(jnp.arange(B))
    g = jnp.broadcast_to(jnp.asarray(g0), (B, n))
    carry = (g, g, e0[p_idx], jnp.full((B,), params.initial_signal, g.dtype))
    size = -(-I // n_chunks)
    errs, trs = [], []
    starts = list(range(1, I + 1, size))
    for start in progress(starts, total=len(starts), description=description):
        length = min(size, I + 1 - start)
        carry, (e, tr) = chunk(carry, p_idx, skeys, jnp.asarray(start), length=length)
        errs.append(np.asarray(e))
        trs.append(np.asarray(tr))
    errors = np.concatenate([np.asarray(e0)[np.asarray(p_idx)][:, None]] + errs, axis=1)
    traces = np.concatenate([np.broadcast_to(np.asarray(g0)[list(trace_idx)], (B, 1, len(trace_idx)))] + trs,
                            axis=1)
    if not np.all(np.isfinite(errors)):
        raise FloatingPointError("learn_gains: the error became NaN/inf (the network diverged at the "
                                 "learned gains); check the network's stability")
    return LearningResult(errors=errors.reshape(P, S, I + 1), gains=np.asarray(carry[0]).reshape(P, S, n),
                          traces=traces.reshape(P, S, I + 1, len(trace_idx)))

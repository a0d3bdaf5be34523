"""The reward-based node-perturbation rule, once, over any linear gain parametrisation (thesis, seed 003).

Rule of eqs. (3.5)-(3.6) (§3.4): after each training iteration t_n (n = 1, 2, ...), for parameters
theta (the neuronal gains g, the group gains gamma of §4.2 or the coefficients c of Appendix 6.A.4)

    theta_j(t_n)    = theta_j(t_{n-1}) + R(t_{n-1}) (theta_j(t_{n-1}) - thetabar_j(t_{n-1})) + xi_j(t_n),   (3.5)
    R(t_n)          = sgn(epsbar(t_{n-1}) - eps(t_n)),                                                    (3.6)
    epsbar(t_n)     = alpha epsbar(t_{n-1}) + (1 - alpha) eps(t_n),
    thetabar_j(t_n) = alpha thetabar_j(t_{n-1}) + (1 - alpha) theta_j(t_n),

with xi_j ~ N(0, 0.001^2), alpha = 0.3, eps = 1 - R^2 of the output at the gains ``g(theta(t_n))``
(Appendix D), R(t_0) = 0, epsbar(t_0) = eps(t_0) and thetabar(t_0) = theta(t_0). The order of §3.4:
update theta by (3.5), run the network with g(theta(t_n)), compute eps(t_n), then R(t_n), epsbar(t_n)
and thetabar(t_n) by (3.6).

Alternative rule of eqs. (3.8)-(3.9) (Appendix 3.B): the noise moves inside the bracket and sgn becomes
a tanh of slope eta = 50,000,

    theta_j(t_n) = theta_j(t_{n-1}) + R(t_{n-1}) (theta_j(t_{n-1}) - thetabar_j(t_{n-1}) + xi_j(t_n)),   (3.8)
    R(t_n)       = tanh(eta (epsbar(t_{n-1}) - eps(t_n))),                                            (3.9)

and the same low-pass filters. Derivation note: with the literal initial condition R(t_0) = 0 this
rule never moves (g(t_1) = g(t_0), so eps(t_1) = epsbar(t_0) and R(t_1) = tanh(0) = 0, forever); the
text's Fig. 3.5a shows it learning, so the first step must explore. We therefore start the alternative
rule from R(t_0) = 1 (a pure perturbation step ``theta(t_1) = theta(t_0) + xi(t_1)``); ``r_init``
overrides it.

The gains are linear in theta (`neurodyn.learning.gain_parameters`: per neuron g = theta, per group
g = M gamma, per coefficient g_s = B_s c), so a step of theta moves the gains by the map of that step.
Since the filters commute with a linear map, the rule on theta with the identity map is the rule on g.

Batching: P problems x S sessions run as ONE jitted computation: `jax.vmap` over the B = P*S sessions
of a `jax.lax.scan` over iterations. Session b = p*S + s draws ``xi(t_n) = sd * N(0, I)`` from
``jax.random.normal(fold_in(fold_in(key, b), n), theta.shape)``, so results do not depend on batch size
or on how iterations are chunked (equal chunks, the largest divisor of I not above ``n_chunks``: one
compiled function per run; chunks only serve the progress bar). Each session also keeps its running
minimum error and the parameters where it was reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from neurodyn.validation import fail, in_range, positive, positive_int
from neurodyn.progress import progress

__all__ = ["NodePerturbation", "RewardRuleResult", "perturbation_noise", "reward_rule_schedule", "run_reward_rule"]


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
        """R(t_0): 0 for eqs. (3.5)-(3.6), 1 for eqs. (3.8)-(3.9) (module docstring), or ``r_init``."""
        if self.r_init is not None:
            return float(self.r_init)
        return 0.0 if self.rule == "reward" else 1.0


class RewardRuleResult(NamedTuple):
    """errors ``(P, S, I+1)`` (index 0 = before training); final ``params`` ``(P, S, Q)``;
    ``best_params`` ``(P, S, Q)`` at each session's minimum error; ``traces`` ``(P, S, I+1, k)``: the
    parameters ``trace`` at every iteration."""

    errors: Float[np.ndarray, "problems sessions iterations"]
    params: Float[np.ndarray, "problems sessions parameters"]
    best_params: Float[np.ndarray, "problems sessions parameters"]
    traces: Float[np.ndarray, "problems sessions iterations traced"]


def perturbation_noise(key: Array, session: int, iteration: int, n: int,
                       noise_sd: float = 0.001) -> Float[Array, "parameters"]:
    """The draw ``xi(t_n)`` of session ``session`` (= p*S + s) at iteration ``n >= 1``: shape ``(n,)``."""
    k = jax.random.fold_in(jax.random.fold_in(key, session), iteration)
    return noise_sd * jax.random.normal(k, (n,))


def reward_rule_schedule(rule: NodePerturbation | str, sessions: int, iterations: int,
                         n_chunks: int) -> tuple[NodePerturbation, int, int, int]:
    """Validate the rule and the schedule: ``(NodePerturbation, sessions, iterations, n_chunks)``."""
    params = NodePerturbation(rule) if isinstance(rule, str) else rule
    if not isinstance(params, NodePerturbation):
        fail("rule", rule, "a NodePerturbation or 'reward'/'alternative'", TypeError)
    return (params, positive_int("sessions", sessions), positive_int("iterations", iterations),
            positive_int("n_chunks", n_chunks))


def _make_chunk(error: Callable, params: NodePerturbation, trace_idx: tuple[int, ...]):
    alpha, sd, eta = params.alpha, params.noise_sd, params.eta
    alternative = params.rule == "alternative"
    tidx = jnp.asarray(trace_idx, dtype=jnp.int32)

    def one_session(carry, b, p, skey, n_start, length):
        def body(c, n):
            th, thbar, ebar, R, best_e, best_th = c
            xi = sd * jax.random.normal(jax.random.fold_in(skey, n), th.shape, th.dtype)
            if alternative:
                th_new = th + R * (th - thbar + xi)                    # eq. (3.8)
            else:
                th_new = th + R * (th - thbar) + xi                    # eq. (3.5)
            e = error(th_new, b, p)
            d = ebar - e
            R_new = jnp.tanh(eta * d) if alternative else jnp.sign(d)  # eqs. (3.9) / (3.6)
            better = e < best_e
            return ((th_new, alpha * thbar + (1.0 - alpha) * th_new, alpha * ebar + (1.0 - alpha) * e, R_new,
                     jnp.where(better, e, best_e), jnp.where(better, th_new, best_th)), (e, th_new[tidx]))

        return jax.lax.scan(body, carry, n_start + jnp.arange(length))

    @partial(jax.jit, static_argnames=("length",))
    def chunk(carry, b_idx, p_idx, skeys, n_start, *, length):
        return jax.vmap(lambda c, b, p, k: one_session(c, b, p, k, n_start, length))(carry, b_idx, p_idx, skeys)

    initial = jax.jit(jax.vmap(error))
    return chunk, initial


def run_reward_rule(parameters, error: Callable, theta0: Float[Array, "batch parameters"], n_problems: int,
                    sessions: int, iterations: int, *, key: Array, rule: NodePerturbation, n_chunks: int = 20,
                    trace: tuple[int, ...] = (), description: str = "reward rule",
                    name: str = "run_reward_rule") -> RewardRuleResult:
    """Run the rule (module docstring) for ``sessions`` sessions of each of ``n_problems`` problems.

    Parameters
    ----------
    parameters : NeuronGains, GroupGains or CoefficientGains
        The gain map ``parameters.gains(theta, b, p)`` of session ``b`` (problem ``p = b // sessions``)
        (`neurodyn.learning.gain_parameters`).
    error : callable ``error(gains, p) -> eps``
        The error 1 - R^2 of problem ``p`` at those gains (JAX-traceable).
    theta0 : (B, Q) array
        Initial parameters of the B = P*S sessions.
    key : jax key
        Session ``b`` uses ``fold_in(key, b)``.
    rule, n_chunks :
        Validated by `reward_rule_schedule`.
    trace : indices of parameters recorded at every iteration.
    name : the caller's name in the error raised when the error stops being finite.
    """
    P, S, I = n_problems, sessions, iterations
    B = P * S
    theta = jnp.asarray(theta0)
    Q = theta.shape[-1]
    chunk, initial = _make_chunk(lambda th, b, p: error(parameters.gains(th, b, p), p), rule, trace)
    b_idx = jnp.arange(B)
    p_idx = jnp.repeat(jnp.arange(P), S)
    skeys = jax.vmap(lambda b: jax.random.fold_in(key, b))(b_idx)
    e0 = initial(theta, b_idx, p_idx)
    carry = (theta, theta, e0, jnp.full((B,), rule.initial_signal, theta.dtype), e0, theta)
    size = I // max(d for d in range(1, n_chunks + 1) if I % d == 0)
    errs, trs = [], []
    starts = list(range(1, I + 1, size))
    for start in progress(starts, total=len(starts), description=description):
        carry, (e, tr) = chunk(carry, b_idx, p_idx, skeys, jnp.asarray(start), length=size)
        errs.append(np.asarray(e))
        trs.append(np.asarray(tr))
    errors = np.concatenate([np.asarray(e0)[:, None]] + errs, axis=1)
    if not np.all(np.isfinite(errors)):
        raise FloatingPointError(f"{name}: the error became NaN/inf (the network diverged at the learned "
                                 "parameters); check the network's stability")
    th0 = np.asarray(theta)[:, list(trace)][:, None]
    traces = np.concatenate([th0] + trs, axis=1)
    return RewardRuleResult(errors=errors.reshape(P, S, I + 1), params=np.asarray(carry[0]).reshape(P, S, Q),
                            best_params=np.asarray(carry[5]).reshape(P, S, Q),
                            traces=traces.reshape(P, S, I + 1, len(trace)))

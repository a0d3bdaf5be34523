"""Reward-based node-perturbation learning of neuronal gains (thesis, seed 003, §3.4 and Appendix 3.B).

The rule of eqs. (3.5)-(3.6) (or the alternative rule of eqs. 3.8-3.9) acts on the N neuronal gains
themselves, ``theta = g`` (`neurodyn.learning.gain_parameters.NeuronGains`), with

    g_i(t_n) = g_i(t_{n-1}) + R(t_{n-1}) (g_i(t_{n-1}) - gbar_i(t_{n-1})) + xi_i(t_n),            (3.5)
    R(t_n)   = sgn(epsbar(t_{n-1}) - eps(t_n)),                                                     (3.6)

xi_i ~ N(0, 0.001^2), alpha = 0.3, eps = 1 - R^2 of the output (Appendix D), R(t_0) = 0,
epsbar(t_0) = eps(t_0) (the error with all gains 1) and gbar_i(t_0) = g_i(t_0) = 1. The driver, its
random streams (session b = p*S + s, iteration n: ``normal(fold_in(fold_in(key, b), n), (N,))``) and
the alternative rule's initial signal are those of `neurodyn.learning.reward_rule`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from neurodyn.validation import fail, finite_array
from neurodyn.learning.error import output_error
from neurodyn.learning.gain_parameters import NeuronGains
from neurodyn.learning.reward_rule import NodePerturbation, reward_rule_schedule, run_reward_rule
from neurodyn.learning.task import GainTask, check_stability

__all__ = ["LearningResult", "learn_gains"]


class LearningResult(NamedTuple):
    """errors ``(P, S, I+1)`` (index 0 = before training); final gains ``(P, S, N)``;
    traces ``(P, S, I+1, k)`` of the gains of the ``trace_neurons``."""

    errors: Float[np.ndarray, "problems sessions iterations"]
    gains: Float[np.ndarray, "problems sessions neurons"]
    traces: Float[np.ndarray, "problems sessions iterations traced"]


def learn_gains(task: GainTask, sessions: int = 10, iterations: int = 5000, *, seed: int = 0, key: Array | None = None,
                rule: NodePerturbation | str = "reward", g0: Float[np.ndarray, "neurons"] | None = None, trace_neurons=(), n_chunks: int = 20,
                description: str = "learning gains") -> LearningResult:
    """Run ``sessions`` independent training sessions for each of the task's P targets (thesis §3.4-3.5).

    Parameters
    ----------
    task : GainTask
        Fixed network, x0 and readout; targets ``(P, T, readouts)``.
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
    params, S, I, n_chunks = reward_rule_schedule(rule, sessions, iterations, n_chunks)
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
    targets = jnp.asarray(task.targets)
    res = run_reward_rule(NeuronGains(), lambda g, p: output_error(task.output(g), targets[p]),
                          jnp.broadcast_to(jnp.asarray(g0), (P * S, n)), P, S, I, key=key, rule=params,
                          n_chunks=n_chunks, trace=trace_idx, description=description, name="learn_gains")
    return LearningResult(errors=res.errors, gains=res.params, traces=res.traces)

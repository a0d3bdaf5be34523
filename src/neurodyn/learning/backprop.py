"""Gradient (back-propagation) training of gains, initial condition, weights or a rank-1 perturbation.

Thesis (seed 003) Appendix 3.A, Fig. 3.4d: with the same network and readout as the reward-based rule,
the cost is the output error of Appendix D,

    J(theta) = 1 - R^2 = sum_t (z_theta(t) - y(t))^2 / sum_t (y(t) - ybar)^2,

where the output z_theta of eqs. (3.1), (3.4) is obtained by running the dynamics from x0 at t = 0 to
0.5 s, and theta is one of

* ``"gains"``: the N neuronal gains g (initialised at 1);
* ``"x0"``: the initial condition (initialised at the task's x0);
* ``"W"``: the recurrent weights (initialised at W; Dale's law is not enforced, as in the text);
* ``"rank1"``: vectors u, v in R^N with W replaced by ``W + u v^T`` (initialised with small random
  entries N(0, (init_scale / sqrt(N))^2), because u = v = 0 is a saddle: dC/du = (dC/dW) v = 0).

Gradients come from reverse-mode differentiation through the RK4 scan (`jax.grad`); parameters are
updated with Adam (optax) until the change of the cost between successive iterations is below
``tol = 1e-5`` (the thesis' stopping rule) or ``max_iterations`` is reached. The P targets of a task are
trained independently but in one batched computation (`jax.vmap`); a target whose cost has converged
stops being updated.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Bool, Float, Int

from neurodyn.validation import fail, positive, positive_int
from neurodyn.learning.error import output_error
from neurodyn.learning.task import GainTask, check_stability
from neurodyn.progress import progress

__all__ = ["BackpropResult", "DEFAULT_LEARNING_RATES", "backprop_cost", "initial_parameters", "train_backprop"]

PARAMETERS = ("gains", "x0", "W", "rank1")
DEFAULT_LEARNING_RATES = {"gains": 1e-2, "x0": 2e-2, "W": 2e-3, "rank1": 2e-3}


class BackpropResult(NamedTuple):
    """``error_initial``/``error_final``: (P,); ``iterations``: (P,) iterations to convergence;
    ``converged``: (P,) bool; ``history``: (n_iter + 1, P) costs; ``params``: trained parameters."""

    error_initial: Float[np.ndarray, "problems"]
    error_final: Float[np.ndarray, "problems"]
    iterations: Int[np.ndarray, "problems"]
    converged: Bool[np.ndarray, "problems"]
    history: Float[np.ndarray, "iterations problems"]
    params: dict


def initial_parameters(task: GainTask, parameter: str, seed: int = 0,
                       init_scale: float = 0.1) -> dict[str, Float[Array, "..."]]:
    """Starting point of ``parameter`` for one target (see module docstring)."""
    n = task.dynamics.n
    if parameter == "gains":
        return {"gains": jnp.ones(n)}
    if parameter == "x0":
        return {"x0": jnp.asarray(task.dynamics.x0)}
    if parameter == "W":
        return {"W": jnp.asarray(task.dynamics.network.W)}
    if parameter == "rank1":
        k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
        s = init_scale / np.sqrt(n)
        return {"u": s * jax.random.normal(k1, (n,)), "v": s * jax.random.normal(k2, (n,))}
    fail("parameter", parameter, f"one of {PARAMETERS}")


def backprop_cost(task: GainTask, params: dict, target: Float[Array, "time readouts"]) -> Float[Array, ""]:
    """``J = 1 - R^2`` (mean over readouts) of the output with ``params`` against ``target`` (T, readouts)."""
    W = None
    if "u" in params:
        W = jnp.asarray(task.dynamics.network.W) + jnp.outer(params["u"], params["v"])
    elif "W" in params:
        W = params["W"]
    z = task.output(params.get("gains"), params.get("x0"), W)
    return output_error(z, target)


def train_backprop(task: GainTask, parameter: str = "gains", *, learning_rate: float | None = None,
                   tol: float = 1e-5, max_iterations: int = 5000, seed: int = 0,
                   init_scale: float = 0.1, description: str | None = None) -> BackpropResult:
    """Train ``parameter`` by Adam on ``1 - R^2`` independently for each of the task's P targets."""
    if not isinstance(task, GainTask):
        fail("task", task, "a GainTask", TypeError)
    if parameter not in PARAMETERS:
        fail("parameter", parameter, f"one of {PARAMETERS}")
    lr = positive("learning_rate", DEFAULT_LEARNING_RATES[parameter] if learning_rate is None else learning_rate)
    tol = positive("tol", tol)
    max_iterations = positive_int("max_iterations", max_iterations)
    check_stability(task.dynamics.network.W, np.ones(task.dynamics.n))
    P = task.n_problems
    targets = jnp.asarray(task.targets)
    params0 = initial_parameters(task, parameter, seed, init_scale)
    params = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (P,) + a.shape), params0)
    opt = optax.adam(lr)
    state = jax.vmap(opt.init)(params)
    value_and_grad = jax.vmap(jax.value_and_grad(lambda prm, y: backprop_cost(task, prm, y)))

    @jax.jit
    def step(params, state, active):
        cost, grads = value_and_grad(params, targets)
        updates, new_state = jax.vmap(opt.update)(grads, state, params)
        new_params = jax.vmap(optax.apply_updates)(params, updates)

        def keep(new, old):
            mask = active.reshape((P,) + (1,) * (new.ndim - 1))
            return jnp.where(mask, new, old)

        return (jax.tree_util.tree_map(keep, new_params, params),
                jax.tree_util.tree_map(keep, new_state, state), cost)

    active = np.ones(P, bool)
    iterations = np.full(P, max_iterations)
    history = []
    prev = None
    for it in progress(range(max_iterations), total=max_iterations,
                       description=description or f"backprop {parameter}"):
        params, state, cost = step(params, state, jnp.asarray(active))  # cost before this update
        cost = np.asarray(cost)
        if not np.all(np.isfinite(cost)):
            raise FloatingPointError(f"train_backprop({parameter!r}): the cost became NaN/inf at iteration "
                                     f"{it}; lower learning_rate")
        history.append(cost)
        if prev is not None:
            done = active & (np.abs(prev - cost) < tol)
            iterations[done] = it
            active &= ~done
        prev = cost
        if not active.any():
            break
    final = np.asarray(jax.jit(jax.vmap(lambda prm, y: backprop_cost(task, prm, y)))(params, targets))
    hist = np.vstack(history + [final])
    return BackpropResult(error_initial=hist[0], error_final=final, iterations=iterations,
                          converged=~active, history=hist,
                          params=jax.tree_util.tree_map(np.asarray, params))

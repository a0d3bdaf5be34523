"""Group-based gain modulation: random and specialised modulatory groups (thesis, seed 003, §4.1.1).

Neurons in the same group always share one gain; the n group gains are the free parameters. With a
membership matrix ``M`` (N x n, ``M[i, k] = 1`` iff neuron i is in group k) the neuronal gains are

    g = M gamma,        gamma in R^n  (the group gains),

and the reward-based rule of eqs. (3.5)-(3.6) acts on gamma instead of g (§4.2: "gains within a group
are tied to the same value during training"):

    gamma_k(t_n)    = gamma_k(t_{n-1}) + R(t_{n-1}) (gamma_k(t_{n-1}) - gammabar_k(t_{n-1})) + xi_k(t_n),
    R(t_n)          = sgn(epsbar(t_{n-1}) - eps(t_n)),    eps(t_n) = 1 - R^2 of the output with g = M gamma(t_n),
    epsbar(t_n)     = alpha epsbar(t_{n-1}) + (1 - alpha) eps(t_n),
    gammabar_k(t_n) = alpha gammabar_k(t_{n-1}) + (1 - alpha) gamma_k(t_n),

with xi_k ~ N(0, 0.001^2), alpha = 0.3 (the parameters of `NodePerturbation`; the alternative rule
3.8-3.9 moves xi inside the bracket and uses tanh(eta d)). Since M is 0/1 with one 1 per row, the
low-pass filter commutes with M (gbar = M gammabar), so the neuron-level rule with tied gains is exactly
this group-level rule (`neurodyn.learning.reward_rule.run_reward_rule` with `GroupGains`); with one
neuron per group (M = I) it is the neuron-specific rule of §3.4, and
the random draws are the same as `learn_gains` (session b, iteration n:
``normal(fold_in(fold_in(key, b), n), (n_groups,))``), so the two give identical results.

Groups (§4.1.1):

* random groups: for each of the n groups choose floor(N/n) neurons uniformly at random without
  replacement; the N mod n remaining neurons go to groups drawn uniformly at random;
* specialised groups: k-means (scikit-learn, k = n) on the N x S matrix whose row i holds neuron i's gains
  from S = 10 earlier neuron-specific sessions on the same target, at each session's minimum error
  (Appendix 4.A.1 stacks q movements: an N x 10 q matrix).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Float, Int

from neurodyn.validation import fail, finite_array, positive_int
from neurodyn.learning.error import output_error
from neurodyn.learning.gain_parameters import GroupGains
from neurodyn.learning.reward_rule import NodePerturbation, reward_rule_schedule, run_reward_rule
from neurodyn.learning.task import GainTask, check_stability

__all__ = ["GroupLearningResult", "learn_group_gains", "membership_matrix", "random_groups",
           "specialised_groups"]


def random_groups(n: int, n_groups: int, seed: int = 0) -> Int[np.ndarray, "neurons"]:
    """Labels ``(N,)`` in ``0..n_groups-1`` of the random groups of §4.1.1 (floor(N/n) neurons each, the
    remainder assigned to groups drawn uniformly at random)."""
    n = positive_int("n", n)
    n_groups = positive_int("n_groups", n_groups)
    if n_groups > n:
        fail("n_groups", n_groups, f"at most n={n} groups")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    size = n // n_groups
    labels = np.empty(n, dtype=int)
    labels[perm[: size * n_groups]] = np.repeat(np.arange(n_groups), size)
    rest = perm[size * n_groups:]
    labels[rest] = rng.integers(0, n_groups, rest.size)
    return labels


def specialised_groups(gain_patterns: Float[np.ndarray, "neurons sessions"], n_groups: int, seed: int = 0, *,
                       n_init: int = 10) -> Int[np.ndarray, "neurons"]:
    """Labels ``(N,)`` from k-means (k = ``n_groups``) on the rows of ``gain_patterns`` (N x S: neuron i's
    gains in S earlier neuron-specific sessions; §4.1.1). Empty groups cannot occur (k-means keeps k
    non-empty clusters when N >= k distinct rows)."""
    from sklearn.cluster import KMeans

    G = finite_array("gain_patterns", gain_patterns, ndim=2)
    n_groups = positive_int("n_groups", n_groups)
    if n_groups > G.shape[0]:
        fail("n_groups", n_groups, f"at most N={G.shape[0]} groups (rows of gain_patterns)")
    km = KMeans(n_clusters=n_groups, n_init=positive_int("n_init", n_init), random_state=seed).fit(G)
    return np.asarray(km.labels_, dtype=int)


def membership_matrix(labels: Int[np.ndarray, "neurons"], n_groups: int | None = None) -> Float[np.ndarray, "neurons groups"]:
    """``M`` (N x n) with ``M[i, k] = 1`` iff ``labels[i] == k`` (so neuronal gains are ``M @ gamma``)."""
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.size == 0 or not np.issubdtype(lab.dtype, np.integer) or lab.min() < 0:
        fail("labels", labels, "a non-empty vector of non-negative integer group labels")
    k = int(lab.max()) + 1 if n_groups is None else positive_int("n_groups", n_groups)
    if lab.max() >= k:
        fail("labels", labels, f"labels below n_groups={k}")
    M = np.zeros((lab.size, k))
    M[np.arange(lab.size), lab] = 1.0
    return M


class GroupLearningResult(NamedTuple):
    """errors ``(P, S, I+1)`` (index 0 = before training); final group gains ``(P, S, n)`` and neuronal
    gains ``(P, S, N)``; ``best_gains`` ``(P, S, N)``: neuronal gains at each session's minimum error."""

    errors: Float[np.ndarray, "problems sessions iterations"]
    group_gains: Float[np.ndarray, "problems sessions groups"]
    gains: Float[np.ndarray, "problems sessions neurons"]
    best_gains: Float[np.ndarray, "problems sessions neurons"]


def learn_group_gains(task: GainTask, labels: Int[np.ndarray, "*batch neurons"], sessions: int = 10, iterations: int = 5000, *, seed: int = 0,
                      key=None, rule: NodePerturbation | str = "reward", n_chunks: int = 20,
                      description: str = "learning group gains") -> GroupLearningResult:
    """Reward-based learning of tied group gains (module docstring) for each of the task's P targets.

    Parameters
    ----------
    task : GainTask
        Fixed network, x0 and readout; targets ``(P, T, readouts)``.
    labels : (N,) ints, or (P, N) / (P, S, N) ints
        Group of each neuron: one grouping for all, one per target (specialised groups differ per
        target, §4.2) or one per session (random groupings differ per session, Appendix 4.A.1). The
        number of groups is ``max(labels) + 1``.
    sessions, iterations : int
        S independent sessions per target, I iterations each (thesis: 10 sessions, 5000 iterations).
    seed / key :
        Randomness of the perturbations xi; session ``b = p*S + s`` uses ``fold_in(key, b)`` as
        `learn_gains` does.
    """
    if not isinstance(task, GainTask):
        fail("task", task, "a GainTask", TypeError)
    params, S, I, n_chunks = reward_rule_schedule(rule, sessions, iterations, n_chunks)
    N, P = task.dynamics.n, task.n_problems
    lab = np.asarray(labels)
    if lab.ndim not in (1, 2, 3) or lab.shape[-1] != N:
        fail("labels", labels, f"group labels of shape (N,), (P, N) or (P, S, N) with N={N}")
    if lab.ndim == 2 and lab.shape[0] != P:
        fail("labels", labels, f"(P, N) labels with one row per target (P={P})")
    lab = lab[None, None] if lab.ndim == 1 else lab[:, None] if lab.ndim == 2 else lab   # (P or 1, S or 1, N)
    lab = np.broadcast_to(lab, (P, S, N))
    k = int(lab.max()) + 1
    groups = GroupGains(np.stack([membership_matrix(row, k) for row in lab.reshape(P * S, N)]))  # (B, N, n)
    check_stability(task.dynamics.network.W, np.ones(N))
    key = jax.random.PRNGKey(seed) if key is None else key
    targets = jnp.asarray(task.targets)
    res = run_reward_rule(groups, lambda g, p: output_error(task.output(g), targets[p]), jnp.ones((P * S, k)),
                          P, S, I, key=key, rule=params, n_chunks=n_chunks, description=description,
                          name="learn_group_gains")
    gains = groups.neuron_gains(res.params.reshape(P * S, k))
    best_gains = groups.neuron_gains(res.best_params.reshape(P * S, k))
    return GroupLearningResult(errors=res.errors, group_gains=res.params, gains=gains.reshape(P, S, N),
                               best_gains=best_gains.reshape(P, S, N))

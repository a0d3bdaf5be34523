"""Gain-pattern primitives: learning combinations of shape patterns on a fixed speed manifold.

Thesis (seed 003) §6.6, Fig. 6.5 and Appendix 6.A.4. After joint training of Q shape patterns
gamma^shape_1..Q and a speed manifold gamma_s = lam_s gamma_fast + (1 - lam_s) gamma_slow (Appendix
6.A.3, `neurodyn.learning.speed.train_shape_speed`), a novel movement is built from coefficients
c = (c_1, ..., c_Q) on the shape patterns, the speed manifold staying fixed:

    gamma^new(c) = sum_j c_j gamma^shape_j,
    g_s(c)       = M (gamma_s * gamma^new(c)) = M diag(gamma_s) Gamma^T c  =: B_s c,          (1)

with M the N x n membership matrix of the modulatory groups (§4.1.1), Gamma the Q x n matrix of shape
patterns and ``*`` the element-wise product. The gains at every speed are linear in c; B_s (N x Q) is
the "basis" of speed s (`primitive_bases`).

Learning rule (Appendix 6.A.4: "we replace the gains g_i with the coefficients c_i in Eqns. (3.5) and
(3.6)" and "use the mean of the errors at the fast and slow speeds"):

    c_j(t_n)    = c_j(t_{n-1}) + R(t_{n-1}) (c_j(t_{n-1}) - cbar_j(t_{n-1})) + xi_j(t_n),
    R(t_n)      = sgn(epsbar(t_{n-1}) - eps(t_n)),
    eps(t_n)    = (1 / 2) sum_{s in {fast, slow}} [1 - R^2](z(B_s c(t_n)), y_s),
    epsbar(t_n) = alpha epsbar(t_{n-1}) + (1 - alpha) eps(t_n),
    cbar_j(t_n) = alpha cbar_j(t_{n-1}) + (1 - alpha) c_j(t_n),

xi_j ~ N(0, sd^2), alpha = 0.3, R(t_0) = 0 (the parameters of `NodePerturbation`; ``rule="alternative"``
gives eqs. 3.8-3.9 on c). The text does not state c(t_0); we start from the mean shape pattern,
c_j(t_0) = 1/Q (so sum_j c_j = 1, in line with the reported mean coefficient sum of 0.91 after
training; c = 1 for every j would multiply all gains by about Q and destabilise the network). With
a single condition whose basis is the identity (B = I_N) and c(t_0) = 1, the rule is exactly the
neuron-specific rule of `learn_gains`, with the same random draws (session b, iteration n:
``normal(fold_in(fold_in(key, b), n), (Q,))``); the tests use this as an independent check.

`learn_combination` is generic over linear gain parametrisations ``g_s = B_s c``: bases and readouts
may also differ per problem. With B = M (a group membership matrix) and c(t_0) = 1 it is the group rule
of `learn_group_gains` (same draws), which the `groups-size` experiment uses to learn, in one batch,
problems whose readouts were fit to different initial outputs (Appendix 4.A.2).

`pair_correlations` gives the quantities of Fig. 6.5d: for every pair (p, q) of the P targets the
Pearson correlation between the targets and between their coefficient vectors (P (P - 1) / 2 pairs).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxtyping import Array, Float, Int

from neurodyn.validation import fail, finite_array
from neurodyn.learning.error import output_error
from neurodyn.learning.gain_parameters import CoefficientGains
from neurodyn.learning.groups import membership_matrix
from neurodyn.learning.reward_rule import NodePerturbation, reward_rule_schedule, run_reward_rule
from neurodyn.learning.task import Readout, TrialDynamics, check_stability

__all__ = ["CombinationResult", "combination_errors", "learn_combination", "pair_correlations", "primitive_bases"]


def primitive_bases(labels: Int[np.ndarray, "neurons"], shape_gains: Float[np.ndarray, "patterns groups"],
                    speed_gains: Float[np.ndarray, "*conditions groups"]) -> Float[np.ndarray, "conditions neurons patterns"]:
    """Bases ``B_s = M diag(gamma_s) Gamma^T`` of eq. (1): ``(conditions, N, Q)``.

    ``labels`` (N,) group of each neuron; ``shape_gains`` (Q, n) group gains of the Q shape patterns;
    ``speed_gains`` (conditions, n) group gains of points on the speed manifold (fast, slow, or
    interpolated), one per condition.
    Neuronal gains at speed s are ``B_s @ c``.
    """
    A = finite_array("shape_gains", shape_gains, ndim=2)
    V = finite_array("speed_gains", speed_gains)
    if V.ndim == 1:
        V = V[None]
    if V.ndim != 2 or V.shape[1] != A.shape[1]:
        fail("speed_gains", V, f"group gain patterns (conditions, n) with n={A.shape[1]} (as shape_gains)")
    M = membership_matrix(np.asarray(labels), A.shape[1])
    return np.einsum("nk,sk,qk->snq", M, V, A)


class CombinationResult(NamedTuple):
    """errors ``(P, S, I+1)`` (mean over conditions; index 0 = before training); final ``coefficients``
    ``(P, S, Q)``; ``best_coefficients`` ``(P, S, Q)`` at each session's minimum error."""

    errors: Float[np.ndarray, "problems sessions iterations"]
    coefficients: Float[np.ndarray, "problems sessions patterns"]
    best_coefficients: Float[np.ndarray, "problems sessions patterns"]


def _check_problem(dynamics, readout, bases, targets):
    """Validate and normalise: bases ``(P or 1, conditions, N, Q)``, targets ``(P, conditions, T, readouts)``,
    readout ``m`` (P or 1, readouts, N_E) and ``b`` (P or 1, readouts)."""
    if not isinstance(dynamics, TrialDynamics):
        fail("dynamics", dynamics, "a TrialDynamics", TypeError)
    Y = finite_array("targets", targets)
    T = dynamics.t_ms.size
    if Y.ndim == 3:                                   # (P, conditions, T): one readout
        Y = Y[..., None]
    if Y.ndim != 4 or Y.shape[-2] != T:
        fail("targets", Y.shape, f"an array (P, conditions, T={T}, readouts) or (P, conditions, T={T}): one "
             "target per problem and condition")
    if np.any(np.ptp(Y, axis=-2) == 0):
        fail("targets", Y, "targets that vary in time (1 - R^2 divides by their variance)")
    P, n_cond, _, n_readouts = Y.shape
    Bs = finite_array("bases", bases)
    if Bs.ndim == 3:
        Bs = Bs[None]
    if Bs.ndim != 4 or Bs.shape[0] not in (1, P) or Bs.shape[1:3] != (n_cond, dynamics.n):
        fail("bases", Bs.shape, f"an array (conditions={n_cond}, N={dynamics.n}, Q) shared by all problems or "
             f"(P={P}, conditions, N, Q)")
    if not isinstance(readout, tuple) or len(readout) != 2:
        fail("readout", readout, "a Readout(m, b)", TypeError)
    m = finite_array("readout.m", readout.m)
    bo = finite_array("readout.b", readout.b)
    ne = dynamics.n_excitatory
    m = m.reshape((1, 1, -1)) if m.ndim == 1 else (m[None] if m.ndim == 2 else m)
    bo = bo.reshape((1, -1)) if bo.ndim <= 1 else bo
    if m.ndim != 3 or m.shape[0] not in (1, P) or m.shape[1:] != (n_readouts, ne):
        fail("readout.m", m.shape, f"readout weights (readouts={n_readouts}, N_E={ne}) shared by all problems or "
             f"(P={P}, readouts, N_E)")
    if bo.shape != (m.shape[0], n_readouts):
        fail("readout.b", bo.shape, f"offsets ({m.shape[0]}, readouts={n_readouts}) matching readout.m")
    return Bs, Y, m, bo


def _outputs(dynamics, m, b, gains):
    """Outputs ``(..., T, readouts)`` of eq. (3.4) for gains ``(..., N)``, readout ``m`` (readouts, N_E), ``b``."""
    return dynamics.rates_e(gains) @ jnp.swapaxes(m, -1, -2) + b


@partial(jax.jit, static_argnums=0)
def _batched_outputs(dynamics, m, b, gains):
    return jax.vmap(partial(_outputs, dynamics))(m, b, gains)


def combination_errors(dynamics: TrialDynamics, readout: Readout,
                       bases: Float[np.ndarray, "*problems conditions neurons patterns"],
                       targets: Float[np.ndarray, "problems conditions time *readouts"],
                       coefficients: Float[np.ndarray, "problems patterns"]) -> Float[np.ndarray, "problems conditions"]:
    """Errors ``1 - R^2`` ``(P, conditions)`` of every problem p at every condition s with gains ``B_s c_p``.

    ``coefficients`` (P, Q): one coefficient vector per problem (targets ``(P, conditions, T[, readouts])``;
    bases and readout shared or one per problem, as in `learn_combination`).
    """
    Bs, Y, m, b = _check_problem(dynamics, readout, bases, targets)
    P = Y.shape[0]
    c = finite_array("coefficients", coefficients, ndim=2)
    if c.shape != (P, Bs.shape[3]):
        fail("coefficients", c.shape, f"an array (P={P}, Q={Bs.shape[3]})")
    g = np.einsum("psnq,pq->psn", np.broadcast_to(Bs, (P,) + Bs.shape[1:]), c)
    z = _batched_outputs(dynamics, jnp.asarray(np.broadcast_to(m, (P,) + m.shape[1:])),
                         jnp.asarray(np.broadcast_to(b, (P,) + b.shape[1:])), jnp.asarray(g))   # (P, cond, T, readouts)
    return np.asarray(output_error(z, jnp.asarray(Y)))


def learn_combination(dynamics: TrialDynamics, readout: Readout,
                      bases: Float[np.ndarray, "*problems conditions neurons patterns"],
                      targets: Float[np.ndarray, "problems conditions time *readouts"], sessions: int = 1,
                      iterations: int = 10000, *, c0: Float[np.ndarray, "patterns"] | None = None, seed: int = 0,
                      key: Array | None = None,
                      rule: NodePerturbation | str = "reward", n_chunks: int = 20,
                      description: str = "learning coefficients") -> CombinationResult:
    """Reward-based learning of combination coefficients c (module docstring) for each of P problems.

    Parameters
    ----------
    dynamics : TrialDynamics
        Fixed network and x0 (eq. 3.1).
    readout : Readout
        Fixed readout (eq. 3.4): ``m`` (readouts, N_E) and ``b`` (readouts,) shared by all problems, or ``m``
        (P, readouts, N_E) and ``b`` (P, readouts), one per problem (e.g. readouts fit to different initial
        outputs, Appendix 4.A.2).
    bases : (conditions, N, Q) or (P, conditions, N, Q) array
        Gains at condition s are ``bases[s] @ c`` (`primitive_bases`: 2 conditions for the fast and slow
        ends of the speed manifold; a membership matrix M (N x n) with c(t_0) = 1 gives the group rule of
        `learn_group_gains`).
    targets : (P, conditions, T, readouts) or (P, conditions, T) array
        Target of every problem at every condition; the error is the mean over the conditions.
    sessions, iterations : int
        Independent sessions per problem and iterations of the rule (thesis: 1 session, 10,000 iterations).
    c0 : (Q,) array, optional
        Initial coefficients (default 1/Q each, see the module docstring).
    seed / key :
        Randomness of the perturbations xi (session ``b = p*S + s`` uses ``fold_in(key, b)``).
    """
    Bs, Y, m, b = _check_problem(dynamics, readout, bases, targets)
    params, S, I, n_chunks = reward_rule_schedule(rule, sessions, iterations, n_chunks)
    P, Q = Y.shape[0], Bs.shape[3]
    c0 = np.full(Q, 1.0 / Q) if c0 is None else finite_array("c0", c0)
    if c0.shape != (Q,):
        fail("c0", c0, f"a vector of Q={Q} initial coefficients")
    for s in range(Bs.shape[1]):
        check_stability(dynamics.network.W, Bs[0, s] @ c0, name=f"network at condition {s}")
    key = jax.random.PRNGKey(seed) if key is None else key
    Yj, mj, bj = jnp.asarray(Y), jnp.asarray(m), jnp.asarray(b)
    one_r = m.shape[0] == 1

    def error(g, p):   # g (conditions, N): mean over the conditions of 1 - R^2
        z = _outputs(dynamics, mj[0] if one_r else mj[p], bj[0] if one_r else bj[p], g)   # (cond, T, readouts)
        return jnp.mean(output_error(z, Yj[p]))

    res = run_reward_rule(CoefficientGains(Bs), error, jnp.broadcast_to(jnp.asarray(c0), (P * S, Q)), P, S, I,
                          key=key, rule=params, n_chunks=n_chunks, description=description,
                          name="learn_combination")
    return CombinationResult(errors=res.errors, coefficients=res.params, best_coefficients=res.best_params)


def pair_correlations(targets: Float[np.ndarray, "problems ..."], coefficients: Float[np.ndarray, "problems patterns"]
                      ) -> tuple[Float[np.ndarray, "pairs"], Float[np.ndarray, "pairs"]]:
    """Pearson correlations over all P (P - 1) / 2 pairs p < q (Fig. 6.5d): between targets
    ``(P, ...)`` (flattened) and between coefficient vectors ``(P, Q)``; returns two ``(pairs,)`` arrays
    in the order of ``np.triu_indices(P, 1)``."""
    Y = finite_array("targets", targets)
    c = finite_array("coefficients", coefficients, ndim=2)
    if Y.shape[0] != c.shape[0] or Y.shape[0] < 2:
        fail("coefficients", c.shape, f"one coefficient vector per target (P={Y.shape[0]} >= 2)")
    if c.shape[1] < 2:
        fail("coefficients", c.shape, "at least 2 coefficients per target (a correlation needs 2 values)")
    iu = np.triu_indices(Y.shape[0], 1)
    return np.corrcoef(Y.reshape(Y.shape[0], -1))[iu], np.corrcoef(c)[iu]

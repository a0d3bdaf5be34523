"""Stimulation design for nonlinear rate networks by projected gradient ascent (seed 000; seed 003 eq. 2.1).

For a network with a nonlinear gain function the response is not linear in the input, so the static
designs' closed forms do not apply; `design_nonlinear` differentiates the simulated response through the
package's simulator (`neurodyn.dynamics.simulate`, JAX) and ascends the displacement in the target space
over the actuator's feasible set.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Float

from neurodyn.dynamics import GainFunction, simulate
from neurodyn.network import Network
from neurodyn.perturb.design.feasible import FeasibleSet
from neurodyn.perturb.design.static import Design
from neurodyn.progress import progress
from neurodyn.validation import fail, finite_array, positive, positive_int

__all__ = ["design_nonlinear"]


def design_nonlinear(network: Network, feasible: FeasibleSet, target: Float[np.ndarray, "latents neurons"], *,
                     x0: Float[np.ndarray, "neurons"] | None = None, onset_ms: float = 0.0,
                     duration_ms: float = 200.0, t_end_ms: float | None = None, gain_fn: GainFunction | None = None,
                     gains: Float[np.ndarray, "neurons"] | None = None, dt: float = 1.0, norm: float = 1.0,
                     n_steps: int = 200, learning_rate: float = 0.05,
                     init: Float[np.ndarray, "inputs"] | None = None, seed: int = 0) -> Design:
    """Maximise ``||R (x_u(t_end) - x_0(t_end))||^2`` (``R`` = ``target``) for a nonlinear rate network
    (seed 003 eq. 2.1, ``tau dx/dt = -x + W f(x; g) + h(t)``) with the held input ``h = B v`` on
    ``[onset, onset + duration)``.

    The response is differentiated through `neurodyn.dynamics.simulate` (JAX, RK4; ``jax.value_and_grad``)
    and v is updated by projected gradient ascent: ``v <- Proj(v + s norm grad / ||grad||)`` with
    `FeasibleSet.project` onto the bounds, the cardinality and the sphere ``||B v|| = norm`` (exact for
    non-negative, unbounded patterns; a feasible retraction otherwise). A step is accepted only if the
    objective does not decrease (then s grows by 1.5, else it shrinks by 0.3), so the ascent is monotone;
    its fixed points are the points where the gradient is normal to the feasible set, i.e. the stationary
    points of the constrained problem. (A per-coordinate adaptive optimiser such as Adam is not used: its
    preconditioned step is not the gradient, so its projected fixed points are not stationary points.)
    ``init`` (controls) defaults to a random feasible pattern (``seed``); the linear design on the
    linearised network is a good start. ``learning_rate`` is the initial relative step s.
    """
    fs = feasible
    norm = positive("norm", norm)
    n_steps = positive_int("n_steps", n_steps)
    positive("learning_rate", learning_rate)
    positive("duration_ms", duration_ms)
    R = finite_array("target", target, ndim=2)
    N = network.n
    if R.shape[1] != N or fs.n_units != N:
        fail("target", R, f"rows of length {N} and a feasible set for {N} units")
    t_off = onset_ms + duration_ms
    t_end = t_off if t_end_ms is None else float(t_end_ms)
    if t_end < t_off:
        fail("t_end_ms", t_end_ms, f"a time at or after the stimulation offset ({t_off} ms)")
    positive("dt", dt)
    for name, val in (("onset_ms", onset_ms), ("duration_ms", duration_ms), ("t_end_ms", t_end)):
        if abs(val / dt - round(val / dt)) > 1e-9 * max(1.0, abs(val / dt)):
            fail(name, val, f"a multiple of dt={dt} ms")
    x0 = np.zeros(N) if x0 is None else finite_array("x0", x0, ndim=1)
    kw = {"dt": dt, "gain_fn": gain_fn, "gains": gains}
    # three segments, so that the input enters simulate as a constant array (a traced argument of its
    # jitted integrator) rather than as a new closure per step: rest -> onset, stimulated window, free decay
    x_on = np.asarray(simulate(network, x0, [onset_ms], t0=0.0, **kw)[-1]) if onset_ms > 0 else x0
    base = simulate(network, x_on, [t_end], t0=onset_ms, **kw)[-1]
    Bj = jnp.asarray(fs.B)
    Rj = jnp.asarray(R)

    def objective(v):
        x = simulate(network, x_on, [t_off], t0=onset_ms, h=Bj @ v, **kw)[-1]
        if t_end > t_off:
            x = simulate(network, x, [t_end], t0=t_off, **kw)[-1]
        y = Rj @ (x - base)
        return jnp.sum(y * y)

    val_grad = jax.value_and_grad(objective)     # simulate's integrator is jitted inside
    v = fs.project(fs.random(1, norm, seed)[0] if init is None else finite_array("init", init, ndim=1), norm)
    val, g = val_grad(jnp.asarray(v))
    val, g = float(val), np.asarray(g)
    step, history = float(learning_rate), [val]
    for _ in progress(range(n_steps), n_steps, "nonlinear pattern design"):
        ng = np.linalg.norm(g)
        if ng == 0 or step < 1e-12:
            break
        cand = fs.project(v + step * norm * g / ng, norm)
        cval, cg = val_grad(jnp.asarray(cand))
        cval = float(cval)
        if cval >= val:                     # accept: monotone ascent, grow the step
            v, val, g = cand, cval, np.asarray(cg)
            step *= 1.5
        else:                               # reject: shrink the step
            step *= 0.3
        history.append(val)
    best_v, best_val = v, val
    return Design(best_v, fs.inputs(best_v), float(np.sqrt(best_val)), "max-nonlinear",
                  {"solver": "projected gradient ascent on JAX gradients", "history": np.asarray(history)})

"""L-BFGS minimisation of the `StimLVM` objective (seed 001 Methods §8.4).

The text minimised the objective with Manopt's trust regions; here it is minimised by L-BFGS on the
jit-compiled JAX gradient of `objective.objective`, either SciPy's L-BFGS-B (`lbfgs_scipy`, one
compiled value-and-gradient call per step, quick to compile) or optax's L-BFGS with a zoom line search
run to completion inside one compiled ``lax.while_loop`` (`lbfgs_jax`). Both return
``(params, n_iter, grad_norm, value, info)`` with ``info`` the stop reason (``converged``, ``status``,
``message``). `lbfgs_subset` minimises over some parameters with the others held fixed (the latents of
new data in `StimLVM.transform`).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.optimize
from jaxtyping import Array, Float

from neurodyn.models.stim_lvm.objective import ObjectiveSettings, objective, value_and_grad

__all__ = ["lbfgs_jax", "lbfgs_scipy", "lbfgs_subset"]


def lbfgs_subset(params: dict, keys: Iterable[str], data: dict, st: ObjectiveSettings, max_iter: int,
                 tol: float) -> tuple[dict, scipy.optimize.OptimizeResult]:
    """SciPy L-BFGS-B over ``params[k] for k in keys`` with the other parameters held fixed.

    Stops after ``max_iter`` iterations, at a projected gradient below ``tol`` or a relative decrease of
    the objective below ``1e-4 tol``; returns the parameters and SciPy's result.
    """
    keys = sorted(keys)
    fixed = {k: v for k, v in params.items() if k not in keys}
    shapes = [np.shape(params[k]) for k in keys]
    sizes = [int(np.prod(sh)) for sh in shapes]

    def unravel(f):
        out, i = dict(fixed), 0
        for k, shp, n in zip(keys, shapes, sizes):
            out[k] = jnp.asarray(f[i:i + n].reshape(shp))
            i += n
        return out

    def fun(f):
        val, grad = value_and_grad(unravel(f), data, st)
        return float(val), np.concatenate([np.asarray(grad[k], np.float64).ravel() for k in keys])

    x0 = np.concatenate([np.asarray(params[k], np.float64).ravel() for k in keys])
    res = scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B",
                                  options={"maxiter": max_iter, "ftol": tol * 1e-4, "gtol": tol, "maxcor": 20})
    return unravel(res.x), res


def lbfgs_scipy(params: dict, data: dict, st: ObjectiveSettings, max_iter: int,
                tol: float) -> tuple[dict, int, float, float, dict]:
    """SciPy L-BFGS-B over every parameter (`lbfgs_subset` with all keys) and the stop reason."""
    p, res = lbfgs_subset(params, params.keys(), data, st, max_iter, tol)
    val, grad = value_and_grad(p, data, st)
    gnorm = float(np.linalg.norm(np.concatenate([np.asarray(grad[k], np.float64).ravel() for k in sorted(grad)])))
    info = {"converged": bool(res.success), "status": int(res.status), "message": str(res.message)}
    return p, res.nit, gnorm, float(val), info


def _stop_scale(tol: float, n_par: int, value: Float[Array, ""], n_obs: int) -> Float[Array, ""]:
    return tol * jnp.sqrt(n_par) * jnp.maximum(1.0, jnp.abs(value) / n_obs)


@partial(jax.jit, static_argnums=(2, 3))
def _lbfgs(params, data, st: ObjectiveSettings, max_iter: int, tol: float):
    """L-BFGS (optax, zoom line search) run to completion inside one compiled ``lax.while_loop``.

    Stops after ``max_iter`` iterations or when ``|grad| <= tol * sqrt(n_params) * max(1, |f| / n_obs)``
    (gradient small per parameter relative to the objective per observation).
    """
    fun = partial(objective, data=data, st=st)
    opt = optax.lbfgs(memory_size=20)
    vg = optax.value_and_grad_from_state(fun)
    n_par = sum(x.size for x in jax.tree_util.tree_leaves(params))
    n_obs = data["xhat"].size + data["yhat"].size

    def step(carry):
        p, state, _, _ = carry
        value, grad = vg(p, state=state)
        updates, state = opt.update(grad, state, p, value=value, grad=grad, value_fn=fun)
        p = optax.apply_updates(p, updates)
        return p, state, value, optax.tree_utils.tree_l2_norm(grad)

    def cond(carry):
        _, state, value, gnorm = carry
        it = optax.tree_utils.tree_get(state, "count")
        return (it == 0) | ((it < max_iter) & (gnorm > _stop_scale(tol, n_par, value, n_obs)))

    init = (params, opt.init(params), jnp.asarray(jnp.inf), jnp.asarray(jnp.inf))
    p, state, _, _ = jax.lax.while_loop(cond, step, init)
    value, grad = jax.value_and_grad(fun)(p)
    gnorm = optax.tree_utils.tree_l2_norm(grad)
    met = gnorm <= _stop_scale(tol, n_par, value, n_obs)
    return p, optax.tree_utils.tree_get(state, "count"), gnorm, value, met


def lbfgs_jax(params: dict, data: dict, st: ObjectiveSettings, max_iter: int,
              tol: float) -> tuple[dict, int, float, float, dict]:
    """optax L-BFGS in one compiled loop with the stop reason: status 0 (gradient criterion met), 1
    (``max_iter`` reached) or 2 (non-finite objective), and a message naming it (as SciPy's
    ``res.status`` / ``res.message``)."""
    p, n_it, gnorm, value, met = _lbfgs(params, data, st, max_iter, tol)
    n_it, gnorm, value, met = int(n_it), float(gnorm), float(value), bool(met)
    if not np.isfinite(value):
        info = {"converged": False, "status": 2, "message": "objective became non-finite"}
    elif met:
        info = {"converged": True, "status": 0, "message": "gradient norm below tol * sqrt(n_params) * "
                                                           "max(1, |f| / n_obs)"}
    else:
        info = {"converged": False, "status": 1, "message": f"stopped at max_iter={max_iter} iterations "
                                                            f"with gradient norm {gnorm:.3g}"}
    return p, n_it, gnorm, value, info

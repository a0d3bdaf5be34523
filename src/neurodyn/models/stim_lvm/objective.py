"""The fitting objective of `StimLVM` (seed 001 Methods §8.1, §8.2, §8.4).

Model rates (§8.1), with the readout C (neurons x latents) fixed, d the baseline and
``Delta = A B^T`` (time x neurons) the low-rank additive term::

    x_{c,t} = C z_{c,t} + d + phi^x_c Delta_t          (non-stimulated)
    y_{c,t} = C z~_{c,t} + d + phi^y_c Delta_t         (stimulated)

with whitened latents ``z_{c,:,k} = L v_{c,:,k}`` and, unconstrained, ``z~ = L~ v~``; contraction-only
(§8.2), ``z~_{c,t} = z^cent + R B_t R^T (z_{c,t} - z^cent)``, ``B_t = diag(b_t)``,
``b_{:,k} = exp(sigma_b L~ w_k)``. The objective is the negative shaped log-likelihood of §8.4
(`likelihood.total_loglik`) of both data sets plus the priors::

    J = -ll(x; xhat) - ll(y; yhat) + |v|^2 / 2 + lam / 2 (|A|^2 + |B|^2)
        + |v~|^2 / 2                               (unconstrained)
        + |w|^2 / 2 + |z^cent|^2 / 2               (contraction-only)

``params`` holds ``v``, ``d``, ``dA``, ``dB`` and either ``vs`` or ``w``, ``cent``, ``rot``; ``data``
holds the readout ``C``, the Cholesky factors ``L``, ``Ls``, the observed rates, trial counts, the
weights ``phi_x``, ``phi_y`` of Delta and the steepest points ``Ux``, ``Uy`` of the likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from neurodyn.models.stim_lvm.likelihood import total_loglik
from neurodyn.models.stim_lvm.prior import rotation_from_params

__all__ = ["VARIANTS", "ObjectiveSettings", "model_latents", "model_rates", "objective", "value_and_grad"]

VARIANTS = ("unconstrained", "contraction")


@dataclass(frozen=True)
class ObjectiveSettings:
    """The hyper-parameters of the objective, hashable so that compiled functions take it as static."""

    variant: str
    kappa: float
    eps: float
    eta: float
    sigma_b: float
    delta_ridge: float
    dt_s: float


def model_latents(params: dict, data: dict,
                  st: ObjectiveSettings) -> tuple[Float[Array, "conditions time latents"],
                                                  Float[Array, "conditions time latents"]]:
    """``(z, z~)``: non-stimulated and stimulated latents of the parameters (module docstring)."""
    z = jnp.einsum("ts,csk->ctk", data["L"], params["v"])
    if st.variant == "unconstrained":
        zs = jnp.einsum("ts,csk->ctk", data["Ls"], params["vs"])
        return z, zs
    k = z.shape[-1]
    b = jnp.exp(st.sigma_b * (data["Ls"] @ params["w"]))                   # (time, latents)
    R = rotation_from_params(params["rot"], k)
    cent = params["cent"]
    zs = cent + jnp.einsum("ctj,tj,kj->ctk", (z - cent) @ R, b, R)
    return z, zs


def model_rates(params: dict, data: dict,
                st: ObjectiveSettings) -> tuple[Float[Array, "conditions time neurons"],
                                                Float[Array, "conditions time neurons"]]:
    """``(x, y)``: model rates of both data sets, ``C z + d + phi Delta`` (module docstring)."""
    z, zs = model_latents(params, data, st)
    delta = params["dA"] @ params["dB"].T                                    # (time, neurons)
    x = z @ data["C"].T + params["d"] + data["phi_x"] * delta
    y = zs @ data["C"].T + params["d"] + data["phi_y"] * delta
    return x, y


def objective(params: dict, data: dict, st: ObjectiveSettings) -> Float[Array, ""]:
    """The negative shaped log-likelihood plus the priors, J of the module docstring."""
    x, y = model_rates(params, data, st)
    ll = (total_loglik(x, data["xhat"], data["n_x"], st.dt_s, data["Ux"], st.kappa, st.eps, st.eta)
          + total_loglik(y, data["yhat"], data["n_y"], st.dt_s, data["Uy"], st.kappa, st.eps, st.eta))
    prior = 0.5 * jnp.sum(params["v"] ** 2)
    prior += 0.5 * st.delta_ridge * (jnp.sum(params["dA"] ** 2) + jnp.sum(params["dB"] ** 2))
    if st.variant == "unconstrained":
        prior += 0.5 * jnp.sum(params["vs"] ** 2)
    else:
        prior += 0.5 * jnp.sum(params["w"] ** 2) + 0.5 * jnp.sum(params["cent"] ** 2)
    return -ll + prior


@partial(jax.jit, static_argnums=(2,))
def value_and_grad(params: dict, data: dict, st: ObjectiveSettings) -> tuple[Float[Array, ""], dict]:
    """`objective` and its gradient over ``params`` (compiled once per shape and settings)."""
    return jax.value_and_grad(objective)(params, data, st)

"""Rectified and shaped Poisson likelihood of the stimulation latent variable model (seed 001 Methods §8.4).

Notation (all rates in spikes/s; ``dt`` is the bin width in seconds, ``m`` the number of trials behind a
trial-averaged entry). An observed trial average ``yhat`` stands for the trial-summed count
``k = m * dt * yhat``; by the additivity of the Poisson distribution the log-likelihood of the single
trials of one entry is that of ``k`` under a Poisson of mean ``m * dt * rate`` (§8.4, first equation).

Softplus rectification (§8.4, Extended Data Fig. 2c)::

    g(y) = eps + softplus(kappa * (y - eps)) / kappa,     g'(y) = sigmoid(kappa * (y - eps))

Units of kappa (a decision; the text is not explicit). §8 derives in spikes/bin (20 ms bins) and §8.4
quotes "kappa = 10 and epsilon = 0.5 spikes/sec". We read kappa = 10 per (spikes/s), the unit eps is
quoted in (``KAPPA_BIN_MS = 1000``: the rate unit of kappa is spikes per 1000 ms), so
``KAPPA_HZ = 10`` per (spikes/s), transition width 1/kappa = 0.1 spikes/s = eps / 5. Three statements
of §8.4 hold only in this reading: "for yhat, y >> eps, g'(y) ~ 1 and g(y) ~ y" (at y = 10 eps = 5
spikes/s, g(y) - y = 3e-21 here; with kappa = 10 per spikes/bin at 20 ms, i.e. 0.2 per spikes/s, it is
1.7 spikes/s and g'(y) = 0.71); "eps determines the minimum value" (g(0) = 0.50 spikes/s here, 3.7
spikes/s under 0.2 per spikes/s); and region 5's eta = 0.01 as the gentle penalty on negative rates
where near-zero counts are observed (region 4: f0(U(0), 0) = 2e-6 << eta here, 0.28 = 28 eta under 0.2
per spikes/s, which pulls every suppressed neuron up towards ~0 and with it the stimulated latents:
on the quick `stim-lvm` simulation, counts censored at zero, the additive case's mean beta is 0.80
under 0.2 per spikes/s, 0.82 even with the true readout, and its distortion is flagged, 541 against a
null threshold of 467, against 0.94 and 480 against 612 here). The link is one fixed function of the rate in spikes/s,
whatever the data's bin width; `StimLVM(kappa_bin_ms=...)` states another rate unit for kappa (20 gives
0.2 per spikes/s).

so g -> eps as y -> -inf, g(y) ~ y for y >> eps and g(y) > y everywhere (g(y) - y = softplus(-kappa (y -
eps)) / kappa > 0).

Plain rectified Poisson with the observation wrapped in g as well (§8.4, to remove the pull of y above
yhat)::

    L0(y, yhat) = g(yhat) log g(y) - g(y),     f0(y, yhat) = dL0/dy = g'(y) (g(yhat) / g(y) - 1)

f0 vanishes at y = yhat and tends to 0 as y -> -inf whatever yhat is: for y below ~eps the surface is
flat, so a large count observed where the model predicts a negative rate exerts no pull, which is the
distortion the text describes. ``U(yhat) = argmax_y f0(y, yhat)`` is the point of steepest ascent, left
of yhat (the sign of df0/dy is that of ``kappa (1 - g'(y)) (g(yhat)/g(y) - 1) - g'(y) g(yhat)/g(y)^2``,
positive far left of eps and negative at y = yhat, found by bisection).

Shaped likelihood (the formula of h is lost from the text; derived here). The text keeps the first
term and transforms the second, ``L(y, yhat) = g(yhat) log g(y) - h_yhat(y)``, with h defined through
the gradient ``f = dL/dy`` that it must produce. We take::

    f(y, yhat) = f0(max(y, U(yhat)), yhat) + eta (1 - g'(y)),                 eta = 0.01

i.e. the Poisson gradient, held at its largest value f0(U, yhat) for y < U, plus a gentle push eta
towards positive rates that is switched off (as 1 - g'(y) = sigmoid(-kappa (y - eps))) above eps.
Integrating in y (constant chosen so that L = L0 for y >= U and eta = 0)::

    L(y, yhat) = L0(max(y, U), yhat) + f0(U, yhat) min(y - U, 0) + eta (y - g(y))
    h_yhat(y)  = (1 + eta) g(y) - eta y                                              (y >= U)
    h_yhat(y)  = g(yhat) log(g(y) / g(U)) + g(U) - f0(U, yhat) (y - U) - eta (y - g(y))   (y < U)

f is continuous (df0/dy = 0 at U, so f is C1 in y) and non-increasing in y, so L is concave in y. The
regions of Extended Data Fig. 2b, with the properties tested in ``tests/test_stim_lvm_likelihood.py``:

1. y, yhat > eps (a few 1/kappa above): f = yhat/y - 1 up to terms of order exp(-kappa (min(y, yhat) -
   eps)): a standard Poisson observation model, maximum at y = yhat;
2. yhat > eps, y <= U(yhat) (zero or negative rate with spikes observed): f = f0(U, yhat) + eta(1 - g'),
   at least the steepest Poisson slope, growing with yhat: high counts are discouraged at y <= 0;
3. yhat <= eps, y > eps (rate above the observed near-zero count): f < 0, the rate is pulled down;
4. yhat near 0, y < eps: 0 < f <= eta + f0(U, yhat) with f0(U, 0) ~ 1e-6: negative rates are allowed
   (the count is a censored observation of the rate);
5. y -> -inf: f -> f0(U, yhat) + eta >= eta: unnecessarily large negative rates are gently penalised.

The total log-likelihood (§8.4) is ``sum m * dt * L(rate, yhat)`` over conditions, times and neurons.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from neurodyn.validation import finite_array, positive

__all__ = ["KAPPA", "KAPPA_BIN_MS", "KAPPA_HZ", "EPS", "ETA", "rectify", "rectify_grad", "poisson_gradient", "steepest_point",
           "shaped_loglik", "shaped_gradient", "total_loglik", "poisson_deviance"]

KAPPA = 10.0            # per (spikes per KAPPA_BIN_MS ms) (§8.4)
KAPPA_BIN_MS = 1000.0   # i.e. kappa per (spikes/s), the unit eps is quoted in (module docstring)
KAPPA_HZ = KAPPA * KAPPA_BIN_MS / 1000.0     # sharpness on rates in spikes/s: 10
EPS = 0.5               # spikes/s
ETA = 0.01


def rectify(y: Float[Array, "*batch"], kappa: float = KAPPA_HZ, eps: float = EPS) -> Float[Array, "*batch"]:
    """Softplus rectification ``g(y) = eps + softplus(kappa (y - eps)) / kappa`` (seed 001 §8.4)."""
    return eps + jax.nn.softplus(kappa * (y - eps)) / kappa


def rectify_grad(y: Float[Array, "*batch"], kappa: float = KAPPA_HZ, eps: float = EPS) -> Float[Array, "*batch"]:
    """``g'(y) = sigmoid(kappa (y - eps))``."""
    return jax.nn.sigmoid(kappa * (y - eps))


def poisson_gradient(y: Float[Array, "*batch"], yhat: Float[Array, "*batch"], kappa: float = KAPPA_HZ, eps: float = EPS) -> Float[Array, "*batch"]:
    """``f0(y, yhat) = g'(y) (g(yhat)/g(y) - 1)``: gradient of the rectified Poisson term (§8.4)."""
    return rectify_grad(y, kappa, eps) * (rectify(yhat, kappa, eps) / rectify(y, kappa, eps) - 1.0)


def _slope_sign(y, s, kappa, eps):
    gp = rectify_grad(y, kappa, eps)
    gy = rectify(y, kappa, eps)
    return kappa * (1.0 - gp) * (s / gy - 1.0) - gp * s / gy ** 2


@partial(jax.jit, static_argnames=("kappa", "eps", "n_iter"))
def steepest_point(yhat: Float[Array, "*batch"], kappa: float = KAPPA_HZ, eps: float = EPS, n_iter: int = 100) -> Float[Array, "*batch"]:
    """``U(yhat) = argmax_y f0(y, yhat)`` by bisection on [eps - 40/kappa, max(yhat, eps - 40/kappa)].

    The sign of df0/dy (module docstring) is positive at the left end and negative at y = yhat.
    """
    yhat = jnp.asarray(yhat, dtype=jnp.float64)
    s = rectify(yhat, kappa, eps)
    lo = jnp.full_like(yhat, eps - 40.0 / kappa)
    hi = jnp.maximum(yhat, lo + 1e-9)

    def body(_, carry):
        lo, hi = carry
        mid = 0.5 * (lo + hi)
        up = _slope_sign(mid, s, kappa, eps) > 0
        return jnp.where(up, mid, lo), jnp.where(up, hi, mid)

    lo, hi = jax.lax.fori_loop(0, n_iter, body, (lo, hi))
    return 0.5 * (lo + hi)


@partial(jax.jit, static_argnames=("kappa", "eps", "eta"))
def shaped_loglik(y: Float[Array, "*batch"], yhat: Float[Array, "*batch"], U: Float[Array, "*batch"] | None = None, kappa: float = KAPPA_HZ, eps: float = EPS,
                  eta: float = ETA) -> Float[Array, "*batch"]:
    """Shaped log-likelihood per unit ``m * dt`` (module docstring)::

        L(y, yhat) = L0(max(y, U), yhat) + f0(U, yhat) min(y - U, 0) + eta (y - g(y))

    ``U`` = `steepest_point(yhat)` may be passed precomputed (it depends on the data only).
    """
    if U is None:
        U = steepest_point(yhat, kappa, eps)
    s = rectify(yhat, kappa, eps)
    ym = jnp.maximum(y, U)
    base = s * jnp.log(rectify(ym, kappa, eps)) - rectify(ym, kappa, eps)
    held = poisson_gradient(U, yhat, kappa, eps) * jnp.minimum(y - U, 0.0)
    return base + held + eta * (y - rectify(y, kappa, eps))


@partial(jax.jit, static_argnames=("kappa", "eps", "eta"))
def shaped_gradient(y: Float[Array, "*batch"], yhat: Float[Array, "*batch"], U: Float[Array, "*batch"] | None = None, kappa: float = KAPPA_HZ, eps: float = EPS,
                    eta: float = ETA) -> Float[Array, "*batch"]:
    """``f(y, yhat) = f0(max(y, U), yhat) + eta (1 - g'(y))`` in closed form (the derivative of h, §8.4)."""
    if U is None:
        U = steepest_point(yhat, kappa, eps)
    return (poisson_gradient(jnp.maximum(y, U), yhat, kappa, eps)
            + eta * (1.0 - rectify_grad(y, kappa, eps)))


def total_loglik(rates: Float[Array, "conditions time neurons"], observed: Float[Array, "conditions time neurons"],
                 n_trials: Float[Array, "#conditions #time #neurons"], dt_s: float,
                 U: Float[Array, "conditions time neurons"] | None = None, kappa: float = KAPPA_HZ, eps: float = EPS,
                 eta: float = ETA) -> Float[Array, ""]:
    """``sum_{c,t,d} m_{c,t,d} dt L(rate, yhat)`` (seed 001 §8.4); rates and observations in spikes/s."""
    return jnp.sum(n_trials * dt_s * shaped_loglik(rates, observed, U, kappa, eps, eta))


def poisson_deviance(rates: Float[np.ndarray, "*batch neurons"], observed: Float[np.ndarray, "*batch neurons"],
                     n_trials: Float[np.ndarray, "*#batch #neurons"], dt_s: float, kappa: float = KAPPA_HZ,
                     eps: float = EPS, axis_neurons: int = -1) -> tuple[float, float]:
    """Poisson deviance per observation with its jackknife standard error over neurons (seed 001 §8.7).

    With trial-summed counts ``k = m dt yhat`` and fitted means ``lam = m dt g(x)``::

        D = 2 sum_{c,t,d} [ k log(k / lam) - (k - lam) ]      (k log k := 0 at k = 0)

    normalised by the number of observations (entries with m > 0). The jackknife leaves one neuron out
    at a time: ``SE = sqrt((N-1)/N sum_j (d_(-j) - mean)^2)`` over the N leave-one-out means.
    Returns ``(deviance_per_obs, jackknife_se)``.
    """
    x = finite_array("rates", rates)
    yhat = finite_array("observed", observed)
    m = np.broadcast_to(finite_array("n_trials", n_trials), x.shape)
    if x.shape != yhat.shape:
        raise ValueError(f"observed=array of shape {yhat.shape}: expected the shape of rates {x.shape}")
    if np.any(yhat < 0):
        raise ValueError("observed=array with negative entries: expected non-negative spike rates")
    positive("dt_s", dt_s)
    k = m * dt_s * yhat
    lam = m * dt_s * np.asarray(rectify(jnp.asarray(x), kappa, eps))
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(k > 0, k * np.log(k / lam), 0.0) - (k - lam)
    dev = 2.0 * np.moveaxis(term, axis_neurons, -1).reshape(-1, x.shape[axis_neurons])
    obs = np.moveaxis(m > 0, axis_neurons, -1).reshape(-1, x.shape[axis_neurons])
    per_neuron_sum = dev.sum(0)
    per_neuron_n = obs.sum(0)
    total = per_neuron_sum.sum() / max(per_neuron_n.sum(), 1)
    n = per_neuron_sum.size
    if n < 2:
        raise ValueError(f"rates=array of shape {x.shape}: expected at least 2 neurons for the jackknife")
    loo = (per_neuron_sum.sum() - per_neuron_sum) / np.maximum(per_neuron_n.sum() - per_neuron_n, 1)
    se = np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2))
    return float(total), float(se)

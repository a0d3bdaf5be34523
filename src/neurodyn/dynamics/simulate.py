"""Batched, jitted simulation of rate networks (thesis, seed 003, eq. 2.1)::

    tau dx/dt = -x + W f(x; g) + h(t) + sigma * xi(t)

with fixed-step RK4 (default) or forward Euler, integrated by `jax.lax.scan` under `jax.jit`, so the
same code runs many trials, gain patterns or noise draws at once on a CPU or a GPU.

Batching: ``x0`` has shape ``(..., N)``; ``gains`` may be ``(N,)`` or ``(..., N)``; the input ``h``
may be ``None``, a constant array broadcastable to ``(..., N)`` or a JAX-traceable callable
``h(t_ms) -> (..., N)``. All leading axes broadcast together; the result has shape
``(..., T, N)`` where ``T = len(t_eval)`` (DESIGN.md: arrays are ``(..., time, neurons)``).

Noise: ``sigma`` (``noise_sd``) is the amplitude of additive white-noise input xi in the units of h
per sqrt(ms); each step adds ``sigma sqrt(dt) / tau * N(0, 1)`` after the deterministic update
(Euler-Maruyama for additive noise, the standard splitting for RK4). Draws use an explicit ``key``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from neurodyn.validation import fail, finite_array, positive
from neurodyn.dynamics.gain import GainFunction, Tanh
from neurodyn.network import Network

__all__ = ["integrate", "piecewise_constant_input", "simulate", "time_grid", "zero_input"]


@dataclass(frozen=True)
class _TimeInput:
    """A user input ``h(t)`` seen by `integrate` as ``h(t, args)`` (hashable: a static argument)."""

    h: Callable

    def __call__(self, t, args=None):
        return self.h(t)


def time_grid(t_eval: Float[np.ndarray, "time"], dt: float, t0: float = 0.0) -> tuple[int, int, int]:
    """Check ``t_eval`` (ms) lies on the grid ``t0 + k dt`` with uniform spacing.

    Returns ``(k0, stride, n_out)``: steps before the first output, steps between outputs, outputs.
    """
    t = finite_array("t_eval", t_eval)
    if t.ndim != 1 or t.size == 0:
        fail("t_eval", t, "a non-empty 1-d array of times (ms)")
    k = (t - t0) / dt
    kr = np.round(k)
    if np.any(np.abs(k - kr) > 1e-6 * np.maximum(1.0, np.abs(k))) or np.any(kr < 0):
        fail("t_eval", t, f"times >= t0={t0} on the integration grid (multiples of dt={dt} ms)")
    kr = kr.astype(np.int64)
    if t.size == 1:
        return int(kr[0]), 1, 1
    strides = np.diff(kr)
    if np.any(strides <= 0) or np.any(strides != strides[0]):
        fail("t_eval", t, "uniformly spaced, increasing times")
    return int(kr[0]), int(strides[0]), int(t.size)


def piecewise_constant_input(values: Float[Array, "*batch pieces neurons"], t_edges_ms: Float[np.ndarray, "edges"]) -> Callable:
    """An input ``h(t)`` equal to ``values[..., j, :]`` for ``t_edges[j] <= t < t_edges[j + 1]``.

    ``values`` has shape ``(..., J, N)``; ``t_edges_ms`` has J + 1 increasing entries; outside the
    edges the input is zero. Useful for the piecewise-constant inputs of seed 001 §9.
    """
    vals = jnp.asarray(values)
    edges = jnp.asarray(finite_array("t_edges_ms", t_edges_ms, ndim=1))
    if edges.shape[0] != vals.shape[-2] + 1:
        fail("t_edges_ms", edges, f"{vals.shape[-2] + 1} edges for {vals.shape[-2]} pieces")

    def h(t):
        j = jnp.searchsorted(edges, t, side="right") - 1
        inside = (j >= 0) & (j < vals.shape[-2])
        piece = jnp.take(vals, jnp.clip(j, 0, vals.shape[-2] - 1), axis=-2)
        return jnp.where(inside, piece, 0.0)

    return h


def zero_input(t: Float[Array, ""], args=None) -> float:
    """The input ``h(t, args) = 0`` (no external drive)."""
    return 0.0


def integrate(W: Float[Array, "neurons neurons"], tau: Float[Array, "*neurons"], gains: Float[Array, "*batch neurons"],
              x0: Float[Array, "*batch neurons"], h_const: Float[Array, "*batch neurons"], h_args, key: Array,
              noise_sd: float, dt: float, t0: float, *, gain_fn: GainFunction, h_fn: Callable, method: str,
              k0: int, stride: int, n_out: int, noisy: bool) -> Float[Array, "*batch time neurons"]:
    """The one integration kernel of eq. (2.1) (thesis, seed 003), ``tau dx/dt = -x + W f(x; g) + h(t)``.

    Fixed-step RK4 (``method="rk4"``) or forward Euler on the grid ``t_k = t0 + k dt`` from
    ``x(t0) = x0``; the input is ``h_const + h_fn(t, h_args)`` (``h_args`` a traced pytree, e.g. an
    input direction per trial). The RK4 step, with ``F(x, t) = (-x + W f(x; g) + h(t)) / tau``:

        k1 = F(x, t),  k2 = F(x + dt k1 / 2, t + dt / 2),  k3 = F(x + dt k2 / 2, t + dt / 2),
        k4 = F(x + dt k3, t + dt),   x <- x + dt (k1 + 2 k2 + 2 k3 + k4) / 6;

    with ``noisy`` each step then adds ``noise_sd sqrt(dt) / tau * N(0, 1)`` drawn from
    ``fold_in(key, k)`` (module docstring). States are recorded after ``k0`` steps and then every
    ``stride`` steps, ``n_out`` in all. A pure, traceable function: `simulate` runs it jitted on a
    broadcast batch, `neurodyn.learning.TrialDynamics` jitted with the grid (``dt``, ``t0``) as
    compile-time constants under `jax.vmap` (one trial) and `jax.grad`.
    """
    WT = W.T

    def rhs(x, t):
        return (-x + gain_fn(x, gains) @ WT + h_const + h_fn(t, h_args)) / tau

    def step(carry, _=None):
        x, k = carry
        t = t0 + k * dt
        if method == "rk4":
            k1 = rhs(x, t)
            k2 = rhs(x + 0.5 * dt * k1, t + 0.5 * dt)
            k3 = rhs(x + 0.5 * dt * k2, t + 0.5 * dt)
            k4 = rhs(x + dt * k3, t + dt)
            x = x + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        else:
            x = x + dt * rhs(x, t)
        if noisy:
            xi = jax.random.normal(jax.random.fold_in(key, k), x.shape, x.dtype)
            x = x + noise_sd * jnp.sqrt(dt) / tau * xi
        return (x, k + 1)

    def advance(carry, nsteps):
        return jax.lax.fori_loop(0, nsteps, lambda i, c: step(c), carry)

    carry = (x0, jnp.asarray(0, dtype=jnp.int32))
    if k0:
        carry = advance(carry, k0)

    def record(c, _):
        c = advance(c, stride)
        return c, c[0]

    first = carry[0]
    if n_out == 1:
        out = first[None]
    else:
        _, rest = jax.lax.scan(record, carry, None, length=n_out - 1)
        out = jnp.concatenate([first[None], rest], axis=0)
    return jnp.moveaxis(out, 0, -2)


_integrate_jit = jax.jit(integrate, static_argnames=("gain_fn", "h_fn", "method", "k0", "stride", "n_out", "noisy"))


def simulate(network: Network, x0: Float[Array, "*batch neurons"], t_eval: Float[np.ndarray, "time"], *, dt: float = 1.0,
             gain_fn: GainFunction | None = None, gains: Float[Array, "*batch neurons"] | None = None, h=None,
             noise_sd: float = 0.0, key=None, method: str = "rk4",
             t0: float = 0.0) -> Float[Array, "*batch time neurons"]:
    """Integrate ``tau dx/dt = -x + W f(x; g) + h(t)`` (thesis eq. 2.1) from ``x(t0) = x0``.

    Parameters
    ----------
    network : Network
        Supplies ``W`` and ``tau`` (scalar or per neuron); ``network.gains`` unless ``gains`` given.
    x0 : (..., N) array
        Initial condition(s); leading axes are a batch (trials, conditions, sessions, ...).
    t_eval : (T,) array
        Output times in ms, uniformly spaced on the grid ``t0 + k dt``.
    dt : float
        Integration step in ms; must be smaller than the smallest tau.
    gain_fn : GainFunction
        ``Tanh()`` (eq. 3.2, r0 = 20, rmax = 100) by default; ``Linear()``; ``PositiveTanh()``.
    gains : (N,) or (..., N) array, optional
        Per-neuron gains; batched gain patterns broadcast against ``x0``.
    h : None, array (..., N) or callable ``h(t_ms)``
        External input.
    noise_sd : float
        Additive white-noise amplitude (see module docstring); needs ``key``.
    method : "rk4" or "euler"

    Returns
    -------
    x : (..., T, N) jax array of states at ``t_eval``.
    """
    if not isinstance(network, Network):
        fail("network", network, "a neurodyn.Network", TypeError)
    dt = positive("dt", dt)
    tau = np.asarray(network.tau, dtype=float)
    if dt >= float(tau.min()):
        fail("dt", dt, f"a step smaller than tau={float(tau.min()):g} ms")
    if method not in ("rk4", "euler"):
        fail("method", method, "'rk4' or 'euler'")
    gain_fn = Tanh() if gain_fn is None else gain_fn
    if not isinstance(gain_fn, GainFunction):
        fail("gain_fn", gain_fn, "a neurodyn.dynamics gain function (Tanh, PositiveTanh, Linear)", TypeError)
    n = network.n
    x0 = jnp.asarray(x0)
    if x0.ndim < 1 or x0.shape[-1] != n:
        fail("x0", x0, f"shape (..., {n}) (one value per neuron)")
    if not bool(jnp.all(jnp.isfinite(x0))):
        fail("x0", x0, "finite values")
    gains = jnp.asarray(network.gains if gains is None else gains, dtype=x0.dtype)
    if gains.ndim < 1 or gains.shape[-1] != n:
        fail("gains", gains, f"shape (..., {n})")
    noise_sd = float(noise_sd)
    if noise_sd < 0 or not np.isfinite(noise_sd):
        fail("noise_sd", noise_sd, "a finite value >= 0")
    noisy = noise_sd > 0
    if noisy and key is None:
        fail("key", key, "a jax.random key when noise_sd > 0")
    if key is None:
        key = jax.random.PRNGKey(0)
    elif isinstance(key, (int, np.integer)):
        key = jax.random.PRNGKey(int(key))
    k0, stride, n_out = time_grid(t_eval, dt, t0)
    if h is None:
        h_const, h_fn = jnp.zeros((), x0.dtype), zero_input
    elif callable(h):
        h_const, h_fn = jnp.zeros((), x0.dtype), _TimeInput(h)
    else:
        h_const, h_fn = jnp.asarray(h, dtype=x0.dtype), zero_input
        if h_const.ndim and h_const.shape[-1] not in (1, n):
            fail("h", h_const, f"shape (..., {n}) or a callable h(t)")
    h_shape = jax.eval_shape(h_fn, jnp.asarray(t0, x0.dtype), None).shape
    batch = jnp.broadcast_shapes(x0.shape, gains.shape, jnp.shape(h_const), h_shape)
    x0b = jnp.broadcast_to(x0, batch)
    return _integrate_jit(jnp.asarray(network.W, x0.dtype), jnp.asarray(tau, x0.dtype), gains, x0b,
                          h_const, None, key, noise_sd, dt, t0, gain_fn=gain_fn, h_fn=h_fn, method=method,
                          k0=k0, stride=stride, n_out=n_out, noisy=noisy)

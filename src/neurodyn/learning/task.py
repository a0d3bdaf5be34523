"""The gain-learning task: fixed network, fixed initial condition, fixed readout, new target.

Thesis (seed 003) §3.2: the activity follows eq. (3.1) with per-neuron gains (eq. 3.2),

    tau dx/dt = -x + W f(x; g) + h(t),        x(t_start) = x_start,

and the output is the readout of eq. (3.4) on the excitatory rates, ``z(t) = m^T f(x_E(t); g_E) + b``.
Arrays put time before units: states ``(..., time, neurons)``, outputs and targets
``(..., time, readouts)``.
Only the gains ``g`` change during learning (§3.4); the error is ``1 - R^2`` (Appendix D).

`TrialDynamics` integrates eq. (3.1) with the package's one fixed-step RK4 (or Euler) kernel,
`neurodyn.dynamics.integrate` (the kernel of `simulate`), as a pure function of ``(W, gains, x0)`` so
that the learning rules can `jax.vmap` it over thousands of sessions and `jax.grad` it for
back-propagation. Time is in ms; outputs are sampled at ``t_ms``.

Preparatory ramping input (thesis §3.6, after Hennequin et al. 2014): ``h(t) = c * r(t)`` with
``r(t) = exp(t / tau_on)`` for ``t < 0`` and ``exp(-t / tau_off)`` for ``t >= 0`` (tau_on = 400 ms,
tau_off = 2 ms), starting from rest (x = 0) at ``t = -t_prep``. The text does not give the input
direction c; we take ``c = x0 - W f(x0; 1)``, the constant input for which x0 is a fixed point of eq.
(3.1) with all gains 1, so that the slow ramp brings the network near x0 at movement onset with the
initial gains (and gain changes during preparation move the onset state, as §3.6 describes).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from neurodyn.validation import fail, finite_array, positive
from neurodyn.analysis.stability import spectral_abscissa
from neurodyn.dynamics.gain import GainFunction, Tanh
from neurodyn.dynamics.simulate import integrate, zero_input
from neurodyn.learning.error import output_error
from neurodyn.network import Network

__all__ = ["GainTask", "RampInput", "Readout", "TrialDynamics", "check_stability", "readout_output"]


class Readout(NamedTuple):
    """Readout of eq. (3.4): weights ``m`` (readouts x excitatory neurons) and offsets ``b`` (readouts)."""

    m: Float[Array, "readouts neurons"]
    b: Float[Array, "readouts"]


def readout_output(readout: Readout, rates_e: Float[Array, "*batch time neurons"]) -> Float[Array, "*batch time readouts"]:
    """``z_k(t) = m_k^T f(x_E(t); g_E) + b_k`` (eq. 3.4): excitatory rates ``(..., T, N_E)`` -> outputs
    ``(..., T, readouts)``."""
    return jnp.asarray(rates_e) @ jnp.asarray(readout.m).T + jnp.asarray(readout.b)


@dataclass(frozen=True)
class RampInput:
    """Ramping preparatory input of thesis §3.6: exp(t/tau_on) before onset, exp(-t/tau_off) after."""

    tau_on_ms: float = 400.0
    tau_off_ms: float = 2.0
    t_prep_ms: float = 1200.0

    def __post_init__(self):
        positive("tau_on_ms", self.tau_on_ms)
        positive("tau_off_ms", self.tau_off_ms)
        positive("t_prep_ms", self.t_prep_ms)

    def __call__(self, t: Float[Array, "*batch"]) -> Float[Array, "*batch"]:
        return jnp.where(t < 0, jnp.exp(jnp.minimum(t, 0.0) / self.tau_on_ms),
                         jnp.exp(-jnp.maximum(t, 0.0) / self.tau_off_ms))

    def input(self, t: Float[Array, ""], direction: Float[Array, "*batch neurons"]) -> Float[Array, "*batch neurons"]:
        """The input ``h(t) = r(t) c`` of direction ``c`` (the ``h_fn`` of `neurodyn.dynamics.integrate`)."""
        return self(t) * direction


def check_stability(W: Float[np.ndarray, "neurons neurons"], gains: Float[np.ndarray, "neurons"], *,
                    name: str = "network") -> float:
    """Warn when ``alpha(W diag(g)) >= 1`` (thesis eq. 2.3); returns that spectral abscissa.

    The message gives alpha(W) and the critical gain ``1 / alpha(W)`` (for uniform gains).
    """
    W = np.asarray(W, dtype=float)
    g = np.asarray(gains, dtype=float)
    a_g = spectral_abscissa(W * g[None, :])
    if a_g >= 1.0:
        a = spectral_abscissa(W)
        gc = np.inf if a <= 0 else 1.0 / a
        warnings.warn(f"{name} is unstable at the initial gains: alpha(W diag(g)) = {a_g:.4g} >= 1 "
                      f"(alpha(W) = {a:.4g}, critical gain 1/alpha(W) = {gc:.4g}); activity may grow or be "
                      "chaotic", RuntimeWarning, stacklevel=3)
    return a_g


@partial(jax.jit, static_argnames=("gain_fn", "h_fn", "method", "dt", "t0", "k0", "stride", "n_out"))
def _trial(W, tau, gains, x_init, drive, *, gain_fn, h_fn, method, dt, t0, k0, stride, n_out):
    """One noise-free trial ``(n_out, N)`` of `integrate`, the grid (``dt``, ``t0``) fixed at compile time."""
    return integrate(W, tau, gains, x_init, jnp.zeros((), W.dtype), drive, None, 0.0, dt, t0, gain_fn=gain_fn,
                     h_fn=h_fn, method=method, k0=k0, stride=stride, n_out=n_out, noisy=False)


@dataclass(frozen=True, eq=False)
class TrialDynamics:
    """One movement: network, initial condition, sampling times, gain function (thesis §3.2.1).

    Parameters
    ----------
    network : Network
        W (first ``n_excitatory`` neurons are the readout's excitatory population) and tau.
    x0 : (N,) array
        Initial condition at movement onset t = 0 (thesis: the preferred initial condition,
        ||x0|| = 1.5 sqrt(N), Appendix C.2).
    t_ms : (T,) array
        Uniformly spaced output times >= 0 (ms), e.g. 0, 2.5, ..., 497.5 (400 Hz, §3.2.2).
    gain_fn : GainFunction
        ``Tanh(r0=20, rmax=100)`` of eq. (3.2) by default (§3.7 uses r0 = 5).
    dt : float
        Largest integration step (ms); the step used divides the sampling interval.
    ramp : RampInput, optional
        Preparatory ramping input of §3.6.
    method : "rk4" or "euler"
    """

    network: Network
    x0: Float[np.ndarray, "neurons"]
    t_ms: Float[np.ndarray, "time"]
    gain_fn: GainFunction = field(default_factory=Tanh)
    dt: float = 2.5
    ramp: RampInput | None = None
    method: str = "rk4"

    def __post_init__(self):
        if not isinstance(self.network, Network):
            fail("network", self.network, "a neurodyn.Network", TypeError)
        exc = self.network.is_excitatory
        if not exc.any() or not np.array_equal(exc, np.arange(exc.size) < exc.sum()):
            fail("network.cell_types", self.network.cell_types, "E/I labels with the excitatory neurons first "
                 "(the readout reads the excitatory rates, eq. 3.4)")
        n = self.network.n
        x0 = finite_array("x0", self.x0)
        if x0.shape != (n,):
            fail("x0", x0, f"a vector of length N={n}")
        t = finite_array("t_ms", self.t_ms, ndim=1)
        if t.size < 2 or t[0] < 0:
            fail("t_ms", t, "at least 2 sample times >= 0 (ms)")
        step = np.diff(t)
        if np.any(step <= 0) or not np.allclose(step, step[0], rtol=1e-9, atol=1e-12):
            fail("t_ms", t, "uniformly spaced increasing sample times")
        if not isinstance(self.gain_fn, GainFunction):
            fail("gain_fn", self.gain_fn, "a neurodyn.dynamics gain function", TypeError)
        dt_max = positive("dt", self.dt)
        if self.method not in ("rk4", "euler"):
            fail("method", self.method, "'rk4' or 'euler'")
        if self.ramp is not None and not isinstance(self.ramp, RampInput):
            fail("ramp", self.ramp, "a RampInput or None", TypeError)
        stride = int(np.ceil(step[0] / dt_max - 1e-9))
        dt = float(step[0] / stride)
        tau_min = float(np.min(self.network.tau))
        if dt >= tau_min:
            fail("dt", self.dt, f"a step smaller than tau={tau_min:g} ms")
        k0 = t[0] / dt
        if abs(k0 - round(k0)) > 1e-6:
            fail("t_ms", t, f"a first sample time on the integration grid (multiple of {dt:g} ms)")
        n_prep = 0
        if self.ramp is not None:
            n_prep = int(np.ceil(self.ramp.t_prep_ms / dt - 1e-9))
        object.__setattr__(self, "x0", x0)
        object.__setattr__(self, "t_ms", t)
        object.__setattr__(self, "_grid", dict(dt=dt, stride=stride, n_out=int(t.size),
                                                k0=int(round(k0)) + n_prep, t0=-n_prep * dt))

    @property
    def n(self) -> int:
        return self.network.n

    @property
    def n_excitatory(self) -> int:
        """Number of excitatory neurons, the first ``N_E`` of the network (checked in ``__post_init__``)."""
        return self.network.n_excitatory

    @property
    def step_ms(self) -> float:
        """Integration step actually used (ms)."""
        return self._grid["dt"]

    def states(self, gains: Float[Array, "*batch neurons"] | None = None, x0: Float[Array, "*batch neurons"] | None = None,
               W: Float[Array, "neurons neurons"] | None = None) -> Float[Array, "*batch time neurons"]:
        """States ``(..., T, N)`` at ``t_ms`` for gains/x0 batched on leading axes (differentiable)."""
        W = jnp.asarray(self.network.W if W is None else W)
        tau = jnp.asarray(self.network.tau, dtype=W.dtype)
        gains = jnp.ones(self.n, W.dtype) if gains is None else jnp.asarray(gains, W.dtype)
        x0 = jnp.asarray(self.x0 if x0 is None else x0, W.dtype)
        batch = jnp.broadcast_shapes(gains.shape, x0.shape)
        gains = jnp.broadcast_to(gains, batch).reshape(-1, self.n)
        x0 = jnp.broadcast_to(x0, batch).reshape(-1, self.n)
        if self.ramp is None:
            x_init, drive = x0, jnp.zeros_like(x0)
        else:
            # derived input direction (module docstring): x0 is a fixed point at gains 1
            drive = x0 - self.gain_fn(x0, 1.0) @ W.T
            x_init = jnp.zeros_like(x0)
        grid = self._grid
        h_fn = zero_input if self.ramp is None else self.ramp.input
        fn = partial(_trial, gain_fn=self.gain_fn, h_fn=h_fn, method=self.method, **grid)
        out = jax.vmap(lambda g, xi, d: fn(W, tau, g, xi, d))(gains, x_init, drive)
        return out.reshape(batch[:-1] + out.shape[-2:])

    def rates_e(self, gains: Float[Array, "*batch neurons"] | None = None, x0: Float[Array, "*batch neurons"] | None = None,
                W: Float[Array, "neurons neurons"] | None = None) -> Float[Array, "*batch time neurons"]:
        """Excitatory rates ``f(x_E; g_E)``: ``(..., T, N_E)`` (the readout's input, eq. 3.4)."""
        x = self.states(gains, x0, W)
        ne = self.n_excitatory
        g = jnp.ones(self.n, x.dtype) if gains is None else jnp.asarray(gains, x.dtype)
        return self.gain_fn(x[..., :ne], g[..., None, :ne])


@dataclass(frozen=True, eq=False)
class GainTask:
    """Dynamics + fixed readout + targets ``(P, T, readouts)``: P independent problems, each a target
    for every readout (``(P, T)`` or ``(T,)`` with one readout; ``(T, readouts)`` for one problem)."""

    dynamics: TrialDynamics
    readout: Readout
    targets: Float[np.ndarray, "problems time readouts"]

    def __post_init__(self):
        if not isinstance(self.dynamics, TrialDynamics):
            fail("dynamics", self.dynamics, "a TrialDynamics", TypeError)
        m = finite_array("readout.m", self.readout.m)
        b = finite_array("readout.b", self.readout.b)
        ne = self.dynamics.n_excitatory
        if m.ndim == 1:
            m = m[None]
        b = np.atleast_1d(b)
        if m.ndim != 2 or m.shape[1] != ne:
            fail("readout.m", m, f"shape (readouts, {ne}): one weight per excitatory neuron")
        if b.shape != (m.shape[0],):
            fail("readout.b", b, f"{m.shape[0]} offsets (one per readout)")
        y = finite_array("targets", self.targets)
        T = self.dynamics.t_ms.size
        n_readouts = m.shape[0]
        if y.ndim == 1:
            y = y[None, :, None]
        elif y.ndim == 2:
            y = y[:, :, None] if n_readouts == 1 else y[None]  # (P, T) for one readout, else (T, readouts)
        if y.ndim != 3 or y.shape[1:] != (T, n_readouts):
            fail("targets", y, f"shape (P, {T}, {n_readouts}): T={T} samples (len(t_ms)) and {n_readouts} readouts")
        if np.any(np.ptp(y, axis=-2) == 0):
            fail("targets", y, "targets that vary in time (1 - R^2 divides by their variance)")
        object.__setattr__(self, "readout", Readout(jnp.asarray(m), jnp.asarray(b)))
        object.__setattr__(self, "targets", y)

    @property
    def n_problems(self) -> int:
        return int(self.targets.shape[0])

    def output(self, gains: Float[Array, "*batch neurons"] | None = None, x0: Float[Array, "*batch neurons"] | None = None,
               W: Float[Array, "neurons neurons"] | None = None) -> Float[Array, "*batch time readouts"]:
        """Network output ``(..., T, readouts)`` (eq. 3.4)."""
        return readout_output(self.readout, self.dynamics.rates_e(gains, x0, W))

    @cached_property
    def output_jit(self):
        """`output` compiled once per task (``jax.jit``; recompiled only for new input shapes)."""
        return jax.jit(self.output)

    def errors(self, gains: Float[Array, "*batch neurons"] | None = None, x0: Float[Array, "*batch neurons"] | None = None,
               W: Float[Array, "neurons neurons"] | None = None) -> Float[Array, "*batch problems"]:
        """``1 - R^2`` (mean over readouts) against every problem's target: ``(..., P)``."""
        z = self.output(gains, x0, W)
        return output_error(z[..., None, :, :], jnp.asarray(self.targets))

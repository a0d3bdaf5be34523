"""Building the movement-generating circuits of thesis (seed 003) chapter 3.

* `preferred_x0`: the initial condition that maximises the evoked energy (Appendix C.2): the top
  eigenvector a_1 of the observability Gramian Q of ``W - I`` (``A^T Q + Q A = -2I``), scaled so that
  ``||x0||_2 = 1.5 sqrt(N)`` (Hennequin et al. 2014, thesis end of Appendix C.2).
* `soc_dynamics`: the 200-neuron stability-optimised circuit of §3.2.1 (Appendix C.1; p = 0.1,
  rho = 10, gamma = 3, spectral abscissa < 0.15, tau = 200 ms) with x0 = `preferred_x0`.
* `chaotic_dynamics`: the 'chaotic' variant of §3.6: the random Dale matrix before optimisation with
  gamma = 1, rho = 1.5, tau = 20 ms, x0 ~ U[-10, 10]^N, first 0.5 s.
* `rate_amplitude`: peak |f(x_E; 1)| of the trial at gains 1: the "magnitude of the rates" to which
  targets are scaled (§3.2.2).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

from neurodyn.validation import positive, positive_int
from neurodyn.analysis.gramians import preferred_initial_conditions
from neurodyn.connectivity.random_ei import random_ei
from neurodyn.dynamics.gain import Tanh
from neurodyn.learning.task import RampInput, TrialDynamics
from neurodyn.learning.targets import sample_times
from neurodyn.network import Network

__all__ = ["chaotic_dynamics", "preferred_x0", "rate_amplitude", "soc_dynamics", "soc_network"]


def preferred_x0(network: Network | Float[np.ndarray, "neurons neurons"], scale: float = 1.5) -> Float[np.ndarray, "neurons"]:
    """``x0 = scale sqrt(N) a_1`` with a_1 the top eigenvector of Q (Appendix C.2)."""
    W = network.W if isinstance(network, Network) else np.asarray(network)
    _, V = preferred_initial_conditions(W, 1.0)
    return positive("scale", scale) * np.sqrt(W.shape[0]) * V[:, 0]


def soc_network(n: int = 200, seed: int = 0, *, target: float = 0.15, tau: float = 200.0) -> Network:
    """The SOC of Appendix C.1 (p = 0.1, rho = 10, gamma = 3) as a Dale `Network`."""
    from neurodyn.connectivity.soc import soc  # built lazily: optimisation takes ~1 min at N = 200

    return soc(n=positive_int("n", n, 2), p=0.1, rho=10.0, gamma=3.0, target=target, seed=seed, tau=tau).network


def soc_dynamics(n: int = 200, seed: int = 0, *, r0: float = 20.0, dt: float = 2.5, ramp: RampInput | None = None,
                 duration_ms: float = 500.0, rate_hz: float = 400.0, target: float = 0.15,
                 network: Network | None = None) -> TrialDynamics:
    """SOC trial of §3.2 (500 ms sampled at 400 Hz) from its preferred initial condition."""
    net = soc_network(n, seed, target=target) if network is None else network
    return TrialDynamics(net, preferred_x0(net), sample_times(duration_ms, rate_hz), gain_fn=Tanh(r0=r0),
                         dt=dt, ramp=ramp)


def chaotic_dynamics(n: int = 200, seed: int = 0, *, r0: float = 20.0, dt: float = 2.5,
                     duration_ms: float = 500.0, rate_hz: float = 400.0) -> TrialDynamics:
    """Chaotic variant of §3.6: ``random_ei(n, 0.1, rho=1.5, gamma=1, tau=20)``, x0 ~ U[-10, 10]."""
    net = random_ei(n, 0.1, 1.5, 1.0, seed=seed, tau=20.0)
    x0 = np.random.default_rng(seed + 1).uniform(-10.0, 10.0, n)
    return TrialDynamics(net, x0, sample_times(duration_ms, rate_hz), gain_fn=Tanh(r0=r0), dt=dt)


def rate_amplitude(dynamics: TrialDynamics) -> float:
    """Peak absolute excitatory rate ``max |f(x_E(t); 1)|`` of the noise-free trial at gains 1."""
    return float(np.max(np.abs(np.asarray(dynamics.rates_e()))))

"""A user's own gain-learning network from an ``.npz`` file (format in docs/gain_learning_network.md).

Keys (thesis, seed 003, §3.2 notation):

* ``W``: (N, N) weights, ``W[i, j]`` from neuron j onto neuron i; N even, the first N/2 neurons are
  excitatory (the readout's population) and the rest inhibitory (Dale's law is not required);
* ``x0``: (N,) initial condition at movement onset;
* ``m``: (N/2,) readout weights and ``b``: scalar offset of eq. (3.4), ``z(t) = m^T f(x_E(t); g_E) + b``;
* ``target``: (T,) the output to learn;
* optional ``t_ms``: (T,) uniformly spaced sample times in ms (default: T points evenly from 0 to
  ``duration_ms``); optional ``tau``: time constant in ms (scalar, default 200).

Arrays are read with ``allow_pickle=False``; every problem is reported as a one-line ``ValueError``
naming the key, what was found and what is expected.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jaxtyping import Float

from neurodyn.validation import fail, finite_array, positive
from neurodyn.dynamics.gain import GainFunction, Tanh
from neurodyn.learning.task import GainTask, Readout, TrialDynamics
from neurodyn.network import Network, cell_types_ei

__all__ = ["UserGainNetwork", "load_gain_network", "network_arrays"]

REQUIRED = ("W", "x0", "m", "b", "target")


@dataclass(frozen=True, eq=False)
class UserGainNetwork:
    """A loaded file: ``dynamics`` (network, x0, t_ms), the fixed ``readout`` and the ``target``."""

    dynamics: TrialDynamics
    readout: Readout
    target: Float[np.ndarray, "time"]

    def task(self) -> GainTask:
        return GainTask(self.dynamics, self.readout, self.target[None, :, None])


def load_gain_network(path: str | os.PathLike, *, duration_ms: float = 500.0, dt: float = 2.5,
                      gain_fn: GainFunction | None = None) -> UserGainNetwork:
    """Read and validate a gain-learning network file (see module docstring)."""
    path = Path(path)
    if not path.is_file():
        fail("network", str(path), "an existing .npz file", FileNotFoundError)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as exc:  # BadZipFile, OSError, ValueError (pickled object arrays)
        raise ValueError(f"network={str(path)!r}: expected a readable .npz file ({exc})") from None
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        fail("network", str(path), f"an .npz with keys {list(REQUIRED)} (missing {missing}; found {sorted(data)})")
    W = finite_array("W", data["W"])
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] < 2 or W.shape[0] % 2:
        fail("W", W, "an N x N matrix with N even (first N/2 excitatory)")
    n = W.shape[0]
    x0 = finite_array("x0", data["x0"])
    if x0.shape != (n,):
        fail("x0", x0, f"a vector of length N={n}")
    m = finite_array("m", data["m"])
    if m.shape != (n // 2,):
        fail("m", m, f"a readout vector of length N/2={n // 2} (one weight per excitatory neuron)")
    b = finite_array("b", data["b"])
    if b.size != 1:
        fail("b", b, "a scalar readout offset")
    y = finite_array("target", data["target"])
    if y.ndim != 1 or y.size < 2:
        fail("target", y, "a 1-d array of T >= 2 samples")
    if "t_ms" in data:
        t = finite_array("t_ms", data["t_ms"])
        if t.shape != y.shape:
            fail("t_ms", t, f"T={y.size} sample times (one per target sample)")
    else:
        t = np.linspace(0.0, positive("duration_ms", duration_ms), y.size)
    tau = float(finite_array("tau", data["tau"]).reshape(-1)[0]) if "tau" in data else 200.0
    net = Network(W=W, cell_types=cell_types_ei(n // 2, n // 2), tau=positive("tau", tau), dale=False)
    dyn = TrialDynamics(net, x0, t, gain_fn=Tanh() if gain_fn is None else gain_fn, dt=dt)
    return UserGainNetwork(dyn, Readout(m[None], b.reshape(1)), y)


def network_arrays(dynamics: TrialDynamics, readout: Readout | None = None,
                   prefix: str = "network_") -> dict[str, np.ndarray]:
    """The arrays of this file format for a run's own network, keys prefixed by ``prefix``.

    ``W``, ``x0``, ``t_ms``, ``tau`` (N,), the gain function's ``r0`` and ``rmax`` (eq. 3.2) and, with a
    readout, ``m`` (readouts, N_E) and ``b`` (readouts,): what an independent simulation of eqs. (3.1)-(3.4) needs to
    reproduce the run's outputs and errors at any gains. With ``prefix=""``, a ``target`` added, one
    readout (K = 1), a uniform tau and no ramp, the arrays form a file `load_gain_network` reads.
    """
    if not isinstance(dynamics, TrialDynamics):
        fail("dynamics", dynamics, "a TrialDynamics", TypeError)
    net = dynamics.network
    out = {"W": np.asarray(net.W), "x0": np.asarray(dynamics.x0), "t_ms": np.asarray(dynamics.t_ms),
           "tau": np.broadcast_to(np.asarray(net.tau, float), (net.n,)).copy(),
           "r0": np.asarray(float(getattr(dynamics.gain_fn, "r0", np.nan))),
           "rmax": np.asarray(float(getattr(dynamics.gain_fn, "rmax", np.nan)))}
    if readout is not None:
        out["m"] = np.atleast_2d(np.asarray(readout.m))
        out["b"] = np.atleast_1d(np.asarray(readout.b))
    return {prefix + k: v for k, v in out.items()}

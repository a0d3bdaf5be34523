"""Speed and shape control by gain patterns (thesis, seed 003, ch. 6, Appendices 6.A.2-6.A.3).

* Time rescaling (§6.3, reference for "the same movement at another speed"): if x(t) solves eq. (3.1),
  tau dx/dt = -x + W f(x; g), then x_s(t) = x(s t) solves (tau / s) dx_s/dt = -x_s + W f(x_s; g): a
  network whose time constants are divided by s plays the same trajectory s times faster (s < 1: slower).
  Derivation: d/dt x(s t) = s x'(s t) = (s / tau) (-x(s t) + W f(x(s t); g)). Gains cannot change tau,
  so ch. 6 learns gain patterns whose outputs approximate this rescaled output (`slow_fast_targets`).
  `time_rescaled` builds the rescaled network, the exact target of speed control.
* Speed manifold (Appendix 6.A.2): the gain pattern of speed index s is the convex combination of a fast
  and a slow end pattern,  g_s = lambda_s g_fast + (1 - lambda_s) g_slow,  lambda_1 = 1, lambda_7 = 0,
  so any intermediate speed is a linear interpolation (`speed_manifold_gains`).
* Joint back-propagation (§6.3.2): group gains gamma of the slow variant (fast variant at gains 1) and
  one readout (m, b) shared by both speeds minimise

      J(gamma, m, b) = ||z_fast - y_fast||^2 + ||z_slow - y_slow||^2 + lam ||m||^2,
      z_fast = m^T f(x_E; 1) + b,   z_slow = m^T f(x_E; M gamma) + b      (eqs. 3.4, 6.1),

  by Adam (optax) for a fixed number of iterations (500 in the text), gradients by `jax.grad` through
  the RK4 scan (`train_speed_backprop`).
* Speed-manifold training (Appendix 6.A.2, `train_speed_manifold`): initial conditions c = 1..n_c, speeds s = 1..n_s
  (durations evenly spaced from the fast to the slow variant, `speed_variants`), group gains
  gamma_s = lambda_s gamma_fast + (1 - lambda_s) gamma_slow with lambda_1 = 1, lambda_S = 0 and the
  interior lambda_s = sigmoid(theta_s) trained, one shared readout; cost
  sum_{s in trained} sum_c ||z_{s,c} - y_{s,c}||^2 + reg ||m||^2. Training only s = 1 and s = n_s is the
  naive variant of §6.4 (Fig. 6.3a), whose intermediate lambdas stay evenly spaced.
* Speed variants (derived from §6.2.2): the movement of duration d is ``y_d(t) = y_slow(t D / d)`` for
  ``t < d`` and 0 after (D = the slow duration), by linear interpolation of the slow samples; at
  ``D / d = 5`` on the 200 Hz grid this is exactly the fast variant of `slow_fast_targets`.
* Shape x speed (Appendix 6.A.3): the gain pattern for shape q at speed s is the element-wise product
  g_{q,s} = g_shape_q * g_s (`shape_speed_gains`), trained jointly with the speed manifold and one
  readout by back-propagation on sum_{q,s} ||z_{q,s} - y_{q,s}||^2 + reg ||m||^2 (`train_shape_speed`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int

from neurodyn.validation import fail, finite_array, positive, positive_int
from neurodyn.learning.groups import membership_matrix
from neurodyn.learning.task import Readout, TrialDynamics, readout_output
from neurodyn.network import Network
from neurodyn.progress import progress

__all__ = ["ShapeSpeedResult", "SpeedBackpropResult", "SpeedManifoldResult", "shape_speed_gains", "shape_speed_outputs",
           "train_shape_speed", "speed_cost", "speed_manifold_gains",
           "manifold_outputs", "speed_variants", "time_rescaled", "train_speed_backprop", "train_speed_manifold"]


def time_rescaled(network: Network, speed: float) -> Network:
    """The network with ``tau / speed``: its trajectories are ``x(speed * t)`` (module docstring)."""
    if not isinstance(network, Network):
        fail("network", network, "a neurodyn.Network", TypeError)
    s = positive("speed", speed)
    return network.replace(tau=np.asarray(network.tau, dtype=float) / s)


def speed_manifold_gains(g_fast: Float[np.ndarray, "neurons"], g_slow: Float[np.ndarray, "neurons"],
                         lam: Float[np.ndarray, "*batch"]) -> Float[np.ndarray, "*batch neurons"]:
    """``g = lam g_fast + (1 - lam) g_slow`` for each ``lam`` in [0, 1]: shape ``lam.shape + (N,)``."""
    a = finite_array("g_fast", g_fast, ndim=1)
    b = finite_array("g_slow", g_slow, ndim=1)
    if a.shape != b.shape:
        fail("g_slow", b, f"a gain pattern of the same length as g_fast ({a.size})")
    lam = finite_array("lam", lam)
    if np.any(lam < 0) or np.any(lam > 1):
        fail("lam", lam, "interpolation coefficients in [0, 1] (1 = fast, 0 = slow)")
    return lam[..., None] * a + (1.0 - lam[..., None]) * b


def shape_speed_gains(shape_gains: Float[np.ndarray, "patterns neurons"],
                      speed_gains: Float[np.ndarray, "speeds neurons"]) -> Float[np.ndarray, "patterns speeds neurons"]:
    """Element-wise products ``g_shape_q * g_s``: (Q, N) x (speeds, N) -> (Q, speeds, N) (Appendix 6.A.3)."""
    A = finite_array("shape_gains", shape_gains, ndim=2)
    B = finite_array("speed_gains", speed_gains, ndim=2)
    if A.shape[1] != B.shape[1]:
        fail("speed_gains", B, f"gain patterns of length N={A.shape[1]} (as shape_gains)")
    return A[:, None, :] * B[None, :, :]


class SpeedBackpropResult(NamedTuple):
    """``history`` (iterations + 1,) costs; ``group_gains`` (n,), ``gains`` (N,) of the slow variant; the
    shared ``readout``."""

    history: Float[np.ndarray, "iterations"]
    group_gains: Float[np.ndarray, "groups"]
    gains: Float[np.ndarray, "neurons"]
    readout: Readout


def speed_cost(dynamics: TrialDynamics, M: Float[Array, "neurons groups"], gamma: Float[Array, "groups"],
               m: Float[Array, "neurons"], b: Float[Array, ""], y_fast: Float[Array, "time"], y_slow: Float[Array, "time"],
               reg: float) -> Float[Array, ""]:
    """``J = ||z_fast - y_fast||^2 + ||z_slow - y_slow||^2 + reg ||m||^2`` (module docstring, §6.3.2)."""
    g = jnp.stack([jnp.ones(M.shape[0]), M @ gamma])
    z = readout_output(Readout(m[None], jnp.atleast_1d(b)), dynamics.rates_e(g))[..., 0]  # (2, T)
    return jnp.sum((z[0] - y_fast) ** 2) + jnp.sum((z[1] - y_slow) ** 2) + reg * jnp.sum(m**2)



def _adam_minimise(loss, params, learning_rate: float, iterations: int, description: str, name: str):
    """Adam (optax) on ``loss(params)`` for ``iterations`` jitted steps; returns the final params and the cost
    history (one entry per step, plus the final cost). Raises when the cost stops being finite."""
    iterations = positive_int("iterations", iterations)
    opt = optax.adam(positive("learning_rate", learning_rate))
    state = opt.init(params)

    @jax.jit
    def step(p, st):
        c, gr = jax.value_and_grad(loss)(p)
        up, st = opt.update(gr, st, p)
        return optax.apply_updates(p, up), st, c

    hist = []
    for _ in progress(range(iterations), total=iterations, description=description):
        params, state, c = step(params, state)
        hist.append(float(c))
        if not np.isfinite(hist[-1]):
            raise FloatingPointError(f"{name}: the cost became NaN/inf; lower learning_rate")
    hist.append(float(jax.jit(loss)(params)))
    return params, hist

def train_speed_backprop(dynamics: TrialDynamics, labels: Int[np.ndarray, "neurons"], y_fast: Float[np.ndarray, "time"],
                         y_slow: Float[np.ndarray, "time"], readout: Readout, *,
                         iterations: int = 500, learning_rate: float = 1e-2, reg: float = 1e-3,
                         description: str = "speed backprop") -> SpeedBackpropResult:
    """Jointly train slow-variant group gains and a shared readout by Adam on `speed_cost` (§6.3.2)."""
    if not isinstance(dynamics, TrialDynamics):
        fail("dynamics", dynamics, "a TrialDynamics", TypeError)
    T = dynamics.t_ms.size
    yf = finite_array("y_fast", y_fast, ndim=1)
    ys = finite_array("y_slow", y_slow, ndim=1)
    if yf.size != T or ys.size != T:
        fail("y_slow", ys, f"fast and slow targets of length T={T} (len(t_ms))")
    M = jnp.asarray(membership_matrix(np.asarray(labels)))
    if M.shape[0] != dynamics.n:
        fail("labels", labels, f"one group label per neuron (N={dynamics.n})")
    iterations = positive_int("iterations", iterations)
    m0 = jnp.asarray(readout.m).reshape(-1)
    b0 = jnp.asarray(readout.b).reshape(-1)[0]
    params = {"gamma": jnp.ones(M.shape[1]), "m": m0, "b": b0}
    loss = lambda p: speed_cost(dynamics, M, p["gamma"], p["m"], p["b"], yf, ys, reg)  # noqa: E731
    params, hist = _adam_minimise(loss, params, learning_rate, iterations, description, "train_speed_backprop")
    gamma = np.asarray(params["gamma"])
    return SpeedBackpropResult(np.asarray(hist), gamma, np.asarray(M) @ gamma,
                               Readout(np.asarray(params["m"])[None], np.atleast_1d(np.asarray(params["b"]))))


def speed_variants(t_ms: Float[np.ndarray, "time"], slow: Float[np.ndarray, "*batch time"],
                   factors: Float[np.ndarray, "factors"]) -> Float[np.ndarray, "factors *batch time"]:
    """``y(t) = slow(factor * t)`` (0 beyond the slow movement's end) for each factor >= 1: ``(F, ..., T)``."""
    t = finite_array("t_ms", t_ms, ndim=1)
    y = finite_array("slow", slow)
    f = finite_array("factors", factors, ndim=1)
    if np.any(f < 1):
        fail("factors", f, "speed-up factors >= 1 (1 = the slow variant)")
    if y.shape[-1] != t.size:
        fail("slow", y, f"targets with T={t.size} samples on the last axis")
    flat = y.reshape(-1, t.size)
    out = np.stack([[np.interp(k * t, t, row, right=0.0) for row in flat] for k in f])
    return out.reshape((f.size,) + y.shape)


class SpeedManifoldResult(NamedTuple):
    """End group gains, ``lam`` (speeds,) interpolation coefficients, shared ``readout``, cost ``history``."""

    gamma_fast: Float[np.ndarray, "groups"]
    gamma_slow: Float[np.ndarray, "groups"]
    lam: Float[np.ndarray, "speeds"]
    readout: Readout
    history: Float[np.ndarray, "iterations"]


def manifold_outputs(dynamics: TrialDynamics, M: Float[Array, "neurons groups"], gamma_fast: Float[Array, "groups"],
                     gamma_slow: Float[Array, "groups"], lam: Float[Array, "speeds"], x0s: Float[Array, "conditions neurons"],
                     m: Float[Array, "neurons"], b: float) -> Float[Array, "speeds conditions time"]:
    """Outputs ``(L, conditions, T)`` for interpolation coefficients ``lam`` (L,) and initial conditions
    ``x0s`` (conditions, N), one readout ``m`` (N_E,), ``b``."""
    gam = lam[:, None] * gamma_fast + (1.0 - lam[:, None]) * gamma_slow            # (L, n)
    g = (gam @ M.T)[:, None, :]                                                    # (L, 1, N)
    rates = dynamics.rates_e(jnp.broadcast_to(g, (lam.shape[0], x0s.shape[0], M.shape[0])),
                             jnp.broadcast_to(x0s, (lam.shape[0],) + x0s.shape))
    return rates @ m + b


def train_speed_manifold(dynamics: TrialDynamics, labels: Int[np.ndarray, "neurons"], x0s: Float[np.ndarray, "conditions neurons"],
                         targets: Float[np.ndarray, "speeds conditions time"], readout: Readout, *, trained=None,
                         fix_fast: bool = False, iterations: int = 500, learning_rate: float = 1e-2, reg: float = 1e-3,
                         description: str = "speed manifold") -> SpeedManifoldResult:
    """Back-propagation of Appendix 6.A.2: ``targets`` (speeds, conditions, T) for n_s >= 2 speeds (fast first) and
    initial conditions ``x0s`` (conditions, N); ``trained``: indices of the speeds in the cost (default all); ``fix_fast``:
    keep the fast pattern at gains 1 (§6.3.3: one learned slow pattern, fast variants at gains 1)."""
    if not isinstance(dynamics, TrialDynamics):
        fail("dynamics", dynamics, "a TrialDynamics", TypeError)
    Y = finite_array("targets", targets, ndim=3)
    X = finite_array("x0s", x0s, ndim=2)
    n_speeds, n_cond, T = Y.shape
    if n_speeds < 2 or X.shape != (n_cond, dynamics.n) or T != dynamics.t_ms.size:
        fail("targets", Y.shape, f"(speeds >= 2, conditions = len(x0s), T={T}) with x0s of shape "
             f"(conditions, N={dynamics.n})")
    idx = np.arange(n_speeds) if trained is None else np.asarray(trained, dtype=int)
    if idx.size == 0 or idx.min() < 0 or idx.max() >= n_speeds:
        fail("trained", trained, f"indices of speeds in [0, {n_speeds})")
    M = jnp.asarray(membership_matrix(np.asarray(labels)))
    if M.shape[0] != dynamics.n:
        fail("labels", labels, f"one group label per neuron (N={dynamics.n})")
    lam0 = np.linspace(1.0, 0.0, n_speeds)
    theta0 = np.log(lam0[1:-1] / (1.0 - lam0[1:-1]))
    n = M.shape[1]
    params = {"gs": jnp.ones(n), "theta": jnp.asarray(theta0),
              "m": jnp.asarray(readout.m).reshape(-1), "b": jnp.asarray(readout.b).reshape(-1)[0]}
    if not fix_fast:
        params["gf"] = jnp.ones(n)
    Xj, Yj, idxj = jnp.asarray(X), jnp.asarray(Y), jnp.asarray(idx)

    def fast_of(p):
        return p["gf"] if "gf" in p else jnp.ones(n)

    def lam_of(p):
        return jnp.concatenate([jnp.ones(1), jax.nn.sigmoid(p["theta"]), jnp.zeros(1)])

    def loss(p):
        z = manifold_outputs(dynamics, M, fast_of(p), p["gs"], lam_of(p)[idxj], Xj, p["m"], p["b"])
        return jnp.sum((z - Yj[idxj]) ** 2) + reg * jnp.sum(p["m"] ** 2)

    params, hist = _adam_minimise(loss, params, learning_rate, iterations, description, "train_speed_manifold")
    return SpeedManifoldResult(np.asarray(fast_of(params)), np.asarray(params["gs"]), np.asarray(lam_of(params)),
                               Readout(np.asarray(params["m"])[None], np.atleast_1d(np.asarray(params["b"]))),
                               np.asarray(hist))


class ShapeSpeedResult(NamedTuple):
    """``shapes`` (Q, n) shape group gains, speed end patterns, ``lam`` (speeds,), shared ``readout``, ``history``."""

    shapes: Float[np.ndarray, "patterns groups"]
    gamma_fast: Float[np.ndarray, "groups"]
    gamma_slow: Float[np.ndarray, "groups"]
    lam: Float[np.ndarray, "speeds"]
    readout: Readout
    history: Float[np.ndarray, "iterations"]


def shape_speed_outputs(dynamics: TrialDynamics, M: Float[Array, "neurons groups"], shapes: Float[Array, "patterns groups"],
                        gamma_fast: Float[Array, "groups"], gamma_slow: Float[Array, "groups"], lam: Float[Array, "speeds"],
                        m: Float[Array, "neurons"], b: float) -> Float[Array, "patterns speeds time"]:
    """Outputs ``(Q, L, T)`` from x0 with group gains ``shape_q * (lam_l gamma_fast + (1 - lam_l) gamma_slow)``."""
    speed = lam[:, None] * gamma_fast + (1.0 - lam[:, None]) * gamma_slow          # (L, n)
    g = (shapes[:, None, :] * speed[None]) @ M.T                                   # (Q, L, N)
    return dynamics.rates_e(g) @ m + b


def train_shape_speed(dynamics: TrialDynamics, labels: Int[np.ndarray, "neurons"],
                      targets: Float[np.ndarray, "patterns speeds time"], readout: Readout, *, iterations: int = 500,
                      learning_rate: float = 1e-2, reg: float = 1e-3,
                      description: str = "shape x speed") -> ShapeSpeedResult:
    """Back-propagation of Appendix 6.A.3: ``targets`` (Q shapes, n_s speeds fast first, T) from one x0; cost
    ``sum_{q,s} ||z_{q,s} - y_{q,s}||^2 + reg ||m||^2`` over the Q shape patterns, the two speed end
    patterns, the n_s - 2 interior lambdas and one readout."""
    if not isinstance(dynamics, TrialDynamics):
        fail("dynamics", dynamics, "a TrialDynamics", TypeError)
    Y = finite_array("targets", targets, ndim=3)
    Q, n_speeds, T = Y.shape
    if n_speeds < 2 or T != dynamics.t_ms.size:
        fail("targets", Y.shape, f"(Q shapes, speeds >= 2, T={dynamics.t_ms.size})")
    M = jnp.asarray(membership_matrix(np.asarray(labels)))
    if M.shape[0] != dynamics.n:
        fail("labels", labels, f"one group label per neuron (N={dynamics.n})")
    n = M.shape[1]
    lam0 = np.linspace(1.0, 0.0, n_speeds)
    params = {"shapes": jnp.ones((Q, n)), "gf": jnp.ones(n), "gs": jnp.ones(n),
              "theta": jnp.asarray(np.log(lam0[1:-1] / (1.0 - lam0[1:-1]))),
              "m": jnp.asarray(readout.m).reshape(-1), "b": jnp.asarray(readout.b).reshape(-1)[0]}
    Yj = jnp.asarray(Y)

    def lam_of(p):
        return jnp.concatenate([jnp.ones(1), jax.nn.sigmoid(p["theta"]), jnp.zeros(1)])

    def loss(p):
        z = shape_speed_outputs(dynamics, M, p["shapes"], p["gf"], p["gs"], lam_of(p), p["m"], p["b"])
        return jnp.sum((z - Yj) ** 2) + reg * jnp.sum(p["m"] ** 2)

    params, hist = _adam_minimise(loss, params, learning_rate, iterations, description, "train_shape_speed")
    return ShapeSpeedResult(np.asarray(params["shapes"]), np.asarray(params["gf"]), np.asarray(params["gs"]),
                            np.asarray(lam_of(params)),
                            Readout(np.asarray(params["m"])[None], np.atleast_1d(np.asarray(params["b"]))),
                            np.asarray(hist))

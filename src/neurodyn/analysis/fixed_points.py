"""Fixed points, slow points and flow fields of rate networks and trained RNNs.

Seed 000 (Fig. 1c and section "Models of large scale, brain-wide neural population dynamics"): the
dynamics "can be conceptualized as a flow field" with contractive, expansive, rotational or fixed-point
motifs, and "key dynamical features, including fixed point structure" of trained RNNs are what one
interprets (its ref. 36). The method is that of Sussillo & Barak (2013), which seed 000 cites through
its RNN references: for autonomous dynamics ``dx/dt = F(x)`` minimise the kinetic energy

    q(x) = 1/2 ||F(x)||^2

from many initial states. Minima with q = 0 are fixed points; local minima with small q > 0 are slow
points. Here the minimisation runs in JAX, vmapped over starts: Adam (optax) on q, then
Levenberg-Marquardt steps ``x <- x - (J^T J + mu I)^{-1} J^T F(x)`` with ``J = dF/dx``, a step accepted
only where it lowers q (so slow points stay slow points), mu divided by 10 after an accepted step and
multiplied by 10 after a rejected one (mu relative to tr(J^T J)/N, starting at 1e-3).
Points closer than ``dedup_tol`` are merged (keeping the lowest q). Each point is classified by the eigenvalues of the Jacobian J: *stable* if all
``Re(lambda) < 0``, *unstable* if all ``> 0``, *saddle* if both signs occur, *marginal* otherwise (an
eigenvalue within ``tol`` of 0). For a discrete-time map ``x(t+1) = G(x(t))`` (``discrete=True``) the
same is done with ``F(x) = G(x) - x`` and stability judged by ``|lambda(dG/dx)| < 1``.

For a `neurodyn.Network` the velocity is thesis (seed 003) eq. (2.1):
``F(x) = (-x + W f(x; g) + h) / tau``.

Flow fields (seed 000 Fig. 1a,c): ``F`` evaluated on a grid ``x = c + a e1 + b e2`` of a 2-D plane and
projected onto it, ``(e1^T F, e2^T F)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Bool, Complex, Float

from neurodyn.validation import fail, finite_array, in_range, positive, positive_int
from neurodyn.dynamics.gain import GainFunction, Tanh
from neurodyn.network import Network

__all__ = ["FixedPoints", "find_fixed_points", "flow_field", "network_velocity", "sample_initial_states"]


@dataclass(frozen=True)
class _NetworkVelocity:
    """Hashable ``F(x, (W, tau, g, h)) = (-x + W f(x; g) + h) / tau`` so jit caches across networks."""

    gain_fn: GainFunction

    def __call__(self, x, args):
        W, tau, g, h = args
        return (-x + W @ self.gain_fn(x, g) + h) / tau


@dataclass(frozen=True)
class _Plain:
    """Adapter ``F(x, args) = system(x)`` for a user callable (hashed by identity)."""

    fn: Callable

    def __call__(self, x, args):
        return self.fn(x)


@dataclass(frozen=True)
class _MapResidual:
    """``G(x) - x`` for a discrete-time map G."""

    fn: Callable

    def __call__(self, x, args):
        return self.fn(x) - x


def _network_args(network: Network, gain_fn, gains, h):
    if not isinstance(network, Network):
        fail("network", network, "a neurodyn.Network", TypeError)
    gain_fn = Tanh() if gain_fn is None else gain_fn
    if not isinstance(gain_fn, GainFunction):
        fail("gain_fn", gain_fn, "a neurodyn.dynamics gain function", TypeError)
    n = network.n
    g = jnp.asarray(network.gains if gains is None else finite_array("gains", gains))
    hh = jnp.zeros(n) if h is None else jnp.asarray(finite_array("h", h))
    if g.shape != (n,):
        fail("gains", g, f"a vector of length {n}")
    if hh.shape not in ((), (n,)):
        fail("h", hh, f"a constant input vector of length {n}")
    tau = jnp.broadcast_to(jnp.asarray(network.tau, dtype=float), (n,))
    return _NetworkVelocity(gain_fn), (jnp.asarray(network.W), tau, g, jnp.broadcast_to(hh, (n,)))


def network_velocity(network: Network, *, gain_fn: GainFunction | None = None,
                     gains: Float[Array, " neurons"] | None = None, h: Float[Array, " neurons"] | None = None
                     ) -> Callable[[Float[Array, " neurons"]], Float[Array, " neurons"]]:
    """``F(x) = (-x + W f(x; g) + h) / tau`` (thesis eq. 2.1) as a JAX function of x (N,)."""
    F, args = _network_args(network, gain_fn, gains, h)
    return lambda x: F(x, args)


@dataclass(frozen=True, eq=False)
class FixedPoints:
    """Deduplicated minima of q, lowest q first.

    ``points`` (points, N); ``q`` (points,); ``is_fixed`` (points,) q below ``fixed_tol``; ``eigenvalues``
    (points, N) of the Jacobian (of F, or of the map G when discrete); ``stability`` one label per point;
    ``n_starts``.
    """

    points: Float[np.ndarray, "points neurons"]
    q: Float[np.ndarray, " points"]
    is_fixed: Bool[np.ndarray, " points"]
    eigenvalues: Complex[np.ndarray, "points neurons"]
    stability: tuple[str, ...]
    n_starts: int

    @property
    def fixed(self) -> Float[np.ndarray, "fixed neurons"]:
        return self.points[self.is_fixed]

    def count(self, label: str) -> int:
        return int(sum(s == label for s, f in zip(self.stability, self.is_fixed) if f))


@partial(jax.jit, static_argnames=("F", "n_steps", "n_polish", "learning_rate"))
def _minimise(F, args, x0, *, n_steps, n_polish, learning_rate):
    def q(x):
        v = F(x, args)
        return 0.5 * jnp.sum(v * v)

    opt = optax.adam(learning_rate)

    def run_one(x):
        state = opt.init(x)

        def step(carry, _):
            x, s = carry
            g = jax.grad(q)(x)
            upd, s = opt.update(g, s, x)
            return (optax.apply_updates(x, upd), s), None

        (x, _), _ = jax.lax.scan(step, (x, state), None, length=n_steps)

        def polish(carry, _):
            x, lam = carry
            v = F(x, args)
            J = jax.jacfwd(F)(x, args)
            JtJ = J.T @ J
            mu = lam * (jnp.trace(JtJ) / x.shape[0] + 1e-300)
            dx = jnp.linalg.solve(JtJ + mu * jnp.eye(x.shape[0]), J.T @ v)
            xn = x - dx
            ok = jnp.all(jnp.isfinite(xn)) & (q(xn) < q(x))
            lam = jnp.clip(jnp.where(ok, lam / 10.0, lam * 10.0), 1e-12, 1e6)
            return (jnp.where(ok, xn, x), lam), None

        (x, _), _ = jax.lax.scan(polish, (x, jnp.asarray(1e-3, x.dtype)), None, length=n_polish)
        return x, q(x)

    return jax.vmap(run_one)(x0)


@partial(jax.jit, static_argnames=("F",))
def _jacobians(F, args, xs):
    return jax.vmap(lambda x: jax.jacfwd(F)(x, args))(xs)


def find_fixed_points(system: Network | Callable[[Float[Array, " neurons"]], Float[Array, " neurons"]],
                      initial_states: Float[np.ndarray, "starts neurons"], *, gain_fn: GainFunction | None = None,
                      gains: Float[Array, " neurons"] | None = None, h: Float[Array, " neurons"] | None = None,
                      discrete: bool = False, n_steps: int = 2000, learning_rate: float = 1e-2,
                      n_polish: int = 100, fixed_tol: float = 1e-16, slow_tol: float | None = None,
                      dedup_tol: float = 1e-4, tol: float = 1e-9) -> FixedPoints:
    """Fixed and slow points of ``dx/dt = F(x)`` (or of a map) from many starts (module docstring).

    Parameters
    ----------
    system : Network or callable
        A `Network` (velocity from thesis eq. 2.1 with ``gain_fn``, ``gains``, constant input ``h``), or a
        JAX-traceable ``F(x) -> dx/dt`` of one state (N,); with ``discrete=True`` a map ``G(x) -> x(t+1)``.
    initial_states : (starts, N) array
        Starts (e.g. `sample_initial_states` from simulated trajectories).
    n_steps, learning_rate : Adam iterations and step size on q.
    n_polish : Levenberg-Marquardt polishing steps.
    fixed_tol : q below which a minimum counts as a fixed point (units of F squared).
    slow_tol : if given, drop minima with q above it (keep fixed and slow points only).
    dedup_tol : points closer than ``dedup_tol * (1 + ||x||)`` are merged.
    tol : eigenvalues with |Re| (or | |lambda| - 1 |) below it are marginal.
    """
    if isinstance(system, Network):
        if discrete:
            fail("discrete", discrete, "False for a Network (its dynamics are continuous, thesis eq. 2.1)")
        Fq, args = _network_args(system, gain_fn, gains, h)
        Fj = Fq
    elif callable(system):
        Fq, args = (_MapResidual(system) if discrete else _Plain(system)), ()
        Fj = _Plain(system)
    else:
        fail("system", system, "a neurodyn.Network or a callable F(x)", TypeError)
    X0 = finite_array("initial_states", initial_states, ndim=2)
    n_steps = positive_int("n_steps", n_steps, 0)
    n_polish = positive_int("n_polish", n_polish, 0)
    learning_rate = positive("learning_rate", learning_rate)
    in_range("fixed_tol", fixed_tol, 0.0, np.inf)
    in_range("dedup_tol", dedup_tol, 0.0, np.inf)
    try:
        out = jax.eval_shape(lambda x: Fq(x, args), jnp.zeros(X0.shape[1]))
    except Exception as exc:
        raise ValueError(f"system: expected F(x) to accept a state of shape ({X0.shape[1]},) ({exc})") from None
    if out.shape != (X0.shape[1],):
        fail("system", system, f"F(x) returning shape ({X0.shape[1]},), got {out.shape}")
    xs, qs = _minimise(Fq, args, jnp.asarray(X0), n_steps=n_steps, n_polish=n_polish, learning_rate=learning_rate)
    xs, qs = np.asarray(xs), np.asarray(qs)
    good = np.isfinite(qs) & np.all(np.isfinite(xs), axis=1)
    if slow_tol is not None:
        good &= qs <= in_range("slow_tol", slow_tol, 0.0, np.inf)
    xs, qs = xs[good], qs[good]
    order = np.argsort(qs)
    kept: list[int] = []
    for i in order:
        if all(np.linalg.norm(xs[i] - xs[j]) > dedup_tol * (1.0 + np.linalg.norm(xs[j])) for j in kept):
            kept.append(int(i))
    pts, qk = xs[kept], qs[kept]
    eigs = (np.linalg.eigvals(np.asarray(_jacobians(Fj, args, jnp.asarray(pts)))) if len(kept)
            else np.zeros((0, X0.shape[1])))
    eigs = np.array([e[np.argsort(-(np.abs(e) if discrete else e.real))] for e in eigs]).reshape(len(kept), -1)
    labels = []
    for e in eigs:
        s = (np.abs(e) - 1.0) if discrete else e.real
        if np.all(s < -tol):
            labels.append("stable")
        elif np.all(s > tol):
            labels.append("unstable")
        elif np.any(s > tol) and np.any(s < -tol) and not np.any(np.abs(s) <= tol):
            labels.append("saddle")
        else:
            labels.append("marginal")
    return FixedPoints(points=pts, q=qk, is_fixed=qk < fixed_tol, eigenvalues=eigs, stability=tuple(labels),
                       n_starts=int(X0.shape[0]))


def sample_initial_states(trajectories: Float[np.ndarray, "*batch time neurons"], n: int, *, noise_sd: float = 0.0,
                          seed: int = 0) -> Float[np.ndarray, "points neurons"]:
    """``n`` states drawn from trajectories (..., T, N) plus isotropic Gaussian noise (SD ``noise_sd``)."""
    X = finite_array("trajectories", trajectories)
    if X.ndim < 2:
        fail("trajectories", X, "an array (..., T, N)")
    X = X.reshape(-1, X.shape[-1])
    n = positive_int("n", n)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, X.shape[0], n)
    return X[idx] + in_range("noise_sd", noise_sd, 0.0, np.inf) * rng.standard_normal((n, X.shape[1]))


def flow_field(system: Network | Callable[[Float[Array, " neurons"]], Float[Array, " neurons"]],
               basis: Float[np.ndarray, "neurons 2"], center: Float[np.ndarray, " neurons"], *,
               extent: float | tuple[float, float] = 1.0, n_grid: int = 21, gain_fn: GainFunction | None = None,
               gains: Float[Array, " neurons"] | None = None, h: Float[Array, " neurons"] | None = None
               ) -> dict[str, Float[np.ndarray, "..."]]:
    """Flow field of ``dx/dt = F(x)`` on the plane ``center + a e1 + b e2`` (seed 000 Fig. 1c).

    ``basis`` (N, 2) is orthonormalised (QR). ``extent`` is a half-width or ``(a_max, b_max)``.
    Returns ``a`` (n_grid,), ``b`` (n_grid,), ``da``, ``db`` (n_grid, n_grid: projected velocity with
    rows indexing b) and ``speed`` (n_grid, n_grid: full ``||F(x)||``).
    """
    F = network_velocity(system, gain_fn=gain_fn, gains=gains, h=h) if isinstance(system, Network) else system
    if not callable(F):
        fail("system", system, "a neurodyn.Network or a callable F(x)", TypeError)
    E = finite_array("basis", basis, ndim=2)
    c = finite_array("center", center, ndim=1)
    if E.shape != (c.size, 2):
        fail("basis", E, f"shape ({c.size}, 2) (two directions in state space)")
    E = np.linalg.qr(E)[0]
    ext = np.broadcast_to(finite_array("extent", extent), (2,))
    n_grid = positive_int("n_grid", n_grid, 2)
    a = np.linspace(-ext[0], ext[0], n_grid)
    b = np.linspace(-ext[1], ext[1], n_grid)
    A, Bg = np.meshgrid(a, b)
    X = c + A[..., None] * E[:, 0] + Bg[..., None] * E[:, 1]
    V = np.asarray(jax.jit(jax.vmap(F))(jnp.asarray(X.reshape(-1, c.size)))).reshape(n_grid, n_grid, c.size)
    return {"a": a, "b": b, "da": V @ E[:, 0], "db": V @ E[:, 1], "speed": np.linalg.norm(V, axis=-1)}

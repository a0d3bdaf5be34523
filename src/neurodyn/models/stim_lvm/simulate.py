"""Simulated stimulation datasets from a (fitted) non-stimulated latent model (seed 001 Methods §8.5).

§8.5 validates the contraction factor "using simulated transformations of real data": start from the
fitted non-stimulated latents z (conditions x time x latents), readout C and baseline d, apply a known
transformation during the stimulation window, project to rates, draw Poisson spike counts per trial and
refit. Two transformations are provided:

* ``"additive"``: z~ = z and ``y = C z + d + Delta`` (stimulation only translates the state; the true
  contraction factor is 1 and there is no distortion);
* ``"contraction"``: ``z~_{c,t} = z^cent + a (z_{c,t} - z^cent)`` for t in the window, uniformly across
  latent axes with a known factor a, z^cent the mean of z over conditions and window bins (so the
  true beta_t of §8.5 equals a in the window and 1 outside); an additive Delta may be added as well.

Counts: each trial's count in a bin of ``dt`` seconds is ``Poisson(dt * r)`` with the softplus
``r = floor + softplus(kappa (rate - floor)) / kappa``, by default kappa = `likelihood.KAPPA_HZ` (10 per
spikes/s) and ``floor_hz = 0``: the rate censored at zero (r = max(rate, 0) to within 0.07 spikes/s), so
neurons whose model rate stimulation pushes below zero fall silent, the censored observations the
shaped likelihood treats as such (§8.4, region 4). The floor is not eps: eps is the minimum of the
likelihood's link g, not a rate of the neurons, and with ``floor_hz = eps`` a neuron driven far below
zero still fires 0.5 spikes/s, so that its occasional single spikes (2.5 spikes/s in a 20-trial average
of 20 ms bins) are read as evidence of a positive rate (region 2) and pull it, and the stimulated
latents with it, up: on the quick `stim-lvm` simulation the additive case's mean beta drops from 0.94
to 0.79 and its distortion is flagged (570 against a null threshold of 502).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from jaxtyping import Float

from neurodyn.validation import fail, finite_array, in_range, positive, positive_int
from neurodyn.models.stim_lvm.likelihood import KAPPA_HZ
from neurodyn.models.stim_lvm.prior import gp_cholesky, segment_labels

if TYPE_CHECKING:
    from neurodyn.models.stim_lvm.model import StimLVM

__all__ = ["gp_latents", "synthetic_population", "additive_delta", "stimulated_dataset", "from_fitted"]


def _g(y, kappa, eps):
    return eps + np.logaddexp(0.0, kappa * (y - eps)) / kappa


def gp_latents(n_conditions: int, t_ms: Float[np.ndarray, "time"], n_latents: int, tau_ms: float = 100.0,
               seed: int = 0) -> Float[np.ndarray, "conditions time latents"]:
    """Draws ``z_{c,:,k} ~ GP(0, exp(-(t-t')^2 / (2 tau^2)))`` (the §8.1 prior), shape (conditions, time,
    latents)."""
    n_conditions = positive_int("n_conditions", n_conditions)
    n_latents = positive_int("n_latents", n_latents)
    t = finite_array("t_ms", t_ms, ndim=1)
    L = gp_cholesky(t, positive("tau_ms", tau_ms))
    rng = np.random.default_rng(seed)
    return np.einsum("ts,csk->ctk", L, rng.standard_normal((n_conditions, t.size, n_latents)))


def synthetic_population(n_conditions: int = 8, n_neurons: int = 60, n_latents: int = 5,
                         t_ms: Float[np.ndarray, "time"] | None = None, tau_ms: float = 100.0,
                         loading_sd: float = 4.0, base_rate: tuple[float, float] = (8.0, 30.0), seed: int = 0) -> tuple[
                             Float[np.ndarray, "neurons latents"], Float[np.ndarray, "neurons"],
                             Float[np.ndarray, "conditions time latents"]]:
    """A non-stimulated latent model ``(readout, offset, z)`` with GP latents (readout neurons x
    latents, offset per neuron, z conditions x time x latents).

    Loadings ~ N(0, loading_sd^2) (spikes/s per unit latent), baselines ~ U(base_rate). Used as the
    "fitted non-stimulated model" when no recording is at hand.
    """
    t = np.arange(20.0, 620.0, 20.0) if t_ms is None else finite_array("t_ms", t_ms, ndim=1)
    n_neurons = positive_int("n_neurons", n_neurons)
    rng = np.random.default_rng(seed)
    readout = loading_sd * rng.standard_normal((n_neurons, positive_int("n_latents", n_latents)))
    offset = rng.uniform(base_rate[0], base_rate[1], n_neurons)
    z = gp_latents(n_conditions, t, n_latents, tau_ms, seed + 1)
    return readout, offset, z


def additive_delta(t_ms: Float[np.ndarray, "time"], n_neurons: int, stim_on_ms: float, stim_off_ms: float,
                   rank: int = 2, scale: float = 10.0, seed: int = 0) -> Float[np.ndarray, "time neurons"]:
    """A low-rank additive stimulation effect Delta (time x neurons): ``sum_r a_r(t) u_r^T`` with a_r rising at
    onset and decaying (20 ms rise, 60 ms decay after offset) and u_r ~ N(0, scale^2); zero before onset."""
    t = finite_array("t_ms", t_ms, ndim=1)
    rng = np.random.default_rng(seed)
    on = np.clip((t - stim_on_ms) / 20.0, 0.0, 1.0)
    after = np.where(t >= stim_off_ms, np.exp(-(t - stim_off_ms) / 60.0), 1.0)
    time_courses = []
    for r in range(positive_int("rank", rank)):
        ramp = 1.0 + 0.5 * np.sin(2 * np.pi * (t - stim_on_ms) / (stim_off_ms - stim_on_ms) * (r + 1) / 2)
        time_courses.append(on * after * ramp * (t >= stim_on_ms))
    A = np.stack(time_courses, 1)
    return A @ (scale * rng.standard_normal((n_neurons, rank))).T


def stimulated_dataset(readout: Float[np.ndarray, "neurons latents"], offset: Float[np.ndarray, "neurons"],
                       z: Float[np.ndarray, "conditions time latents"], t_ms: Float[np.ndarray, "time"],
                       stim_on_ms: float, stim_off_ms: float, *, kind: str = "additive", factor: float = 1.0,
                       delta: Float[np.ndarray, "time neurons"] | None = None, n_trials: int = 20,
                       centroid: Float[np.ndarray, "latents"] | None = None, seed: int = 0, kappa: float = KAPPA_HZ, floor_hz: float = 0.0) -> dict:
    """Simulated non-stimulated and stimulated trials (module docstring).

    Returns a dict with single-trial rates ``x_trials``, ``y_trials`` (conditions, trials, time, neurons; counts / dt, spikes/s),
    trial averages ``xhat``, ``yhat``, trial counts ``n_x``, ``n_y`` (conditions, time, neurons), the true latents ``z``,
    ``z_stim``, true rates ``x_true``, ``y_true``, ``delta``, ``beta_true`` (time,) and ``centroid``.
    """
    C = finite_array("readout", readout, ndim=2)
    d = finite_array("offset", offset, ndim=1)
    z = finite_array("z", z, ndim=3)
    t = finite_array("t_ms", t_ms, ndim=1)
    if C.shape[1] != z.shape[2] or d.shape != (C.shape[0],) or z.shape[1] != t.size:
        fail("z", z, f"(conditions, {t.size}, {C.shape[1]}) latents matching readout {C.shape} and offset")
    if kind not in ("additive", "contraction"):
        fail("kind", kind, "'additive' or 'contraction'")
    a = in_range("factor", factor, 0.0, 1.5)
    if kind == "additive" and a != 1.0:
        fail("factor", factor, "1.0 for kind='additive' (use kind='contraction')")
    n_trials = positive_int("n_trials", n_trials)
    dt_s = float(np.median(np.diff(t))) / 1000.0 if t.size > 1 else 0.02
    seg = segment_labels(t, stim_on_ms, stim_off_ms)
    win = seg == 1
    if not np.any(win):
        fail("stim_on_ms", stim_on_ms, "a window containing some of t_ms")
    cent = z[:, win].reshape(-1, z.shape[2]).mean(0) if centroid is None else finite_array("centroid", centroid)
    zs = z.copy()
    if kind == "contraction":
        zs[:, win] = cent + a * (z[:, win] - cent)
    N = C.shape[0]
    delta = np.zeros((t.size, N)) if delta is None else finite_array("delta", delta, ndim=2)
    if delta.shape != (t.size, N):
        fail("delta", delta, f"a ({t.size}, {N}) additive term")
    x_true = z @ C.T + d
    y_true = zs @ C.T + d + delta
    rng = np.random.default_rng(seed)
    shape = (z.shape[0], n_trials, t.size, N)
    x_tr = rng.poisson(np.broadcast_to(dt_s * _g(x_true, kappa, floor_hz)[:, None], shape)) / dt_s
    y_tr = rng.poisson(np.broadcast_to(dt_s * _g(y_true, kappa, floor_hz)[:, None], shape)) / dt_s
    beta = np.where(win, a, 1.0) if kind == "contraction" else np.ones(t.size)
    n = np.full((z.shape[0], t.size, N), float(n_trials))
    return {"x_trials": x_tr, "y_trials": y_tr, "xhat": x_tr.mean(1), "yhat": y_tr.mean(1), "n_x": n,
            "n_y": n.copy(), "z": z, "z_stim": zs, "x_true": x_true, "y_true": y_true, "delta": delta,
            "beta_true": beta, "centroid": cent, "t_ms": t, "dt_s": dt_s}


def from_fitted(model: StimLVM) -> tuple[Float[np.ndarray, "neurons latents"], Float[np.ndarray, "neurons"],
                                Float[np.ndarray, "conditions time latents"]]:
    """``(readout, offset, z)`` of a fitted `StimLVM`: the non-stimulated model to transform (§8.5)."""
    if not hasattr(model, "z_"):
        fail("model", type(model).__name__, "a fitted StimLVM")
    return model.readout_, model.offset_, model.z_
